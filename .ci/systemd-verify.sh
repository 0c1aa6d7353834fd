#!/usr/bin/env bash
# Statically checks the systemd units in systemd/ with `systemd-analyze verify`, once
# without a board drop-in and once per board profile (board/dropin.sh), plus the
# sysusers entry and the service's sandbox exposure score.
#
# The drop-in systemd/easd-lmtp.socket.d/ (LMTP over a unix socket for Postfix) is
# verified on top of the default units as its own check.
#
# Works without systemd as PID 1 (containers, CI): the units are verified offline
# against a temporary root (--root) that holds a copy of the host's
# /usr/lib/systemd/system (for sysinit.target & co.) and an executable at /usr/bin/easd
# (a stub unless EASD_BIN names a built binary; verify only checks that ExecStart exists
# and is executable). No SYSTEMD_LOG_LEVEL or other environment is needed.
#
# `systemd-analyze verify` exits 0 on unknown keys and bad values (it only logs
# "..., ignoring"), so ANY output from it counts as a failure here.
#
# Exits non-zero on any unit error.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
    echo "systemd-verify: installing systemd (for systemd-analyze)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
echo "systemd-verify: $(systemd-analyze --version | head -n1)"

units=(easd.service easd.socket easd-lmtp.socket easd-notify.socket easd-firstboot.service)
# Exposure above this (systemd-analyze security scale 0.0-10.0, times 10) fails.
max_exposure=${MAX_EXPOSURE:-25}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

make_root() { # $1 = root dir, $2 = board name or "" for none
    local root=$1
    mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
    cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
    if [[ -n ${EASD_BIN:-} ]]; then
        cp "$EASD_BIN" "$root/usr/bin/easd"
    else
        printf '#!/bin/sh\nexit 0\n' >"$root/usr/bin/easd"
    fi
    chmod 755 "$root/usr/bin/easd"
    install -D -m 755 image/rootfs/firstboot "$root/usr/lib/easd/firstboot"
    for u in "${units[@]}"; do cp "systemd/$u" "$root/etc/systemd/system/"; done
    if [[ -n $2 ]]; then
        mkdir -p "$root/etc/systemd/system/easd.service.d"
        board/dropin.sh "$2" >"$root/etc/systemd/system/easd.service.d/board.conf"
    fi
}

check() { # $1 = label, $2 = board or "", $3 = a drop-in dir of systemd/ to add (optional)
    local root=$work/$1 out rc
    make_root "$root" "$2"
    if [[ -n ${3:-} ]]; then cp -r "systemd/$3" "$root/etc/systemd/system/"; fi
    set +e
    out=$(systemd-analyze verify --man=no --root="$root" "${units[@]}" 2>&1)
    rc=$?
    set -e
    if [[ $rc != 0 || -n $out ]]; then
        echo "FAIL verify [$1] (rc=$rc):"
        printf '%s\n' "$out" | sed 's/^/    /'
        fail=1
    else
        echo "ok   verify [$1]: ${units[*]}"
    fi
}

check default ""
# The unix-socket LMTP variant (README, "Mail from the MTA").
check lmtp-unix "" easd-lmtp.socket.d
for dir in board/*/; do
    b=$(basename "$dir")
    check "$b" "$b"
done

# The board drop-ins must set MemoryMax (a typo'd key would only be "ignored").
for dir in board/*/; do
    b=$(basename "$dir")
    d=$(board/dropin.sh "$b")
    grep -q '^MemoryMax=[0-9]' <<<"$d" || { echo "FAIL drop-in [$b]: no MemoryMax"; fail=1; }
done

# sysusers entry (read from stdin; bad lines only log, so any unexpected output fails).
mkdir -p "$work/sysusers/etc"
out=$(systemd-sysusers --root="$work/sysusers" --dry-run - <systemd/easd.sysusers 2>&1) || fail=1
if grep -q "Creating user 'easd'" <<<"$out" && ! grep -Ev "^(Creating (user|group) |Would write )" <<<"$out" >/dev/null; then
    echo "ok   sysusers: systemd/easd.sysusers"
else
    echo "FAIL sysusers:"; printf '%s\n' "$out" | sed 's/^/    /'; fail=1
fi

# Sandbox exposure (offline mode needs systemd >= 250).
set +e
out=$(systemd-analyze security --offline=true --root="$work/default" \
    --threshold="$max_exposure" easd.service 2>&1)
rc=$?
set -e
score=$(grep -o 'Overall exposure level for easd.service: .*' <<<"$out" || true)
if [[ $rc == 0 ]]; then
    echo "ok   security: ${score:-?} (threshold $max_exposure/100)"
else
    echo "FAIL security: ${score:-?} above threshold $max_exposure/100 (rc=$rc)"
    grep '^✗' <<<"$out" | sed 's/^/    /' || true
    fail=1
fi

if [[ $fail != 0 ]]; then echo "systemd-verify: FAILED"; exit 1; fi
echo "systemd-verify: all units OK"
