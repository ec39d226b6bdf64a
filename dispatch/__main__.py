"""`python -m dispatch [--seconds N] [--worker POOL --limit N [--launcher]]`: run one dispatcher (start
as many as you like, anywhere); with --worker, Prefect's process worker for POOL runs in the same
process, and with --launcher the worker's launch server is forked off it."""

from __future__ import annotations

import argparse
import logging

from models.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dispatch", description=__doc__)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")
    parser.add_argument("--worker", metavar="POOL", help="also run Prefect's process worker for POOL here")
    parser.add_argument("--limit", type=int, default=None, help="with --worker: runs at once")
    parser.add_argument(
        "--launcher",
        action="store_true",
        help="with --worker: fork the worker's launch server (flows/launcher.py) off this process",
    )
    args = parser.parse_args()
    if args.worker and args.seconds:
        parser.error("--seconds stops a dispatcher alone, not one with --worker")
    if args.launcher and not args.worker:
        parser.error("--launcher needs --worker: the launch server serves that worker's flow runs")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dispatch %(message)s")
    try:
        if args.worker:
            from dispatch import worker

            worker.run(Settings.from_env(), args.worker, args.limit, launcher=args.launcher)
        else:
            from dispatch.loop import run

            run(Settings.from_env(), stop_after=args.seconds)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
