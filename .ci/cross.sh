#!/usr/bin/env bash
# Cross-builds easd for the ARM appliance targets and checks the result under qemu-user:
#   1. installs the cross toolchains and qemu-user (Debian/apt, only if missing) and the
#      rustup targets;
#   2. builds the release binary per target;
#   3. runs the lib tests filtered to `wbxml store eas:: sync::` under qemu (debug build);
#   4. end to end: starts the release binary under qemu, does an authenticated ActiveSync
#      OPTIONS over HTTPS from the host with curl, expects MS-ASProtocolVersions, then
#      SIGTERMs it and expects exit code 0.
# Linkers, qemu runners and cc-rs variables come from .cargo/config.toml. binfmt_misc is
# not needed: qemu is invoked explicitly.
#
# Environment:
#   CROSS_TARGETS      targets to check (default: aarch64 and armv7, see below)
#   CROSS_SKIP_TESTS=1 skip step 3 (it costs a full debug build per target)
#   CARGO_TARGET_DIR   honoured; a separate dir keeps these builds off the main lock
# Exits non-zero on any failure; prints a timing summary either way.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(${CROSS_TARGETS:-aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf})
tdir=${CARGO_TARGET_DIR:-target}
test_filters=(wbxml proto store eas:: sync::)
# Debuginfo makes the cross test build slower and much bigger; it is not needed to run it.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
export CARGO_TERM_COLOR=never

timings=()
t_all=$SECONDS
step_start=0
step() { step_start=$SECONDS; step_name=$1; echo; echo "=== $1"; }
done_step() { local d=$((SECONDS - step_start)); timings+=("$(printf '%5ds  %s' "$d" "$step_name")"); echo "--- $step_name: ${d}s"; }
summary() {
    local rc=$?
    echo
    echo "=== cross.sh timings"
    printf '%s\n' "${timings[@]}"
    printf '%5ds  total\n' $((SECONDS - t_all))
    if [[ $rc == 0 ]]; then echo "cross.sh: OK"; else echo "cross.sh: FAILED (rc=$rc) in: ${step_name:-setup}"; fi
}
trap summary EXIT

qemu_for() {
    case $1 in
    aarch64-unknown-linux-gnu) echo "qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
    armv7-unknown-linux-gnueabihf) echo "qemu-arm -L /usr/arm-linux-gnueabihf" ;;
    *) echo "cross.sh: unknown target $1" >&2; return 1 ;;
    esac
}

# --- 1. toolchains
step "host packages and rustup targets"
pkgs=(curl qemu-user)
for t in "${targets[@]}"; do
    case $t in
    aarch64-unknown-linux-gnu) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    armv7-unknown-linux-gnueabihf) pkgs+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross) ;;
    *) echo "cross.sh: unsupported target $t"; exit 1 ;;
    esac
done
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "apt packages present: ${pkgs[*]}"
fi
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
done_step

# --- 2. release builds
for t in "${targets[@]}"; do
    step "release build $t"
    cargo build --release --locked --target "$t" --bin easd
    ls -l "$tdir/$t/release/easd"
    done_step
done

# --- 3. lib tests under qemu
if [[ ${CROSS_SKIP_TESTS:-0} != 1 ]]; then
    for t in "${targets[@]}"; do
        step "test build $t (debug)"
        cargo test --locked --target "$t" --lib --no-run
        done_step
        step "lib tests under qemu $t: ${test_filters[*]}"
        cargo test --locked --target "$t" --lib -- "${test_filters[@]}"
        done_step
    done
fi

# --- 4. end to end under qemu
source .ci/free-port.sh  # the working directory is the repository (cd above)

e2e() {
    local t=$1 qemu bin data log port pass=cross-check-Pw1 pid rc headers rss
    read -r -a qemu <<<"$(qemu_for "$t")"
    bin=$tdir/$t/release/easd
    data=$(mktemp -d); log=$(mktemp); port=$(free_port)
    EASD_ADMIN_PASSWORD=$pass "${qemu[@]}" "$bin" serve --data "$data" --https "127.0.0.1:$port" \
        >"$log" 2>&1 &
    pid=$!
    local up=0 t0=$SECONDS
    while ((SECONDS - t0 < 60)); do
        kill -0 "$pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        sleep 0.2
    done
    if [[ $up != 1 ]]; then
        echo "FAIL $t: easd did not listen on 127.0.0.1:$port within 60 s"; cat "$log"
        kill -KILL "$pid" 2>/dev/null || true; return 1
    fi
    echo "$t: listening on 127.0.0.1:$port after $((SECONDS - t0))s"
    rss=$(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null || true)
    headers=$(curl -sk --max-time 30 -X OPTIONS -u "admin@localhost:$pass" \
        "https://127.0.0.1:$port/Microsoft-Server-ActiveSync" -D - -o /dev/null) || true
    printf '%s\n' "$headers" | sed 's/^/    /'
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 150)); do sleep 0.2; waited=$((waited + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL $t: still running 30 s after SIGTERM"; kill -KILL "$pid"; wait "$pid" || true; return 1
    fi
    set +e; wait "$pid"; rc=$?; set -e
    rm -rf "$data"
    if ! grep -qi '^HTTP/1.1 200' <<<"$headers"; then echo "FAIL $t: OPTIONS did not answer 200"; cat "$log"; return 1; fi
    if ! grep -qi '^MS-ASProtocolVersions:' <<<"$headers"; then echo "FAIL $t: no MS-ASProtocolVersions header"; return 1; fi
    if [[ $rc != 0 ]]; then echo "FAIL $t: exit code $rc after SIGTERM (want 0)"; cat "$log"; return 1; fi
    echo "ok   $t: OPTIONS 200 with MS-ASProtocolVersions, clean exit 0 (qemu VmRSS while idle: ${rss:-?})"
    rm -f "$log"
}

for t in "${targets[@]}"; do
    step "end-to-end under qemu $t"
    e2e "$t"
    done_step
done
