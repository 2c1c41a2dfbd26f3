#!/usr/bin/env bash
# Type check (mypy, pinned in requirements/constraints.txt) of the pure cores and the device protocol. The checked
# paths and the strictness are in pyproject.toml [tool.mypy]. Needs the venv (scripts/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec "$ROOT/.venv/bin/mypy" --config-file "$ROOT/pyproject.toml" "$@"
