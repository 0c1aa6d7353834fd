#!/usr/bin/env bash
# Boots the image made by image/build-rootfs.sh under qemu-system-aarch64 (-M virt, TCG)
# and checks it from the host. See image/README.md.
#
# The image is copied (sparse) and a test-only first-boot hook is written into the
# copy with debugfs (/etc/easd/firstboot.d/50-boot-test.sh, from image/boot-test-hook.sh):
# it adds a test account, delivers one message over LMTP inside the box (LMTP listens on
# the box's loopback only), then stops easd.service and leaves only the socket units
# listening. The host then checks:
#   (a) HTTPS OPTIONS /Microsoft-Server-ActiveSync through the forwarded port 443 answers
#       200 with MS-ASProtocolVersions, TLS verified against the box's own certificate,
#       while easd.service was stopped, i.e. systemd's easd.socket started it;
#   (b) the LMTP delivery was accepted (250 after DATA), and an EAS FolderSync + Sync of
#       the Inbox (pyactivesync, image/boot-check.py) shows the delivered Subject.
# Prints PASS/FAIL per check and timings; qemu is always killed at the end.
#
# usage: image/boot-test.sh [IMAGE]   (default $IMAGE_OUT/easd-rpi4-aarch64.ext4)
# Environment: IMAGE_WORK, IMAGE_OUT (as build-rootfs.sh), BOOT_TIMEOUT (s, default 900:
# the whole qemu run), VENV (python venv with pyactivesync; default the repository's .venv,
# created with pip if missing), QEMU_CPU, QEMU_SMP, QEMU_MEM, BOOT_TEST_KEEP=1 (keep the
# run directory with the console log and the disk copy).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OUT=${IMAGE_OUT:-$WORK/out}
IMG=${1:-$OUT/easd-${IMAGE_BOARD:-rpi4-aarch64}.ext4}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
VENV=${VENV:-$REPO_DIR/.venv}
RUN=$WORK/boot-test
[[ -f $IMG ]] || die "no image $IMG (run image/build-rootfs.sh first)"

declare -A result=()
checks=(boot-https a-options-socket-activation b-lmtp-delivery b-eas-sync)
qpid=
finish() {
    local rc=$?
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    echo
    echo "=== boot-test results"
    local c fail=0
    for c in "${checks[@]}"; do
        printf '%-4s %s\n' "${result[$c]:-FAIL}" "$c${detail[$c]:+: ${detail[$c]}}"
        [[ ${result[$c]:-FAIL} == PASS ]] || fail=1
    done
    print_timings
    echo "console log: $RUN/console.log"
    if [[ $BOOT_TEST_KEEP != 1 ]]; then rm -f "$RUN/disk.ext4"; fi
    if [[ $fail == 0 && $rc == 0 ]]; then echo "boot-test.sh: PASS"; exit 0; fi
    echo "boot-test.sh: FAIL (rc=$rc, step: $step_name)"
    exit 1
}
declare -A detail=()
BOOT_TEST_KEEP=${BOOT_TEST_KEEP:-0}
trap finish EXIT
trap 'exit 130' INT TERM HUP   # through finish: qemu is killed

step "host packages and client"
ensure_packages qemu-system-arm e2fsprogs curl python3 python3-venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import pyactivesync' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pyactivesync==0.17.0"
fi
if [[ -s $OUT/boot/vmlinuz && -s $OUT/boot/initrd.cpio.gz ]]; then
    KERNEL=$OUT/boot/vmlinuz INITRD=$OUT/boot/initrd.cpio.gz
else
    build_boot_files
fi
done_step

step "prepare the disk copy and the test hook"
rm -rf "$RUN"; mkdir -p "$RUN"
cp --sparse=always "$IMG" "$RUN/disk.ext4"
host=$(debugfs -R "cat /etc/easd/easd.toml" "$RUN/disk.ext4" 2>/dev/null \
    | sed -n -E 's/^hostname[[:space:]]*=[[:space:]]*"([^"]*)".*/\1/p' | awk 'NR == 1')
EMAIL="boottest@${host:-localhost}"
PASSWORD="bt-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
SUBJECT="easd boot test $TOKEN"
{
    echo "#!/bin/bash"
    printf 'EMAIL=%q\nPASSWORD=%q\nSUBJECT=%q\n' "$EMAIL" "$PASSWORD" "$SUBJECT"
    cat "$IMAGE_DIR/boot-test-hook.sh"
} >"$RUN/hook.sh"
cat >"$RUN/debugfs.cmd" <<EOF
cd /etc/easd/firstboot.d
write $RUN/hook.sh 50-boot-test.sh
sif 50-boot-test.sh mode 0100700
sif 50-boot-test.sh uid 0
sif 50-boot-test.sh gid 0
EOF
debugfs -w -f "$RUN/debugfs.cmd" "$RUN/disk.ext4" >"$RUN/debugfs.log" 2>&1
debugfs -R "stat /etc/easd/firstboot.d/50-boot-test.sh" "$RUN/disk.ext4" 2>/dev/null | grep -q 'Mode:  0700' \
    || { cat "$RUN/debugfs.log"; die "could not write the hook into the image copy"; }
done_step

source "$REPO_DIR/.ci/free-port.sh"
PORT=$(free_port)
URL=https://127.0.0.1:$PORT/Microsoft-Server-ActiveSync

step "boot"
: >"$RUN/console.log"
t_boot=$SECONDS
QEMU_EXEC=1 run_qemu "$BOOT_TIMEOUT" "$RUN/console.log" "console=ttyAMA0 root=/dev/vda easd.mode=boot panic=-1" \
    -drive "if=none,id=root,file=$RUN/disk.ext4,format=raw" -device virtio-blk-pci,drive=root \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:443" -device virtio-net-pci,netdev=n0,romfile= \
    >"$RUN/qemu.log" 2>&1 &
qpid=$!   # timeout(1)'s pid (run_qemu execs it): TERM reaches qemu through it
log "qemu pid $qpid, HTTPS forwarded to 127.0.0.1:$PORT, console $RUN/console.log"
alive() { kill -0 "$qpid" 2>/dev/null || { cat "$RUN/qemu.log"; die "qemu exited"; }; }
# A snapshot of the console in a file, without CRs and without the "[ 12.345] unit[pid]: "
# prefix journald puts on lines it forwards to the console. (`grep -q` on a pipe could
# SIGPIPE the writer, which pipefail would turn into a miss.)
snapshot() { tr -d '\r' <"$RUN/console.log" | sed -E 's/^\[ *[0-9]+\.[0-9]+\] [^ :]+: //' >"$RUN/console.txt"; }
console() { snapshot; cat "$RUN/console.txt"; }
seen() { snapshot; grep -q "$1" "$RUN/console.txt"; }

# Boot to the first HTTPS answer (any status: TLS handshake + HTTP from easd).
while :; do
    alive
    ((SECONDS - t_boot < BOOT_TIMEOUT)) || die "no HTTPS answer within ${BOOT_TIMEOUT}s"
    code=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -X OPTIONS "$URL" 2>/dev/null || true)
    [[ $code =~ ^[1-5][0-9][0-9]$ ]] && break
    sleep 2
done
t_https=$((SECONDS - t_boot))
result[boot-https]=PASS
detail[boot-https]="first HTTPS answer (HTTP $code, unauthenticated) ${t_https}s after qemu start"
done_step "${t_https}s to HTTPS"

step "first-boot hook in the guest"
while ! seen '^EASD-TEST: ready'; do
    alive
    ((SECONDS - t_boot < BOOT_TIMEOUT)) || { console | tail -n 40; die "the hook did not report ready"; }
    sleep 2
done
t_ready=$((SECONDS - t_boot))
console | grep -E '^(EASD-TEST|easd-firstboot):' | grep -v 'EASD-TEST: cert' || true
done_step "ready ${t_ready}s after qemu start"

# The box's certificate, from the console, to verify TLS with.
console | sed -n 's/^EASD-CERT: //p' >"$RUN/box-cert.pem"
ca=(--cacert "$RUN/box-cert.pem") verify=$RUN/box-cert.pem tls="verified against the box's certificate"
if ! grep -q 'BEGIN CERTIFICATE' "$RUN/box-cert.pem"; then
    ca=(-k) verify=insecure tls="NOT verified (no certificate on the console)"
fi

step "(a) OPTIONS through socket activation"
activation_line=$(console | grep '^EASD-TEST: after-stop' | tail -n1)
port_line=$(console | grep '^EASD-TEST: port-443' | tail -n1)
t0=$SECONDS
headers=$(curl -s "${ca[@]}" --max-time 120 -X OPTIONS -u "$EMAIL:$PASSWORD" "$URL" -D - -o /dev/null 2>"$RUN/curl.err") || true
t_opt=$((SECONDS - t0))
printf '%s\n' "$headers" | tr -d '\r' | sed 's/^/    /'
if grep -qi '^HTTP/[0-9.]* 200' <<<"$headers" && grep -qi '^MS-ASProtocolVersions:' <<<"$headers" \
    && [[ $activation_line == *"easd.service=inactive easd.socket=active"* ]] \
    && [[ $port_line == *'"systemd",pid=1'* && $port_line != *'"easd"'* ]]; then
    result[a-options-socket-activation]=PASS
    detail[a-options-socket-activation]="200 + MS-ASProtocolVersions in ${t_opt}s (easd was stopped, only pid 1 held :443; TLS $tls)"
else
    detail[a-options-socket-activation]="headers/guest state unexpected: '${activation_line#EASD-TEST: }' '${port_line#EASD-TEST: }' $(cat "$RUN/curl.err")"
fi
done_step "${t_opt}s"

step "(b) LMTP delivery + EAS FolderSync/Sync"
if seen '^EASD-TEST: lmtp-delivery ok' && seen '^EASD-TEST: user-add rc=0'; then
    result[b-lmtp-delivery]=PASS
    detail[b-lmtp-delivery]="in the guest: $(console | grep -E '^EASD-TEST: lmtp (RCPT|end-of-data)' | sed 's/^EASD-TEST: lmtp //' | paste -sd';' -)"
else
    detail[b-lmtp-delivery]="$(console | grep '^EASD-TEST: \(user-add\|lmtp\)' | tr '\n' ' ')"
fi
t0=$SECONDS
set +e
json=$(timeout 600 "$VENV/bin/python" "$IMAGE_DIR/boot-check.py" "127.0.0.1:$PORT" "$EMAIL" "$PASSWORD" \
    "$SUBJECT" "$verify" 2>"$RUN/boot-check.err")
crc=$?
set -e
t_sync=$((SECONDS - t0))
echo "    $json"
if [[ $crc == 0 ]]; then
    result[b-eas-sync]=PASS
    detail[b-eas-sync]="FolderSync + Sync of the Inbox found '$SUBJECT' in ${t_sync}s"
else
    detail[b-eas-sync]="rc=$crc $json $(tail -n 3 "$RUN/boot-check.err" | tr '\n' ' ')"
fi
done_step "${t_sync}s"

step "guest state"
# The journal is on the console only in part; the unit states are in the hook's lines.
grep -a -E 'Failed to start|FAILED' "$RUN/console.log" | tr -d '\r' | head -n 10 || true
done_step
