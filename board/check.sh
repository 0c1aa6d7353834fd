#!/usr/bin/env bash
# Checks every board profile: board.toml has the required keys and easd.toml is accepted
# by the real daemon (`serve` starts with it, then is stopped with SIGTERM and must exit 0).
# The listen address and data dir are overridden so no root/port 443 is needed.
# Usage: board/check.sh [path/to/easd]   (default: target/debug/easd, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [[ -z $bin ]]; then
    bin=${CARGO_TARGET_DIR:-target}/debug/easd
    [[ -x $bin ]] || cargo build --quiet --bin easd
fi
fail=0
for dir in board/*/; do
    b=$(basename "$dir")
    for key in name description target debian_arch memory_max; do
        grep -Eq "^$key[[:space:]]*=[[:space:]]*\"[^\"]+\"" "$dir/board.toml" \
            || { echo "FAIL $b: board.toml lacks $key"; fail=1; }
    done
    [[ $(sed -n -E 's/^name[[:space:]]*=[[:space:]]*"([^"]*)".*/\1/p' "$dir/board.toml") == "$b" ]] \
        || { echo "FAIL $b: name in board.toml differs from directory"; fail=1; }
    board/dropin.sh "$b" >/dev/null || { echo "FAIL $b: dropin.sh"; fail=1; }
    data=$(mktemp -d); log=$(mktemp)
    EASD_ADMIN_PASSWORD=board-check "$bin" serve --config "$dir/easd.toml" --data "$data" \
        --https 127.0.0.1:0 >"$log" 2>&1 &
    pid=$!
    # Up = it logged its listener, or is still running after 30 s (a bad file exits at once).
    up=0
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        if grep -q "HTTPS on" "$log" || [[ $i == 300 ]]; then up=1; break; fi
        sleep 0.1
    done
    if [[ $up == 1 ]] && kill -TERM "$pid" && wait "$pid"; then
        echo "ok   $b: easd.toml accepted, clean exit"
    else
        kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
        echo "FAIL $b: easd serve --config $dir/easd.toml did not start or stop cleanly:"
        sed 's/^/    /' "$log"; fail=1
    fi
    rm -rf "$data" "$log"
done
exit $fail
