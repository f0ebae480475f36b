#!/usr/bin/env bash
# Create .venv-graphon: Python 3.12 + graphon (Dify's engine) + this project, for the graphon
# probe tests (tests/graphon) and the engine/compat benchmarks (bench/engine.py, bench/compat.py).
#
# Idempotent: re-running only reinstalls when graphon's pin or pyproject.toml changed.
# Finds Python 3.12 via $GRAPHON_PYTHON, then `pyenv`, then `python3.12` on PATH.
# A missing 3.12 is an error (exit 2) with instructions, never a silent skip.
set -euo pipefail

GRAPHON_VERSION="${GRAPHON_VERSION:-0.8.0}"   # the version probe/targets_graphon.py is tested with
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRAPHON_VENV:-$ROOT/.venv-graphon}"
STAMP="$VENV/.installed"

find_python312() {
    if [[ -n "${GRAPHON_PYTHON:-}" ]]; then
        echo "$GRAPHON_PYTHON"; return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local v
        v="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V | tail -n1 || true)"
        if [[ -n "$v" ]]; then
            echo "$(pyenv root)/versions/$v/bin/python3.12"; return 0
        fi
    fi
    if command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys' >/dev/null 2>&1; then
        command -v python3.12; return 0
    fi
    return 1
}

if ! PY312="$(find_python312)" || ! "$PY312" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    cat >&2 <<MSG
graphon-venv.sh: Python 3.12 not found (graphon requires Python >= 3.12).
Install it with one of:
  pyenv install 3.12        # then re-run this script
  apt-get install python3.12 python3.12-venv
or point GRAPHON_PYTHON at a python3.12 executable.
MSG
    exit 2
fi

WANT="graphon==$GRAPHON_VERSION $(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/python" ]]; then
    echo "graphon-venv.sh: $VENV is up to date ($WANT)"
    exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PY312" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "graphon==$GRAPHON_VERSION"
"$VENV/bin/python" -m pip install --quiet -e "$ROOT[collector]" "pytest>=8.0" "pytest-timeout>=2.3"
echo "$WANT" > "$STAMP"
echo "graphon-venv.sh: $VENV ready ($WANT)"
