"""Study identity and user attributes: ``studies.uuid`` (a uuid4 hex, unique: what trial
folders and outside identifiers are keyed by, so that a study deleted and made again under
the same name is another study), ``studies.user_attrs`` and ``trials.user_attrs`` (JSON
objects a user attaches, as Optuna's ``set_user_attr``).

Existing studies get a fresh uuid each, in the migration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch "recreate": rebuilding ``studies`` on SQLite drops the
    # old table, and with foreign keys on, that deletes every trial by cascade. SQLite adds a
    # NOT NULL column only with a default, hence ``''``, replaced below for every row.
    op.add_column(
        "studies",
        sa.Column("uuid", sa.String(32), nullable=False, server_default=sa.text("''")),
    )
    op.add_column(
        "studies", sa.Column("user_attrs", sa.Text, nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column(
        "trials", sa.Column("user_attrs", sa.Text, nullable=False, server_default=sa.text("'{}'"))
    )
    conn = op.get_bind()
    for study_id in conn.execute(sa.text("SELECT id FROM studies")).scalars().all():
        conn.execute(
            sa.text("UPDATE studies SET uuid = :uuid WHERE id = :id"),
            {"uuid": uuid.uuid4().hex, "id": study_id},
        )
    op.create_index("ix_studies_uuid", "studies", ["uuid"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_studies_uuid", table_name="studies")
    op.drop_column("trials", "user_attrs")
    op.drop_column("studies", "user_attrs")
    op.drop_column("studies", "uuid")
