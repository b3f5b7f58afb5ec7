"""The first schema: studies, trials and reports.

Written out table by table (not ``metadata.create_all``) so that this revision stays what it
was when later revisions change ``schema.py``; ``tests/store/test_migrations.py`` checks that
the head of the migrations matches ``schema.py``.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("next_number", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_studies"),
        sa.UniqueConstraint("name", name="uq_studies_name"),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("value_special", sa.String(8), nullable=True),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("failure_kind", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("heartbeat_at", sa.Double, nullable=True),
        sa.Column("lease_deadline", sa.Double, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("started_at", sa.Double, nullable=True),
        sa.Column("finished_at", sa.Double, nullable=True),
        sa.Column("last_step", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trials"),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_id_number"),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name="fk_trials_study_id_studies",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_trials_study_id_state", "trials", ["study_id", "state"])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("trial_number", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.ForeignKeyConstraint(
            ["study_id", "trial_number"],
            ["trials.study_id", "trials.number"],
            name="fk_reports_study_id_trial_number_trials",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "study_id",
            "trial_number",
            "attempt",
            "step",
            name="uq_reports_study_id_trial_number_attempt_step",
        ),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_index("ix_trials_study_id_state", table_name="trials")
    op.drop_table("trials")
    op.drop_table("studies")
