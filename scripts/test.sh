#!/usr/bin/env bash
# Set up (see setup.sh), run the static checks (check.sh), then the test suite.
# Extra arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the quick tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check.sh
export SENTILENS_DATA="${SENTILENS_DATA:-$(cd .. && pwd)/shared/data/twitter1}"
exec .venv/bin/python -m pytest "$@"
