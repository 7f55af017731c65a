"""Alembic environment: uses the app's engine, batch mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context

from inbox import models  # noqa: F401  (registers the tables)
from inbox.db import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
