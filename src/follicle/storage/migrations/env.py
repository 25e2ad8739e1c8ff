"""Alembic environment: always run online, on the connection `get_store` passes in."""

from __future__ import annotations

from alembic import context

from follicle.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `get_store` runs migrations
    raise RuntimeError("follicle migrations run through follicle.storage.get_store()")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
