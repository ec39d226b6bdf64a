"""python -m bench.tables RESULTS.jsonl ...: the JSON lines of `python -m bench --json` as Markdown tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.report import fmt, goal_met


def markdown(lines: list[dict[str, object]]) -> str:
    out: list[str] = []
    bench = None
    for row in lines:
        if row["bench"] != bench:
            bench = row["bench"]
            out += [
                "",
                f"**{bench}** ({row.get('db', '')})",
                "",
                "| metric | value | floor | x floor | goal | unit | ok |",
                "|---|---:|---:|---:|---|---|---|",
            ]
        value = float(row["value"]) if row["value"] is not None else float("nan")
        floor = float(row["floor"]) if row["floor"] is not None else None  # type: ignore[arg-type]
        ratio = fmt(value / floor) if floor and floor > 0 and value >= 0 else ""
        goal = str(row["goal"] or "")
        ok = {True: "yes", False: "**no**", None: ""}[goal_met(value, goal or None)]
        metric = str(row["metric"]).strip().replace("|", "/")
        out.append(f"| {metric} | {fmt(value)} | {fmt(floor)} | {ratio} | {goal} | {row['unit']} | {ok} |")
    return "\n".join(out).strip() + "\n"


def main(paths: list[str]) -> None:
    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    sys.stdout.write(markdown(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
