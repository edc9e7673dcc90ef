#!/usr/bin/env bash
# Set up (see setup.sh) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SENTILENS_DATA="${SENTILENS_DATA:-$(cd .. && pwd)/shared/data/twitter1}"
exec .venv/bin/python -m pytest "$@"
