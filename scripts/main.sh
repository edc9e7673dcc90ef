#!/usr/bin/env bash
# Set up (see setup.sh) and run the main job: the analyst workflow with the shipped default model
# on scikit-image's sample photos (or on the images, folders and listings given as arguments),
# writing a predictions table and a one-page HTML summary to sentilens-demo/ in the repository.
# Relative paths given as arguments are taken from the folder the script is called from.
set -euo pipefail
args=()
for arg in "$@"; do
    if [[ "$arg" != -* && "$arg" != /* && -e "$arg" ]]; then
        arg="$PWD/$arg"
    fi
    args+=("$arg")
done
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/sentilens demo ${args[@]+"${args[@]}"} --out sentilens-demo
