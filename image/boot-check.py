#!/usr/bin/env python3
"""EAS check of a booted appliance image, run from the host by image/boot-test.sh.

FolderSync, then Sync of the Inbox (SyncKey 0, then until MoreAvailable ends) with the
independent client pyactivesync (0.17.0, the version tests/e2e pins), and looks for a
message with the given Subject. Prints one JSON line; exit 0 when the Subject is found.

usage: boot-check.py HOST:PORT EMAIL PASSWORD SUBJECT [CA_FILE|insecure]
"""
from __future__ import annotations

import json
import sys
import time
import uuid

from pyactivesync import Client, FolderType


def main() -> int:
    host, email, password, subject = sys.argv[1:5]
    verify: str | bool = sys.argv[5] if len(sys.argv) > 5 else "insecure"
    if verify == "insecure":
        verify = False
    t0 = time.monotonic()
    client = Client(host, email, password, device_id="boot" + uuid.uuid4().hex[:20],
                    verify_ssl=verify, timeout=120)  # type: ignore[arg-type]
    client._transport.session.trust_env = False  # no proxies / CA bundle from the environment
    out: dict[str, object] = {}
    try:
        folders = client.list_folders()
        out["folders"] = len(folders)
        inbox = [f.id for f in folders if f.type == FolderType.INBOX]
        out["inbox"] = inbox
        if len(inbox) != 1:
            out["error"] = "no single Inbox in FolderSync"
            print(json.dumps(out))
            return 1
        first = client.sync_folder(inbox[0], "0")
        key, subjects = first.sync_key, []
        for _ in range(50):
            r = client.sync_folder(inbox[0], key, window_size=100)
            key = r.sync_key
            subjects += [i.fields.get("Email.Subject") for i in r.added]
            if not r.more_available:
                break
        out["subjects"] = subjects
        out["found"] = subject in subjects
    except Exception as e:  # report, do not hide: the shell prints this line
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        out["seconds"] = round(time.monotonic() - t0, 1)
        client.close() if hasattr(client, "close") else None
    print(json.dumps(out))
    return 0 if out.get("found") else 1


if __name__ == "__main__":
    sys.exit(main())
