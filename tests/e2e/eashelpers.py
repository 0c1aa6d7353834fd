"""Thin helpers over pyactivesync's lower-level API for commands/details its
public ``Client`` methods do not expose.

Everything here reuses pyactivesync's own WBXML codec
(``pyactivesync._wbxml.WBXMLWriter/WBXMLReader/wtag``) and its transport
(``Client._post`` -> ``_http.Transport.post``: same URL, query string, headers,
Basic auth and X-MS-PolicyKey as every public method). No hand-rolled WBXML.
Both are private (underscore) APIs of pyactivesync 0.17.0, hence the pin.
"""
from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests
from pyactivesync import Client, FolderType
from pyactivesync._codepages import CODEPAGES, PAGE_INDEX, PAGE_ORDER, REVERSE
from pyactivesync._wbxml import Node, NodeBuilder, WBXMLReader, WBXMLWriter, wtag

__all__ = [
    "inbox_id", "lmtp_deliver", "lmtp_deliver_message", "pim_pages", "post_as_version",
    "FolderChanges", "Node", "children", "child", "child_text", "descendants",
    "folder_sync", "post", "record_http", "register_settings_tokens", "wtag",
]

# pyactivesync 0.17.0's Settings code page (18) lacks the UserInformation
# subtree and a few DeviceInformation tokens. Values from [MS-ASWBXML] 2.1.2.1.19.
_MISSING_SETTINGS_TOKENS = {
    "DevicePassword": 0x14, "Password": 0x15,
    "UserInformation": 0x1D, "EmailAddresses": 0x1E, "SMTPAddress": 0x1F,
    "EnableOutboundSMS": 0x21, "MobileOperator": 0x22, "PrimarySmtpAddress": 0x23,
    "Accounts": 0x24, "Account": 0x25, "AccountId": 0x26, "AccountName": 0x27,
    "UserDisplayName": 0x28, "SendDisabled": 0x29, "RightsManagementInformation": 0x2B,
}


# ... and its ResolveRecipients code page (10) stops at CertificateCount: the
# Availability and Picture tokens, from [MS-ASWBXML] 2.1.2.1.11.
_MISSING_RESOLVE_RECIPIENTS_TOKENS = {
    "Availability": 0x16, "StartTime": 0x17, "EndTime": 0x18, "MergedFreeBusy": 0x19,
    "Picture": 0x1A, "MaxSize": 0x1B, "Data": 0x1C, "MaxPictures": 0x1D,
}


def register_settings_tokens() -> None:
    """Extend pyactivesync's codepage tables in-process (writer and reader)."""
    for page_name, tokens in (("Settings", _MISSING_SETTINGS_TOKENS),
                              ("ResolveRecipients", _MISSING_RESOLVE_RECIPIENTS_TOKENS)):
        page = PAGE_INDEX[page_name]
        for name, token in tokens.items():
            existing = CODEPAGES[page_name].get(name)
            assert existing in (None, token), f"pyactivesync maps {page_name}.{name} to {existing:#x}"
            CODEPAGES[page_name][name] = token
            REVERSE[page][token] = name


register_settings_tokens()

# Code pages pyactivesync 0.17.0 does not have at all (it syncs no calendar and sends no
# MeetingResponse), and AirSyncBase tokens of 16.x calendar items. Values from
# [MS-ASWBXML] 2.1.2.1.5 (Calendar), 2.1.2.1.9 (MeetingResponse), 2.1.2.1.18
# (AirSyncBase).
_PIM_PAGES = {
    "Calendar": (4, {
        "Timezone": 0x05, "AllDayEvent": 0x06, "Attendees": 0x07, "Attendee": 0x08,
        "Email": 0x09, "Name": 0x0A, "BusyStatus": 0x0D, "Categories": 0x0E,
        "Category": 0x0F, "DtStamp": 0x11, "EndTime": 0x12, "Exception": 0x13,
        "Exceptions": 0x14, "Deleted": 0x15, "ExceptionStartTime": 0x16, "Location": 0x17,
        "MeetingStatus": 0x18, "OrganizerEmail": 0x19, "OrganizerName": 0x1A,
        "Recurrence": 0x1B, "Type": 0x1C, "Until": 0x1D, "Occurrences": 0x1E,
        "Interval": 0x1F, "DayOfWeek": 0x20, "DayOfMonth": 0x21, "WeekOfMonth": 0x22,
        "MonthOfYear": 0x23, "Reminder": 0x24, "Sensitivity": 0x25, "Subject": 0x26,
        "StartTime": 0x27, "UID": 0x28, "AttendeeStatus": 0x29, "AttendeeType": 0x2A,
        "DisallowNewTimeProposal": 0x33, "ResponseRequested": 0x34,
        "AppointmentReplyTime": 0x35, "ResponseType": 0x36, "CalendarType": 0x37,
        "IsLeapMonth": 0x38, "FirstDayOfWeek": 0x39, "ClientUid": 0x3C,
    }),
    "MeetingResponse": (8, {
        "CalendarId": 0x05, "CollectionId": 0x06, "MeetingResponse": 0x07,
        "RequestId": 0x08, "Request": 0x09, "Result": 0x0A, "Status": 0x0B,
        "UserResponse": 0x0C, "InstanceId": 0x0E, "SendResponse": 0x12,
    }),
}
_PIM_TOKENS = {"AirSyncBase": {"Location": 0x20, "InstanceId": 0x2D}}


@contextmanager
def pim_pages() -> Iterator[None]:
    """The Calendar and MeetingResponse pages (and 16.x AirSyncBase calendar tokens) known
    to pyactivesync's codec for the block, then its own tables again (other suites check
    the page/token names it reports for what it does not know)."""
    saved_pages = {n: (PAGE_INDEX.get(n), CODEPAGES.get(n)) for n in _PIM_PAGES}
    saved_reverse = {p: REVERSE.get(p) for p, _ in _PIM_PAGES.values()}
    saved_order = {p: PAGE_ORDER.get(p) for p, _ in _PIM_PAGES.values()}
    saved_tokens = {n: dict(CODEPAGES[n]) for n in _PIM_TOKENS}
    saved_tokens_rev = {n: dict(REVERSE[PAGE_INDEX[n]]) for n in _PIM_TOKENS}
    try:
        for name, (page, tokens) in _PIM_PAGES.items():
            assert PAGE_INDEX.get(name, page) == page, f"pyactivesync puts {name} elsewhere"
            CODEPAGES[name] = dict(tokens)
            PAGE_INDEX[name] = page
            PAGE_ORDER[page] = name
            REVERSE[page] = {tok: tag for tag, tok in tokens.items()}
        for name, tokens in _PIM_TOKENS.items():
            for tag, token in tokens.items():
                existing = CODEPAGES[name].get(tag)
                assert existing in (None, token), f"pyactivesync maps {name}.{tag} to {existing}"
                CODEPAGES[name][tag] = token
                REVERSE[PAGE_INDEX[name]][token] = tag
        yield
    finally:
        for name, (page, tokens) in saved_pages.items():
            if page is None:
                PAGE_INDEX.pop(name, None)
                CODEPAGES.pop(name, None)
            else:
                PAGE_INDEX[name] = page
                CODEPAGES[name] = tokens
        for page, rev in saved_reverse.items():
            if rev is None:
                REVERSE.pop(page, None)
            else:
                REVERSE[page] = rev
        for page, name in saved_order.items():
            if name is None:
                PAGE_ORDER.pop(page, None)
            else:
                PAGE_ORDER[page] = name
        for name, tokens in saved_tokens.items():
            CODEPAGES[name].clear()
            CODEPAGES[name].update(tokens)
            rev = REVERSE[PAGE_INDEX[name]]
            rev.clear()
            rev.update(saved_tokens_rev[name])


# -- request plumbing ---------------------------------------------------------------


def render(root: NodeBuilder) -> bytes:
    w = WBXMLWriter()
    root(w)
    return w.render()


def post(client: Client, cmd: str, root: NodeBuilder, *, provision: bool = True) -> list[Node]:
    """POST one command through pyactivesync's transport; return the parsed WBXML tree.

    Raises ``requests.HTTPError`` on a non-2xx status (as pyactivesync does).
    An empty 200 body is reported as an assertion failure (pyactivesync's
    reader would crash with IndexError on it for every command but Sync/SendMail).
    """
    if provision:
        client._ensure_provisioned()
    raw = client._post(cmd, render(root))
    assert raw, f"{cmd}: empty response body"
    return WBXMLReader(raw).parse()


def post_as_version(client: Client, cmd: str, root: NodeBuilder, version: str) -> list[Node]:
    """POST one command as a device of another protocol version (pyactivesync always says
    16.1): the same session, URL, query, Basic auth and policy key as its transport, with
    ``MS-ASProtocolVersion: version``."""
    client._ensure_provisioned()
    t = client._transport
    headers = {"Content-Type": "application/vnd.ms-sync.wbxml", "MS-ASProtocolVersion": version}
    if t.policy_key:
        headers["X-MS-PolicyKey"] = t.policy_key
    resp = t.session.post(
        t.base_url,
        params={"Cmd": cmd, "User": client.user, "DeviceId": t.device_id,
                "DeviceType": t.device_type},
        data=render(root), headers=headers, timeout=t.timeout,
    )
    resp.raise_for_status()
    assert resp.content, f"{cmd}: empty response body"
    return WBXMLReader(resp.content).parse()


@dataclass
class HttpLog:
    responses: list[requests.Response] = field(default_factory=list)

    def commands(self) -> list[str]:
        return [_query(r.request.url).get("Cmd", "") for r in self.responses]


def _query(url: str | None) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url or "").query))


def record_http(client: Client) -> HttpLog:
    """Record every HTTP exchange the client's requests.Session makes (request via resp.request)."""
    log = HttpLog()

    def hook(resp: requests.Response, *args: object, **kwargs: object) -> None:
        log.responses.append(resp)

    client._transport.session.hooks["response"].append(hook)
    return log


def query_of(resp: requests.Response) -> dict[str, str]:
    return _query(resp.request.url)


# -- tree navigation (direct children only, unlike pyactivesync's recursive find) ---------


def root_of(nodes: list[Node], name: str) -> Node:
    roots = [n for n in nodes if not n[0].startswith("#")]
    assert len(roots) == 1, f"expected one root element, got {[n[0] for n in roots]}"
    assert roots[0][0] == name, f"expected root {name}, got {roots[0][0]}"
    return roots[0]


def children(node: Node, name: str) -> list[Node]:
    return [c for c in node[2] if c[0] == name]


def child(node: Node, name: str) -> Node | None:
    found = children(node, name)
    assert len(found) <= 1, f"{node[0]}: more than one {name}"
    return found[0] if found else None


def text(node: Node | None) -> str | None:
    if node is None:
        return None
    for name, value, _ in node[2]:
        if name == "#text":
            assert isinstance(value, str)
            return value
    return None


def child_text(node: Node, name: str) -> str | None:
    return text(child(node, name))


def descendants(node: Node, name: str) -> list[Node]:
    out: list[Node] = []
    for c in node[2]:
        if c[0] == name:
            out.append(c)
        out.extend(descendants(c, name))
    return out


# -- FolderSync with an explicit SyncKey (pyactivesync's list_folders always sends 0) ---


@dataclass
class FolderEntry:
    server_id: str | None
    parent_id: str | None
    display_name: str | None
    type: str | None


@dataclass
class FolderChanges:
    status: str | None
    sync_key: str | None
    count: str | None
    adds: list[FolderEntry]
    updates: list[FolderEntry]
    deletes: list[str | None]


def _entry(node: Node) -> FolderEntry:
    return FolderEntry(
        server_id=child_text(node, "FolderHierarchy.ServerId"),
        parent_id=child_text(node, "FolderHierarchy.ParentId"),
        display_name=child_text(node, "FolderHierarchy.DisplayName"),
        type=child_text(node, "FolderHierarchy.Type"),
    )


def folder_sync(client: Client, sync_key: str) -> FolderChanges:
    nodes = post(
        client, "FolderSync",
        wtag("FolderHierarchy", "FolderSync", children=[wtag("FolderHierarchy", "SyncKey", text=sync_key)]),
    )
    root = root_of(nodes, "FolderHierarchy.FolderSync")
    changes = child(root, "FolderHierarchy.Changes")
    cnodes = changes[2] if changes is not None else []
    return FolderChanges(
        status=child_text(root, "FolderHierarchy.Status"),
        sync_key=child_text(root, "FolderHierarchy.SyncKey"),
        count=child_text(changes, "FolderHierarchy.Count") if changes is not None else None,
        adds=[_entry(n) for n in cnodes if n[0] == "FolderHierarchy.Add"],
        updates=[_entry(n) for n in cnodes if n[0] == "FolderHierarchy.Update"],
        deletes=[child_text(n, "FolderHierarchy.ServerId") for n in cnodes if n[0] == "FolderHierarchy.Delete"],
    )


# -- mail in, folders ---------------------------------------------------------------------


def lmtp_deliver(server, to: str, subject: str, body: str, *,
                 sender: str = "Sender <sender@remote.test>",
                 attachment: bytes | None = None) -> None:
    """Deliver one message over LMTP (``server.lmtp_addr``); the recipient must get 250."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@remote.test>"
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream",
                           filename="blob.bin")
    lmtp_deliver_message(server, to, msg)


def lmtp_deliver_message(server, to: str, msg: EmailMessage) -> None:
    """Deliver ``msg`` as it is over LMTP; the recipient must get 250."""
    host, port = server.lmtp_addr
    with smtplib.LMTP(host, port, timeout=15) as lmtp:
        code, _ = lmtp.ehlo()  # smtplib.LMTP sends LHLO
        assert code == 250
        refused = lmtp.send_message(msg, from_addr="sender@remote.test", to_addrs=[to])
        assert refused == {}, f"LMTP refused {refused}"


def inbox_id(client: Client) -> str:
    inboxes = [f.id for f in client.list_folders() if f.type == FolderType.INBOX]
    assert len(inboxes) == 1, inboxes
    return inboxes[0]
