"""The HTTP API (FastAPI): see docs/api.md."""
