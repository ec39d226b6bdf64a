"""Benchmarks: the engine, the hand-offs and the floor beside them. Run `python -m bench --help`."""
