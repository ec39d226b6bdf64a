"""process beats: each dispatcher's last sign of life, for the admin's health page and /healthz

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_beats",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("handed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("process_beats") as batch_op:
        batch_op.create_index("ix_process_beats_seen_at", ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("process_beats") as batch_op:
        batch_op.drop_index("ix_process_beats_seen_at")
    op.drop_table("process_beats")
