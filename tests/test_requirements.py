"""`python -m bench` runs from the venv `scripts/start` makes: requirements.txt, not the test requirements."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OURS = {"bench", "dispatch", "flows", "models", "notifications", "scripts", "tests", "webapp"}


def runtime_distributions() -> set[str]:
    """requirements.txt's distributions and everything they require, as pip would install them."""
    wanted = [
        Requirement(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    seen: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            extras = requirement.extras or {""}
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in extras):
                wanted.append(needed)
    return seen


def imported_modules(folder: Path) -> set[str]:
    """The top-level modules folder's code imports, but the standard library's and our own."""
    names = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - OURS


def test_it_installs_what_bench_imports_with_the_runtime_requirements() -> None:
    providers = metadata.packages_distributions()
    runtime = runtime_distributions()
    missing = sorted(
        module
        for module in imported_modules(ROOT / "bench")
        if not {canonicalize_name(d) for d in providers.get(module, [])} & runtime
    )
    assert missing == [], f"bench imports {missing}, which requirements.txt does not install"
