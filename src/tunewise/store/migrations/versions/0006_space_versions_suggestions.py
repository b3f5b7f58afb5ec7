"""Space versions and suggestion records (issue 27).

- ``space_versions``: every definition a study's space had, numbered 1, 2, ... A study whose
  space was never edited has no row (its version 1 is its definition); the first edit stores
  version 1 (the definition as it was) and version 2 in one transaction.
- ``trials.space_version``: the version a trial was suggested (or added) under; 1 for every
  trial stored before this migration.
- ``trials.suggestion``: a JSON record of what the suggestion was made from (the strategy, its
  seed and version, the trials finished and pending at that moment), so that ``tunewise
  replay`` can re-derive it; NULL for trials not suggested by a strategy or stored before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.UniqueConstraint("study_id", "version"),
    )
    # Plain ADD COLUMN (see 0005: a batch rebuild of ``trials`` would cascade to reports).
    op.add_column(
        "trials",
        sa.Column("space_version", sa.Integer, nullable=False, server_default=sa.text("1")),
    )
    op.add_column("trials", sa.Column("suggestion", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("trials", "suggestion")
    op.drop_column("trials", "space_version")
    op.drop_table("space_versions")
