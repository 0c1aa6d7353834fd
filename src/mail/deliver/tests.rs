use super::*;
use crate::store::Store;
use crate::store::items::ItemReads;

fn message(subject: &str) -> Vec<u8> {
    format!("From: a@example.com\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\r\nhello\r\n")
        .into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn subjects(rt: &tokio::runtime::Runtime, store: &Store, account: AccountId) -> Vec<String> {
    rt.block_on(store.view(move |tx| -> Result<Vec<String>, StoreError> {
        let inbox = tx
            .folders(account)?
            .into_iter()
            .find(|f| f.kind == FolderType::Inbox)
            .unwrap();
        let mut s: Vec<String> = tx
            .folder_items(account, inbox.id)?
            .into_iter()
            .map(|i| i.meta.subject)
            .collect();
        s.sort();
        Ok(s)
    }))
    .unwrap()
}

#[test]
fn a_read_right_after_the_acknowledgement_sees_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let store = Store::open(dir.path()).unwrap();
    let bob = store
        .write_blocking(|w| ops::create_account(w, "bob@example.com", "", "h", false))
        .unwrap()
        .id;
    // Acknowledged, not awaited: the writer may still be gathering its batch.
    let applied = rt.block_on(accept(&store, &[bob], message("now"))).unwrap();
    assert_eq!(subjects(&rt, &store, bob), ["now"]);
    assert_eq!(rt.block_on(applied.into_future()).unwrap().len(), 1);
}

#[test]
fn deliveries_lost_before_their_commit_are_applied_again_at_the_next_open_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let bob = {
        let store = Store::open(dir.path()).unwrap();
        let bob = store
            .write_blocking(|w| ops::create_account(w, "bob@example.com", "", "h", false))
            .unwrap()
            .id;
        rt.block_on(deliver(&store, &[bob], message("kept")))
            .unwrap();
        // Two acknowledged deliveries whose commit a crash took: the bodies and the
        // journal records are on disk, the database knows nothing of them.
        for subject in ["lost 1", "lost 2"] {
            let raw = message(subject);
            let blob = store.blobs().put_deferred(&raw).unwrap();
            store.journal_without_applying(&JournaledDelivery {
                accounts: vec![bob],
                blob,
                received: now(),
            });
        }
        bob
    };
    let store = Store::open(dir.path()).unwrap();
    // Reads do not wait for them, and nothing new is journaled before them.
    assert_eq!(subjects(&rt, &store, bob), ["kept"]);
    assert!(
        rt.block_on(deliver(&store, &[bob], message("early")))
            .is_err()
    );
    assert_eq!(rt.block_on(replay(&store)).unwrap(), 2);
    rt.block_on(deliver(&store, &[bob], message("after")))
        .unwrap();
    assert_eq!(
        subjects(&rt, &store, bob),
        ["after", "kept", "lost 1", "lost 2"]
    );
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(rt.block_on(replay(&store)).unwrap(), 0, "applied once");
    assert_eq!(
        subjects(&rt, &store, bob),
        ["after", "kept", "lost 1", "lost 2"]
    );
}
