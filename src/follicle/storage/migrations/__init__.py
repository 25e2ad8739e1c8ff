"""Alembic migrations of the follicle database (run by `get_store`, never by hand)."""
