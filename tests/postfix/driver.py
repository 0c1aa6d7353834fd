#!/usr/bin/env python3
"""easd behind a real Postfix, both ways (run by tests/postfix/run.sh, as root).

A private Postfix instance (its own config, queue and data directories under a temporary
directory; loopback only; no DNS) sits between easd and the world, configured as the
README's "Mail from the MTA" section says:

  * in: Postfix's smtpd on 127.0.0.1:<port> takes mail for example.com
    (virtual_mailbox_domains) and hands it to easd over LMTP on a unix socket in its queue
    directory (lmtp:unix:private/easd-lmtp, which easd binds itself with its default
    group postfix and mode 0660). Unknown recipients are refused at RCPT time through
    address verification (reject_unverified_recipient: the probe goes to easd's LMTP);
  * out: easd's relay is that smtpd; Postfix relays to an SMTP sink standing in for the
    Internet (relayhost), which refuses chosen recipients with 550.

Checked: SMTPUTF8 mail (UTF-8 From/Subject, a UTF-8 envelope sender) and a `sendmail`
message with an accented Subject reach the phone with their headers intact; an unknown
recipient is refused by Postfix over SMTP and bounced by Postfix when it came through
`sendmail`; a phone's SendMail reaches a good remote recipient and a local one, while a
recipient the sink refuses comes back as Postfix's bounce and one Postfix refuses at RCPT
as easd's own delivery-status notification, both in the sender's Inbox; the socket's
group and mode, and its removal when easd stops.

Prints one line "postfix e2e: PASS" or "postfix e2e: FAIL: <why>"; exit status 0 or 1.
Every process it starts is stopped before it exits.
"""
from __future__ import annotations

import email
import email.policy
import grp
import os
import shutil
import signal
import smtplib
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from pyactivesync import BodyType, Client, FolderType

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from netutil import free_ports, port_open  # noqa: E402 - after the path it lives on

EASD_BIN = Path(os.environ.get("EASD_BIN", "target/debug/easd")).resolve()
DOMAIN = "example.com"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORD = "postfix-e2e-" + uuid.uuid4().hex[:12]
# How long any one expected event may take (a delivery through the queue, a bounce).
WAIT_S = 60.0


class Failure(Exception):
    pass


def check(ok: bool, what: str) -> None:
    if not ok:
        raise Failure(what)
    passed(what)


def passed(what: str) -> None:
    """Reports a step whose failure would have raised already."""
    print(f"  ok   {what}", flush=True)


def wait_for(what: str, probe, timeout: float = WAIT_S):
    """Polls `probe` until it returns something truthy; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f}s waiting for: {what}")
        time.sleep(0.2)


# ---- the SMTP sink (the Internet) ----------------------------------------------------------

class Sink(socketserver.ThreadingTCPServer):
    """Accepts every message except for the recipients in `refused` (550 5.1.1)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, refused: set[str]):
        super().__init__(("127.0.0.1", port), SinkSession)
        self.refused = refused
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    def received(self) -> list[tuple[str, list[str], bytes]]:
        with self.lock:
            return list(self.messages)


class SinkSession(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: Sink = self.server  # type: ignore[assignment]
        self.reply("220 sink.test ESMTP")
        sender, rcpts = "", []
        while line := self.rfile.readline():
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb == "MAIL":
                sender, rcpts = cmd[cmd.index("<") + 1:cmd.index(">")], []
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpt = cmd[cmd.index("<") + 1:cmd.index(">")]
                if rcpt in server.refused:
                    self.reply(f"550 5.1.1 <{rcpt}>: no such user here")
                else:
                    rcpts.append(rcpt)
                    self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b".") else chunk
                with server.lock:
                    server.messages.append((sender, rcpts, data))
                self.reply("250 2.0.0 queued")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("250 2.0.0 ok")


# ---- the Postfix instance ------------------------------------------------------------------

MASTER_CF = """\
{smtp} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# Chrooted to the queue directory, as Debian runs it.
lmtp      unix  -       -       y       -       -       lmtp
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
maillog_file = {log}
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydomain = {domain}
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# easd relays from 127.0.0.1; the test's "Internet" client connects from 127.0.0.2.
mynetworks = 127.0.0.1/32
# No DNS at all: the relay host is an address.
smtp_dns_support_level = disabled
relayhost = [127.0.0.1]:{sink}
smtp_tls_security_level = none
smtputf8_enable = yes
# easd's domains, delivered over LMTP (README, "Mail from the MTA").
virtual_mailbox_domains = {domain}
virtual_transport = lmtp:unix:private/easd-lmtp
# Above what phones send (max_body, 32 MiB), below easd's max_message (50 MiB): README.
message_size_limit = 41943040
# Mail from outside to an unknown account is refused at RCPT: address verification
# probes easd's LMTP (RCPT only) and keeps its 550.
smtpd_recipient_restrictions =
    check_recipient_access texthash:{conf}/recipient_access,
    permit_mynetworks,
    reject_unauth_destination,
    reject_unverified_recipient
unverified_recipient_reject_code = 550
address_verify_poll_count = 10
address_verify_poll_delay = 1s
# Quick queue runs, so that a test waits seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
bounce_queue_lifetime = 0
"""


class Postfix:
    def __init__(self, root: Path, smtp_port: int, sink_port: int):
        self.conf = root / "etc"
        self.spool = root / "spool"
        self.data = root / "data"
        self.log = root / "postfix.log"
        self.conf.mkdir()
        self.spool.mkdir()
        self.data.mkdir()
        shutil.chown(self.data, "postfix")
        (self.conf / "master.cf").write_text(MASTER_CF.format(smtp=f"127.0.0.1:{smtp_port}"))
        (self.conf / "main.cf").write_text(MAIN_CF.format(
            root=root, spool=self.spool, data=self.data, log=self.log, domain=DOMAIN,
            sink=sink_port, conf=self.conf,
        ))
        (self.conf / "recipient_access").write_text("blocked@remote.test REJECT no relaying to you\n")
        self.started = False

    def postfix(self, *args: str) -> None:
        res = subprocess.run(["postfix", "-c", str(self.conf), *args], capture_output=True,
                             text=True, timeout=60)
        if res.returncode != 0:
            raise Failure(f"postfix {' '.join(args)}: {res.stdout}{res.stderr}")

    def start(self) -> None:
        # `check` creates the queue directories with their owners and modes.
        self.postfix("check")
        self.postfix("start")
        self.started = True

    def master_pid(self) -> int | None:
        try:
            return int((self.spool / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if not self.started:
            return
        pid = self.master_pid()
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True, timeout=60)
        if pid is not None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists():
                # Postfix's children die with their master's process group.
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False

    def sendmail(self, sender: str, recipients: list[str], message: bytes) -> None:
        res = subprocess.run(["sendmail", "-C", str(self.conf), "-f", sender, "--", *recipients],
                             input=message, capture_output=True, timeout=60)
        if res.returncode != 0:
            raise Failure(f"sendmail: {res.stdout!r} {res.stderr!r}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no Postfix log>"


# ---- easd ----------------------------------------------------------------------------------

class Easd:
    def __init__(self, root: Path, https_port: int, relay_port: int, lmtp_socket: Path):
        self.data = root / "easd-data"
        self.data.mkdir(mode=0o700)
        self.log = root / "easd.log"
        self.https_port = https_port
        self.lmtp_socket = lmtp_socket
        config = root / "easd.toml"
        config.write_text(
            f'hostname = "mx.{DOMAIN}"\n'
            f'[relay]\nhost = "127.0.0.1"\nport = {relay_port}\nsecurity = "none"\n'
            f"timeout_seconds = 30\n")
        self.cmd = [str(EASD_BIN), "serve", "--data", str(self.data), "--config", str(config),
                    "--https", f"127.0.0.1:{https_port}", "--notify", "off",
                    "--lmtp", f"unix:{lmtp_socket}"]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        wait_for("easd to listen",
                 lambda: self.proc.poll() is not None
                 or (port_open(self.https_port) and self.lmtp_socket.exists()), 30)
        if self.proc.poll() is not None:
            raise Failure(f"easd exited with {self.proc.returncode}")
        for address in (ALICE, BOB):
            res = subprocess.run([str(EASD_BIN), "user", "add", address, "--password-stdin",
                                  "--data", str(self.data)], input=PASSWORD + "\n",
                                 capture_output=True, text=True, timeout=60)
            if res.returncode != 0:
                raise Failure(f"easd user add {address}: {res.stdout}{res.stderr}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("easd did not stop within 20 s of SIGTERM")

    def client(self, email: str) -> Client:
        c = Client(f"127.0.0.1:{self.https_port}", email, PASSWORD,
                   device_id="pf" + uuid.uuid4().hex[:20],
                   verify_ssl=str(self.data / "tls" / "cert.pem"),  # type: ignore[arg-type]
                   timeout=30)
        c._transport.session.trust_env = False
        return c

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no easd log>"


def inbox_items(c: Client, kind: FolderType = FolderType.INBOX) -> list[tuple[str, str, dict]]:
    """(folder id, item id, fields) of every item of the folder of `kind`."""
    folder = next(f.id for f in c.list_folders() if f.type == kind)
    key = c.sync_folder(folder, "0").sync_key
    items = []
    for _ in range(50):
        r = c.sync_folder(folder, key, window_size=100)
        key = r.sync_key
        items.extend((folder, i.server_id, i.fields) for i in r.added)
        if not r.more_available:
            return items
    raise Failure("MoreAvailable never ended")


def with_subject(c: Client, subject: str, kind: FolderType = FolderType.INBOX):
    """Waits for an item whose Subject starts with `subject`; returns (folder, id, fields)."""
    def probe():
        return next((i for i in inbox_items(c, kind)
                     if i[2].get("Email.Subject", "").startswith(subject)), None)
    return wait_for(f"an item {subject!r} in {kind.name}", probe)


def mime_of(c: Client, folder: str, item: str) -> str:
    body = c.fetch_item(folder, item, body_type=BodyType.MIME).body
    data = body.data if body is not None else b""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def final_recipients(report: str) -> list[str]:
    """The Final-Recipient fields of a multipart/report's message/delivery-status part."""
    parsed = email.message_from_string(report)
    if parsed.get_content_type() != "multipart/report":
        raise Failure(f"not a multipart/report: {parsed.get_content_type()}")
    for part in parsed.walk():
        if part.get_content_type() == "message/delivery-status":
            # The per-message group, then one group per recipient (RFC 3464 2.1).
            return [g["Final-Recipient"] for g in part.get_payload()[1:]]
    raise Failure("no message/delivery-status part in the report")


# ---- the checks ----------------------------------------------------------------------------

def mail_in(pf: Postfix, smtp_port: int, easd: Easd) -> None:
    tag = uuid.uuid4().hex[:6]
    # SMTPUTF8 over SMTP: a UTF-8 envelope sender and raw UTF-8 headers (RFC 6531/6532).
    msg = EmailMessage(policy=email.policy.SMTPUTF8)
    msg["From"] = "Jörg Sänger <jörg@bücher.example>"
    msg["To"] = ALICE
    msg["Subject"] = f"Grüße aus Köln {tag}"
    msg.set_content("Schöne Grüße!\n", cte="8bit")
    # From outside mynetworks, as mail from the Internet comes.
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60,
                      source_address=("127.0.0.2", 0)) as s:
        s.ehlo("client.test")
        check(s.has_extn("smtputf8"), "Postfix offers SMTPUTF8")
        refused = s.sendmail("jörg@bücher.example", [ALICE], msg.as_bytes(),
                             mail_options=["SMTPUTF8"])
        check(refused == {}, "SMTPUTF8 message accepted for alice")
        # An unknown recipient is refused at RCPT: the verify probe asked easd's LMTP.
        try:
            s.sendmail("carol@remote.test", ["nobody@example.com"], b"Subject: x\r\n\r\nx\r\n")
            raise Failure("Postfix accepted nobody@example.com over SMTP")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["nobody@example.com"]
            check(code == 550, f"unknown recipient refused at RCPT ({code} {text.decode()})")

    # `sendmail` with an accented Subject: Postfix marks it SMTPUTF8 itself
    # (smtputf8_autodetect_classes), so easd's LMTP must offer the extension.
    pf.sendmail("sender@remote.test", [ALICE],
                f"From: sender@remote.test\nTo: {ALICE}\nSubject: Café {tag}\n\nVoilà.\n".encode())
    # ... and one to an unknown address from alice: Postfix bounces it to her Inbox.
    pf.sendmail(ALICE, ["ghost@example.com"],
                f"From: {ALICE}\nTo: ghost@example.com\nSubject: to a ghost {tag}\n\nboo\n".encode())

    alice = easd.client(ALICE)
    try:
        _, _, fields = with_subject(alice, f"Grüße aus Köln {tag}")
        check(fields.get("Email.From") == '"Jörg Sänger" <jörg@bücher.example>',
              f"UTF-8 From reaches the phone ({fields.get('Email.From')})")
        with_subject(alice, f"Café {tag}")
        passed("sendmail message with an accented Subject delivered")
        folder, item, _ = with_subject(alice, "Undelivered Mail Returned to Sender")
        report = mime_of(alice, folder, item)
        check("ghost@example.com" in report and "550 5.1.1" in report,
              "Postfix bounced the unknown recipient with easd's 550 5.1.1")
    finally:
        alice.close()


def mail_out(pf: Postfix, sink: Sink, easd: Easd) -> None:
    tag = uuid.uuid4().hex[:6]
    subject = f"Out through Postfix {tag}"
    msg = EmailMessage()
    msg["From"] = f"Alice <{ALICE}>"
    msg["To"] = "good@remote.test, bad@remote.test, blocked@remote.test"
    msg["Cc"] = BOB
    msg["Subject"] = subject
    msg.set_content("Hello out there.\n")
    alice = easd.client(ALICE)
    bob = easd.client(BOB)
    try:
        alice.send_mail(msg)  # raises on a failure Status
        passed("SendMail succeeded (blocked@ refused by Postfix at RCPT, others queued)")

        def relayed():
            return [m for m in sink.received()
                    if f"Subject: {subject}".encode() in m[2] and m[0] == ALICE]
        got = wait_for("the sink to receive the message", relayed)
        check(got[0][1] == ["good@remote.test"] and len(got) == 1,
              f"the sink got it for good@remote.test only ({got[0][1]})")
        with_subject(bob, subject)
        passed("the local Cc (bob) got it")
        # easd's own report for the recipient Postfix refused at RCPT.
        folder, item, _ = with_subject(alice, f"Undeliverable: {subject}")
        finals = final_recipients(mime_of(alice, folder, item))
        check(finals == ["rfc822; blocked@remote.test"],
              f"easd's delivery-status notification names blocked@remote.test ({finals})")
        # Postfix's bounce for the recipient the sink refused, through LMTP.
        def postfix_bounce():
            for f, i, fields in inbox_items(alice):
                if fields.get("Email.Subject", "").startswith("Undelivered Mail"):
                    text = mime_of(alice, f, i)
                    if "bad@remote.test" in text and tag in text:
                        return text
            return None
        text = wait_for("Postfix's bounce for bad@remote.test", postfix_bounce)
        check("550 5.1.1" in text, "Postfix's bounce for bad@remote.test is in alice's Inbox")
    finally:
        alice.close()
        bob.close()


def terminated(signum, frame) -> None:
    raise Failure("terminated (time limit)")


def main() -> int:
    if os.geteuid() != 0:
        print("postfix e2e: FAIL: must run as root (it starts a Postfix instance)")
        return 1
    # run.sh hands over an empty directory it cleans up after a hard kill.
    root = Path(os.environ.get("PF_ROOT") or tempfile.mkdtemp(prefix="easd-postfix-"))
    # Postfix's daemons (user postfix) must reach their queue directory below it.
    root.chmod(0o755)
    signal.signal(signal.SIGTERM, terminated)
    smtp_port, sink_port, https_port = free_ports(3)
    sink = Sink(sink_port, {"bad@remote.test"})
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    pf = Postfix(root, smtp_port, sink_port)
    easd: Easd | None = None
    failure = None
    try:
        pf.start()
        wait_for("Postfix's smtpd", lambda: port_open(smtp_port), 30)
        version = subprocess.run(["postconf", "-c", str(pf.conf), "-h", "mail_version"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        passed(f"Postfix {version} started on 127.0.0.1:{smtp_port}")
        socket_path = pf.spool / "private" / "easd-lmtp"
        easd = Easd(root, https_port, smtp_port, socket_path)
        easd.start()
        st = socket_path.stat()
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
              and st.st_gid == grp.getgrnam("postfix").gr_gid,
              "easd's LMTP socket is group postfix, mode 0660")
        mail_in(pf, smtp_port, easd)
        mail_out(pf, sink, easd)
        rc = easd.stop()
        check(rc == 0, "easd stopped cleanly on SIGTERM")
        check(not socket_path.exists(), "the LMTP socket is removed on exit")
    except Failure as e:
        failure = str(e)
    except Exception as e:  # noqa: BLE001 - any surprise is a failure with its reason
        failure = f"{type(e).__name__}: {e}"
    finally:
        if easd is not None:
            try:
                easd.stop()
            except Failure as e:
                failure = failure or str(e)
        pf.stop()
        sink.shutdown()
        sink.server_close()
    if failure:
        print("--- Postfix log (tail) ---\n" + pf.log_tail())
        if easd is not None:
            print("--- easd log (tail) ---\n" + easd.log_tail())
        print(f"postfix e2e: FAIL: {failure}")
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("postfix e2e: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
