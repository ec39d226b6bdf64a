"""Settings read from the environment, with defaults that run a fresh checkout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

from models.desk.shifts import parse_starts

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("CONTROL_ROOM_INSTANCE", ROOT / "instance"))
# The languages the pages, the messages and the advisories are written in (their translations and
# templates exist for these only); a user's and an advisory's language is one of them.
LANGUAGES = {"en": "English", "hi": "हिन्दी"}  # each by its own name
DEV_SECRET = "dev-only-secret-change-me"
# The work queue, first in its pool's priority, of an urgent case's flow runs (an emergency's too):
# workers take its runs, and their resumes, before the default queue's (flows/automations.py makes it).
URGENT_QUEUE = "urgent"


class ImproperlyConfigured(RuntimeError):
    """A setting is missing or malformed."""


def env_bool(name: str, default: bool = False) -> bool:
    """Read a strict boolean: only true/false/1/0 are accepted."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    # Production unless the operator says otherwise: then the web app will not start on a
    # published key, and its cookies are Secure whatever PUBLIC_URL says.
    app_env: str = "production"
    secret_key: str = ""
    database_url: str = f"sqlite:///{INSTANCE / 'control_room.sqlite'}"
    district_prefix: str = "SRJ"
    district_name: str = "Surajpur"
    # The district's name as Hindi pages and messages print it (not a transliteration made on the fly).
    district_name_hi: str = "सूरजपुर"
    public_url: str = "http://127.0.0.1:5000"
    prefect_api_url: str = "http://127.0.0.1:4200/api"
    prefect_ui_url: str = "http://127.0.0.1:4200"
    # Seconds a page waits on the Prefect server (the run history on a case's timeline) before it
    # shows the rest without it: an operator must never wait on Prefect.
    prefect_read_timeout: float = 3.0
    deployment: str = "complaint-lifecycle/complaint-lifecycle"
    demo: bool = False
    mail_dir: str = str(INSTANCE / "mail")
    notify_timeout: float = 10.0
    dispatch_interval: float = 0.5
    # An Apprise URL with "{phone}" where the E.164 number goes: how patients and field
    # contacts get text messages (an SMS gateway's Apprise URL). Empty: no SMS.
    sms_url: str = ""
    # Home-isolation follow-up calls not answered in a row before the patient's Mitanin
    # and the duty doctor are alerted.
    follow_up_miss_limit: int = 3
    advisory_deployment: str = "send-advisory/send-advisory"
    # The message retries (flows/retries.py): a person's Send again starts a run at once.
    retries_deployment: str = "send-retries/send-retries"
    # The follow-up list (flows/follow_up.py): the follow-ups page's "Make today's list now".
    follow_up_deployment: str = "follow-up-list/follow-up-list"
    # A login session unused this long ends (a desk left signed in overnight is signed out).
    session_idle_minutes: float = 120.0
    # How often an open page asks whether anything changed (webapp/live.py), in seconds.
    live_seconds: float = 10.0
    # Failed sign-ins allowed per login name and per address (Flask-Limiter's notation), and
    # lookups of the public status page per address.
    login_limit_account: str = "10 per 15 minutes"
    login_limit_address: str = "30 per 15 minutes"
    status_limit: str = "30 per minute"
    # Open311 service requests POSTed per API key (webapp/open311.py).
    open311_post_limit: str = "60 per minute"
    # Where those counters live, shared by every web process: this database when empty, or a
    # Redis URL (redis://host:6379/0) when several machines serve the app.
    rate_limit_storage: str = ""
    # When the control room's shifts start, India time, whole hours: each shift's end makes its
    # handover (flows/handover.py runs hourly), and a merge may be undone until its shift ends.
    shift_starts: str = "00:00,08:00,16:00"
    # Proxies in front of the web app (nginx: 1) whose X-Forwarded-For/-Proto/-Host it believes: the
    # per-address limits and the audit log then see each person's address, not the proxy's.
    trusted_proxies: int = 0
    # How long a one-tap link in a hand-off message opens its step (models/access/act_links.py).
    act_link_hours: float = 72.0

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from CONTROL_ROOM_* / standard variables; fail fast on bad values."""
        env = os.environ.get
        defaults = cls()
        settings = cls(
            app_env=env("APP_ENV", defaults.app_env),
            secret_key=env("SECRET_KEY", defaults.secret_key),
            database_url=env("DATABASE_URL", defaults.database_url),
            district_prefix=env("DISTRICT_PREFIX", defaults.district_prefix),
            district_name=env("DISTRICT_NAME", defaults.district_name),
            district_name_hi=env("DISTRICT_NAME_HI", defaults.district_name_hi),
            public_url=env("PUBLIC_URL", defaults.public_url).rstrip("/"),
            prefect_api_url=env("PREFECT_API_URL", defaults.prefect_api_url),
            prefect_ui_url=env("PREFECT_UI_URL", defaults.prefect_ui_url).rstrip("/"),
            prefect_read_timeout=env_float("PREFECT_READ_TIMEOUT", defaults.prefect_read_timeout),
            deployment=env("CONTROL_ROOM_DEPLOYMENT", defaults.deployment),
            demo=env_bool("CONTROL_ROOM_DEMO"),
            mail_dir=env("MAIL_DIR", defaults.mail_dir),
            notify_timeout=env_float("NOTIFY_TIMEOUT", defaults.notify_timeout),
            dispatch_interval=env_float("DISPATCH_INTERVAL", defaults.dispatch_interval),
            sms_url=env("SMS_URL", defaults.sms_url),
            follow_up_miss_limit=int(env_float("FOLLOW_UP_MISS_LIMIT", defaults.follow_up_miss_limit)),
            advisory_deployment=env("CONTROL_ROOM_ADVISORY_DEPLOYMENT", defaults.advisory_deployment),
            retries_deployment=env("CONTROL_ROOM_RETRIES_DEPLOYMENT", defaults.retries_deployment),
            follow_up_deployment=env("CONTROL_ROOM_FOLLOW_UP_DEPLOYMENT", defaults.follow_up_deployment),
            session_idle_minutes=env_float("SESSION_IDLE_MINUTES", defaults.session_idle_minutes),
            live_seconds=env_float("LIVE_SECONDS", defaults.live_seconds),
            login_limit_account=env("LOGIN_LIMIT_ACCOUNT", defaults.login_limit_account),
            login_limit_address=env("LOGIN_LIMIT_ADDRESS", defaults.login_limit_address),
            status_limit=env("STATUS_LIMIT", defaults.status_limit),
            open311_post_limit=env("OPEN311_POST_LIMIT", defaults.open311_post_limit),
            rate_limit_storage=env("RATE_LIMIT_STORAGE", defaults.rate_limit_storage),
            shift_starts=env("SHIFT_STARTS", defaults.shift_starts),
            trusted_proxies=int(env_float("TRUSTED_PROXIES", defaults.trusted_proxies)),
            act_link_hours=env_float("ACT_LINK_HOURS", defaults.act_link_hours),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if self.app_env not in {"development", "production", "test"}:
            raise ImproperlyConfigured(
                f"APP_ENV must be development, production or test, not {self.app_env!r}"
            )
        if self.session_idle_minutes <= 0:
            raise ImproperlyConfigured("SESSION_IDLE_MINUTES must be more than 0")
        if not 1 <= self.live_seconds <= 600:
            raise ImproperlyConfigured("LIVE_SECONDS must be from 1 to 600")
        if self.app_env == "production" and self.demo:
            raise ImproperlyConfigured("CONTROL_ROOM_DEMO cannot be on in production")
        if self.sms_url and "{phone}" not in self.sms_url:
            raise ImproperlyConfigured("SMS_URL must contain {phone}, where the number goes")
        if self.follow_up_miss_limit < 1:
            raise ImproperlyConfigured("FOLLOW_UP_MISS_LIMIT must be at least 1")
        if not 0 < self.prefect_read_timeout <= 60:
            raise ImproperlyConfigured("PREFECT_READ_TIMEOUT must be more than 0 and at most 60 seconds")
        if not 0 < self.act_link_hours <= 24 * 30:
            raise ImproperlyConfigured("ACT_LINK_HOURS must be more than 0 and at most 720")
        if not self.district_prefix.isalnum():
            raise ImproperlyConfigured("DISTRICT_PREFIX must be letters and digits")
        if not 0 <= self.trusted_proxies <= 5:
            raise ImproperlyConfigured("TRUSTED_PROXIES must be 0 (none) to 5")
        try:
            parse_starts(self.shift_starts)
        except ValueError as exc:
            raise ImproperlyConfigured(f"SHIFT_STARTS: {exc} (e.g. 00:00,08:00,16:00)") from exc

    @property
    def act_link_age(self) -> timedelta:
        """How long a one-tap link stays good."""
        return timedelta(hours=self.act_link_hours)

    @property
    def shifts(self) -> tuple[time, ...]:
        """The shift starts, India time, in order."""
        return parse_starts(self.shift_starts)

    def district_for(self, language: str) -> str:
        """The district's name in language: its Hindi name for Hindi (the English one if that is empty)."""
        return (self.district_name_hi or self.district_name) if language == "hi" else self.district_name

    def signing_secret(self) -> str:
        """The key that signs cookies and links. :raise ImproperlyConfigured: not set, outside development.

        Only a machine the operator declared a developer's (APP_ENV=development) may fall back to the
        published development key; anywhere else a forged cookie would be one command away.
        """
        if self.secret_key and self.secret_key != DEV_SECRET:
            return self.secret_key
        if self.app_env == "development":
            return DEV_SECRET
        raise ImproperlyConfigured(
            "SECRET_KEY must be set (a long random string), unless APP_ENV=development"
            " on a developer's machine"
        )
