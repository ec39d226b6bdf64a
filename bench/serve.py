"""Run the complaint flow and the floor flow with `serve` instead of a work pool and worker.

Deployments: complaint-lifecycle/bench-serve and bench-floor/bench-serve. The dispatcher
finds the first through CONTROL_ROOM_DEPLOYMENT (set by bench/harness.py).
"""

from __future__ import annotations

import argparse

from prefect import serve

from bench.floor_flow import floor_flow
from flows.complaint import complaint_lifecycle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="bench-serve")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    serve(
        complaint_lifecycle.to_deployment(name=args.name, tags=["control-room"]),
        floor_flow.to_deployment(name=args.name, tags=["control-room-bench"]),
        limit=args.limit,
        print_starting_message=False,
    )


if __name__ == "__main__":  # serve runs each flow in a spawned process, which imports this module
    main()
