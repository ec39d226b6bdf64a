"""more callers of one case: those attached at intake instead of a case of their own

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_callers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("caller_name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["case_events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "phone"),
    )
    with op.batch_alter_table("case_callers") as batch_op:
        batch_op.create_index("ix_case_callers_case_id", ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_callers") as batch_op:
        batch_op.drop_index("ix_case_callers_case_id")
    op.drop_table("case_callers")
