"""history at scale: case events found by kind and time (the callers' feedback); open emergencies by index

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 16:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.create_index("ix_case_events_kind_created", ["kind", "created_at"], unique=False)
    # Not in a batch: on SQLite a batch of `cases` would copy the table and drop its search triggers.
    op.create_index("ix_cases_emergency_state", "cases", ["emergency", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_emergency_state", table_name="cases")
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.drop_index("ix_case_events_kind_created")
