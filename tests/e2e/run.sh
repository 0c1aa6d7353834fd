#!/usr/bin/env bash
# Run the pyactivesync end-to-end suite against an easd binary.
#   VENV      virtualenv to create/reuse (default: <repo>/.venv)
#   EASD_BIN  server binary (default: <repo>/target/debug/easd; build it first)
#   PYTHON    interpreter used to create the venv (default: python3)
# Extra arguments are passed to pytest, e.g. tests/e2e/run.sh -k folder -x
# Exit code: pytest's (or 2 if the venv cannot be set up).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || { echo "run.sh: cannot create venv at $VENV" >&2; exit 2; }
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "pyactivesync==0.17.0" pytest \
    || { echo "run.sh: pip install failed" >&2; exit 2; }

cd "$REPO" || exit 2
if [ -n "${EASD_BIN:-}" ]; then
    export EASD_BIN
fi
"$VENV/bin/python" -m pytest -q tests/e2e "$@"
exit $?
