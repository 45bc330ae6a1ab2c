"""Bulk import of conventions from a spreadsheet (CSV or XLSX, one row per convention).

``reader`` reads the file (encoding, header), ``values`` and ``plan`` turn a row into the commands an
operator would have issued (``domain.commands``), ``run`` validates every row, then stores them
through ``ConventionsApp`` and reports. The format is documented in docs/import-format.md.
"""
