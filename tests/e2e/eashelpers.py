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
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests
from pyactivesync import Client, FolderType
from pyactivesync._codepages import CODEPAGES, PAGE_INDEX, REVERSE
from pyactivesync._wbxml import Node, NodeBuilder, WBXMLReader, WBXMLWriter, wtag

__all__ = [
    "inbox_id", "lmtp_deliver", "lmtp_deliver_message",
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
