#!/usr/bin/env bash
# Appliance footprint report:
#   1. stripped size of the release binary for x86_64 (native), aarch64 and armv7;
#      budget: <= 6 MiB per ARM target; then how many names of image/text-order.txt the
#      x86_64 link still found ("text order: N of M names found"; under half, it says to
#      regenerate the list);
#   2. largest contributors (per crate and per symbol) of the aarch64 binary, from an
#      extra unstripped release build and `nm -C --size-sort -S` (no cargo-bloat: it would
#      need the same unstripped rebuild plus its own install; nm comes with binutils), and
#      the web admin's share ("web admin: N KiB", budget 400 KiB);
#   3. idle RSS: the aarch64 binary under qemu-user (VmRSS of the qemu process, which
#      includes qemu's own translator and code cache; a trivial aarch64 C program under
#      qemu is measured as the baseline and subtracted for an estimate) and, for
#      comparison, the native x86_64 binary. Budget: idle RSS <= 6 MiB.
# Prints PASS/OVER per budget. Exit status is 0 unless a measurement itself failed
# (set MEASURE_STRICT=1 to exit 1 when a budget is OVER).
#
# Environment: CARGO_TARGET_DIR (honoured), MEASURE_NO_BUILD=1 uses existing binaries, MEASURE_SYMBOLS=0 skips step 2 (it costs a
# full LTO release build, ~4 min on 2 cores), MEASURE_IDLE_SECONDS (default 3).
# Needs the packages .ci/cross.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

tdir=${CARGO_TARGET_DIR:-target}
budget_size=$((6 * 1024 * 1024))
budget_rss_kib=$((6 * 1024))
idle=${MEASURE_IDLE_SECONDS:-3}
over=0
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
verdict() { if (($1 <= $2)); then echo PASS; else over=1; echo OVER; fi; }

declare -A strip_tool=(
    [x86_64-unknown-linux-gnu]=strip
    [aarch64-unknown-linux-gnu]=aarch64-linux-gnu-strip
    [armv7-unknown-linux-gnueabihf]=arm-linux-gnueabihf-strip
)
bin_of() { if [[ $1 == x86_64-unknown-linux-gnu ]]; then echo "$tdir/release/easd"; else echo "$tdir/$1/release/easd"; fi; }
# The x86_64 link also writes its map (build.rs), where the text-order check below finds
# which names of image/text-order.txt the binary still has: it is stripped.
link_map=$(realpath -m "$tdir/release/easd.map")
build() {
    if [[ $1 == x86_64-unknown-linux-gnu ]]; then EASD_LINK_MAP=$link_map cargo build --release --bin easd
    else cargo build --release --target "$1" --bin easd; fi
}

echo "=== 1. stripped release binary size (profile: opt-level=s, lto, codegen-units=1, panic=abort)"
for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    b=$(bin_of "$t")
    [[ ${MEASURE_NO_BUILD:-0} == 1 && -x $b ]] || build "$t" >&2  # a no-op when up to date
    tmp=$(mktemp)
    "${strip_tool[$t]}" -o "$tmp" "$b"
    size=$(stat -c %s "$tmp"); rm -f "$tmp"
    if [[ $t == x86_64-unknown-linux-gnu ]]; then v="(no budget)"; else v="$(verdict "$size" "$budget_size") (budget 6 MiB)"; fi
    printf '%-32s %9d bytes  %-10s %s\n' "$t" "$size" "$(mib "$size")" "$v"
done

echo
echo "=== text order (image/text-order.txt, laid out first by the x86_64 release link)"
order_total=$(grep -vc '^#' image/text-order.txt || true)
if [[ -f $link_map ]]; then  # written by the build above (or the last one with the variable)
    # The names the link had: Rust functions by their sections (.text.NAME, mangled; the
    # map's symbol lines are demangled), C and assembly ones by their symbol lines (the
    # same rule as order-text.sh).
    linked() {
        sed -n -E 's/.*:\(\.text\.((unlikely|hot|startup|exit|split)\.)?(.+)\)$/\3/p' "$link_map"
        awk 'NF == 5 { print $NF }' "$link_map"
    }
    order_found=$(grep -v '^#' image/text-order.txt | grep -Fxc -f <(linked) || true)
    echo "text order: $order_found of $order_total names found"
    if ((order_found * 2 < order_total)); then
        echo "text order: under half: regenerate it (image/order-text.sh) and compare 'cargo bench --bench server' with and without it"
    fi
else
    echo "text order: not checked: no link map (build with EASD_LINK_MAP=$link_map)"
fi

if [[ ${MEASURE_SYMBOLS:-1} != 0 ]]; then
    echo
    echo "=== 2. largest contributors, aarch64 (unstripped release build in $tdir/unstripped)"
    ub=$tdir/unstripped/aarch64-unknown-linux-gnu/release/easd
    [[ ${MEASURE_NO_BUILD:-0} == 1 && -x $ub ]] \
        || CARGO_TARGET_DIR=$tdir/unstripped CARGO_PROFILE_RELEASE_STRIP=false \
            cargo build --release --target aarch64-unknown-linux-gnu --bin easd >&2
    aarch64-linux-gnu-size -A "$ub" | awk '$1 ~ /^\.(text|rodata|data\.rel\.ro|eh_frame|eh_frame_hdr|data|bss|gcc_except_table)$/ { printf "  section %-20s %9d bytes\n", $1, $2 }'
    set +o pipefail  # `head` closes the pipes early
    syms=$(mktemp)
    aarch64-linux-gnu-nm -C -t d --size-sort -S "$ub" | awk '$3 ~ /^[tTrRdDbB]$/' >"$syms"
    echo "  by crate (first path segment of each demangled symbol; C symbols by prefix):"
    awk '{
        size = $2 + 0; name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
        crate = "?"
        if (match(name, /[A-Za-z_][A-Za-z0-9_]*::/)) crate = substr(name, RSTART, RLENGTH - 2)
        else if (name ~ /^ring_core_/) crate = "ring (C/asm)"
        else if (name ~ /^(ecp_nistz256|ChaCha20|gcm_|aes_|bn_|x25519|sha[0-9]|poly1305|LIMBS|p256|nistz)/) crate = "ring (C/asm)"
        else crate = "[C/other]"
        sum[crate] += size; total += size
    } END {
        for (c in sum) printf "%9d  %5.1f%%  %s\n", sum[c], 100 * sum[c] / total, c
        printf "%9d  100.0%%  (total of sized symbols)\n", total > "/dev/stderr"
    }' "$syms" 2>&1 | sort -rn | head -n 21 | sed 's/^/    /'
    # The web admin's share (issue #14 budget: the whole admin adds <= 400 KiB): symbols
    # naming easd::web:: (its own functions and what is instantiated for its types) or
    # maud, plus the embedded stylesheet. The pages' string literals are unnamed .rodata,
    # which nm cannot attribute: a lower bound.
    web=$(awk '{ name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name) } name ~ /easd::web::|maud::/ { s += $2 } END { print s + 0 }' "$syms")
    css=$(stat -c %s src/web/style.css)
    printf '  web admin: %d KiB (symbols %d bytes + style.css %d bytes; budget 400 KiB)\n' \
        $(((web + css + 1023) / 1024)) "$web" "$css"
    echo "  largest symbols:"
    sort -k2,2nr "$syms" | head -n 15 | awk '{ size = $2 + 0; name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name); printf "    %7d  %s\n", size, substr(name, 1, 110) }'
    rm -f "$syms"
    set -o pipefail
fi

echo
echo "=== 3. idle RSS ${idle}s after start (first start: self-signed cert + admin hash done)"
echo "    with the unit's malloc environment: $(sed -n 's/^Environment=//p' systemd/easd.service | tr '\n' ' ')"
source .ci/free-port.sh  # the working directory is the repository (cd above)
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status"; }
# Starts "$@" serve, waits for the port and $idle seconds, prints VmRSS in KiB, stops it.
measure() {
    local data log port pid rss anon t0=$SECONDS
    data=$(mktemp -d); log=$(mktemp); port=$(free_port)
    EASD_ADMIN_PASSWORD=measure-Pw1 "$@" serve --data "$data" --https "127.0.0.1:$port" >"$log" 2>&1 &
    pid=$!
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS - t0 > 60)); then
            echo "measure: easd did not start: $*" >&2; cat "$log" >&2; kill -KILL "$pid" 2>/dev/null; return 1
        fi
        sleep 0.2
    done
    sleep "$idle"
    rss=$(rss_kib "$pid"); anon=$(anon_kib "$pid")
    for pw in measure-Pw1 wrong-1 measure-Pw1 wrong-2; do  # uncached logins run argon2
        curl -sk --max-time 60 -o /dev/null -X OPTIONS -u "admin@localhost:$pw" \
            "https://127.0.0.1:$port/Microsoft-Server-ActiveSync" || true
    done
    sleep 1
    echo "$rss $(rss_kib "$pid") $anon"
    kill -TERM "$pid"; wait "$pid" || true
    rm -rf "$data" "$log"
}
# Same malloc tuning as the unit (Environment= lines of systemd/easd.service).
while read -r kv; do export "${kv?}"; done < <(sed -n 's/^Environment=//p' systemd/easd.service | tr ' ' '\n')
native=$(bin_of x86_64-unknown-linux-gnu)
a64=$(bin_of aarch64-unknown-linux-gnu)
read -r n_idle n_req n_anon < <(measure "$native")
read -r q_idle q_req _ < <(measure qemu-aarch64 -L /usr/aarch64-linux-gnu "$a64")

# qemu baseline: a dynamically linked aarch64 C program that only sleeps.
base_dir=$(mktemp -d)
printf '#include <unistd.h>\nint main(void) { sleep(30); return 0; }\n' >"$base_dir/idle.c"
aarch64-linux-gnu-gcc -O2 -o "$base_dir/idle" "$base_dir/idle.c"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$base_dir/idle" &
bpid=$!; sleep 1; q_base=$(rss_kib "$bpid"); kill "$bpid"; wait "$bpid" 2>/dev/null || true
rm -rf "$base_dir"

est=$((q_idle - q_base))
printf '%-46s %6d KiB  (after 4 logins: %d KiB)  %s\n' "x86_64 native, idle" "$n_idle" "$n_req" "$(verdict "$n_idle" "$budget_rss_kib") (budget 6 MiB)"
printf '%-46s %6d KiB  (file-backed binary/libc pages are the rest)\n' "x86_64 native, idle, anonymous only (RssAnon)" "$n_anon"
printf '%-46s %6d KiB  (after 4 logins: %d KiB)\n' "aarch64 under qemu-user (raw qemu VmRSS)" "$q_idle" "$q_req"
printf '%-46s %6d KiB\n' "qemu-user baseline (idle aarch64 C program)" "$q_base"
printf '%-46s %6d KiB  %s\n' "aarch64 estimate (raw - baseline)" "$est" "$(verdict "$est" "$budget_rss_kib") (budget 6 MiB; qemu's code cache for easd's larger code is still counted, so this over-estimates)"

if [[ ${MEASURE_STRICT:-0} == 1 && $over == 1 ]]; then exit 1; fi
exit 0
