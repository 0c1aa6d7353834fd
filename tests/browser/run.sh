#!/usr/bin/env bash
# Run the browser tests (headless Chromium through Selenium and Debian's chromedriver)
# against an easd binary.
#   VENV      virtualenv to create/reuse (default: <repo>/.venv)
#   EASD_BIN  server binary (default: <repo>/target/debug/easd; build it first)
#   PYTHON    interpreter used to create the venv (default: python3)
#   CI        "true": a missing browser fails the run (otherwise the tests are skipped)
# Installs chromium and chromium-driver with apt-get when they are missing and this runs
# as root. Screenshots go to target/screenshots/. Extra arguments are passed to pytest.
# Exit code: pytest's (or 2 if the venv cannot be set up).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
            || echo "run.sh: apt-get install chromium chromium-driver failed" >&2
    else
        echo "run.sh: chromium or chromedriver missing (apt-get install chromium chromium-driver as root)" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || { echo "run.sh: cannot create venv at $VENV" >&2; exit 2; }
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "pyactivesync==0.17.0" "selenium>=4.11" pytest \
    || { echo "run.sh: pip install failed" >&2; exit 2; }

cd "$REPO" || exit 2
if [ -n "${EASD_BIN:-}" ]; then
    export EASD_BIN
fi
"$VENV/bin/python" -m pytest -q -rs tests/browser "$@"
exit $?
