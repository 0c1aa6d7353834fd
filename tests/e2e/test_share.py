"""Shared folders end to end: easd vs. the independent EAS 16.1 client pyactivesync.

Every test's docstring starts with ``ASSERTS:``. The admin side is the real ``easd``
command line talking to the running daemon over its control socket.
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from pyactivesync import Client

from eashelpers import folder_sync

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
