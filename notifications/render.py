"""Message text from templates/<language>/<event kind>.txt (first line is the title)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from models.config import LANGUAGES

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _env() -> Environment:
    # Plain text for mail/SMS bodies: no HTML escaping, but undefined names fail loudly.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def render(kind: str, language: str, **context: object) -> tuple[str, str]:
    """Return (title, body) for an event kind in language (English when unknown)."""
    language = language if language in LANGUAGES else "en"
    text = _env().get_template(f"{language}/{kind}.txt").render(**context).strip()
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


def warm_templates() -> None:
    """Compile every template now (a process that forks children does it once for them)."""
    env = _env()
    for path in TEMPLATES.rglob("*.txt"):
        env.get_template(path.relative_to(TEMPLATES).as_posix())
