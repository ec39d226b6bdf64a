"""One-tap links: a signed, expiring token that lets one user take one step of one case without a sign-in.

The token carries (user id, case id, case version) and its signing time, signed with the app's key under
its own salt, so a status link or a cookie never opens a step. It is bound to the case's `decisions` at
the time the message is composed: once anyone decides, every link to that step is dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

SALT = "act-link"
TOKEN_MAX = 300  # longer is no token of ours: refused before it is checked


class Refused(StrEnum):
    """Why a link opens nothing."""

    bad = "bad"  # altered, signed with another key or for another purpose
    expired = "expired"


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: user_id may take the step `version` of case_id."""

    user_id: int
    case_id: int
    version: int


class _ClockedSigner(TimestampSigner):
    """A signer whose clock is the `now` it is given: the domain rule takes the time as an argument."""

    def __init__(self, *args: Any, at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at = at

    def get_timestamp(self) -> int:
        return self.at


def make_token(user_id: int, case_id: int, version: int, secret: str, now: datetime) -> str:
    """The signed part of a one-tap link, dated now."""
    serializer = URLSafeTimedSerializer(
        secret, salt=SALT, signer=_ClockedSigner, signer_kwargs={"at": int(now.timestamp())}
    )
    return str(serializer.dumps([user_id, case_id, version]))


def read_token(token: str, secret: str, max_age: timedelta, now: datetime) -> Grant | Refused:
    """The grant of a token, or why it is refused (its signature, then its age as of now)."""
    if not token or len(token) > TOKEN_MAX:
        return Refused.bad
    try:
        payload, signed_at = URLSafeTimedSerializer(secret, salt=SALT).loads(token, return_timestamp=True)
    except BadSignature:
        return Refused.bad
    if not (isinstance(payload, list) and len(payload) == 3 and all(type(v) is int for v in payload)):
        return Refused.bad
    if now - signed_at > max_age:
        return Refused.expired
    return Grant(*payload)


def act_url(public_url: str, token: str) -> str:
    """The full address of a one-tap link."""
    return f"{public_url.rstrip('/')}/act/{token}"
