"""Mailbox Search end to end: messages delivered over LMTP (Python's ``smtplib.LMTP``) to the
real ``easd`` binary, then found with the EAS ``Search`` command (Store Mailbox) as the
independent EAS 16.1 client pyactivesync sends commands.

pyactivesync 0.17.0 has no FreeText Mailbox Search of its own: ``search_mailbox(free_text=)``
goes through the 16.1 ``Find`` command instead. The Search requests here are therefore
built with its WBXML codec and sent through its transport (``eashelpers.post``), like the
other gaps in ``eashelpers``.

Every test's docstring starts with ``ASSERTS:`` -- what a pass guarantees. Words carry a
random tag: the server (and alice's mailbox) is shared by the whole session.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from pyactivesync import Client, FolderType

from eashelpers import child, child_text, children, inbox_id, lmtp_deliver, post, root_of, wtag

pytestmark = pytest.mark.mail

USER_MAIL = FolderType(12)


def tag() -> str:
    return uuid.uuid4().hex[:10]




@dataclass
class Hit:
    long_id: str
    collection_id: str | None
    subject: str | None
    sender: str | None


@dataclass
class Found:
    store_status: str | None
    total: int | None
    range: str | None
    hits: list[Hit]

    def subjects(self) -> list[str | None]:
        return [h.subject for h in self.hits]


def search(client: Client, words: str, *, folder: str | None = None, deep: bool = False,
           range_: str | None = None) -> Found:
    """Search Store=Mailbox with FreeText ``words`` ([MS-ASCMD] 2.2.1.16)."""
    conditions = [wtag("AirSync", "Class", text="Email")]
    if folder is not None:
        conditions.append(wtag("AirSync", "CollectionId", text=folder))
    conditions.append(wtag("Search", "FreeText", text=words))
    options = []
    if range_ is not None:
        options.append(wtag("Search", "Range", text=range_))
    if deep:
        options.append(wtag("Search", "DeepTraversal"))
    options.append(wtag("AirSyncBase", "BodyPreference", children=[
        wtag("AirSyncBase", "Type", text="1"),
        wtag("AirSyncBase", "TruncationSize", text="200"),
    ]))
    store = [
        wtag("Search", "Name", text="Mailbox"),
        wtag("Search", "Query", children=[wtag("Search", "And", children=conditions)]),
        wtag("Search", "Options", children=options),
    ]
    nodes = post(client, "Search", wtag("Search", "Search", children=[wtag("Search", "Store", children=store)]))
    root = root_of(nodes, "Search.Search")
    assert child_text(root, "Search.Status") == "1", root
    response = child(root, "Search.Response")
    assert response is not None, root
    st = child(response, "Search.Store")
    assert st is not None, response
    hits = []
    for r in children(st, "Search.Result"):
        assert child_text(r, "AirSync.Class") == "Email"
        long_id = child_text(r, "Search.LongId")
        assert long_id, f"a Result without LongId: {r}"
        props = child(r, "Search.Properties")
        assert props is not None, r
        hits.append(Hit(
            long_id=long_id,
            collection_id=child_text(r, "AirSync.CollectionId"),
            subject=child_text(props, "Email.Subject"),
            sender=child_text(props, "Email.From"),
        ))
    total = child_text(st, "Search.Total")
    return Found(
        store_status=child_text(st, "Search.Status"),
        total=int(total) if total is not None else None,
        range=child_text(st, "Search.Range"),
        hits=hits,
    )


def fetch_by_long_id(client: Client, long_id: str) -> dict[str, str | None]:
    """ItemOperations Fetch of a search result by its LongId alone."""
    nodes = post(client, "ItemOperations", wtag("ItemOperations", "ItemOperations", children=[
        wtag("ItemOperations", "Fetch", children=[
            wtag("ItemOperations", "Store", text="Mailbox"),
            wtag("Search", "LongId", text=long_id),
            wtag("ItemOperations", "Options", children=[
                wtag("AirSyncBase", "BodyPreference", children=[wtag("AirSyncBase", "Type", text="1")]),
            ]),
        ]),
    ]))
    root = root_of(nodes, "ItemOperations.ItemOperations")
    assert child_text(root, "ItemOperations.Status") == "1", root
    response = child(root, "ItemOperations.Response")
    fetch = child(response, "ItemOperations.Fetch")
    props = child(fetch, "ItemOperations.Properties")
    body = child(props, "AirSyncBase.Body") if props is not None else None
    return {
        "status": child_text(fetch, "ItemOperations.Status"),
        "subject": child_text(props, "Email.Subject") if props is not None else None,
        "body": child_text(body, "AirSyncBase.Data") if body is not None else None,
    }


def test_search_by_subject_sender_and_body_words(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: a FreeText Mailbox search finds a message by a word of its subject, of its
    body, of its sender's address (the word and the whole address), and by several words at
    once (all must match); results are newest first, carry a LongId of the form
    ``folder:item`` in the searched folder and the message's Subject and From; a LongId
    fetches the message with ItemOperations; a word nobody used finds nothing (Total 0)."""
    t = tag()
    lmtp_deliver(easd_server, easd_server.alice.email, f"Alpha subj{t} {t}", "Nothing to see here.")
    lmtp_deliver(easd_server, easd_server.alice.email, f"Beta {t}", f"The word body{t} sits in the body only.")
    lmtp_deliver(easd_server, easd_server.alice.email, f"Gamma {t}", "From a particular sender.",
                 sender=f"Rhea Quill <rhea{t}@remote.test>")
    client = make_client(easd_server.alice)
    inbox = inbox_id(client)

    found = search(client, f"subj{t}")
    assert found.store_status == "1"
    assert found.subjects() == [f"Alpha subj{t} {t}"] and found.total == 1
    hit = found.hits[0]
    folder, _, item = hit.long_id.partition(":")
    assert folder == inbox and item.isdigit(), hit.long_id
    assert hit.collection_id == inbox

    assert search(client, f"body{t}").subjects() == [f"Beta {t}"]
    by_sender = search(client, f"rhea{t}")
    assert by_sender.subjects() == [f"Gamma {t}"]
    assert f"rhea{t}@remote.test" in (by_sender.hits[0].sender or "")
    assert search(client, f"rhea{t}@remote.test").subjects() == [f"Gamma {t}"]
    # A prefix of a word matches it.
    assert search(client, f"rhea{t[:6]}").subjects() == [f"Gamma {t}"]

    everything = search(client, t)
    assert everything.subjects() == [f"Gamma {t}", f"Beta {t}", f"Alpha subj{t} {t}"], "newest first"
    assert everything.total == 3 and everything.range == "0-2"
    assert len({h.long_id for h in everything.hits}) == 3
    # Every word must match.
    assert search(client, f"{t} body{t}").subjects() == [f"Beta {t}"]
    assert search(client, f"subj{t} body{t}").hits == []

    fetched = fetch_by_long_id(client, hit.long_id)
    assert fetched["status"] == "1"
    assert fetched["subject"] == f"Alpha subj{t} {t}"
    assert "Nothing to see here." in (fetched["body"] or "")

    none = search(client, f"nomatch{t}")
    assert none.store_status == "1" and none.total == 0 and none.hits == [] and none.range is None


def test_search_per_folder_and_deep_traversal(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: a search limited to the Inbox (CollectionId) leaves out a message moved into
    a subfolder of the Inbox; with DeepTraversal it finds it too, with the subfolder as its
    CollectionId and LongId; a search of the subfolder finds only that message; a search
    without CollectionId covers every folder."""
    t = tag()
    lmtp_deliver(easd_server, easd_server.alice.email, f"Stays {t}", "in the Inbox")
    lmtp_deliver(easd_server, easd_server.alice.email, f"Moves {t}", "into the subfolder")
    client = make_client(easd_server.alice)
    inbox = inbox_id(client)
    sub = client.create_folder(f"Search {t}", inbox, USER_MAIL).id
    try:
        moving = search(client, f"moves {t}")
        assert moving.subjects() == [f"Moves {t}"]
        new_id = client.move_item(moving.hits[0].long_id, inbox, sub)
        assert new_id.startswith(f"{sub}:")

        flat = search(client, t, folder=inbox)
        assert flat.subjects() == [f"Stays {t}"] and flat.total == 1
        deep = search(client, t, folder=inbox, deep=True)
        assert sorted(deep.subjects()) == [f"Moves {t}", f"Stays {t}"] and deep.total == 2
        moved = [h for h in deep.hits if h.subject == f"Moves {t}"][0]
        assert moved.long_id == new_id and moved.collection_id == sub

        only_sub = search(client, t, folder=sub)
        assert [(h.subject, h.long_id) for h in only_sub.hits] == [(f"Moves {t}", new_id)]
        assert sorted(search(client, t).subjects()) == [f"Moves {t}", f"Stays {t}"]
    finally:
        client.delete_folder(sub)
    # The folder's items left the index with it.
    assert search(client, t).subjects() == [f"Stays {t}"]


def test_search_range_pages_through_the_results(easd_server, make_client: Callable[..., Client]):
    """ASSERTS: Range pages a search: 0-1 gives the two newest of five matches with Total 5
    and Range 0-1; 2-9 gives the remaining three with Range 2-4; together they are the five
    messages, each once."""
    t = tag()
    for i in range(5):
        lmtp_deliver(easd_server, easd_server.alice.email, f"Page {i} many{t}", f"message {i}")
    client = make_client(easd_server.alice)

    first = search(client, f"many{t}", range_="0-1")
    assert first.total == 5 and first.range == "0-1"
    assert first.subjects() == [f"Page 4 many{t}", f"Page 3 many{t}"]
    rest = search(client, f"many{t}", range_="2-9")
    assert rest.total == 5 and rest.range == "2-4"
    assert rest.subjects() == [f"Page {i} many{t}" for i in (2, 1, 0)]
    ids = [h.long_id for h in first.hits + rest.hits]
    assert len(set(ids)) == 5
