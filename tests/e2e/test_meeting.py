"""Calendar and meetings end to end, as the independent EAS client pyactivesync, on the
real ``easd`` binary.

pyactivesync 0.17.0 has no calendar code page, no MeetingResponse and speaks 16.1 only:
its WBXML codec learns the Calendar and MeetingResponse pages for these tests
(``eashelpers.pim_pages``), a MeetingResponse and the calendar Syncs whose nested
elements matter (exceptions) are built with that codec and sent through its transport
(``eashelpers.post``), and the 14.1 device is its transport with another
``MS-ASProtocolVersion`` (``eashelpers.post_as_version``). Mail goes in over LMTP and is
read with pyactivesync's own ``sync_folder``.

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees.
"""
from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from pyactivesync import Client, FolderType
from pyactivesync.models import SyncItem

from eashelpers import (
    Node, child, child_text, children, inbox_id, lmtp_deliver_message, pim_pages, post,
    post_as_version, root_of, wtag,
)

pytestmark = pytest.mark.pim


@pytest.fixture(autouse=True)
def _calendar_codec() -> Iterator[None]:
    with pim_pages():
        yield


def folder_of(client: Client, kind: FolderType) -> str:
    found = [f.id for f in client.list_folders() if f.type == kind]
    assert len(found) == 1, found
    return found[0]


def full_sync(client: Client, folder: str) -> tuple[str, list[SyncItem]]:
    """pyactivesync's Sync from key 0 to the end: (last key, every Add)."""
    key, added = client.sync_folder(folder, "0").sync_key, []
    for _ in range(100):
        r = client.sync_folder(folder, key, window_size=100)
        key = r.sync_key
        added += r.added
        if not r.more_available:
            return key, added
    raise AssertionError("MoreAvailable never ended")


def invitation(to: str, uid: str, subject: str) -> EmailMessage:
    """An organizer's METHOD:REQUEST as a Google-style text/calendar alternative:
    1 July 2026, 10:00-11:00 in Paris (08:00Z)."""
    msg = EmailMessage()
    msg["From"] = "Olga Organizer <olga@remote.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@remote.test>"
    msg.set_content("You are invited.")
    calendar = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "METHOD:REQUEST", "BEGIN:VEVENT", f"UID:{uid}",
        "SEQUENCE:0", "DTSTAMP:20260601T120000Z",
        "DTSTART;TZID=Europe/Paris:20260701T100000", "DTEND;TZID=Europe/Paris:20260701T110000",
        "ORGANIZER;CN=Olga Organizer:mailto:olga@remote.test",
        f"ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:{to}",
        f"SUMMARY:{subject}", "LOCATION:Room 2", "END:VEVENT", "END:VCALENDAR", "",
    ])
    msg.add_alternative(calendar, subtype="calendar", params={"method": "REQUEST"})
    return msg


def test_meeting_response_accepts_an_lmtp_delivered_invitation(
        easd_server, make_client: Callable[..., Client]):
    """ASSERTS: an invitation delivered over LMTP shows in the Inbox as a meeting request
    (IPM.Schedule.Meeting.Request) and in the calendar as not answered (MeetingStatus 3,
    ResponseType 5) with the invitation's UID; MeetingResponse accept on the request
    answers Status 1 with the event's ServerId as CalendarId ([MS-ASCMD] 2.2.1.11); the
    calendar then carries ResponseType 3 and BusyStatus 2, the request leaves the Inbox,
    and answering it again is Status 2."""
    alice = easd_server.alice
    t = uuid.uuid4().hex[:10]
    uid, subject = f"{t}@remote.test", f"Kick-off {t}"
    lmtp_deliver_message(easd_server, alice.email, invitation(alice.email, uid, subject))

    client = make_client(alice)
    inbox = inbox_id(client)
    inbox_key, mail = full_sync(client, inbox)
    [request] = [m for m in mail if m.fields.get("Email.Subject") == subject]
    assert request.fields["Email.MessageClass"] == "IPM.Schedule.Meeting.Request", request
    calendar = folder_of(client, FolderType.CALENDAR)
    cal_key, events = full_sync(client, calendar)
    [event] = [e for e in events if e.fields.get("Calendar.UID") == uid]
    assert event.fields["Calendar.MeetingStatus"] == "3", event
    assert event.fields["Calendar.ResponseType"] == "5", event
    assert event.fields["Calendar.StartTime"] == "2026-07-01T08:00:00.000Z", event
    assert event.fields["Calendar.OrganizerEmail"] == "olga@remote.test", event

    def respond(answer: str) -> Node:
        nodes = post(client, "MeetingResponse", wtag("MeetingResponse", "MeetingResponse", children=[
            wtag("MeetingResponse", "Request", children=[
                wtag("MeetingResponse", "UserResponse", text=answer),
                wtag("MeetingResponse", "CollectionId", text=inbox),
                wtag("MeetingResponse", "RequestId", text=request.server_id),
            ]),
        ]))
        result = child(root_of(nodes, "MeetingResponse.MeetingResponse"), "MeetingResponse.Result")
        assert result is not None, nodes
        assert child_text(result, "MeetingResponse.RequestId") == request.server_id, result
        return result

    result = respond("1")
    assert child_text(result, "MeetingResponse.Status") == "1", result
    assert child_text(result, "MeetingResponse.CalendarId") == event.server_id, result

    got = client.sync_folder(calendar, cal_key, window_size=100)
    [changed] = [e for e in got.changed if e.server_id == event.server_id]
    assert changed.fields["Calendar.ResponseType"] == "3", changed
    assert changed.fields["Calendar.BusyStatus"] == "2", changed
    assert changed.fields["Calendar.Subject"] == subject, changed
    gone = client.sync_folder(inbox, inbox_key, window_size=100)
    assert request.server_id in gone.deleted, gone
    assert child_text(respond("1"), "MeetingResponse.Status") == "2"


def paris_blob() -> str:
    """Europe/Paris as a TIME_ZONE_INFORMATION ([MS-ASDTYPE] 2.7.6): Bias -60, standard
    time from the last Sunday of October 03:00, daylight time (bias -60) from the last
    Sunday of March 02:00; names left empty."""
    name = b"\0" * 64
    standard = struct.pack("<8H", 0, 10, 0, 5, 3, 0, 0, 0)
    daylight = struct.pack("<8H", 0, 3, 0, 5, 2, 0, 0, 0)
    raw = struct.pack("<i", -60) + name + standard + struct.pack("<i", 0) + name + daylight \
        + struct.pack("<i", -60)
    assert len(raw) == 172
    return base64.b64encode(raw).decode()


def unpack_blob(text: str) -> tuple:
    raw = base64.b64decode(text)
    bias, = struct.unpack_from("<i", raw, 0)
    standard = struct.unpack_from("<8H", raw, 68)
    daylight = struct.unpack_from("<8H", raw, 152)
    daylight_bias, = struct.unpack_from("<i", raw, 168)
    return bias, standard[1:5], daylight[1:5], daylight_bias


def calendar_sync(send, folder: str, key: str, commands: list | None = None) -> Node:
    """One Sync of a calendar through ``send`` (a post function); its Collection."""
    coll = [wtag("AirSync", "SyncKey", text=key), wtag("AirSync", "CollectionId", text=folder)]
    if key != "0":
        coll.append(wtag("AirSync", "WindowSize", text="100"))
    if commands:
        coll.append(wtag("AirSync", "Commands", children=commands))
    nodes = send("Sync", wtag("AirSync", "Sync", children=[
        wtag("AirSync", "Collections", children=[wtag("AirSync", "Collection", children=coll)]),
    ]))
    collection = child(child(root_of(nodes, "AirSync.Sync"), "AirSync.Collections"),
                       "AirSync.Collection")
    assert child_text(collection, "AirSync.Status") == "1", collection
    return collection


def test_a_zoned_weekly_event_with_an_exception_reads_the_same_at_16_1(
        easd_server, make_client: Callable[..., Client]):
    """ASSERTS: a weekly event in Europe/Paris (its TIME_ZONE_INFORMATION), created by a
    14.1 device with one occurrence moved (Exceptions/ExceptionStartTime), reaches a
    16.1 device with the same start, the same zone rules, the same recurrence, and the
    moved occurrence as an Exception named by airsyncbase:InstanceId ([MS-ASCAL]
    2.2.2.21-22) with its new time."""
    alice = easd_server.alice
    old = make_client(alice)
    new = make_client(alice)
    folder = folder_of(old, FolderType.CALENDAR)

    def as14(cmd: str, root) -> list[Node]:
        return post_as_version(old, cmd, root, "14.1")

    def as16(cmd: str, root) -> list[Node]:
        return post(new, cmd, root)

    key14 = child_text(calendar_sync(as14, folder, "0"), "AirSync.SyncKey")
    key16 = child_text(calendar_sync(as16, folder, "0"), "AirSync.SyncKey")
    t = uuid.uuid4().hex[:10]
    subject = f"Weekly {t}"
    blob = paris_blob()

    def cal(name: str, value: str):
        return wtag("Calendar", name, text=value)

    # Mondays 09:00 Paris from 2 March 2026 (08:00Z), six times; the fifth (30 March,
    # after the change to summer time: 07:00Z) moved to 11:00 Paris (09:00Z).
    data = wtag("AirSync", "ApplicationData", children=[
        cal("Timezone", blob), cal("AllDayEvent", "0"), cal("BusyStatus", "2"),
        cal("DtStamp", "2026-02-20T10:00:00.000Z"),
        cal("StartTime", "2026-03-02T08:00:00.000Z"), cal("EndTime", "2026-03-02T09:00:00.000Z"),
        cal("Subject", subject), cal("UID", f"{t}@device14"), cal("MeetingStatus", "0"),
        wtag("Calendar", "Recurrence", children=[
            cal("Type", "1"), cal("Interval", "1"), cal("DayOfWeek", "2"),
            cal("Occurrences", "6"),
        ]),
        wtag("Calendar", "Exceptions", children=[
            wtag("Calendar", "Exception", children=[
                cal("ExceptionStartTime", "2026-03-30T07:00:00.000Z"),
                cal("StartTime", "2026-03-30T09:00:00.000Z"),
                cal("EndTime", "2026-03-30T10:00:00.000Z"),
            ]),
        ]),
    ])
    add = wtag("AirSync", "Add", children=[wtag("AirSync", "ClientId", text=t), data])
    added = calendar_sync(as14, folder, key14, [add])
    [response] = children(child(added, "AirSync.Responses"), "AirSync.Add")
    assert child_text(response, "AirSync.Status") == "1", response
    server_id = child_text(response, "AirSync.ServerId")

    got = calendar_sync(as16, folder, key16)
    adds = children(child(got, "AirSync.Commands"), "AirSync.Add")
    [item] = [a for a in adds if child_text(a, "AirSync.ServerId") == server_id]
    d = child(item, "AirSync.ApplicationData")
    assert child_text(d, "Calendar.Subject") == subject
    assert child_text(d, "Calendar.StartTime") == "2026-03-02T08:00:00.000Z"
    assert child_text(d, "Calendar.EndTime") == "2026-03-02T09:00:00.000Z"
    assert child_text(d, "Calendar.UID") == f"{t}@device14"
    assert unpack_blob(child_text(d, "Calendar.Timezone")) == unpack_blob(blob)
    r = child(d, "Calendar.Recurrence")
    assert {k: child_text(r, f"Calendar.{k}") for k in
            ("Type", "Interval", "DayOfWeek", "Occurrences")} == {
        "Type": "1", "Interval": "1", "DayOfWeek": "2", "Occurrences": "6"}
    [x] = children(child(d, "Calendar.Exceptions"), "Calendar.Exception")
    assert child_text(x, "AirSyncBase.InstanceId") == "2026-03-30T07:00:00.000Z", x
    assert child(x, "Calendar.ExceptionStartTime") is None, "a 14.x element"
    assert child_text(x, "Calendar.StartTime") == "2026-03-30T09:00:00.000Z"
    assert child_text(x, "Calendar.EndTime") == "2026-03-30T10:00:00.000Z"
