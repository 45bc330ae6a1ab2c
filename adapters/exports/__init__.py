"""Finance exports (issue 12): the conventions, the ledger and the work queue as CSV or XLSX
files, for the CLI (``conventions export``) and the web pages' download links.

``sheets`` says what each kind holds (French headers, typed cells); ``writers`` writes a sheet in
either format. ``docs/exports.md`` is the user's guide.
"""
