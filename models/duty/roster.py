"""The duty roster: adding and removing shifts, and who is on each duty now and next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models.duty.tables import Duty, DutyShift
from models.reference.tables import Role, User
from models.times import INDIA, DayOutOfRange, aware, entered_day, from_india

# Emergencies are assigned to the admission officer as cases, and only officers act on
# their cases (models/cases/decisions.may_act): so both duties are held by officers.
ON_DUTY_ROLES = (Role.officer,)
INDIA_FORMAT = "%Y-%m-%d %H:%M"


class InvalidShift(ValueError):
    """A shift that cannot be on the roster (the message says why)."""


class OverlappingShift(InvalidShift):
    """The person already has a shift on this duty at some of these times."""

    def __init__(self, user: User, shift: DutyShift) -> None:
        self.user, self.shift = user, shift
        start, end = (
            f"{aware(t).astimezone(INDIA):{INDIA_FORMAT}}" for t in (shift.starts_at, shift.ends_at)
        )
        super().__init__(f"'{user.username}' already has this duty from {start} to {end} (India time)")


def india_time(text: str) -> datetime:
    """ "2026-12-01 08:00", India time, as an aware UTC datetime. :raise InvalidShift: not that form."""
    try:
        moment = datetime.strptime(text.strip(), INDIA_FORMAT)
        entered_day(moment.date())  # year 1 cannot be moved to UTC: refused like a typo
    except DayOutOfRange as exc:
        raise InvalidShift(f"'{text.strip()}': {exc}") from None
    except ValueError:
        raise InvalidShift(f"'{text.strip()}' is not a time like 2026-12-01 08:00") from None
    return from_india(moment)


def eligible(session: Session) -> list[User]:
    """The people a shift can be given to: active officers, by name."""
    return list(
        session.scalars(
            select(User).where(User.role.in_(ON_DUTY_ROLES), User.active.is_(True)).order_by(User.name)
        )
    )


def check_shift(user: User | None, duty: str, starts_at: datetime, ends_at: datetime) -> User:
    """Return the shift's user. :raise InvalidShift: unknown duty, not an active officer, ends first."""
    if duty not in Duty.ALL:
        raise InvalidShift(f"unknown duty '{duty}' ({', '.join(Duty.ALL)})")
    if user is None:
        raise InvalidShift("no such user")
    if not user.active or user.role not in ON_DUTY_ROLES:
        raise InvalidShift(f"'{user.username}' is not an active officer")
    if aware(ends_at) <= aware(starts_at):
        raise InvalidShift("a shift must end after it starts")
    return user


def overlapping(
    session: Session, user: User, duty: str, starts_at: datetime, ends_at: datetime
) -> DutyShift | None:
    """The person's earliest shift on `duty` sharing some time with starts_at..ends_at, if any.

    Two people may overlap on one duty (the later start holds it) and one person may hold both
    duties at once (a small district's CMHO); one person twice on one duty is only a mistake.
    """
    return session.scalar(
        select(DutyShift)
        .where(
            DutyShift.user_id == user.id,
            DutyShift.duty == duty,
            DutyShift.starts_at < ends_at,
            DutyShift.ends_at > starts_at,
        )
        .order_by(DutyShift.starts_at, DutyShift.id)
        .limit(1)
    )


def add_shift(
    session: Session, *, user_id: int, duty: str, starts_at: datetime, ends_at: datetime, now: datetime
) -> DutyShift:
    """Put a shift on the roster.

    :raise InvalidShift: see check_shift, or it has already ended.
    :raise OverlappingShift: the person has a shift on this duty at some of these times.
    """
    # The user's row locked (PostgreSQL): two keepers adding shifts for one person at once take
    # turns, so the second sees the first's shift and is refused if they overlap.
    user = check_shift(session.get(User, user_id, with_for_update=True), duty, starts_at, ends_at)
    if aware(ends_at) <= aware(now):
        raise InvalidShift("this shift has already ended")
    clash = overlapping(session, user, duty, starts_at, ends_at)
    if clash is not None:
        raise OverlappingShift(user, clash)
    shift = DutyShift(user_id=user_id, duty=duty, starts_at=starts_at, ends_at=ends_at, created_at=now)
    session.add(shift)
    session.flush()
    return shift


def remove_shift(session: Session, shift_id: int, now: datetime) -> None:
    """Take a shift that has not started off the roster. :raise InvalidShift: it has started."""
    shift = session.get(DutyShift, shift_id)
    if shift is None:
        raise LookupError(shift_id)
    if aware(shift.starts_at) <= aware(now):
        # A shift that started may already have taken emergencies: it stays, as a record.
        raise InvalidShift("a shift that has started cannot be removed")
    session.delete(shift)
    session.flush()


@dataclass
class DutyRoster:
    """One duty's page section: who holds it now, the shifts running now and the next ones."""

    duty: str
    holder: User | None
    current: list[DutyShift] = field(default_factory=list)
    upcoming: list[DutyShift] = field(default_factory=list)


def roster(session: Session, now: datetime, upcoming: int = 10) -> list[DutyRoster]:
    """Each duty's holder at `now`, its running shifts (latest start first) and the next `upcoming`."""
    result = []
    for duty in Duty.ALL:
        shifts = select(DutyShift).options(joinedload(DutyShift.user)).where(DutyShift.duty == duty)
        current = session.scalars(
            shifts.where(DutyShift.starts_at <= now, DutyShift.ends_at > now).order_by(
                DutyShift.starts_at.desc(), DutyShift.id.desc()
            )
        ).all()
        later = session.scalars(
            shifts.where(DutyShift.starts_at > now)
            .order_by(DutyShift.starts_at, DutyShift.id)
            .limit(upcoming)
        ).all()
        result.append(DutyRoster(duty, on_duty(session, duty, now), list(current), list(later)))
    return result


def on_duty(session: Session, duty: str, now: datetime) -> User | None:
    """Who holds `duty` at `now`: the active user of the shift that started last, if any."""
    return session.scalar(
        select(User)
        .join(DutyShift, DutyShift.user_id == User.id)
        .where(
            DutyShift.duty == duty, DutyShift.starts_at <= now, DutyShift.ends_at > now, User.active.is_(True)
        )
        .order_by(DutyShift.starts_at.desc(), DutyShift.id.desc())
        .limit(1)
    )


def stand_in(session: Session, user: User, now: datetime) -> User | None:
    """The duty roster's next person after `user`, on the duties they hold now: another person on
    shift now (the latest start first), else whoever's shift starts next. None: they hold no duty now."""
    duties = session.scalars(
        select(DutyShift.duty).where(
            DutyShift.user_id == user.id, DutyShift.starts_at <= now, DutyShift.ends_at > now
        )
    ).all()
    others = (
        select(User)
        .join(DutyShift, DutyShift.user_id == User.id)
        .where(DutyShift.duty.in_(duties), User.id != user.id, User.active.is_(True))
        .limit(1)
    )
    if not duties:
        return None
    return session.scalar(
        others.where(DutyShift.starts_at <= now, DutyShift.ends_at > now).order_by(
            DutyShift.starts_at.desc(), DutyShift.id.desc()
        )
    ) or session.scalar(others.where(DutyShift.starts_at > now).order_by(DutyShift.starts_at, DutyShift.id))
