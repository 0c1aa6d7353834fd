# Sourced by .ci/cross.sh, image/measure.sh and image/boot-test.sh.
# shellcheck shell=bash

# free_port: prints a loopback TCP port nothing listens on (a random one of 20000-59999).
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    return 1
}
