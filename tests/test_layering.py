"""The dependency arrows: models/ imports neither Flask nor Prefect; notifications/ neither; flows/ never
Flask; webapp/ never flows/; and no module of models/ imports another that imports it back."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB_AND_ENGINE = {"flask", "flask_babel", "flask_login", "flask_wtf", "prefect", "webapp", "flows"}


def modules(package: str) -> list[str]:
    """Every module of a top-level package, found by walking its folders (not a hand-kept list)."""
    found = [package]
    for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
        if ".migrations" not in info.name:
            found.append(info.name)
    return found


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    env = {**os.environ, "SECRET_KEY": "layering-test"}  # the web app will not start without one
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    ).stdout
    return set(out.split())


def test_it_finds_every_module() -> None:
    # A walk that found nothing would make the tests below pass on anything.
    assert {"models.cases.tables", "models.homecare.followups", "models.oversight.escalation"} <= set(
        modules("models")
    )
    assert "notifications.delivery" in modules("notifications")
    assert "flows.complaint" in modules("flows")


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("models", WEB_AND_ENGINE),
        ("notifications", WEB_AND_ENGINE),
        ("flows", WEB_AND_ENGINE - {"prefect", "flows"}),
    ],
)
def test_it_keeps_the_arrows(package: str, forbidden: set[str]) -> None:
    imports = "; ".join(f"import {name}" for name in modules(package))
    assert loaded_after(imports) & forbidden == set()


def test_the_web_app_never_loads_flows_or_prefect() -> None:
    assert loaded_after("import webapp; webapp.create_app()") & {"flows", "prefect"} == set()


def imported_by(module: str) -> set[str]:
    """The models/ modules that module imports, wherever in it the import stands."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("models."):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in ALL}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("models.")}
    return found & ALL


ALL = set(modules("models"))


def test_no_module_of_models_imports_itself_round_a_circle() -> None:
    graph = {m: imported_by(m) for m in ALL if m != "models"}
    circles: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(module, ())):
            if nxt in path:
                circles.append([*path[path.index(nxt) :], nxt])
            elif len(path) < len(graph):
                walk(nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, [start])
    assert circles == []


def test_the_demo_mail_sink_loads_neither_the_models_nor_sqlalchemy() -> None:
    # It is a process of its own on a demo machine: every package it imports is memory it holds
    # idle (SQLAlchemy and the tables were half its 52 MB; docs/performance.md, goal 6).
    assert loaded_after("import notifications.mailsink") & {"models", "sqlalchemy", "apprise"} == set()
