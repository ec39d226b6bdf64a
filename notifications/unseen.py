"""Hand-offs nobody acknowledged, carried on: the rows models/oversight/unseen.py calls for, made and sent.

Each row is made once (its event, user and channel are unique) and sent like any hand-off: a
refusal passes it to that person's next channel at once (notifications/delivery.pass_on).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import sessionmaker

from models.config import Settings
from models.oversight.unseen import due_chases
from models.reference.tables import User
from notifications.delivery import plan_row, send_chain


def chase_unseen(factory: sessionmaker, now: datetime, settings: Settings) -> dict[str, int]:  # type: ignore[type-arg]
    """Make and send every row the acknowledgement limits call for by `now`; count them."""
    with factory.begin() as session:
        due = due_chases(session, now)
    made: dict[int, list[int]] = defaultdict(list)
    for chase in due:
        with factory.begin() as session:
            user = session.get_one(User, chase.user_id)
            urls = user.channel_urls
            if chase.channel >= len(urls):
                continue  # the channel was dropped meanwhile
            row_id = plan_row(
                session,
                chase.case_id,
                chase.event_id,
                user,
                urls[chase.channel],
                chase.reason,
                chase.follows_id,
                now,
            )
        if row_id is not None:  # None: another sweep made it, and sends it
            made[chase.event_id].append(row_id)
    not_sent = [i for event_id, ids in made.items() for i in send_chain(factory, event_id, ids, settings)]
    return {"made": sum(len(ids) for ids in made.values()), "not_sent": len(not_sent)}
