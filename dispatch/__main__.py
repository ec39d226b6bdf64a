"""`python -m dispatch [--seconds N]`: run one dispatcher (start as many as you like, anywhere)."""

from __future__ import annotations

import argparse
import logging

from models.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dispatch", description=__doc__)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dispatch %(message)s")
    from dispatch.loop import run

    try:
        run(Settings.from_env(), stop_after=args.seconds)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
