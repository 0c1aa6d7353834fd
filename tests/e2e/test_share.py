"""Shared folders end to end: easd vs. the independent EAS 16.1 client pyactivesync.

Every test's docstring starts with ``ASSERTS:``. The admin side is the real ``easd``
command line talking to the running daemon over its control socket.
"""
from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable

import pytest
from pyactivesync import Client, FolderType

from eashelpers import child, child_text, children, folder_sync, pim_pages, post, root_of, wtag

pytestmark = pytest.mark.share

USER_CALENDAR = "13"


def easd(server, *args: str) -> str:
    """Run ``easd ARGS --data DIR`` against the running daemon; fail the test on error."""
    res = subprocess.run(
        [str(server.bin), *args, "--data", str(server.data_dir)],
        capture_output=True, text=True, timeout=30,
    )
    assert res.returncode == 0, f"easd {' '.join(args)} exited {res.returncode}: {res.stderr}"
    return res.stdout


def test_a_shared_calendar_appears_and_goes_with_the_share(
    easd_server, make_client: Callable[..., Client]
) -> None:
    """ASSERTS: once Alice's Calendar is shared with Bob and his device's shared_folders
    setting is on, Bob's FolderSync from key 0 lists "Calendar (<Alice's name>)" as a
    user-created calendar at the top under a ServerId that is none of his own folders';
    after the unshare, his next FolderSync deletes exactly that ServerId."""
    server = easd_server
    bob = make_client(server.bob)
    own = folder_sync(bob, "0")
    assert own.status == "1"
    own_ids = {e.server_id for e in own.adds}
    device = f"{server.bob.email}/{bob._transport.device_id}"
    easd(server, "device", "settings", device, "shared_folders=on")
    easd(server, "folder", "share", server.alice.email, "Calendar", server.bob.email)
    try:
        listed = folder_sync(bob, "0")
        assert listed.status == "1"
        name = f"Calendar ({server.alice.name})"
        shared = [e for e in listed.adds if e.display_name == name]
        assert len(shared) == 1, f"{name!r} not in {listed.adds}"
        assert (shared[0].parent_id, shared[0].type) == ("0", USER_CALENDAR)
        assert shared[0].server_id not in own_ids
    finally:
        easd(server, "folder", "unshare", server.alice.email, "Calendar", server.bob.email)
    after = folder_sync(bob, listed.sync_key)
    assert after.status == "1"
    assert after.deletes == [shared[0].server_id]
    assert (after.adds, after.updates) == ([], [])


def calendar_sync(client: Client, folder: str, key: str, commands: list | None = None):
    """One Sync of a calendar built by hand (pyactivesync has no calendar page: it is
    lent for the call); the response's Collection."""
    coll = [wtag("AirSync", "SyncKey", text=key), wtag("AirSync", "CollectionId", text=folder)]
    if commands:
        coll.append(wtag("AirSync", "Commands", children=commands))
    with pim_pages():
        nodes = post(client, "Sync", wtag("AirSync", "Sync", children=[
            wtag("AirSync", "Collections", children=[wtag("AirSync", "Collection", children=coll)]),
        ]))
    root = root_of(nodes, "AirSync.Sync")
    collection = child(child(root, "AirSync.Collections"), "AirSync.Collection")
    assert child_text(collection, "AirSync.Status") == "1", collection
    return collection


def event_add(client_id: str, subject: str):
    return wtag("AirSync", "Add", children=[
        wtag("AirSync", "ClientId", text=client_id),
        wtag("AirSync", "ApplicationData", children=[
            wtag("Calendar", "Subject", text=subject),
            wtag("Calendar", "StartTime", text="20260701T080000Z"),
            wtag("Calendar", "EndTime", text="20260701T090000Z"),
            wtag("Calendar", "AllDayEvent", text="0"),
        ]),
    ])


def subjects(collection) -> list[str]:
    commands = child(collection, "AirSync.Commands")
    if commands is None:
        return []
    return [child_text(child(a, "AirSync.ApplicationData"), "Calendar.Subject")
            for a in children(commands, "AirSync.Add")]


def test_a_read_only_grantee_sees_the_owners_event_and_its_write_is_refused(
    easd_server, make_client: Callable[..., Client]
) -> None:
    """ASSERTS: Alice's device adds an event to her Calendar (Status 1); Bob, with her
    Calendar shared read-only and shared_folders on, syncs "Calendar (<Alice>)" and gets
    that event; his Add there answers per-item Status 6 ([MS-ASCMD] 2.2.3.177.17) and
    Alice's next Sync brings nothing new (his event was not written)."""
    server = easd_server
    alice, bob = make_client(server.alice), make_client(server.bob)
    calendar = [f.id for f in alice.list_folders() if f.type == FolderType.CALENDAR][0]
    subject = f"Offsite {uuid.uuid4().hex[:8]}"
    akey = child_text(calendar_sync(alice, calendar, "0"), "AirSync.SyncKey")
    added = calendar_sync(alice, calendar, akey, [event_add("a1", subject)])
    akey = child_text(added, "AirSync.SyncKey")
    responses = child(added, "AirSync.Responses")
    assert child_text(child(responses, "AirSync.Add"), "AirSync.Status") == "1", added

    folder_sync(bob, "0")
    device = f"{server.bob.email}/{bob._transport.device_id}"
    easd(server, "device", "settings", device, "shared_folders=on")
    easd(server, "folder", "share", server.alice.email, "Calendar", server.bob.email)
    try:
        listed = folder_sync(bob, "0")
        name = f"Calendar ({server.alice.name})"
        [shared] = [e.server_id for e in listed.adds if e.display_name == name]
        bkey = child_text(calendar_sync(bob, shared, "0"), "AirSync.SyncKey")
        first = calendar_sync(bob, shared, bkey)
        # The session's server is shared: earlier tests may have left events there too.
        assert subject in subjects(first), first
        bkey = child_text(first, "AirSync.SyncKey")
        refused = calendar_sync(bob, shared, bkey, [event_add("b1", "Bob was here")])
        add = child(child(refused, "AirSync.Responses"), "AirSync.Add")
        assert child_text(add, "AirSync.Status") == "6", refused
        after = calendar_sync(alice, calendar, akey)
        assert subjects(after) == [], after
    finally:
        easd(server, "folder", "unshare", server.alice.email, "Calendar", server.bob.email)
