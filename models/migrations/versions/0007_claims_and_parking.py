"""claims on the outbox and the message rows; parked outbox rows; message retries by due time; leases

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_TABLES = ("deliveries", "follow_up_alert_deliveries", "advisory_deliveries")


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("parked_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_outbox_parked_at", ["parked_at"], unique=False)
    for table in MESSAGE_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
            batch_op.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
            batch_op.create_index(f"ix_{table}_next_attempt_at", ["next_attempt_at"], unique=False)
        # Rows not sent yet are due for a retry now; sent ones have nothing left to do.
        op.execute(f"UPDATE {table} SET next_attempt_at = CURRENT_TIMESTAMP WHERE status <> 'sent'")


def downgrade() -> None:
    for table in MESSAGE_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_next_attempt_at")
            batch_op.drop_column("claimed_until")
            batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_parked_at")
        batch_op.drop_column("parked_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("claimed_until")
    op.drop_table("leases")
