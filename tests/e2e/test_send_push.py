"""SendMail and direct push, end to end: the real ``easd`` binary driven by the
independent EAS 16.1 client pyactivesync (``Client.send_mail``, ``Client.ping``).

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees.

The Ping tests run against a dedicated server started with a config file that lowers
``[push] min_heartbeat`` to 1 s (the default, 60 s, would make every test a minute
long) and with the UDP notify listener off (the session server holds its default port).
SendMail uses the session server. Remote recipients are not covered here (they need an
SMTP relay; see tests/send.rs), nor SmartReply/SmartForward (pyactivesync has neither).
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from conftest import Account, EasServer, new_client, run_easd
from pyactivesync import Client, FolderType, PingResult, SyncItem

from eashelpers import lmtp_deliver

pytestmark = pytest.mark.send_push

PUSH_CONFIG = """\
[push]
min_heartbeat = 1
max_heartbeat = 120
"""

# How soon a waiting Ping must answer after the delivery that wakes it.
PROMPT_S = 1.0


def tag() -> str:
    return uuid.uuid4().hex[:10]



def folder_of_type(client: Client, kind: FolderType) -> str:
    found = [f.id for f in client.list_folders() if f.type == kind]
    assert len(found) == 1, (kind, found)
    return found[0]


def full_sync(client: Client, folder_id: str) -> tuple[str, list[SyncItem]]:
    """SyncKey 0, then Syncs until MoreAvailable ends: (last key, every Add)."""
    first = client.sync_folder(folder_id, "0")
    key, added = first.sync_key, []
    for _ in range(100):
        r = client.sync_folder(folder_id, key, window_size=100)
        key = r.sync_key
        added.extend(r.added)
        if not r.more_available:
            return key, added
    pytest.fail("MoreAvailable never ended")


def subjects(items: list[SyncItem]) -> list[str]:
    return [i.fields.get("Email.Subject", "") for i in items]


def waiting_requests(server: EasServer) -> int:
    """Pings and hanging Syncs the running server holds (``easd status --json``)."""
    res = subprocess.run(
        [str(server.bin), "--data", str(server.data_dir), "status", "--json"],
        capture_output=True, text=True, timeout=30,
    )
    assert res.returncode == 0, res.stderr
    return int(json.loads(res.stdout)["waiting_requests"])


def wait_until_waiting(server: EasServer, n: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (now := waiting_requests(server)) != n:
        assert time.monotonic() < deadline, f"{now} waiting requests, never {n}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def push_server() -> Iterator[EasServer]:
    with run_easd(config_toml=PUSH_CONFIG, extra_args=["--notify", "off"]) as server:
        yield server


@pytest.fixture
def push_client(push_server: EasServer) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def factory(account: Account | None = None) -> Client:
        # A Ping may legitimately take its whole heartbeat: the HTTP timeout is longer.
        c = new_client(push_server, account, timeout=90.0)
        clients.append(c)
        return c

    yield factory
    for c in clients:
        c.close()


def test_ping_expires_with_status_1_then_reports_a_delivery_within_a_second(
        push_server: EasServer, push_client: Callable[..., Client]):
    """ASSERTS: with a 1 s minimum heartbeat configured through ``--config``, a Ping on
    a fully synced Inbox and Sent Items with heartbeat 2 and no change answers Status 1
    after 2..10 s; a Ping waiting with heartbeat 60 answers Status 2 naming exactly the
    Inbox less than a second after an LMTP delivery to it."""
    alice = push_client(push_server.alice)
    inbox = folder_of_type(alice, FolderType.INBOX)
    sent = folder_of_type(alice, FolderType.SENT_ITEMS)
    full_sync(alice, inbox)
    full_sync(alice, sent)

    start = time.monotonic()
    r = alice.ping([inbox, sent], heartbeat=2)
    took = time.monotonic() - start
    assert r.status == "1", r
    assert r.changed_folder_ids == [], r
    assert 2.0 <= took < 10.0, f"heartbeat 2 answered after {took:.2f}s"

    result: dict[str, object] = {}

    def waiter() -> None:
        try:
            result["ping"] = alice.ping([inbox, sent], heartbeat=60)
        except BaseException as exc:  # reported by the main thread
            result["error"] = exc
        result["at"] = time.monotonic()

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    wait_until_waiting(push_server, 1)
    subject = f"push {tag()}"
    lmtp_deliver(push_server, push_server.alice.email, subject, "wake up")
    delivered = time.monotonic()
    t.join(timeout=60)
    assert not t.is_alive(), "the Ping did not answer within 60 s of the delivery"
    assert "error" not in result, result.get("error")
    ping = result["ping"]
    assert isinstance(ping, PingResult)
    assert ping.status == "2", ping
    assert ping.changed_folder_ids == [inbox], ping
    after = float(result["at"]) - delivered  # type: ignore[arg-type]
    assert after < PROMPT_S, f"Ping answered {after:.2f}s after the delivery"
    # The change is there to be synced.
    _, added = full_sync(alice, inbox)
    assert subject in subjects(added)


def test_ping_heartbeat_below_the_minimum_is_status_5(
        push_server: EasServer, push_client: Callable[..., Client]):
    """ASSERTS: a Ping whose heartbeat (0) is below the configured minimum answers
    Status 5 at once (pyactivesync does not check Ping's status; the test does)."""
    alice = push_client(push_server.alice)
    inbox = folder_of_type(alice, FolderType.INBOX)
    start = time.monotonic()
    r = alice.ping([inbox], heartbeat=0)
    assert r.status == "5", r
    assert time.monotonic() - start < 5.0


def test_send_mail_to_self_arrives_in_inbox_and_sent_items(
        easd_server: EasServer, make_client: Callable[..., Client]):
    """ASSERTS: ``Client.send_mail`` (ComposeMail SendMail, SaveInSentItems) from alice
    to herself and bob succeeds; the message then appears exactly once in alice's Inbox
    (unread, From alice), once in her Sent Items (read), and once in bob's Inbox."""
    alice = make_client(easd_server.alice)
    bob = make_client(easd_server.bob)
    subject = f"note to self {tag()}"
    msg = EmailMessage()
    msg["From"] = f"Alice <{easd_server.alice.email}>"
    msg["To"] = f"{easd_server.alice.email}, {easd_server.bob.email}"
    msg["Subject"] = subject
    msg.set_content("Remember the milk.")
    alice.send_mail(msg)

    inbox = folder_of_type(alice, FolderType.INBOX)
    _, added = full_sync(alice, inbox)
    got = [i for i in added if i.fields.get("Email.Subject") == subject]
    assert len(got) == 1, subjects(added)
    assert got[0].fields.get("Email.Read") == "0", got[0].fields
    assert easd_server.alice.email in got[0].fields.get("Email.From", ""), got[0].fields

    sent = folder_of_type(alice, FolderType.SENT_ITEMS)
    _, added = full_sync(alice, sent)
    got = [i for i in added if i.fields.get("Email.Subject") == subject]
    assert len(got) == 1, subjects(added)
    assert got[0].fields.get("Email.Read") == "1", got[0].fields

    bob_inbox = folder_of_type(bob, FolderType.INBOX)
    _, added = full_sync(bob, bob_inbox)
    assert subjects(added).count(subject) == 1, subjects(added)
