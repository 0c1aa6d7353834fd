#!/usr/bin/env bash
# Regenerates image/text-order.txt, the functions a serving easd runs, hottest first, which
# build.rs hands to the linker so that release builds lay them out together: a serving
# daemon then keeps that code resident instead of every 64 KiB run of the binary that holds
# one function it ran.
#
# How: a release build that also writes the linker's map serves under callgrind, with
# instrumentation switched on only once it is listening and at the daemon's own log level,
# while `benches/workload.rs` drives it (Provision, FolderSync, LMTP, Sync, ItemOperations,
# Search, Ping, ...); every executed instruction's address is mapped to the input section
# holding it, and the sections' symbols, by instructions executed, make the list.
#
# Two builds are profiled, because their symbol names differ: `cargo build --release` (what
# is shipped and `cargo run --release` runs) and the one `cargo bench` makes (dev-dependencies
# turn on other features of shared crates, and features are part of every symbol's hash).
#
# x86_64 only (the names are this target's; lld reads the list). Needs valgrind and
# python3; takes about 10 minutes on 2 cores. Run it after changes that move much code, and
# check the effect with `cargo bench --bench server` (resident code after 1,000 FolderSyncs).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../.ci/free-port.sh
. .ci/free-port.sh

command -v valgrind >/dev/null || { echo "order-text: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# ORDER_TEXT_WORK=DIR keeps the profiles, maps and binaries there (for a look at them).
work=${ORDER_TEXT_WORK:-$(mktemp -d)}
mkdir -p "$work"
server=""
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null || true
    [[ -n ${ORDER_TEXT_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
tdir=${CARGO_TARGET_DIR:-target}

# profile NAME: runs $work/NAME/easd under callgrind while the workload drives it.
profile() {
    local dir="$work/$1" https lmtp password=order-text-workload
    https=$(free_port)
    lmtp=$(free_port)
    EASD_ADMIN_PASSWORD=$password valgrind --tool=callgrind --instr-atstart=no --dump-instr=yes \
        --callgrind-out-file="$dir/callgrind.out" "$dir/easd" serve --data "$dir/data" \
        --https "127.0.0.1:$https" --lmtp "127.0.0.1:$lmtp" --notify off 2>"$dir/server.log" &
    server=$!
    for _ in $(seq 1 240); do
        (exec 3<>"/dev/tcp/127.0.0.1/$https") 2>/dev/null && break
        sleep 0.5
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$https") 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    callgrind_control -i on "$server" >/dev/null
    EASD_WORKLOAD="127.0.0.1:$https,127.0.0.1:$lmtp,$dir/data,$password" "$workload"
    callgrind_control -i off "$server" >/dev/null
    kill -TERM "$server"
    wait "$server" || true
    server=""
}

# keep NAME: the binary the last build linked, and its map.
keep() {
    mkdir -p "$work/$1"
    cp "$tdir/release/easd" "$work/$1/easd"
    mv "$work/easd.map" "$work/$1/easd.map"
}

export EASD_LINK_MAP="$work/easd.map"
workload=$(cargo bench --no-run --bench workload --message-format=json \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "workload" and m.get("executable"):
        print(m["executable"])')
keep bench
cargo build --release --bin easd
keep release
profile bench
profile release

python3 - image/text-order.txt "$work/bench" "$work/release" <<'EOF'
import bisect, os, re, sys


def executed(profile, binary):
    """Instructions executed at each address of `binary`, from callgrind's output
    (--dump-instr=yes: a cost line's first position is the instruction's address, absolute,
    relative to the previous one (+N/-N) or the same (*); code without symbols is named by
    its link-time address). The line after calls= is the call's inclusive cost: its cost
    belongs to the callee."""
    obs, ob, npos, last, skip, cost = {}, None, 1, 0, False, {}
    number = lambda t: int(t, 16) if t.startswith("0x") else int(t)
    for line in open(profile):
        line = line.rstrip("\n")
        if line.startswith("positions:"):
            npos = len(line.split()) - 1
        elif line.startswith(("ob=", "cob=")):
            key, _, rest = line.partition("=")
            m = re.match(r"\((\d+)\)(?: (.*))?", rest)
            if m and m.group(2):
                obs[m.group(1)] = m.group(2)
            if key == "ob":
                ob = obs.get(m.group(1)) if m else rest
        elif line.startswith("calls="):
            skip = True
        elif line and (line[0].isdigit() or line[0] in "+-*"):
            fields = line.split()
            first = fields[0]
            if first == "*":
                addr = last
            elif first[0] in "+-":
                addr = last + number(first[1:]) * (1 if first[0] == "+" else -1)
            else:
                addr = number(first)
            last = addr
            if skip:
                skip = False
            elif ob == binary and len(fields) > npos:
                cost[addr] = cost.get(addr, 0) + int(fields[npos])
    return cost


def text_sections(link_map):
    """Input sections of .text in lld's map, sorted: [address, size, symbol], the symbol
    being the one in a function section's name (.text.NAME, .text.unlikely.NAME, ...) or,
    for a plain .text section (C and assembly objects), the first one defined in it."""
    row = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ ( *)(.*)$")
    named = re.compile(r":\(\.text\.(?:(?:unlikely|hot|startup|exit|split)\.)?(.+)\)$")
    sections, in_text, pending = [], False, None
    for line in open(link_map):
        m = row.match(line.rstrip("\n"))
        if not m:
            continue
        vma, size, depth, rest = int(m.group(1), 16), int(m.group(2), 16), len(m.group(3)), m.group(4)
        if depth == 0:  # an output section
            in_text = rest == ".text"
        elif not in_text:
            continue
        elif depth == 8:  # an input section
            m = named.search(rest)
            pending = [vma, size, m.group(1) if m else None]
            sections.append(pending)
        elif depth == 16 and pending is not None and pending[2] is None:  # a symbol in it
            pending[2] = rest
    return sorted(s for s in sections if s[2])


out, builds = sys.argv[1], sys.argv[2:]
heat = {}
for build in builds:
    sections = text_sections(os.path.join(build, "easd.map"))
    starts = [s[0] for s in sections]
    binary = os.path.join(build, "easd")
    hot = set()
    for vma, ir in executed(os.path.join(build, "callgrind.out"), binary).items():
        i = bisect.bisect_right(starts, vma) - 1
        if i >= 0 and vma < sections[i][0] + sections[i][1]:
            heat[sections[i][2]] = heat.get(sections[i][2], 0) + ir
            hot.add(i)
    size = sum(sections[i][1] for i in hot)
    print(f"order-text: {os.path.basename(build)}: {len(hot)} functions, {size / 1024:.0f} KiB of code")
with open(out, "w") as f:
    f.write("# Functions a serving easd runs, hottest first: the release link lays them out\n")
    f.write("# together (build.rs). Made by image/order-text.sh; regenerate, don't edit.\n")
    for symbol in sorted(heat, key=lambda s: -heat[s]):
        f.write(symbol + "\n")
print(f"order-text: {len(heat)} names in {out}")
EOF
