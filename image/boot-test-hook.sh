# Body of the first-boot hook that image/boot-test.sh puts on its copy of the image as
# /etc/easd/firstboot.d/50-boot-test.sh (boot-test.sh prepends EMAIL=, PASSWORD=,
# SUBJECT= lines). Run once by easd-firstboot.service (as root, after easd.service is
# up); everything it reports goes to the serial console as "EASD-TEST: ..." lines.
#   1. creates the test account with `easd user add` (through easd's control socket);
#   2. prints the box's self-signed certificate, so the host can verify TLS with it;
#   3. delivers one message over LMTP to 127.0.0.1:2424 (the easd-lmtp.socket), in bash;
#   4. hands over to a transient unit that runs after first boot: it stops easd.service,
#      restarts the three socket units and reports that only systemd holds port 443, so
#      the host's next HTTPS request must start easd through socket activation.
# shellcheck shell=bash disable=SC2154
set -u
say() { echo "EASD-TEST: $*"; }

printf '%s\n' "$PASSWORD" | runuser -u easd -- /usr/bin/easd --data /var/lib/easd \
    user add "$EMAIL" --name "Boot Test" --password-stdin >/dev/null
say "user-add rc=$?"

if [[ -s /var/lib/easd/tls/cert.pem ]]; then
    say "cert-begin"
    sed 's/^/EASD-CERT: /' /var/lib/easd/tls/cert.pem
    say "cert-end"
fi

lmtp_reply() { # reads one (multi-line) reply, prints its last line; fails on timeout
    local line
    while IFS= read -r -t 60 line <&3; do
        line=${line%$'\r'}
        [[ ${line:3:1} == "-" ]] && continue
        echo "$line"
        return 0
    done
    echo "timeout"
    return 1
}
lmtp_expect() { # CODE LABEL [COMMAND...]: sends the command (if any), checks the reply code
    local want=$1 label=$2 got; shift 2
    (($#)) && printf '%s\r\n' "$*" >&3
    got=$(lmtp_reply)
    say "lmtp $label -> $got"
    [[ $got == "$want"* ]]
}
lmtp_deliver() {
    exec 3<>/dev/tcp/127.0.0.1/2424 || return 1
    lmtp_expect 220 greeting || return 1
    lmtp_expect 250 LHLO "LHLO boot-test.invalid" || return 1
    lmtp_expect 250 MAIL "MAIL FROM:<boot-test@example.org>" || return 1
    lmtp_expect 250 RCPT "RCPT TO:<$EMAIL>" || return 1
    lmtp_expect 354 DATA "DATA" || return 1
    printf '%s\r\n' "From: Boot Test <boot-test@example.org>" "To: <$EMAIL>" \
        "Subject: $SUBJECT" "Date: $(date -R)" \
        "Message-ID: <$(cat /proc/sys/kernel/random/uuid)@boot-test.invalid>" \
        "MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" "" \
        "Delivered over LMTP inside the appliance by image/boot-test.sh." "." >&3
    # After DATA, LMTP answers once per accepted recipient: 250 = committed to the store.
    lmtp_expect 250 end-of-data || return 1
    lmtp_expect 221 QUIT "QUIT" || true
    exec 3>&-
}
if lmtp_deliver; then say "lmtp-delivery ok"; else say "lmtp-delivery FAILED"; fi

cat >/run/easd-boot-test-phase2.sh <<'PHASE2'
say() { echo "EASD-TEST: $*"; }
systemctl stop easd.service
# PartOf=easd.service stopped the sockets with it; listen again without the daemon.
systemctl start easd.socket easd-lmtp.socket easd-notify.socket
say "after-stop easd.service=$(systemctl is-active easd.service) easd.socket=$(systemctl is-active easd.socket) easd-lmtp.socket=$(systemctl is-active easd-lmtp.socket)"
say "port-443 $(ss -Hltnp 'sport = :443' | grep -o 'users:.*' | tr '\n' ' ')"
# Where the boot time went (monotonic seconds since kernel start).
say "system $(timeout 120 systemctl is-system-running --wait)"
say "analyze $(systemd-analyze time 2>&1 | head -n 1)"
systemd-analyze blame --no-pager 2>&1 | head -n 8 | sed 's/^ */EASD-TEST: blame /'
systemd-analyze critical-chain --no-pager easd.service 2>&1 | tail -n +3 | head -n 14 | sed 's/^/EASD-TEST: chain /'
journalctl -b -o short-monotonic --no-pager -u easd.service -u easd-firstboot.service \
    | grep -E 'Starting|Started|created|HTTPS|LMTP|Stopp' | grep -vi password | head -n 12 \
    | sed 's/^/EASD-TEST: journal /'
say "ready"
PHASE2
systemd-run --quiet --no-block --unit=easd-boot-test-phase2 -p After=easd-firstboot.service \
    -p StandardOutput=journal+console -p StandardError=journal+console \
    /bin/bash /run/easd-boot-test-phase2.sh
say "hook done"
