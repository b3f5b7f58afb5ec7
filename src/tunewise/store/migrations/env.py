"""Alembic environment of the tunewise store.

Migrations run only through :class:`tunewise.store.sql.SQLStore`, which hands over a connection
that is already inside the transaction holding the schema lock (``BEGIN IMMEDIATE`` on SQLite,
``pg_advisory_xact_lock`` on PostgreSQL). Alembic therefore must not open or commit a
transaction of its own: it sees an external transaction and leaves it to the caller.
"""

from __future__ import annotations

from alembic import context

from tunewise.store.schema import VERSION_TABLE, metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "tunewise migrations run when a store is opened (tunewise.store.open_store); "
        "they cannot be run from the alembic command line or in offline mode"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite can only change constraints by copying the table; batch mode does that.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
