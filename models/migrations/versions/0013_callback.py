"""the caller's callback: its time limit and tries per category, the caller's rating on the event

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch_op:
        batch_op.add_column(sa.Column("callback_minutes", sa.Integer(), nullable=False, server_default="120"))
        batch_op.add_column(sa.Column("callback_tries", sa.Integer(), nullable=False, server_default="3"))
    with op.batch_alter_table("categories") as batch_op:
        batch_op.alter_column("callback_minutes", server_default=None)
        batch_op.alter_column("callback_tries", server_default=None)
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.drop_column("rating")
    with op.batch_alter_table("categories") as batch_op:
        batch_op.drop_column("callback_tries")
        batch_op.drop_column("callback_minutes")
