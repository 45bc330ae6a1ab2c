"""The projection engine: what every read model runs on, and none of them in particular.

- ``log``: reading the notification log (through the application, or the SQLite file directly);
- ``decode``: stored events to domain events, trusted (no re-validation);
- ``runner``: catch up, follow, rebuild and verify, one transaction per batch with the positions;
- ``store``: the projection database (tables in generations, the tracking table);
- ``write_behind``: a rebuild's batches written by a thread of their own on SQLite.

The read models themselves (``projections.<name>``) each hold their tables, their event handlers
and their queries, on the base classes of ``projections.base``.
"""
