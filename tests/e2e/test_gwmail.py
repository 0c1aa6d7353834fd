"""GroupWare mail access end to end: a mail-only device (``groupware_folders=all-as-mail``)
reads the user's tasks as messages, with the independent EAS 16.1 client pyactivesync on
the real ``easd`` binary.

pyactivesync has no task Add, so the task is added with its WBXML codec through its
transport (``eashelpers.post``); the mail side is pyactivesync's own ``list_folders``,
``sync_folder``, ``fetch_item`` and ``move_item``.

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees.
"""
from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable

import pytest
from pyactivesync import Client, FolderType, StatusError
from pyactivesync.models import BodyType

from eashelpers import child, child_text, inbox_id, post, root_of, wtag

pytestmark = pytest.mark.pim

USER_MAIL = 12


def easd(server, *args: str) -> str:
    """Run ``easd ARGS --data DIR`` against the running daemon; fail the test on error."""
    res = subprocess.run(
        [str(server.bin), *args, "--data", str(server.data_dir)],
        capture_output=True, text=True, timeout=30,
    )
    assert res.returncode == 0, f"easd {' '.join(args)} exited {res.returncode}: {res.stderr}"
    return res.stdout


def add_task(client: Client, folder: str, key: str, subject: str, due: str) -> str:
    """A Sync Add of a task; its ServerId."""
    add = wtag("AirSync", "Add", children=[
        wtag("AirSync", "ClientId", text="t1"),
        wtag("AirSync", "ApplicationData", children=[
            wtag("Tasks", "Subject", text=subject),
            wtag("Tasks", "DueDate", text=due),
            wtag("Tasks", "UtcDueDate", text=due),
        ]),
    ])
    nodes = post(client, "Sync", wtag("AirSync", "Sync", children=[
        wtag("AirSync", "Collections", children=[wtag("AirSync", "Collection", children=[
            wtag("AirSync", "SyncKey", text=key),
            wtag("AirSync", "CollectionId", text=folder),
            wtag("AirSync", "Commands", children=[add]),
        ])]),
    ]))
    root = root_of(nodes, "AirSync.Sync")
    collection = child(child(root, "AirSync.Collections"), "AirSync.Collection")
    answer = child(child(collection, "AirSync.Responses"), "AirSync.Add")
    assert child_text(answer, "AirSync.Status") == "1", collection
    return child_text(answer, "AirSync.ServerId")


def test_a_mail_only_device_reads_a_task_as_a_message_it_cannot_move(
        easd_server, make_client: Callable[..., Client]):
    """ASSERTS: a task added by one device is, for a device set to all-as-mail, in a folder
    announced as a user-created mail folder (type 12), as a message under the task's
    ServerId whose Subject is the task's and whose sender is the user; its fetched plain
    text names the due date; moving it to the Inbox is refused (MoveItems Status 5)."""
    server = easd_server
    a = make_client(server.alice)
    b = make_client(server.alice)
    [tasks] = [f.id for f in a.list_folders() if f.type == FolderType.TASKS]
    subject = f"Renew the lease {uuid.uuid4().hex[:8]}"
    due_day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 5 * 86400))
    sid = add_task(a, tasks, a.sync_folder(tasks, "0").sync_key, subject,
                   f"{due_day}T00:00:00.000Z")

    b.list_folders()  # the device is registered at its first request
    easd(server, "device", "settings", f"{server.alice.email}/{b._transport.device_id}",
         "groupware_folders=all-as-mail")
    [shown] = [f for f in b.list_folders() if f.id == tasks]
    assert int(shown.type) == USER_MAIL, shown
    got = b.sync_folder(tasks, b.sync_folder(tasks, "0").sync_key, window_size=100)
    [item] = [i for i in got.added if i.server_id == sid]
    assert item.fields.get("Email.Subject") == subject, item.fields
    assert server.alice.email in item.fields.get("Email.From", ""), item.fields

    fetched = b.fetch_item(tasks, sid, body_type=BodyType.PLAIN_TEXT)
    body = fetched.bodies[0].data
    assert isinstance(body, str) and f"Due: {due_day}" in body, fetched

    with pytest.raises(StatusError) as refused:
        b.move_item(sid, tasks, inbox_id(b))
    assert refused.value.code == "5", refused.value
