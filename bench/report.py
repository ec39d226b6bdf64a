"""Figures: each measured value beside its floor, printed as a table and as one JSON line each."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def goal_met(value: float, goal: str | None) -> bool | None:
    """Whether value meets a goal written "<= 50" or ">= 1" (None: no goal)."""
    if not goal or math.isnan(value):
        return None
    op, _, limit = goal.partition(" ")
    if op == "<=":
        return value <= float(limit)
    if op == ">=":
        return value >= float(limit)
    if op == "==":
        return value == float(limit)
    raise ValueError(f"unknown goal {goal!r}")


@dataclass(frozen=True)
class Figure:
    bench: str
    metric: str
    value: float
    unit: str
    floor: float | None = None
    goal: str | None = None

    def as_json(self, db: str) -> str:
        def num(x: float | None) -> float | None:
            return None if x is None or math.isnan(x) else round(x, 4)

        return json.dumps(
            {
                "bench": self.bench,
                "metric": self.metric,
                "value": num(self.value),
                "unit": self.unit,
                "floor": num(self.floor),
                "goal": self.goal,
                "db": db,
            },
            ensure_ascii=False,
        )


@dataclass
class Report:
    """Collects figures; prints each as a JSON line when added, and a table per bench."""

    db: str
    out: TextIO = sys.stdout
    json_file: Path | None = None
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        bench: str,
        metric: str,
        value: float,
        unit: str,
        floor: float | None = None,
        goal: str | None = None,
    ) -> Figure:
        figure = Figure(bench, metric, float(value), unit, None if floor is None else float(floor), goal)
        self.figures.append(figure)
        line = figure.as_json(self.db)
        print(line, file=self.out, flush=True)
        if self.json_file is not None:
            with self.json_file.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"# {text}", file=self.out, flush=True)

    def table(self, bench: str | None = None) -> str:
        rows = [f for f in self.figures if bench is None or f.bench == bench]
        header = ("bench", "metric", "value", "floor", "x floor", "goal", "unit", "ok")
        body = [
            (
                f.bench,
                f.metric,
                fmt(f.value),
                fmt(f.floor),
                fmt(f.value / f.floor) if f.floor and f.floor > 0 and f.value >= 0 else "",
                f.goal or "",
                f.unit,
                {True: "yes", False: "NO", None: ""}[goal_met(f.value, f.goal)],
            )
            for f in rows
        ]
        widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
        lines = [
            " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *body]
        ]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)

    def print_table(self, bench: str | None = None) -> None:
        print("\n" + self.table(bench) + "\n", file=self.out, flush=True)


def fmt(x: float | None) -> str:
    if x is None or math.isnan(x):
        return ""
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"
