"""channels in order: why each delivery was made (after which one), each category's acknowledgement limit

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        # Rows made before: every channel of every recipient at once, as an emergency's alarm is.
        batch_op.add_column(sa.Column("reason", sa.String(length=16), nullable=False, server_default="every"))
        batch_op.add_column(sa.Column("follows_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_deliveries_follows_id", "deliveries", ["follows_id"], ["id"])
        batch_op.create_index("ix_deliveries_sent_at", ["sent_at"], unique=False)
    with op.batch_alter_table("categories") as batch_op:
        batch_op.add_column(sa.Column("ack_minutes", sa.Integer(), nullable=False, server_default="10"))


def downgrade() -> None:
    with op.batch_alter_table("categories") as batch_op:
        batch_op.drop_column("ack_minutes")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_index("ix_deliveries_sent_at")
        batch_op.drop_constraint("fk_deliveries_follows_id", type_="foreignkey")
        batch_op.drop_column("follows_id")
        batch_op.drop_column("reason")
