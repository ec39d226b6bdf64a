"""Small trend charts of a patient's readings, as numbers an inline SVG draws (no JavaScript)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from models.times import aware

WIDTH, HEIGHT, PAD = 300, 80, 6
# The range each chart shows; readings outside it sit on its edge.
SCALES = {"spo2": (80.0, 100.0), "temperature": (95.0, 106.0), "pulse": (40.0, 160.0)}
LABELS = {"spo2": _l("SpO2"), "temperature": _l("Temperature (°F)"), "pulse": _l("Pulse (per minute)")}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: str
    at: datetime
    flagged: bool  # the value crosses a red-flag threshold


@dataclass(frozen=True)
class Chart:
    metric: str
    label: str
    points: list[Point]
    limits: list[tuple[float, str]]  # (y, "< 94") of each active threshold line

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _y(metric: str, value: float) -> float:
    low, high = SCALES[metric]
    share = (min(max(value, low), high) - low) / (high - low)
    return round(HEIGHT - PAD - share * (HEIGHT - 2 * PAD), 1)


def _crosses(op: str, value: float, limit: float) -> bool:
    return {"<": value < limit, "<=": value <= limit, ">": value > limit, ">=": value >= limit}[op]


def trend_charts(readings: Sequence[Any], thresholds: Iterable[Any]) -> list[Chart]:
    """One chart per vital sign with any value, readings oldest first, x by time taken."""
    rules = [t for t in thresholds if t.active]
    times = [aware(r.taken_at) for r in readings]
    start, span = (times[0], (times[-1] - times[0]).total_seconds()) if times else (None, 0.0)
    charts = []
    for metric in SCALES:
        points = []
        for reading, at in zip(readings, times, strict=True):
            value = getattr(reading, metric)
            if value is None:
                continue
            share = (at - start).total_seconds() / span if span and start else 0.5
            flagged = any(_crosses(t.op, value, t.value) for t in rules if t.metric == metric)
            points.append(
                Point(round(PAD + share * (WIDTH - 2 * PAD), 1), _y(metric, value), f"{value:g}", at, flagged)
            )
        if points:
            limits = [(_y(metric, t.value), f"{t.op} {t.value:g}") for t in rules if t.metric == metric]
            charts.append(Chart(metric, str(LABELS[metric]), points, limits))
    return charts
