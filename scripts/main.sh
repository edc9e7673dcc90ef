#!/usr/bin/env bash
# Set up (see setup.sh) and run the main job: the analyst workflow with the shipped default model
# on scikit-image's sample photos (or on the images and folders given as arguments), writing a
# predictions table and a one-page HTML summary to sentilens-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/sentilens demo "$@" --out sentilens-demo
