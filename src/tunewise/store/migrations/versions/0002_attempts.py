"""Attempts: the earlier attempts of retried trials, each with its failure kind and error.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("trial_number", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("failure_kind", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("started_at", sa.Double, nullable=True),
        sa.Column("finished_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["study_id", "trial_number"],
            ["trials.study_id", "trials.number"],
            name="fk_attempts_study_id_trial_number_trials",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "study_id", "trial_number", "attempt", name="uq_attempts_study_id_trial_number_attempt"
        ),
    )


def downgrade() -> None:
    op.drop_table("attempts")
