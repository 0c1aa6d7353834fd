"""Device governance end to end: easd vs. the independent EAS 16.1 client pyactivesync.

Every test's docstring starts with ``ASSERTS:``. The admin side is the real ``easd``
command line talking to the running daemon over its control socket; the device side
is pyactivesync (its public methods, and its own transport and WBXML codec through
``eashelpers`` where it has no public method, e.g. a Provision that is not its
two-phase happy path).
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from pyactivesync import Client

from pyactivesync._codepages import CODEPAGES, PAGE_INDEX, REVERSE

from eashelpers import child, child_text, folder_sync, post, root_of, wtag

pytestmark = pytest.mark.governance


def register_provision_doc_tokens() -> None:
    """pyactivesync 0.17.0 knows the Provision page only up to EASProvisionDoc; take the
    policy elements from the repo's code-page table ([MS-ASWBXML] 2.1.2.1.15)."""
    table = Path(__file__).resolve().parents[2] / "src" / "wbxml" / "codepages.tsv"
    page = PAGE_INDEX["Provision"]
    for line in table.read_text().splitlines()[1:]:
        number, _, token, tag, _opaque = line.split("\t")
        if int(number) == page:
            CODEPAGES["Provision"].setdefault(tag, int(token, 16))
            REVERSE[page].setdefault(int(token, 16), tag)


register_provision_doc_tokens()


def easd(server, *args: str) -> str:
    """Run ``easd ARGS --data DIR`` against the running daemon; fail the test on error."""
    res = subprocess.run(
        [str(server.bin), *args, "--data", str(server.data_dir)],
        capture_output=True, text=True, timeout=30,
    )
    assert res.returncode == 0, f"easd {' '.join(args)} exited {res.returncode}: {res.stderr}"
    return res.stdout


def device_name(server, client: Client) -> str:
    return f"{server.alice.email}/{client._transport.device_id}"


def device_json(server, client: Client) -> dict | None:
    """The device's row in ``easd device list --json`` (None when it is not listed)."""
    rows = json.loads(easd(server, "device", "list", "--user", server.alice.email, "--json"))
    mine = [r for r in rows if r["device_id"] == client._transport.device_id]
    return mine[0] if mine else None


def provision_request(*, ack_key: str | None = None, wipe_ack: bool = False):
    """A Provision body: phase 1 (ask for the policy), phase 2 (acknowledge ``ack_key``)
    or the acknowledgement of a remote wipe ([MS-ASPROV] 2.2.2.45)."""
    if wipe_ack:
        return wtag("Provision", "Provision", children=[
            wtag("Provision", "RemoteWipe", children=[wtag("Provision", "Status", text="1")]),
        ])
    policy = [wtag("Provision", "PolicyType", text="MS-EAS-Provisioning-WBXML")]
    if ack_key is not None:
        policy += [wtag("Provision", "PolicyKey", text=ack_key), wtag("Provision", "Status", text="1")]
    return wtag("Provision", "Provision", children=[
        wtag("Provision", "Policies", children=[wtag("Provision", "Policy", children=policy)]),
    ])


def provision_answer(client: Client, **kwargs):
    return root_of(post(client, "Provision", provision_request(**kwargs), provision=False),
                   "Provision.Provision")


def policy_values(root) -> dict[str, str | None]:
    """EASProvisionDoc element -> text, from a phase-1 Provision answer."""
    policy = child(child(root, "Provision.Policies"), "Provision.Policy")
    data = child(policy, "Provision.Data")
    assert data is not None, "phase-1 answer lacks Policy/Data"
    doc = child(data, "Provision.EASProvisionDoc")
    assert doc is not None, "Policy/Data lacks EASProvisionDoc"
    return {name.split(".", 1)[1]: child_text(doc, name) for name, _, _ in doc[2]
            if not name.startswith("#")}


def test_blocked_device_is_refused(easd_server, make_client: Callable[..., Client]) -> None:
    """ASSERTS: a device that synced is refused with HTTP 403 on its next FolderSync and
    Sync once the admin blocks it (`easd device block`), its row says abq=block, and a
    second device of the same account keeps working; `easd device allow` lets it back."""
    phone, other = make_client(), make_client()
    assert folder_sync(phone, "0").status == "1"
    assert folder_sync(other, "0").status == "1"

    easd(easd_server, "device", "block", device_name(easd_server, phone))
    assert device_json(easd_server, phone)["abq"] == "block"
    for attempt in (lambda: folder_sync(phone, "0"), lambda: phone.list_folders()):
        with pytest.raises(requests.HTTPError) as refused:
            attempt()
        assert refused.value.response.status_code == 403
    assert folder_sync(other, "0").status == "1", "the account's other device must not be blocked"

    easd(easd_server, "device", "allow", device_name(easd_server, phone))
    assert folder_sync(phone, "0").status == "1"


def test_policy_change_forces_a_new_provision(easd_server, make_client: Callable[..., Client]) -> None:
    """ASSERTS: after `easd policy set` on the device's level, the device's next FolderSync
    (EAS 16.1) answers a provisioning status (142/143/144) instead of syncing; provisioning
    again returns the new settings in the EASProvisionDoc and a new PolicyKey, which then
    syncs (Status 1)."""
    phone = make_client()
    first_key = phone.provision()
    assert folder_sync(phone, "0").status == "1"

    easd(easd_server, "policy", "set", "--level", f"device:{device_name(easd_server, phone)}",
         "DevicePasswordEnabled=1", "MinDevicePasswordLength=7", "AllowCamera=0")
    refused = folder_sync(phone, "0")
    assert refused.status in {"142", "143", "144"}, f"FolderSync Status={refused.status}"

    phone._transport.policy_key = None
    phase1 = provision_answer(phone)
    assert child_text(phase1, "Provision.Status") == "1"
    values = policy_values(phase1)
    assert values.get("DevicePasswordEnabled") == "1"
    assert values.get("MinDevicePasswordLength") == "7"
    assert values.get("AllowCamera") == "0"
    temp_key = child_text(child(child(phase1, "Provision.Policies"), "Provision.Policy"), "Provision.PolicyKey")
    phase2 = provision_answer(phone, ack_key=temp_key)
    new_key = child_text(child(child(phase2, "Provision.Policies"), "Provision.Policy"), "Provision.PolicyKey")
    assert new_key and new_key != first_key, f"re-provision kept the old key {first_key}"

    phone._transport.policy_key = new_key
    assert folder_sync(phone, "0").status == "1"


def test_wiped_device_receives_the_wipe_directive(easd_server, make_client: Callable[..., Client]) -> None:
    """ASSERTS: after `easd device wipe`, the device's next FolderSync answers Status 140, the
    Provision it then sends carries the RemoteWipe directive, `device list` shows the wipe
    pending; once the device acknowledges it, the wipe is done and the device gets no
    data any more (HTTP 403 or a provisioning refusal, never Status 1)."""
    phone = make_client()
    phone.provision()
    assert folder_sync(phone, "0").status == "1"

    easd(easd_server, "device", "wipe", device_name(easd_server, phone))
    assert device_json(easd_server, phone)["wipe"] == "pending"
    assert folder_sync(phone, "0").status == "140"

    directive = provision_answer(phone)
    assert child(directive, "Provision.RemoteWipe") is not None, "Provision lacks RemoteWipe"
    acked = provision_answer(phone, wipe_ack=True)
    assert child_text(acked, "Provision.Status") == "1"

    row = device_json(easd_server, phone)
    assert row is None or row["wipe"] == "done", f"after the wipe ack: {row}"
    try:
        after = folder_sync(phone, "0")
    except requests.HTTPError as refused:
        assert refused.response.status_code in (403, 449)
    else:
        assert after.status != "1", "a wiped device must not sync again"
