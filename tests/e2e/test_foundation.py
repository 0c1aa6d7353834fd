"""Foundation end-to-end tests: easd vs. the independent EAS 16.1 client pyactivesync.

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees.
Public pyactivesync methods are used wherever they exist; where they do not
(explicit FolderSync keys, FolderSync Update/Delete parsing, Settings
UserInformation / DeviceInformation), ``eashelpers`` drives pyactivesync's own
transport and WBXML codec (see PYACTIVESYNC.md).

Not coverable through pyactivesync (see PYACTIVESYNC.md): HTTP 449 / Status
142/144 re-provision flows (the client never re-provisions), base64-encoded
query strings, protocol versions other than 16.1.
"""
from __future__ import annotations

import dataclasses
import uuid

import pytest
import requests
from pyactivesync import Client, FolderType, StatusError

from eashelpers import (
    child,
    child_text,
    descendants,
    folder_sync,
    post,
    query_of,
    record_http,
    root_of,
    text,
    wtag,
)

# [MS-ASCMD] 2.2.3.186.3 FolderHierarchy:Type. pyactivesync's FolderType enum is
# off by one in its *names* above 11 (it calls 12 USER_GENERIC, 13 USER_MAIL);
# the numeric values are what goes on the wire, so we use numbers.
USER_MAIL = FolderType(12)  # "User-created mail folder"

DEFAULT_FOLDERS = {  # type -> DisplayName the server is specified to create
    2: "Inbox",
    3: "Drafts",
    4: "Deleted Items",
    5: "Sent Items",
    6: "Outbox",
    7: "Tasks",
    8: "Calendar",
    9: "Contacts",
    10: "Notes",
}
JUNK_NAME = "Junk E-Mail"  # created as type 12


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def inbox_of(client: Client):
    inboxes = [f for f in client.list_folders() if f.type == FolderType.INBOX]
    assert len(inboxes) == 1, f"expected exactly one Inbox, got {inboxes}"
    return inboxes[0]


def bootstrap(client: Client) -> str:
    """FolderSync SyncKey=0 on this device; return the new key."""
    fs = folder_sync(client, "0")
    assert fs.status == "1", f"FolderSync(0) Status={fs.status}"
    assert fs.sync_key and fs.sync_key != "0"
    return fs.sync_key


def provision_nodes(raw: bytes):
    from pyactivesync._wbxml import WBXMLReader

    assert raw, "empty Provision response body"
    return root_of(WBXMLReader(raw).parse(), "Provision.Provision")


def the_policy(root):
    policies = child(root, "Provision.Policies")
    assert policies is not None, "Provision response lacks Policies"
    policy = child(policies, "Provision.Policy")
    assert policy is not None, "Provision response lacks Policies/Policy"
    return policy


def assert_policy_key(key: str | None, what: str) -> None:
    assert key, f"{what}: PolicyKey missing/empty"
    assert key.isdigit(), f"{what}: PolicyKey {key!r} is not an unsigned integer ([MS-ASPROV] xs:unsignedInt)"
    assert 0 < int(key) < 2**32, f"{what}: PolicyKey {key!r} must be non-zero and fit in 32 bits"


# -- Provision ----------------------------------------------------------------------------


@pytest.mark.provision
def test_provision_two_phase(alice: Client) -> None:
    """ASSERTS: Client.provision() does exactly two Provision POSTs, both HTTP 200; phase 1
    (sent without X-MS-PolicyKey, with Settings:DeviceInformation) answers DeviceInformation
    Status 1, Provision Status 1, Policy Type MS-EAS-Provisioning-WBXML, Policy Status 1, a
    non-zero temporary PolicyKey and an EASProvisionDoc; phase 2 (ack) answers Status 1, Policy
    Status 1 and a non-zero final PolicyKey, which is the key the client adopts."""
    log = record_http(alice)
    key = alice.provision()

    assert log.commands() == ["Provision", "Provision"]
    phase1, phase2 = log.responses
    assert phase1.status_code == 200 and phase2.status_code == 200
    assert "X-MS-PolicyKey" not in phase1.request.headers

    r1 = provision_nodes(phase1.content)
    devinfo = child(r1, "Settings.DeviceInformation")
    assert devinfo is not None, "phase 1: no Settings:DeviceInformation in response (client sent one)"
    assert child_text(devinfo, "Settings.Status") == "1"
    assert child_text(r1, "Provision.Status") == "1"
    p1 = the_policy(r1)
    assert child_text(p1, "Provision.PolicyType") == "MS-EAS-Provisioning-WBXML"
    assert child_text(p1, "Provision.Status") == "1"
    temp_key = child_text(p1, "Provision.PolicyKey")
    assert_policy_key(temp_key, "phase 1")
    data = child(p1, "Provision.Data")
    assert data is not None and child(data, "Provision.EASProvisionDoc") is not None, \
        "phase 1: Policy/Data/EASProvisionDoc missing"

    # pyactivesync passes the temporary key as a ?PolicyKey= query parameter (and in the body).
    assert query_of(phase2)["PolicyKey"] == temp_key
    r2 = provision_nodes(phase2.content)
    assert child_text(r2, "Provision.Status") == "1"
    p2 = the_policy(r2)
    assert child_text(p2, "Provision.PolicyType") == "MS-EAS-Provisioning-WBXML"
    assert child_text(p2, "Provision.Status") == "1"
    final_key = child_text(p2, "Provision.PolicyKey")
    assert_policy_key(final_key, "phase 2")
    assert key == final_key


@pytest.mark.provision
def test_final_policy_key_is_accepted(alice: Client) -> None:
    """ASSERTS: after provisioning, a FolderSync carrying X-MS-PolicyKey=<final key> is answered
    HTTP 200 with FolderSync Status 1 (no 449, no 142/144)."""
    key = alice.provision()
    log = record_http(alice)
    folders = alice.list_folders()
    assert folders
    (resp,) = log.responses
    assert resp.status_code == 200
    assert resp.request.headers.get("X-MS-PolicyKey") == key
    assert resp.request.headers.get("MS-ASProtocolVersion") == "16.1"


@pytest.mark.provision
def test_reprovision_same_device(easd_server, make_client) -> None:
    """ASSERTS: a second Client for the same DeviceId can provision again (two phases succeed,
    non-zero key) and its key is accepted for FolderSync."""
    device = "e2eReprovision" + uuid.uuid4().hex[:8]
    first = make_client(easd_server.alice, device_id=device)
    first.list_folders()
    second = make_client(easd_server.alice, device_id=device)
    assert_policy_key(second.provision(), "re-provision")
    assert second.list_folders()


# -- FolderSync ---------------------------------------------------------------------------


@pytest.mark.foldersync
def test_foldersync_initial_default_folder_types(alice: Client) -> None:
    """ASSERTS: FolderSync SyncKey=0 (Client.list_folders) returns Inbox(2), Drafts(3), Deleted
    Items(4), Sent Items(5), Outbox(6), Tasks(7), Calendar(8), Contacts(9), Notes(10) exactly once
    each, all at the root (ParentId 0), plus a type-12 folder named 'Junk E-Mail'; ServerIds are
    unique and never '0'."""
    folders = alice.list_folders()
    by_type: dict[int, list] = {}
    for f in folders:
        by_type.setdefault(int(f.type), []).append(f)
    for t in DEFAULT_FOLDERS:
        assert len(by_type.get(t, [])) == 1, f"type {t}: {by_type.get(t)}"
        assert by_type[t][0].parent_id == "0", f"type {t} folder not at root: {by_type[t][0]}"
    junk = [f for f in by_type.get(12, []) if f.name == JUNK_NAME]
    assert len(junk) == 1, f"no type-12 '{JUNK_NAME}' folder in {folders}"
    assert junk[0].parent_id == "0"
    ids = [f.id for f in folders]
    assert len(ids) == len(set(ids)), f"duplicate ServerIds: {ids}"
    assert "0" not in ids


@pytest.mark.foldersync
def test_foldersync_initial_default_folder_names(alice: Client) -> None:
    """ASSERTS: the default folders carry the display names Inbox, Drafts, Deleted Items,
    Sent Items, Outbox, Tasks, Calendar, Contacts, Notes."""
    names = {int(f.type): f.name for f in alice.list_folders() if int(f.type) in DEFAULT_FOLDERS}
    assert names == DEFAULT_FOLDERS


@pytest.mark.foldersync
def test_foldersync_initial_envelope(alice: Client) -> None:
    """ASSERTS: the SyncKey=0 response has Status 1, a new SyncKey (non-empty, not '0'),
    Changes/Count equal to the number of Add entries (>= 10), and only Add entries."""
    fs = folder_sync(alice, "0")
    assert fs.status == "1"
    assert fs.sync_key and fs.sync_key != "0"
    assert len(fs.adds) >= 10
    assert fs.count == str(len(fs.adds))
    assert fs.updates == [] and fs.deletes == []


@pytest.mark.foldersync
def test_foldersync_followup_has_no_changes(alice: Client) -> None:
    """ASSERTS: FolderSync with the key returned by SyncKey=0 answers Status 1, a SyncKey, and no
    Add/Update/Delete (Count 0 if Changes is present)."""
    key = bootstrap(alice)
    fs = folder_sync(alice, key)
    assert fs.status == "1"
    assert fs.sync_key, "follow-up FolderSync has no SyncKey"
    assert (fs.adds, fs.updates, fs.deletes) == ([], [], [])
    assert fs.count in (None, "0")


@pytest.mark.foldersync
def test_foldersync_invalid_key_status_9(alice: Client) -> None:
    """ASSERTS: FolderSync with a SyncKey the server never issued answers Status 9
    (invalid synchronization key, [MS-ASCMD] 2.2.3.177.4)."""
    bootstrap(alice)
    fs = folder_sync(alice, "bogus-" + uuid.uuid4().hex)
    assert fs.status == "9"


# -- FolderCreate / FolderUpdate / FolderDelete ---------------------------------------------


@pytest.mark.folderops
def test_folder_create_seen_by_second_device(easd_server, make_client) -> None:
    """ASSERTS: FolderCreate (type 12 under Inbox) on device A returns Status 1 and a ServerId;
    device B's incremental FolderSync then reports exactly that folder as one Add with
    ServerId, ParentId=Inbox, DisplayName and Type 12; B's next FolderSync is empty; a
    SyncKey=0 listing on B contains it."""
    a = make_client(easd_server.alice)
    b = make_client(easd_server.alice)
    inbox = inbox_of(a)
    b_key = bootstrap(b)

    name = unique("E2E Created")
    created = a.create_folder(name, parent_id=inbox.id, type=USER_MAIL)
    assert created.id and created.id != "0"

    fs = folder_sync(b, b_key)
    assert fs.status == "1"
    assert fs.sync_key and fs.sync_key != b_key
    assert [(e.server_id, e.parent_id, e.display_name, e.type) for e in fs.adds] == \
        [(created.id, inbox.id, name, "12")]
    assert fs.updates == [] and fs.deletes == []
    assert fs.count == "1"

    again = folder_sync(b, fs.sync_key)
    assert again.status == "1"
    assert (again.adds, again.updates, again.deletes) == ([], [], [])

    listed = {f.id: f for f in b.list_folders()}
    assert created.id in listed
    assert (listed[created.id].name, listed[created.id].parent_id, int(listed[created.id].type)) == \
        (name, inbox.id, 12)


@pytest.mark.folderops
def test_folder_update_rename_seen_by_second_device(easd_server, make_client) -> None:
    """ASSERTS: FolderUpdate (rename, same parent) on device A returns Status 1; device B's
    incremental FolderSync reports exactly one Update with that ServerId, the new DisplayName,
    ParentId=Inbox and Type 12; a fresh listing shows the new name and not the old one."""
    a = make_client(easd_server.alice)
    b = make_client(easd_server.alice)
    inbox = inbox_of(a)
    old, new = unique("E2E Before"), unique("E2E After")
    created = a.create_folder(old, parent_id=inbox.id, type=USER_MAIL)
    b_key = bootstrap(b)

    # update_folder's parent_id defaults to "0" (root): pass the Inbox to rename in place.
    a.update_folder(created.id, new, parent_id=inbox.id)

    fs = folder_sync(b, b_key)
    assert fs.status == "1"
    assert fs.adds == [] and fs.deletes == []
    assert [(e.server_id, e.parent_id, e.display_name, e.type) for e in fs.updates] == \
        [(created.id, inbox.id, new, "12")]

    names = {f.id: f.name for f in make_client(easd_server.alice).list_folders()}
    assert names.get(created.id) == new
    assert old not in names.values()


@pytest.mark.folderops
def test_folder_delete_seen_by_second_device(easd_server, make_client) -> None:
    """ASSERTS: FolderDelete on device A returns Status 1; device B's incremental FolderSync
    reports exactly one Delete with that ServerId; a fresh listing no longer has it."""
    a = make_client(easd_server.alice)
    b = make_client(easd_server.alice)
    inbox = inbox_of(a)
    created = a.create_folder(unique("E2E Doomed"), parent_id=inbox.id, type=USER_MAIL)
    b_key = bootstrap(b)

    a.delete_folder(created.id)

    fs = folder_sync(b, b_key)
    assert fs.status == "1"
    assert fs.adds == [] and fs.updates == []
    assert fs.deletes == [created.id]

    ids = {f.id for f in make_client(easd_server.alice).list_folders()}
    assert created.id not in ids


@pytest.mark.folderops
def test_folder_create_duplicate_name_status_2(alice: Client) -> None:
    """ASSERTS: FolderCreate of a name that already exists under the same parent answers
    FolderCreate Status 2 ("folder already exists")."""
    inbox = inbox_of(alice)
    name = unique("E2E Dup")
    alice.create_folder(name, parent_id=inbox.id, type=USER_MAIL)
    with pytest.raises(StatusError) as exc:
        alice.create_folder(name, parent_id=inbox.id, type=USER_MAIL)
    assert (exc.value.command, exc.value.code) == ("FolderCreate", "2")
    same = [f for f in alice.list_folders() if f.name == name and f.parent_id == inbox.id]
    assert len(same) == 1


@pytest.mark.folderops
def test_folder_delete_inbox_status_3(alice: Client) -> None:
    """ASSERTS: FolderDelete of the Inbox answers FolderDelete Status 3 (special system folder)
    and the Inbox is still listed afterwards with the same ServerId."""
    inbox = inbox_of(alice)
    with pytest.raises(StatusError) as exc:
        alice.delete_folder(inbox.id)
    assert (exc.value.command, exc.value.code) == ("FolderDelete", "3")
    assert inbox_of(alice).id == inbox.id


@pytest.mark.folderops
def test_folders_are_per_account(easd_server, make_client) -> None:
    """ASSERTS: a folder alice creates is not visible to bob, who has his own default set."""
    a = make_client(easd_server.alice)
    b = make_client(easd_server.bob)
    name = unique("E2E Private")
    a.create_folder(name, parent_id=inbox_of(a).id, type=USER_MAIL)
    bob_folders = b.list_folders()
    assert name not in {f.name for f in bob_folders}
    assert {int(f.type) for f in bob_folders} >= set(DEFAULT_FOLDERS)


# -- Settings -----------------------------------------------------------------------------


def user_information(client: Client):
    nodes = post(client, "Settings", wtag("Settings", "Settings", children=[
        wtag("Settings", "UserInformation", children=[wtag("Settings", "Get")]),
    ]))
    root = root_of(nodes, "Settings.Settings")
    assert child_text(root, "Settings.Status") == "1"
    ui = child(root, "Settings.UserInformation")
    assert ui is not None, "Settings response lacks UserInformation"
    assert child_text(ui, "Settings.Status") == "1"
    return ui


@pytest.mark.settings
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_settings_userinformation_get(easd_server, make_client, who: str) -> None:
    """ASSERTS: Settings UserInformation Get answers Settings Status 1, UserInformation Status 1,
    and the account's address (alice@example.com / bob@example.org) as PrimarySmtpAddress
    and/or SMTPAddress -- and no other account's address; UserDisplayName, if sent, is the
    account's name."""
    account = getattr(easd_server, who)
    ui = user_information(make_client(account))
    addresses = [text(n) for n in descendants(ui, "Settings.SMTPAddress")]
    primary = [text(n) for n in descendants(ui, "Settings.PrimarySmtpAddress")]
    everything = {(a or "").lower() for a in addresses + primary}
    assert account.email in everything, f"{account.email} not in {addresses + primary}"
    other = easd_server.bob if who == "alice" else easd_server.alice
    assert other.email not in everything
    assert all((p or "").lower() == account.email for p in primary)
    display = [text(n) for n in descendants(ui, "Settings.UserDisplayName")]
    assert all(d == account.name for d in display), display


@pytest.mark.settings
def test_settings_deviceinformation_set(alice: Client) -> None:
    """ASSERTS: Settings DeviceInformation Set answers Settings Status 1 and
    DeviceInformation Status 1."""
    nodes = post(alice, "Settings", wtag("Settings", "Settings", children=[
        wtag("Settings", "DeviceInformation", children=[
            wtag("Settings", "Set", children=[
                wtag("Settings", "Model", text="E2E Model"),
                wtag("Settings", "FriendlyName", text="easd e2e device"),
                wtag("Settings", "OS", text="Linux e2e"),
                wtag("Settings", "OSLanguage", text="English"),
                wtag("Settings", "UserAgent", text="pyactivesync-e2e/0.17.0"),
                wtag("Settings", "EnableOutboundSMS", text="0"),
                wtag("Settings", "MobileOperator", text="None"),
            ]),
        ]),
    ]))
    root = root_of(nodes, "Settings.Settings")
    assert child_text(root, "Settings.Status") == "1"
    devinfo = child(root, "Settings.DeviceInformation")
    assert devinfo is not None, "Settings response lacks DeviceInformation"
    assert child_text(devinfo, "Settings.Status") == "1"


# -- Authentication / HTTP ------------------------------------------------------------------


@pytest.mark.auth
def test_wrong_password_is_401(easd_server, make_client) -> None:
    """ASSERTS: the first request (Provision) with a wrong password gets HTTP 401 carrying a
    WWW-Authenticate: Basic challenge."""
    c = make_client(easd_server.alice, password="not-" + easd_server.alice.password)
    with pytest.raises(requests.HTTPError) as exc:
        c.provision()
    resp = exc.value.response
    assert resp.status_code == 401
    assert "basic" in resp.headers.get("WWW-Authenticate", "").lower()


@pytest.mark.auth
def test_unknown_user_is_401(easd_server, make_client) -> None:
    """ASSERTS: an account that does not exist gets HTTP 401 (same as a bad password)."""
    nobody = dataclasses.replace(easd_server.alice, email="nobody@example.com", password="whatever-password")
    c = make_client(nobody)
    with pytest.raises(requests.HTTPError) as exc:
        c.provision()
    assert exc.value.response.status_code == 401


@pytest.mark.auth
def test_correct_password_other_device_not_401(easd_server, make_client) -> None:
    """ASSERTS: bob's correct credentials are accepted (Provision succeeds) -- the 401 tests
    above are not passing merely because everything is rejected."""
    assert_policy_key(make_client(easd_server.bob).provision(), "bob")


@pytest.mark.http
def test_options_advertises_16_1(easd_server, alice: Client) -> None:
    """ASSERTS: an authenticated OPTIONS on /Microsoft-Server-ActiveSync answers 200 with
    MS-ASProtocolVersions containing 16.1 and MS-ASProtocolCommands listing the commands
    pyactivesync used here. (pyactivesync itself never sends OPTIONS; this uses its session.)"""
    resp = alice._transport.session.options(easd_server.eas_url, timeout=15)
    assert resp.status_code == 200
    versions = [v.strip() for v in resp.headers.get("MS-ASProtocolVersions", "").split(",")]
    assert "16.1" in versions
    commands = {c.strip() for c in resp.headers.get("MS-ASProtocolCommands", "").split(",")}
    assert {"Provision", "FolderSync", "FolderCreate", "FolderUpdate", "FolderDelete", "Settings"} <= commands
