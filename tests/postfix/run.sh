#!/usr/bin/env bash
# easd behind a real Postfix, both ways: see tests/postfix/driver.py for what is checked.
#
# Runs as root (it starts a private Postfix instance: its own config, queue and data
# directories in a temporary directory, loopback only, no DNS; the system's Postfix, if
# any, is not touched). Installs Debian's postfix package when it is missing, without
# starting the system instance.
#   VENV      virtualenv with pyactivesync (default: <repo>/.venv, made by tests/e2e/run.sh)
#   EASD_BIN  server binary (default: <repo>/target/debug/easd; build it first)
#   TIMEOUT   seconds the whole test may take (default 240)
# Prints "postfix e2e: PASS" or "postfix e2e: FAIL: <why>"; exit status 0 or 1.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
EASD_BIN="${EASD_BIN:-$REPO/target/debug/easd}"

fail() { echo "postfix e2e: FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root"
[ -x "$EASD_BIN" ] || fail "no easd binary at $EASD_BIN (cargo build first)"
if ! command -v postfix >/dev/null; then
    echo "postfix e2e: installing postfix"
    # policy-rc.d exit 101: the package's scripts must not start the system instance.
    rc_made=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        rc_made=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    timeout 300 apt-get update -qq \
        && timeout 300 apt-get install -y -qq --no-install-recommends postfix >/dev/null
    installed=$?
    [ -n "$rc_made" ] && rm -f /usr/sbin/policy-rc.d
    [ $installed = 0 ] || fail "apt-get install postfix failed"
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pyactivesync' 2>/dev/null; then
    python3 -m venv "$VENV" || fail "cannot create venv at $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "pyactivesync==0.17.0" || fail "pip install pyactivesync failed"
fi

cd "$REPO" || exit 1
ROOT=$(mktemp -d /tmp/easd-postfix.XXXXXX) || fail "mktemp"
# Backstop for a driver that could not clean up (killed at the time limit): Postfix's
# master runs in a session of its own, so the timeout's signals do not reach it.
cleanup() {
    local pid
    pid=$(cat "$ROOT/spool/pid/master.pid" 2>/dev/null | tr -d ' ')
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        postfix -c "$ROOT/etc" abort >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null
    fi
    [ "${KEEP:-}" = 1 ] || rm -rf "$ROOT"
}
trap cleanup EXIT
# timeout signals its whole process group (the driver and the easd it started); the
# driver turns SIGTERM into a failure and stops what it started.
PF_ROOT="$ROOT" EASD_BIN="$EASD_BIN" timeout -k 15 "${TIMEOUT:-240}" \
    "$VENV/bin/python" tests/postfix/driver.py
rc=$?
if [ $rc = 124 ] || [ $rc = 137 ]; then
    echo "postfix e2e: FAIL: timed out after ${TIMEOUT:-240} s"
    exit 1
fi
exit $rc
