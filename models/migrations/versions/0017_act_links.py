"""one-tap links: decisions taken by link, a PIN for them, and when a message was seen

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.add_column(sa.Column("via", sa.String(length=16), nullable=False, server_default=""))
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("link_pin", sa.String(length=256), nullable=True))
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("seen_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("seen_at")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("link_pin")
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.drop_column("via")
