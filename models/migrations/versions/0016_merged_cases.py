"""a case merged into another: the one that carries the problem now

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_cases_merged_into_id", ["merged_into_id"], unique=False)
        batch_op.create_foreign_key("fk_cases_merged_into_id_cases", "cases", ["merged_into_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_constraint("fk_cases_merged_into_id_cases", type_="foreignkey")
        batch_op.drop_index("ix_cases_merged_into_id")
        batch_op.drop_column("merged_into_id")
