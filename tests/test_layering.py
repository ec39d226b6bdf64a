"""The dependency arrows: models imports neither Flask nor Prefect; flows never Flask; webapp never flows."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        (
            "import models, models.casework, models.reference, models.demo",
            {"flask", "prefect", "webapp", "flows"},
        ),
        ("import notifications", {"flask", "prefect", "webapp", "flows"}),
        ("import flows.complaint", {"flask", "webapp"}),
        ("import webapp; webapp.create_app()", {"flows", "prefect"}),
    ],
)
def test_it_keeps_the_arrows(statement: str, forbidden: set[str]) -> None:
    assert loaded_after(statement) & forbidden == set()
