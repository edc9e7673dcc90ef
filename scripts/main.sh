#!/usr/bin/env bash
# Set up (see setup.sh) and run the main job: 5-fold cross-validation on Twitter I (five agree),
# Inception-v3 with auxiliary heads, frozen mode, beside the logistic-regression floor.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA="${SENTILENS_DATA:-../shared/data/twitter1}"
exec .venv/bin/sentilens cv "$DATA" --subset five --baseline --out sentilens-results "$@"
