"""hand-offs marked on their delivery rows, one a step: the acknowledgement figures from one index

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

    # A step sent on two channels (the first unseen) keeps its mark on the row sent first.
    op.execute(
        sa.text(
            "UPDATE deliveries SET hand_off = false WHERE hand_off AND status = 'sent' AND EXISTS ("
            " SELECT 1 FROM deliveries o WHERE o.event_id = deliveries.event_id"
            " AND o.user_id = deliveries.user_id AND o.hand_off AND o.status = 'sent'"
            " AND (o.sent_at < deliveries.sent_at"
            " OR (o.sent_at = deliveries.sent_at AND o.id < deliveries.id)))"
        )
    )
    # The acknowledgement figures read these rows by this index alone (PostgreSQL); 0019's goes.
    op.drop_index("ix_deliveries_sent_at", table_name="deliveries")
    op.create_index(
        "ix_deliveries_hand_offs",
        "deliveries",
        ["sent_at"],
        postgresql_include=["user_id", "seen_at"],
        postgresql_where=sa.text("hand_off AND status = 'sent'"),
        sqlite_where=sa.text("hand_off AND status = 'sent'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_hand_offs", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.create_index("ix_deliveries_sent_at", ["sent_at"], unique=False)
        batch_op.drop_column("hand_off")
