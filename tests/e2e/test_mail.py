"""Mail end-to-end tests: messages delivered over LMTP (Python's ``smtplib.LMTP``) to the
real ``easd`` binary, then read and changed by the independent EAS 16.1 client
pyactivesync.

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees. Subjects carry
a random tag: the server (and alice's mailbox) is shared by the whole session.

Not covered here: SendMail (test_send_push.py), Search (test_search.py), multipart
ItemOperations (pyactivesync never sends ``MS-ASAcceptMultiPart``; see tests/it/mail.rs).
"""
from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from collections.abc import Callable

import pytest
from pyactivesync import BodyType, Client, EmailChange, FolderType, SyncItem

from eashelpers import inbox_id, lmtp_deliver, lmtp_deliver_message

pytestmark = pytest.mark.mail

USER_MAIL = FolderType(12)


def tag() -> str:
    return uuid.uuid4().hex[:10]




def full_sync(client: Client, folder_id: str) -> tuple[str, list[SyncItem]]:
    """SyncKey 0, then Syncs until MoreAvailable ends: (last key, every Add)."""
    first = client.sync_folder(folder_id, "0")
    assert first.added == [], "a key-0 Sync carries no items"
    key, added = first.sync_key, []
    for _ in range(100):
        r = client.sync_folder(folder_id, key, window_size=100)
        key = r.sync_key
        added.extend(r.added)
        if not r.more_available:
            return key, added
    pytest.fail("MoreAvailable never ended")


def by_subject(items: list[SyncItem], subject: str) -> SyncItem:
    found = [i for i in items if i.fields.get("Email.Subject") == subject]
    assert len(found) == 1, f"{subject!r}: {len(found)} matches in {[i.fields.get('Email.Subject') for i in items]}"
    return found[0]


def test_lmtp_delivery_then_initial_sync_sees_the_messages(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: three messages delivered over LMTP (one to a +tag address) all appear,
    exactly once, unread and with their From, in the first full Sync of alice's Inbox;
    GetItemEstimate before that Sync counts what it delivers; an unknown recipient gets
    550 over LMTP."""
    t = tag()
    alice = easd_server.alice
    local, domain = alice.email.split("@")
    subjects = [f"e2e lmtp {t} {i}" for i in range(3)]
    lmtp_deliver(easd_server, alice.email, subjects[0], "zero")
    lmtp_deliver(easd_server, alice.email, subjects[1], "one")
    lmtp_deliver(easd_server, f"{local}+lists@{domain}", subjects[2], "two")

    host, port = easd_server.lmtp_addr
    with smtplib.LMTP(host, port, timeout=15) as lmtp:
        lmtp.ehlo_or_helo_if_needed()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            lmtp.sendmail("sender@remote.test", [f"nobody-{t}@{domain}"], b"Subject: x\r\n\r\ny\r\n")
        ((code, _),) = refused.value.recipients.values()
        assert code == 550

    client = make_client(alice)
    inbox = inbox_id(client)
    first = client.sync_folder(inbox, "0")
    estimate = client.get_item_estimate(inbox, first.sync_key)
    key, added = first.sync_key, []
    while True:
        r = client.sync_folder(inbox, key, window_size=500)
        key = r.sync_key
        added.extend(r.added)
        if not r.more_available:
            break
    assert estimate == len(added) >= 3
    for s in subjects:
        item = by_subject(added, s)
        assert item.fields.get("Email.Read") == "0"
        assert "sender@remote.test" in item.fields.get("Email.From", "")
        assert item.server_id.startswith(f"{inbox}:")
    # Nothing more to come.
    again = client.sync_folder(inbox, key)
    assert again.added == [] and again.changed == [] and again.deleted == []


def test_read_on_a_second_device_reaches_the_first(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: marking a message read from a second device of alice arrives at the first
    device as a Sync Change with Email.Read 1, and is not echoed to the second device."""
    subject = f"e2e read {tag()}"
    lmtp_deliver(easd_server, easd_server.alice.email, subject, "read me")
    first = make_client(easd_server.alice)
    second = make_client(easd_server.alice)
    inbox = inbox_id(first)
    key1, added1 = full_sync(first, inbox)
    key2, added2 = full_sync(second, inbox)
    sid = by_subject(added1, subject).server_id
    assert by_subject(added2, subject).server_id == sid

    result = second.apply_email_changes(inbox, key2, [EmailChange(server_id=sid, read=True)])
    assert result.statuses == {sid: "1"}

    r = first.sync_folder(inbox, key1)
    changed = {c.server_id: c.fields for c in r.changed}
    assert sid in changed, r
    assert changed[sid].get("Email.Read") == "1"

    r2 = second.sync_folder(inbox, result.sync_key)
    assert sid not in [c.server_id for c in r2.changed], "own change echoed"


def test_fetch_a_message_body_and_its_attachment(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: ItemOperations Fetch of a synced message returns its plain-text body (and
    HTML when asked), its Subject, and an attachment whose Fetch by FileReference gives back
    the exact bytes that were delivered."""
    subject = f"e2e fetch {tag()}"
    payload = bytes(range(256)) * 8
    lmtp_deliver(easd_server, easd_server.alice.email, subject, "The body to fetch.",
                 attachment=payload)
    client = make_client(easd_server.alice)
    inbox = inbox_id(client)
    _, added = full_sync(client, inbox)
    sid = by_subject(added, subject).server_id

    plain = client.fetch_item(inbox, sid, body_type=BodyType.PLAIN_TEXT)
    assert plain.fields.get("Email.Subject") == subject
    assert plain.body is not None and plain.body.type == BodyType.PLAIN_TEXT
    assert "The body to fetch." in plain.body.data
    html = client.fetch_item(inbox, sid, body_type=BodyType.HTML)
    assert html.body is not None and html.body.type == BodyType.HTML
    assert "The body to fetch." in html.body.data

    assert len(plain.attachments) == 1, plain.attachments
    att = plain.attachments[0]
    assert att.display_name == "blob.bin"
    assert att.estimated_data_size == len(payload)
    assert client.fetch_attachment(att.file_reference) == payload


def test_move_items_seen_by_the_moving_device(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: MoveItems into a user folder answers a new ServerId in that folder; the
    moving device itself, at its next Sync of each folder, is sent the Delete in the Inbox
    and the Add in the folder ([MS-ASCMD] 2.2.1.12), once; the same MoveItems sent again
    answers the same new ServerId; another device sees the message deleted from the Inbox
    and added to the folder with the same Subject."""
    t = tag()
    subject = f"e2e move {t}"
    lmtp_deliver(easd_server, easd_server.alice.email, subject, "move me")
    mover = make_client(easd_server.alice)
    watcher = make_client(easd_server.alice)
    inbox = inbox_id(mover)
    folder = mover.create_folder(f"Archive {t}", "0", USER_MAIL).id
    try:
        key_in, added = full_sync(mover, inbox)
        key_folder, in_folder = full_sync(mover, folder)
        assert in_folder == []
        wkey_in, _ = full_sync(watcher, inbox)
        sid = by_subject(added, subject).server_id

        new_id = mover.move_item(sid, inbox, folder)
        assert new_id != sid and new_id.startswith(f"{folder}:")
        assert mover.move_item(sid, inbox, folder) == new_id, "a resent MoveItems"

        r = mover.sync_folder(inbox, key_in)
        assert r.deleted == [sid] and r.added == [], "the mover's Inbox keeps a ghost"
        assert mover.sync_folder(inbox, r.sync_key).deleted == []
        r = mover.sync_folder(folder, key_folder)
        assert [(a.server_id, a.fields.get("Email.Subject")) for a in r.added] == [
            (new_id, subject)
        ], "the moved message never reaches the mover's folder"
        assert mover.sync_folder(folder, r.sync_key).added == []

        r = watcher.sync_folder(inbox, wkey_in)
        assert sid in r.deleted
        _, moved = full_sync(watcher, folder)
        assert [(m.server_id, m.fields.get("Email.Subject")) for m in moved] == [(new_id, subject)]
        fetched = watcher.fetch_item(folder, new_id, body_type=BodyType.PLAIN_TEXT)
        assert "move me" in fetched.body.data
    finally:
        mover.delete_folder(folder)


def test_lmtp_invitation_reaches_the_inbox_as_a_meeting_request(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: an iCalendar REQUEST delivered over LMTP (Google-style: IANA TZID, weekly
    series) reaches the 16.1 client's Inbox as IPM.Schedule.Meeting.Request with an
    Email:MeetingRequest that pyactivesync decodes: start and end in UTC, the calendar UID
    (16.x sends no GlobalObjId), the reminder in seconds, the recurrence and
    MeetingMessageType 1."""
    t = tag()
    alice = easd_server.alice
    subject = f"Standup {t}"
    uid = f"{t}@google.test"
    msg = EmailMessage()
    msg["From"] = "Organizer <org@remote.test>"
    msg["To"] = alice.email
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@remote.test>"
    msg.set_content("You are invited.")
    calendar = "\r\n".join([
        "BEGIN:VCALENDAR", "METHOD:REQUEST", "BEGIN:VEVENT", f"UID:{uid}",
        "DTSTAMP:20261020T120000Z", "DTSTART;TZID=America/New_York:20261026T090000",
        "DTEND;TZID=America/New_York:20261026T093000", "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=MO",
        "ORGANIZER;CN=Organizer:mailto:org@remote.test",
        f"ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:{alice.email}",
        f"SUMMARY:{subject}", "BEGIN:VALARM", "TRIGGER:-PT10M", "ACTION:DISPLAY",
        "END:VALARM", "END:VEVENT", "END:VCALENDAR", "",
    ])
    msg.add_alternative(calendar, subtype="calendar", params={"method": "REQUEST"})
    lmtp_deliver_message(easd_server, alice.email, msg)

    client = make_client(alice)
    _, added = full_sync(client, inbox_id(client))
    fields = by_subject(added, subject).fields
    assert fields["Email.MessageClass"] == "IPM.Schedule.Meeting.Request"
    # pyactivesync 0.17 names only part of code page 2 (Email); it reports the other
    # elements by page and token ([MS-ASWBXML] 2.1.2.1.3, .1.5, .1.23).
    name = {
        "StartTime": "Email.0x31", "EndTime": "Email.0x1E", "InstanceType": "Email.0x1F",
        "Reminder": "Email.0x25", "ResponseRequested": "Email.0x26", "Type": "Email.0x29",
        "Occurrences": "Email.0x2B", "DayOfWeek": "Email.0x2D", "GlobalObjId": "Email.0x34",
        "Calendar.UID": "page4.0x28", "MeetingMessageType": "page22.0x13",
    }
    got = {k: fields.get(v) for k, v in name.items()}
    assert got == {
        "StartTime": "2026-10-26T13:00:00.000Z", "EndTime": "2026-10-26T13:30:00.000Z",
        "InstanceType": "1", "Reminder": "600", "ResponseRequested": "1", "Type": "1",
        "Occurrences": "4", "DayOfWeek": "2", "GlobalObjId": None, "Calendar.UID": uid,
        "MeetingMessageType": "1",
    }
