"""SendMail and direct push, end to end: the real ``easd`` binary driven by the
independent EAS 16.1 client pyactivesync (``Client.send_mail``, ``Client.ping``).

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees.

The Ping tests run against a dedicated server started with a config file that lowers
``[push] min_heartbeat`` to 1 s (the default, 60 s, would make every test a minute
long) and with the UDP notify listener off (the session server holds its default port).
SendMail and SmartReply use the session server. Remote recipients are not covered here
(they need an SMTP relay; see tests/it/send.rs). pyactivesync has no SmartReply: that test
writes the ComposeMail request with pyactivesync's own WBXML writer and transport.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from conftest import Account, EasServer, new_client, run_easd
from pyactivesync import BodyType, Client, FolderType, PingResult, SyncItem
from pyactivesync._wbxml import WBXMLWriter, wtag

from eashelpers import lmtp_deliver, lmtp_deliver_message

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


def test_smart_reply_of_an_html_message_keeps_html(
        easd_server: EasServer, make_client: Callable[..., Client]):
    """ASSERTS: alice answers an HTML message in ISO-8859-1 with an inline image by a
    ComposeMail SmartReply (Source FolderId/ItemId, SaveInSentItems) whose MIME is text and
    HTML alternatives, as iPhones send it: empty 200. bob's copy, fetched as HTML, holds
    alice's HTML, then a header block naming the original's Subject, then the original's
    HTML decoded from Latin-1; fetched as MIME it is text/plain + text/html with the image
    (same Content-ID) beside the HTML, and it replies to the original (In-Reply-To). The
    Sent Items copy is the same MIME, byte for byte."""
    alice = make_client(easd_server.alice)
    bob = make_client(easd_server.bob)
    subject = f"menu {tag()}"
    original = EmailMessage()
    original["From"] = "Chef <chef@remote.test>"
    original["To"] = easd_server.alice.email
    original["Subject"] = subject
    original["Message-ID"] = f"<{tag()}@remote.test>"
    original.set_content("Crème brûlée tonight", charset="iso-8859-1")
    original.add_alternative(
        '<html><body><p>Crème brûlée tonight</p><img src="cid:dish@remote.test"></body></html>',
        subtype="html", charset="iso-8859-1")
    original.get_payload()[1].add_related(
        b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", cid="<dish@remote.test>")
    lmtp_deliver_message(easd_server, easd_server.alice.email, original)

    inbox = folder_of_type(alice, FolderType.INBOX)
    _, added = full_sync(alice, inbox)
    [item] = [i for i in added if i.fields.get("Email.Subject") == subject]

    reply = EmailMessage()
    reply["From"] = f"Alice <{easd_server.alice.email}>"
    reply["To"] = easd_server.bob.email
    reply["Subject"] = f"RE: {subject}"
    reply.set_content("Count me in.")
    reply.add_alternative(
        "<html><body><div><b>Count me in.</b></div><div>Sent from my iPhone</div></body></html>",
        subtype="html")
    w = WBXMLWriter()
    w.tag("ComposeMail", "SmartReply", children=[
        wtag("ComposeMail", "ClientId", text=uuid.uuid4().hex),
        wtag("ComposeMail", "Source", children=[
            wtag("ComposeMail", "FolderId", text=inbox),
            wtag("ComposeMail", "ItemId", text=item.server_id),
        ]),
        wtag("ComposeMail", "SaveInSentItems"),
        wtag("ComposeMail", "MIME", opaque=reply.as_bytes(policy=policy.SMTP)),
    ])
    alice._ensure_provisioned()
    assert alice._post("SmartReply", w.render()) == b"", "SmartReply did not succeed"

    bob_inbox = folder_of_type(bob, FolderType.INBOX)
    _, got = full_sync(bob, bob_inbox)
    [copy] = [i for i in got if i.fields.get("Email.Subject") == f"RE: {subject}"]
    html = bob.fetch_item(bob_inbox, copy.server_id, body_type=BodyType.HTML).body
    assert html is not None and html.type == BodyType.HTML, html
    text = html.data if isinstance(html.data, str) else html.data.decode()
    own = text.index("<b>Count me in.</b>")
    block = text.index(f"<b>Subject:</b> {subject}")
    quoted = text.index("<p>Crème brûlée tonight</p>")
    assert own < block < quoted, text

    mime = bob.fetch_item(bob_inbox, copy.server_id, body_type=BodyType.MIME).body
    assert mime is not None and isinstance(mime.data, bytes), mime
    parsed = message_from_bytes(mime.data, policy=policy.default)
    types = [p.get_content_type() for p in parsed.walk()]
    assert "text/plain" in types and "text/html" in types, types
    [image] = [p for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<dish@remote.test>", image
    assert image.get_content() == b"\x89PNG\r\n\x1a\n"
    assert parsed["In-Reply-To"] == original["Message-ID"], parsed["In-Reply-To"]

    sent = folder_of_type(alice, FolderType.SENT_ITEMS)
    _, filed = full_sync(alice, sent)
    [own_copy] = [i for i in filed if i.fields.get("Email.Subject") == f"RE: {subject}"]
    sent_mime = alice.fetch_item(sent, own_copy.server_id, body_type=BodyType.MIME).body
    assert sent_mime is not None and sent_mime.data == mime.data
