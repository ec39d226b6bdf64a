"""hand-offs marked on their delivery rows: the acknowledgement figures without a join to the events

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models/messages.HANDS_TO and CHASED as they stand at this revision.
HANDS_TO = {
    "dm": ("opened", "send_back", "reopen_closed"),
    "officer": ("assign", "reopen", "not_satisfied"),
    "operator": ("resolve",),
    "collector": ("satisfied",),
}
CHASED = ("first", "fallback", "unseen")


def upgrade() -> None:
    # Not in a batch: SQLite adds a column in place; a batch would copy the table.
    op.add_column(
        "deliveries", sa.Column("hand_off", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    pairs = " OR ".join(
        f"(u.role = '{role}' AND e.kind IN ({', '.join(repr(k) for k in kinds)}))"
        for role, kinds in HANDS_TO.items()
    )
    op.execute(
        sa.text(
            "UPDATE deliveries SET hand_off = true"
            f" WHERE reason IN ({', '.join(repr(r) for r in CHASED)}) AND EXISTS ("
            " SELECT 1 FROM case_events e, users u"
            f" WHERE e.id = deliveries.event_id AND u.id = deliveries.user_id AND ({pairs}))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("hand_off")
