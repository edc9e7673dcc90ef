#!/usr/bin/env bash
# Set up (setup.sh), install the test, dev and cluster (Ray Data, for `--ray`) extras and the
# browser of the inspect report's test, run the static checks (check.sh), then the test suite.
# Extra arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the quick tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pip install -q -e ".[test,dev,cluster]"
# The browser test of 'sentilens inspect' needs Debian's headless Chromium and its WebDriver:
# installed here where this user may (root with apt-get), else named in one line.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "chromium or chromedriver missing (the browser test of 'sentilens inspect' will fail): install them with: sudo apt-get install chromium chromium-driver" >&2
    fi
fi
bash scripts/check.sh
export SENTILENS_DATA="${SENTILENS_DATA:-$(cd .. && pwd)/shared/data/twitter1}"
exec .venv/bin/python -m pytest "$@"
