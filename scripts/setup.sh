#!/usr/bin/env bash
# Install Control Room into .venv (idempotent).   scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

requirements=requirements.txt
[[ "${1:-}" == "--test" ]] && requirements=requirements-test.txt

python=${PYTHON:-}
if [[ -z "$python" ]]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            python=$candidate; break
        fi
    done
fi
[[ -n "$python" ]] || { echo "Control Room needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
stamp=.venv/.installed-$(cat "$requirements" requirements.txt | sha256sum | cut -c1-16)
if [[ ! -e "$stamp" ]]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi
# Every flow step starts a new Python process that imports Prefect: keep bytecode compiled.
.venv/bin/python -m compileall -q -j 0 models flows notifications webapp scripts >/dev/null
PATH="$PWD/.venv/bin:$PATH" bash scripts/i18n.sh compile >/dev/null
