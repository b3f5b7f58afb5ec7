"""Index trials by (study, state, number): finding the next queued trial and the running ones
reads only those, where SQLite otherwise walked the study's every trial in number order (the
unique (study, number) index serves the ORDER BY), so each ask cost more as the study grew.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trials_study_id_state_number", "trials", ["study_id", "state", "number"])
    op.drop_index("ix_trials_study_id_state", table_name="trials")


def downgrade() -> None:
    op.create_index("ix_trials_study_id_state", "trials", ["study_id", "state"])
    op.drop_index("ix_trials_study_id_state_number", table_name="trials")
