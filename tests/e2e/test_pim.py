"""Contacts end to end: two devices of the same user, as the independent EAS 16.1 client
pyactivesync, on the real ``easd`` binary.

pyactivesync 0.17.0 sends no ``Supported`` list in a Sync and has no Change of a single
contact element, so that device's initial Sync and its Change are built with its WBXML
codec and sent through its transport (``eashelpers.post``); the contact itself is created
and read back with pyactivesync's own ``create_contact`` and ``sync_folder``.

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from pyactivesync import Client, FolderType
from pyactivesync.models import Contact

from eashelpers import child, child_text, post, root_of, wtag

pytestmark = pytest.mark.pim


def contacts_id(client: Client) -> str:
    found = [f.id for f in client.list_folders() if f.type == FolderType.CONTACTS]
    assert len(found) == 1, found
    return found[0]


def raw_sync(client: Client, folder: str, key: str, *, supported: list[str] | None = None,
             commands: list | None = None):
    """One Sync of ``folder`` built by hand; the response's Collection."""
    coll = [wtag("AirSync", "SyncKey", text=key), wtag("AirSync", "CollectionId", text=folder)]
    if supported is not None:
        coll.append(wtag("AirSync", "Supported", children=[wtag("Contacts", n) for n in supported]))
    if commands:
        coll.append(wtag("AirSync", "Commands", children=commands))
    nodes = post(client, "Sync", wtag("AirSync", "Sync", children=[
        wtag("AirSync", "Collections", children=[wtag("AirSync", "Collection", children=coll)]),
    ]))
    root = root_of(nodes, "AirSync.Sync")
    collection = child(child(root, "AirSync.Collections"), "AirSync.Collection")
    assert child_text(collection, "AirSync.Status") == "1", collection
    return collection


def test_a_contact_changed_on_one_device_keeps_its_other_fields_on_another(
        easd_server, make_client: Callable[..., Client]):
    """ASSERTS: a device whose initial Sync listed only JobTitle in Supported ([MS-ASCMD]
    2.2.3.179) changes a contact by sending JobTitle alone; the other device then gets the
    contact with the new JobTitle and every field it had (names, e-mail, phone)."""
    a = make_client(easd_server.alice)
    b = make_client(easd_server.alice)
    folder = contacts_id(a)
    ka = a.sync_folder(folder, "0").sync_key
    kb = child_text(raw_sync(b, folder, "0", supported=["JobTitle"]), "AirSync.SyncKey")
    last = f"Lovelace-{uuid.uuid4().hex[:8]}"
    created = a.create_contact(folder, ka, Contact(
        first_name="Ada", last_name=last, email1_address="ada@example.com",
        mobile_phone_number="+44 20 0000"))
    assert created.status == "1" and created.server_id, created
    seen = b.sync_folder(folder, kb, window_size=100)
    assert created.server_id in [i.server_id for i in seen.added]
    change = wtag("AirSync", "Change", children=[
        wtag("AirSync", "ServerId", text=created.server_id),
        wtag("AirSync", "ApplicationData", children=[wtag("Contacts", "JobTitle", text="Countess")]),
    ])
    after = raw_sync(b, folder, seen.sync_key, commands=[change])
    assert child(after, "AirSync.Responses") is None, after
    got = a.sync_folder(folder, created.sync_key, window_size=100)
    [item] = [i for i in got.changed if i.server_id == created.server_id]
    fields = {k.split(".")[-1]: v for k, v in item.fields.items()}
    assert fields.get("JobTitle") == "Countess", fields
    assert fields.get("FirstName") == "Ada", fields
    assert fields.get("LastName") == last, fields
    assert fields.get("Email1Address") == "ada@example.com", fields
    assert fields.get("MobilePhoneNumber") == "+44 20 0000", fields
