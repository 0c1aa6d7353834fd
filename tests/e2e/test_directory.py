"""The company directory end to end: a colleague added and described with the real
``easd user add`` / ``easd user set`` (through the running daemon's control socket), then
found by pyactivesync as an independent EAS 16.1 client: GAL Search (``search_gal``),
ResolveRecipients with Availability (built with pyactivesync's WBXML codec: its
``resolve_recipients`` sends no Options), and Find over the GAL and the mailbox
(``find_gal``, ``find_mailbox``).

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees. Names carry a
random tag: the server is shared by the whole session. Alice is at example.com; the GAL
shows her own domain's accounts (the default scope), so colleagues are made there.
"""
from __future__ import annotations

import subprocess
import uuid

import pytest
from pyactivesync import Client

from eashelpers import child, child_text, children, lmtp_deliver, post, wtag

pytestmark = pytest.mark.directory

CLI_TIMEOUT_S = 30


def cli(server, *args: str, stdin: str | None = None) -> str:
    """Runs ``easd --data DIR ARGS...``; it must succeed."""
    res = subprocess.run(
        [str(server.bin), "--data", str(server.data_dir), *args],
        input=stdin, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
    )
    assert res.returncode == 0, f"easd {' '.join(args)}: {res.stdout}{res.stderr}"
    return res.stdout


def colleague(server, title: str) -> tuple[str, str, str]:
    """A new account at alice's domain with a directory entry; (tag, address, display name)."""
    tag = uuid.uuid4().hex[:8]
    email = f"colleague.{tag}@example.com"
    name = f"Zed{tag} Colleague"
    cli(server, "user", "add", email, "--password-stdin", stdin="pw-" + tag + "-long-enough\n")
    cli(server, "user", "set", email, f"name={name}", f"first_name=Zed{tag}",
        "last_name=Colleague", f"title={title}", "phone=+33 1 23 45 67 89")
    return tag, email, name


def test_gal_search_finds_a_colleague(easd_server, alice: Client) -> None:
    """ASSERTS: a GAL Search for a prefix of a colleague's first name returns exactly that
    colleague, with the address, title, phone and names set by ``easd user set``."""
    tag, email, name = colleague(easd_server, "Buyer")
    entries = alice.search_gal(f"zed{tag[:4]}")
    assert [e.email_address for e in entries] == [email]
    e = entries[0]
    assert (e.display_name, e.title, e.phone) == (name, "Buyer", "+33 1 23 45 67 89")
    assert (e.first_name, e.last_name) == (f"Zed{tag}", "Colleague")
    assert alice.search_gal(f"nobody{tag}") == []


def test_resolve_recipients_resolves_a_colleague_with_availability(easd_server, alice: Client) -> None:
    """ASSERTS: ResolveRecipients resolves a colleague's address (Status 1, Type 1 GAL) and,
    with Availability, answers a MergedFreeBusy of one digit per 30 minutes in which the
    hour of the colleague's imported meeting is busy (2) and the rest is free (0)."""
    _, email, name = colleague(easd_server, "Planner")
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\n"
           f"UID:{uuid.uuid4()}@e2e\r\nDTSTAMP:20291201T000000Z\r\n"
           "DTSTART:20300107T100000Z\r\nDTEND:20300107T110000Z\r\nSUMMARY:Busy hour\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n")
    path = easd_server.data_dir.parent / f"{uuid.uuid4().hex}.ics"
    path.write_text(ics)
    cli(easd_server, "import", "--user", email, "--folder", "Calendar", str(path))

    request = wtag("ResolveRecipients", "ResolveRecipients", children=[
        wtag("ResolveRecipients", "To", text=email),
        wtag("ResolveRecipients", "Options", children=[
            wtag("ResolveRecipients", "Availability", children=[
                wtag("ResolveRecipients", "StartTime", text="2030-01-07T08:00:00.000Z"),
                wtag("ResolveRecipients", "EndTime", text="2030-01-07T12:00:00.000Z"),
            ]),
        ]),
    ])
    nodes = post(alice, "ResolveRecipients", request)
    root = next(n for n in nodes if n[0] == "ResolveRecipients.ResolveRecipients")
    assert child_text(root, "ResolveRecipients.Status") == "1"
    response = child(root, "ResolveRecipients.Response")
    assert child_text(response, "ResolveRecipients.Status") == "1"
    recipients = children(response, "ResolveRecipients.Recipient")
    assert len(recipients) == 1
    r = recipients[0]
    assert child_text(r, "ResolveRecipients.Type") == "1"
    assert child_text(r, "ResolveRecipients.EmailAddress") == email
    assert child_text(r, "ResolveRecipients.DisplayName") == name
    availability = child(r, "ResolveRecipients.Availability")
    assert child_text(availability, "ResolveRecipients.Status") == "1"
    # 08:00-12:00: eight slots, 10:00-11:00 busy.
    assert child_text(availability, "ResolveRecipients.MergedFreeBusy") == "00002200"

    # pyactivesync's own call resolves the address too.
    [plain] = alice.resolve_recipients(email)
    assert (plain.type, plain.email_address) == ("1", email)


def test_find_finds_a_colleague_and_a_message(easd_server, alice: Client) -> None:
    """ASSERTS: Find (16.1) with GALSearchCriterion finds a colleague by name prefix, with
    the GAL properties; with MailBoxSearchCriterion it finds a message delivered to alice
    by a word of its body, with its subject, and nothing for a word no message holds."""
    tag, email, name = colleague(easd_server, "Analyst")
    gal = alice.find_gal(f"zed{tag}")
    assert gal.status == "1"
    assert [i.fields.get("GAL.EmailAddress") for i in gal.items] == [email]
    assert gal.items[0].fields.get("GAL.DisplayName") == name
    assert gal.items[0].fields.get("GAL.Title") == "Analyst"

    word = f"quokka{tag}"
    lmtp_deliver(easd_server, easd_server.alice.email, f"Report {tag}", f"The {word} figures.")
    found = alice.find_mailbox(word)
    assert found.status == "1"
    assert [i.fields.get("Email.Subject") for i in found.items] == [f"Report {tag}"]
    assert found.items[0].server_id and found.items[0].collection_id
    assert alice.find_mailbox(f"absent{tag}").items == []
