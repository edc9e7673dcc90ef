#!/usr/bin/env bash
# Static checks (run by scripts/test.sh before the tests, and by the pre-commit hooks):
# layers import only downward, ruff lint and format, and the type checker.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/lint-imports
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
