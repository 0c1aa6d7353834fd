use super::folders::{self, FolderError};
use super::model::*;
use super::ops::{self, Reads};
use super::*;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn add(store: &Store, email: &'static str) -> Account {
    store
        .write_blocking(move |ctx| ops::create_account(ctx, email, "Test", "hash", false))
        .unwrap()
}

#[test]
fn new_account_has_the_default_folders() {
    let (_dir, store) = open();
    let a = add(&store, "Alice@Example.com");
    assert_eq!(a.email, "alice@example.com");
    let folders = store.sync_snapshot().unwrap().folders(a.id).unwrap();
    let kinds: Vec<u8> = folders.iter().map(|f| f.kind as u8).collect();
    assert_eq!(kinds, [2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
    assert!(folders.iter().all(|f| f.special && f.parent == ROOT_FOLDER));
}

#[test]
fn duplicate_account_is_a_conflict_and_leaves_no_trace() {
    let (_dir, store) = open();
    add(&store, "bob@example.org");
    let err = store
        .write_blocking(|ctx| ops::create_account(ctx, "BOB@example.org", "x", "h", false))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.sync_snapshot().unwrap().accounts().unwrap().len(), 1);
}

#[test]
fn invalid_addresses_are_refused() {
    for bad in [
        "",
        "nodomain",
        "@x.org",
        "a@",
        "a@b@c.org",
        "a b@c.org",
        "a/b@c.org",
    ] {
        assert!(ops::normalize_email(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "carol@example.com");
        store
            .write_blocking(move |ctx| {
                folders::create(ctx, a.id, 1, "Projects", FolderType::UserMail)
                    .map_err(|e| StoreError::Invalid(e.to_string()))
            })
            .unwrap();
        a.id
    };
    let store = Store::open(dir.path()).unwrap();
    let names: Vec<String> = store
        .sync_snapshot()
        .unwrap()
        .folders(id)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert!(names.contains(&"Projects".to_string()));
}

#[test]
fn a_second_process_is_refused_while_open() {
    let (dir, _store) = open();
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Locked { .. })
    ));
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(tables::META)
            .unwrap()
            .insert(
                "schema_version",
                (SCHEMA_VERSION + 1).to_le_bytes().as_slice(),
            )
            .unwrap();
        tx.commit().unwrap();
    }
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(matches!(err, StoreError::NewerSchema { .. }));
    assert!(err.to_string().contains("newer easd"));
}

/// Writes `schema_version` straight into the database, as an older easd left it.
fn set_schema_version(dir: &Path, version: u32) {
    let db = redb::Database::create(dir.join("easd.redb")).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut meta = tx.open_table(tables::META).unwrap();
        meta.insert("schema_version", version.to_le_bytes().as_slice())
            .unwrap();
        meta.remove("upgraded_at").unwrap();
    }
    tx.commit().unwrap();
}

fn meta_value(store: &Store, key: &str) -> Option<Vec<u8>> {
    let tx = store.sync_snapshot().unwrap();
    let meta = tx.0.open_table(tables::META).unwrap();
    meta.get(key).unwrap().map(|v| v.value().to_vec())
}

#[test]
fn a_version_1_store_is_upgraded_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        add(&store, "old@example.com");
    }
    // Schema 1 had the same tables; only the recorded version (and no upgraded_at) differ.
    set_schema_version(dir.path(), 1);
    let before = now();
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    assert_eq!(SCHEMA_VERSION, 15);
    assert!(tx.account_by_email("old@example.com").unwrap().is_some());
    let at = meta_value(&store, "upgraded_at").expect("upgraded_at recorded");
    let at = i64::from_le_bytes(at.try_into().unwrap());
    assert!(at >= before && at <= now(), "{at}");
}

#[test]
fn a_new_store_records_no_upgrade() {
    let (_dir, store) = open();
    assert_eq!(
        schema_version(&store.sync_snapshot().unwrap()).unwrap(),
        Some(SCHEMA_VERSION)
    );
    assert!(meta_value(&store, "upgraded_at").is_none());
}

#[test]
fn a_failing_job_does_not_fail_the_jobs_grouped_with_it() {
    let (_dir, store) = open();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = store.write(|ctx| ops::create_account(ctx, "d1@example.com", "", "h", false));
        let b = store.write(|ctx| ops::create_account(ctx, "bad", "", "h", false));
        let c = store.write(|ctx| ops::create_account(ctx, "d2@example.com", "", "h", false));
        let (a, b, c) = tokio::join!(a, b, c);
        assert!(a.is_ok() && b.is_err() && c.is_ok());
    });
    assert_eq!(store.sync_snapshot().unwrap().accounts().unwrap().len(), 2);
}

/// Runs one folder operation in its own transaction.
fn folder_op<T: Send + 'static>(
    store: &Store,
    mut f: impl FnMut(&mut WriteCtx) -> Result<T, FolderError> + Send + 'static,
) -> Result<T, FolderError> {
    store.write_blocking(move |ctx| Ok(f(ctx))).unwrap()
}

#[test]
fn folder_rules() {
    let (_dir, store) = open();
    let a = add(&store, "erin@example.com").id;
    let s = &store;
    let created = folder_op(s, move |c| {
        folders::create(c, a, 1, "Work", FolderType::UserMail)
    })
    .unwrap()
    .id;
    let exists = folder_op(s, move |c| {
        folders::create(c, a, 1, "work", FolderType::UserMail)
    });
    assert!(matches!(exists, Err(FolderError::Exists)));
    let orphan = folder_op(s, move |c| {
        folders::create(c, a, 999, "X", FolderType::UserMail)
    });
    assert!(matches!(orphan, Err(FolderError::ParentNotFound)));
    let system = folder_op(s, move |c| folders::create(c, a, 0, "X", FolderType::Inbox));
    assert!(matches!(system, Err(FolderError::Invalid(_))));
    let del_inbox = folder_op(s, move |c| folders::delete(c, a, 1));
    assert!(matches!(del_inbox, Err(FolderError::Special)));
    let rename_inbox = folder_op(s, move |c| folders::update(c, a, 1, 0, "Renamed"));
    assert!(matches!(rename_inbox, Err(FolderError::Special)));
    let child = folder_op(s, move |c| {
        folders::create(c, a, created, "Sub", FolderType::UserMail)
    })
    .unwrap()
    .id;
    let into_own_subtree = folder_op(s, move |c| folders::update(c, a, created, child, "Work"));
    assert!(matches!(into_own_subtree, Err(FolderError::Invalid(_))));
    let renamed = folder_op(s, move |c| folders::update(c, a, child, 0, "Top")).unwrap();
    assert_eq!((renamed.parent, renamed.name.as_str()), (0, "Top"));
    let removed = folder_op(s, move |c| folders::delete(c, a, created)).unwrap();
    assert_eq!(removed, vec![created]);
    let gone = folder_op(s, move |c| folders::delete(c, a, created));
    assert!(matches!(gone, Err(FolderError::NotFound)));
}

#[test]
fn relaxed_commits_are_visible_at_once_and_durable_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = add(&store, "relaxed@example.com");
    for i in 0..(2 * 16 + 3) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(store.write_with(Durability::Relaxed, move |ctx| {
            ctx.tx
                .open_table(tables::META)?
                .insert("relaxed_test", (i as u64).to_le_bytes().as_slice())?;
            Ok(())
        }))
        .unwrap();
        // A relaxed commit is seen by the next reader.
        let seen = store
            .sync_snapshot()
            .unwrap()
            .0
            .open_table(tables::META)
            .unwrap()
            .get("relaxed_test")
            .unwrap()
            .map(|v| v.value().to_vec());
        assert_eq!(seen, Some((i as u64).to_le_bytes().to_vec()));
    }
    // A durable write after relaxed ones, then shutdown: everything is there on reopen.
    add(&store, "after@example.com");
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert!(tx.account(a.id).unwrap().is_some());
    assert!(tx.account_by_email("after@example.com").unwrap().is_some());
    let v =
        tx.0.open_table(tables::META)
            .unwrap()
            .get("relaxed_test")
            .unwrap()
            .map(|v| v.value().to_vec());
    assert_eq!(v, Some(34u64.to_le_bytes().to_vec()));
}

#[test]
fn a_version_2_store_gets_its_search_postings_in_blocks() {
    use crate::store::model::{Flags, MessageMeta};
    let dir = tempfile::tempdir().unwrap();
    let account = {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "index@example.com");
        store
            .write_blocking(move |w| {
                for (i, words) in ["budget plan", "lunch plan", "budget"].iter().enumerate() {
                    let meta = MessageMeta {
                        received: 1000 + i as i64,
                        search_terms: words.split(' ').map(str::to_owned).collect(),
                        ..MessageMeta::default()
                    };
                    let blob = BlobId::of(words.as_bytes());
                    super::items::insert(w, a.id, 1, blob, meta, Flags::default())?;
                }
                Ok(())
            })
            .unwrap();
        a.id
    };
    // Schema 2 kept one key per posting and the terms of each item, and had no blocks.
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::RUNS).unwrap();
        tx.delete_table(tables::DOCS).unwrap();
        tx.delete_table(tables::ITEM_DOCS).unwrap();
        let old: redb::TableDefinition<(AccountId, &str, FolderId, u64), ()> =
            redb::TableDefinition::new("search_postings");
        let item_terms: redb::TableDefinition<(AccountId, FolderId, u64), &[u8]> =
            redb::TableDefinition::new("search_item_terms");
        {
            let mut t = tx.open_table(old).unwrap();
            for (term, item) in [("budget", 1), ("plan", 1), ("lunch", 2), ("plan", 2)] {
                t.insert((account, term, 1, item), ()).unwrap();
            }
            t.insert((account, "budget", 1, 3), ()).unwrap();
            let mut t = tx.open_table(item_terms).unwrap();
            for (item, terms) in [(1, "budget\nplan"), (2, "lunch\nplan"), (3, "budget")] {
                t.insert((account, 1, item), terms.as_bytes()).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 2);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    let names: Vec<String> =
        tx.0.list_tables()
            .unwrap()
            .map(|t| redb::TableHandle::name(&t).to_owned())
            .collect();
    for gone in ["search_postings", "search_blocks", "search_item_terms"] {
        assert!(!names.iter().any(|n| n == gone), "{names:?}");
    }
    let hits = |q: &str| -> Vec<(u64, i64)> {
        search_index::search(&tx, account, &search_index::query_terms(q), |_| true)
            .unwrap()
            .iter()
            .map(|p| (p.item, p.received))
            .collect()
    };
    assert_eq!(hits("budget"), [(3, 1002), (1, 1000)]);
    assert_eq!(hits("plan"), [(2, 1001), (1, 1000)]);
    assert_eq!(hits("pl bud"), [(1, 1000)]);
}

#[test]
fn a_version_10_store_queues_new_postings_and_finds_its_old_ones() {
    use crate::store::model::{Flags, MessageMeta};
    let dir = tempfile::tempdir().unwrap();
    let deliver = |store: &Store, account: AccountId, i: u64, words: &'static str| {
        store
            .write_blocking(move |w| {
                let meta = MessageMeta {
                    received: 1000 + i as i64,
                    search_terms: search_index::query_terms(words),
                    ..MessageMeta::default()
                };
                let blob = BlobId::of(&i.to_le_bytes());
                Ok(super::items::insert(w, account, 1, blob, meta, Flags::default())?.id)
            })
            .unwrap()
    };
    // Messages stored by today's code with every posting in the blocks, and no queue
    // table: a store as schema 10 left it.
    let (account, old) = {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "queue@example.com");
        let old = [
            deliver(&store, a.id, 1, "budget plan"),
            deliver(&store, a.id, 2, "budget lunch"),
        ];
        store
            .write_blocking(|w| search_index::postings::merge_queued(w.tx))
            .unwrap();
        (a.id, old)
    };
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::PENDING).unwrap());
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 10);
    let store = Store::open(dir.path()).unwrap();
    let new = deliver(&store, account, 3, "budget review");
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    let queued = redb::ReadableTableMetadata::len(&tx.0.open_table(tables::PENDING).unwrap());
    assert_eq!(queued.unwrap(), 1);
    let hits = |q: &str| -> Vec<u64> {
        search_index::search(&tx, account, &search_index::query_terms(q), |_| true)
            .unwrap()
            .iter()
            .map(|p| p.item)
            .collect()
    };
    assert_eq!(hits("budget"), [new, old[1], old[0]]);
    assert_eq!(hits("bud rev"), [new]);
    assert_eq!(hits("lunch"), [old[1]]);
}

#[test]
fn a_version_6_index_converts_in_batches_and_resumes_after_a_kill() {
    use crate::store::model::{Flags, MessageMeta};
    let dir = tempfile::tempdir().unwrap();
    // Messages stored by today's code; their index is then rewritten the schema 6 way
    // (the encoder of then, kept in `search_index::legacy`).
    let words = |i: u64| match i % 3 {
        0 => "budget plan common",
        1 => "lunch plan common",
        _ => "budget common",
    };
    let (account, moved) = {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "convert@example.com");
        let moved = store
            .write_blocking(move |w| {
                let mut ids = Vec::new();
                for i in 0..300u64 {
                    let meta = MessageMeta {
                        received: 1000 + i as i64,
                        ..MessageMeta::default()
                    };
                    let blob = BlobId::of(&i.to_le_bytes());
                    ids.push(super::items::insert(w, a.id, 1, blob, meta, Flags::default())?.id);
                }
                // One deleted, one moved: schema 6 had updated its index for both.
                let first = ids[0];
                super::items::delete(w, a.id, 1, first)?;
                let (_, m) = super::items::move_to(w, a.id, 1, first + 1, 2)?.unwrap();
                Ok((first, m.id))
            })
            .unwrap();
        (a.id, moved)
    };
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::RUNS).unwrap();
        tx.delete_table(tables::DOCS).unwrap();
        tx.delete_table(tables::ITEM_DOCS).unwrap();
        let items: Vec<(FolderId, u64, i64)> = {
            let t = tx.open_table(tables::ITEMS).unwrap();
            t.iter()
                .unwrap()
                .map(|r| {
                    let (k, v) = r.unwrap();
                    let item: MailItem = v.value().decode().unwrap();
                    (k.value().1, k.value().2, item.meta.received)
                })
                .collect()
        };
        for (folder, item, received) in items {
            // The moved message kept its words under its new id.
            let source = if item == moved.1 { moved.0 + 1 } else { item };
            let terms: Vec<String> = words(source - moved.0)
                .split(' ')
                .map(str::to_owned)
                .collect();
            search_index::write_schema_6_for_tests(&tx, account, folder, item, received, &terms)
                .unwrap();
        }
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 6);
    let expected_plan = (1..300u64).filter(|i| i % 3 != 2).count();
    // Upgrade, one small batch committed, then killed: the old blocks that batch took are
    // gone from the old table and in the new one; the rest wait.
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        migrate(&db).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(search_index::conversion_pending(&tx).unwrap());
        assert!(search_index::convert_some(&tx, 2).unwrap());
        tx.commit().unwrap();
        // A batch under way when the process dies is never committed.
        let tx = db.begin_write().unwrap();
        assert!(search_index::convert_some(&tx, 3).unwrap());
        drop(tx);
    }
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    let names: Vec<String> =
        tx.0.list_tables()
            .unwrap()
            .map(|t| redb::TableHandle::name(&t).to_owned())
            .collect();
    for gone in ["search_blocks", "search_item_terms"] {
        assert!(!names.iter().any(|n| n == gone), "{names:?}");
    }
    let hits = |q: &str| -> Vec<(u64, FolderId)> {
        search_index::search(&tx, account, &search_index::query_terms(q), |_| true)
            .unwrap()
            .iter()
            .map(|p| (p.item, p.folder))
            .collect()
    };
    assert_eq!(hits("common").len(), 299);
    assert_eq!(hits("plan").len(), expected_plan);
    assert_eq!(hits("lunch budget"), []);
    assert!(hits("common").contains(&(moved.1, 2)));
    assert!(
        !hits("common")
            .iter()
            .any(|h| h.0 == moved.0 || h.0 == moved.0 + 1)
    );
    drop(tx);
    // The converted index takes deliveries and removals as a new one does.
    store
        .write_blocking(move |w| {
            let meta = MessageMeta {
                received: 5000,
                search_terms: vec!["lunch".into(), "budget".into()],
                ..MessageMeta::default()
            };
            let blob = BlobId::of(b"new");
            super::items::insert(w, account, 1, blob, meta, Flags::default())?;
            super::items::delete(w, account, 2, moved.1)?;
            Ok(())
        })
        .unwrap();
    let tx = store.sync_snapshot().unwrap();
    let found = search_index::search(
        &tx,
        account,
        &search_index::query_terms("lunch budget"),
        |_| true,
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        search_index::search(&tx, account, &["common".into()], |_| true)
            .unwrap()
            .len(),
        298
    );
}

#[test]
fn a_version_3_store_gets_the_groupware_table_and_keeps_its_mail() {
    use crate::store::model::{Flags, MessageMeta};
    let dir = tempfile::tempdir().unwrap();
    let account = {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "gw@example.com");
        store
            .write_blocking(move |w| {
                let blob = BlobId::of(b"old mail");
                super::items::insert(w, a.id, 1, blob, MessageMeta::default(), Flags::default())?;
                Ok(())
            })
            .unwrap();
        a.id
    };
    // Schema 3 had no groupware table.
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::GROUPWARE_ITEMS).unwrap());
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 3);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    use super::items::ItemReads;
    assert_eq!(tx.folder_items(account, 1).unwrap().len(), 1);
    // Readable: the step created the table (reading a missing one is an error).
    assert_eq!(tx.groupware_item(account, 1, 1).unwrap(), None);
}

#[test]
fn a_version_4_store_gets_the_moved_table() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::MOVED).unwrap());
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 4);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    use super::items::ItemReads;
    // Readable: the step created the table (reading a missing one is an error).
    assert_eq!(tx.moved_to(1, 1, 1).unwrap(), None);
}

#[test]
fn a_table_written_as_raw_bytes_opens_as_its_typed_json_table() {
    // Stores written before the tables carried their record type hold `&[u8]` values;
    // the typed definition must open them as they are, and write what they would have.
    let (dir, store) = open();
    let a = add(&store, "alice@example.com");
    drop(store);
    let raw: redb::TableDefinition<AccountId, &[u8]> = redb::TableDefinition::new("accounts");
    let db = redb::Database::open(dir.path().join("easd.redb")).unwrap();
    let stored = {
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(raw).unwrap();
        t.get(a.id).unwrap().unwrap().value().to_vec()
    };
    assert_eq!(
        stored,
        tables::encode(&a),
        "the typed table wrote plain JSON"
    );
    let tx = db.begin_write().unwrap();
    {
        let mut renamed = a.clone();
        renamed.display_name = "Written raw".into();
        tx.open_table(raw)
            .unwrap()
            .insert(a.id, tables::encode(&renamed).as_slice())
            .unwrap();
    }
    tx.commit().unwrap();
    drop(db);
    let store = Store::open(dir.path()).unwrap();
    let read = store
        .sync_snapshot()
        .unwrap()
        .account(a.id)
        .unwrap()
        .unwrap();
    assert_eq!(read.display_name, "Written raw");
}

#[test]
fn only_the_store_names_its_engine() {
    use crate::layers::{names, source_files};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &src, &mut files);
    assert!(files.len() > 50, "found the sources: {}", files.len());
    let naming: Vec<&String> = (files.iter())
        .filter(|(file, text)| !file.starts_with("store/") && names(text, "redb"))
        .map(|(file, _)| file)
        .collect();
    assert!(
        naming.is_empty(),
        "outside store, these name redb: {naming:?}"
    );
    // A planted one is caught; a comment or a string naming it is not code.
    assert!(names("fn f(tx: &redb::WriteTransaction) {}\n", "redb"));
    assert!(!names("// redb locks the file\nfn f() {}\n", "redb"));
    assert!(!names("const S: &str = \"redb\";\n", "redb"));
    assert!(!names("fn redbook() {}\n", "redb"));
}

/// The store's synchronous read entry points in `text`: each function whose return type
/// names [`Snapshot`] (it hands out a read view on the caller's thread), with whether it is
/// visible outside `store` (`pub`, `pub(crate)`, `pub(super)` of the crate root, …; only
/// private and `pub(in crate::store)` are not).
fn sync_read_entry_points(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("fn ") {
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let head = text[line_start..at].trim();
        if head.starts_with("//") || !(head.is_empty() || head.starts_with("pub")) {
            continue;
        }
        let rest = &text[at + 3..];
        let Some(open) = rest.find('(') else { continue };
        let name = rest[..open].split('<').next().unwrap_or_default().trim();
        // The return type: after the parameters' closing parenthesis, up to the body or a
        // `where` clause (whose closure bounds may name a Snapshot without returning one).
        let mut depth = 0;
        let Some(close) = rest[open..].char_indices().find_map(|(i, c)| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            (depth == 0).then_some(open + i)
        }) else {
            continue;
        };
        let tail = &rest[close + 1..];
        let end = [tail.find('{'), tail.find(';'), tail.find("where")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(tail.len());
        let returns = tail[..end].split_once("->").map_or("", |(_, r)| r);
        if crate::layers::names(returns, "Snapshot") {
            let outside = head.starts_with("pub")
                && !head.starts_with("pub(in crate::store)")
                && !head.starts_with("pub(self)");
            out.push((name.to_owned(), outside));
        }
    }
    out
}

/// Reads outside the store go through [`Store::view`], a `Send` closure a networked backend
/// can run off the event loop; nothing outside `src/store` takes a [`Snapshot`] on its own
/// thread. The compiler refuses a call to an entry point that is not visible; this test
/// fails when one is made visible again, or when code outside the store names one.
#[test]
fn outside_the_store_reads_go_through_view() {
    use crate::layers::{names, source_files};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &src, &mut files);
    assert!(files.len() > 50, "found the sources: {}", files.len());
    let (store, outside): (Vec<_>, Vec<_>) =
        (files.iter()).partition(|(f, _)| f.starts_with("store/"));
    let entries: Vec<(String, bool)> = (store.iter())
        .flat_map(|(_, text)| sync_read_entry_points(text))
        .collect();
    assert!(
        entries.iter().any(|(name, _)| name == "sync_snapshot"),
        "found the store's own synchronous read: {entries:?}"
    );
    let visible: Vec<&String> = (entries.iter())
        .filter(|(_, outside)| *outside)
        .map(|(name, _)| name)
        .collect();
    assert!(
        visible.is_empty(),
        "synchronous reads visible outside store (read through Store::view): {visible:?}"
    );
    let calling: Vec<(&String, &String)> = (outside.iter())
        .flat_map(|(file, text)| {
            (entries.iter())
                .filter(|(name, _)| names(text, name))
                .map(move |(name, _)| (file, name))
        })
        .collect();
    assert!(
        calling.is_empty(),
        "outside store, these read synchronously: {calling:?}"
    );

    // A planted public entry point is caught, whatever its name; `view` (a closure bound
    // that names a Snapshot) and a private one are not.
    let planted = "impl Store {\n    pub fn read(&self) -> Result<Snapshot, StoreError> {\n        todo!()\n    }\n}\n";
    assert_eq!(sync_read_entry_points(planted), [("read".to_owned(), true)]);
    let crate_wide = "    pub(crate) fn peek(\n        &self,\n    ) -> Snapshot {\n";
    assert_eq!(
        sync_read_entry_points(crate_wide),
        [("peek".to_owned(), true)]
    );
    let view = "    pub async fn view<T, E, F>(&self, read: F) -> Result<T, E>\n    where\n        F: FnOnce(&Snapshot) -> Result<T, E>,\n    {\n";
    assert!(sync_read_entry_points(view).is_empty());
    let own =
        "    pub(in crate::store) fn sync_snapshot(&self) -> Result<Snapshot, StoreError> {\n";
    assert_eq!(
        sync_read_entry_points(own),
        [("sync_snapshot".to_owned(), false)]
    );
    // A planted call outside is caught; a comment or a string naming it is not code.
    assert!(names(
        "let tx = ctx.app.store.sync_snapshot()?;\n",
        "sync_snapshot"
    ));
    assert!(!names(
        "// not store.sync_snapshot()\nfn f() {}\n",
        "sync_snapshot"
    ));
    assert!(!names(
        "const S: &str = \"sync_snapshot\";\n",
        "sync_snapshot"
    ));
}

#[test]
fn a_version_5_store_gets_its_groupware_items_as_records() {
    use crate::proto::version::ProtocolVersion;
    use crate::store::model::pim::{Kind, Mode, Record};
    use crate::store::model::{CalendarSummary, Summary};
    use crate::wbxml::Element;
    use crate::wbxml::tag::{airsync, airsyncbase, calendar as cal, contacts as c};
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    // Items as schema 5 kept them: the client's ApplicationData re-encoded as WBXML. The
    // contact has a value the typed reading refuses (the old server did not check).
    let event = Element::new(airsync::APPLICATION_DATA)
        .text_child(cal::END_TIME, "2026-03-02T10:00:00.000Z")
        .text_child(cal::SUBJECT, "Review")
        .text_child(cal::START_TIME, "2026-03-02T09:00:00.000Z")
        .text_child(cal::UID, "abc")
        .text_child(cal::LOCATION, "Room 4")
        .child(
            Element::new(airsyncbase::BODY)
                .text_child(airsyncbase::TYPE, "1")
                .text_child(airsyncbase::ESTIMATED_DATA_SIZE, "4")
                .text_child(airsyncbase::DATA, "Text"),
        );
    let contact = Element::new(airsync::APPLICATION_DATA)
        .text_child(c::FIRST_NAME, "Ada")
        .text_child(c::BIRTHDAY, "someday");
    let old = |id: u64, data: &Element, summary: Summary| {
        use base64::Engine as _;
        serde_json::to_vec(&serde_json::json!({
            "id": id,
            "folder": 7,
            "data": base64::engine::general_purpose::STANDARD.encode(crate::wbxml::encode(data)),
            "summary": summary,
            "created": 100,
            "modseq": id,
        }))
        .unwrap()
    };
    {
        let raw: redb::TableDefinition<(u64, u64, u64), &[u8]> =
            redb::TableDefinition::new("groupware_items");
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(raw).unwrap();
            let summary = Summary::Calendar(CalendarSummary::default());
            t.insert((1, 7, 1), old(1, &event, summary).as_slice())
                .unwrap();
            t.insert((1, 7, 2), old(2, &contact, Summary::Contact).as_slice())
                .unwrap();
        }
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 5);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    use super::items::ItemReads;
    let e = tx.groupware_item(1, 7, 1).unwrap().expect("the event");
    assert_eq!(
        e.record,
        Record::parse(Kind::Event, &event, Mode::Strict).unwrap(),
        "read as a client's Add of it is"
    );
    assert_eq!((e.created, e.modseq), (100, 1));
    // A 12.1 reader gets it as the old server sent it.
    assert_eq!(e.record.render(ProtocolVersion::V12_1), event);
    let c = tx.groupware_item(1, 7, 2).unwrap().expect("the contact");
    let Record::Contact(read) = &c.record else {
        panic!("{c:?}")
    };
    assert_eq!(read.first_name.as_deref(), Some("Ada"));
    assert_eq!(
        c.record.render(ProtocolVersion::V14_1),
        contact,
        "the unreadable Birthday is kept as it was"
    );
}

#[test]
fn an_audited_handle_commits_the_entry_with_the_first_write_and_keeps_it_when_refused() {
    use super::audit::AuditReads;
    let (_dir, store) = open();
    let entry = AuditEntry {
        at: 1,
        actor: "admin@example.com".into(),
        origin: "127.0.0.1".into(),
        action: "user_add".into(),
        detail: "{}".into(),
        error: None,
    };
    let logged = |s: &Store| s.sync_snapshot().unwrap().audit_newest(10).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // A refused write rolls back its change and the entry with it; the entry waits.
    let (audited, pending) = store.audited(entry.clone());
    #[derive(Debug)]
    enum Refusal {
        Refused,
        Store,
    }
    impl From<StoreError> for Refusal {
        fn from(_: StoreError) -> Self {
            Refusal::Store
        }
    }
    let refused: Result<(), Refusal> = rt.block_on(audited.write_or(|ctx| {
        ops::create_account(ctx, "a@example.com", "", "h", false)?;
        Err(Refusal::Refused)
    }));
    assert!(matches!(refused, Err(Refusal::Refused)), "{refused:?}");
    assert!(logged(&store).is_empty());
    assert!(
        store
            .sync_snapshot()
            .unwrap()
            .account_by_email("a@example.com")
            .unwrap()
            .is_none()
    );

    // The next write carries it: the change and its entry are visible in the same
    // commit, before the caller has done anything more; later writes add nothing.
    rt.block_on(audited.write(|ctx| {
        ops::create_account(ctx, "a@example.com", "", "h", false)?;
        Ok(())
    }))
    .unwrap();
    assert_eq!(logged(&store), vec![entry.clone()]);
    audited.write_blocking(|_| Ok(())).unwrap();
    assert_eq!(logged(&store).len(), 1);
    assert_eq!(pending.unwritten(), None, "written, nothing left to record");

    // An ordinary handle writes no entry.
    store.write_blocking(|_| Ok(())).unwrap();
    assert_eq!(logged(&store).len(), 1);
}

#[test]
fn a_store_without_the_audit_table_opens_and_records() {
    // Stores written before the audit log existed have no such table: opening one creates
    // it, without a schema step (every listed table is created on open).
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::AUDIT).unwrap());
        tx.commit().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    use super::audit::AuditReads;
    assert!(
        store
            .sync_snapshot()
            .unwrap()
            .audit_newest(10)
            .unwrap()
            .is_empty()
    );
    let entry = |n: u64| AuditEntry {
        at: n as i64,
        actor: "admin@example.com".into(),
        origin: "127.0.0.1".into(),
        action: "user_add".into(),
        detail: format!("#{n}"),
        error: None,
    };
    store
        .write_blocking(move |w| {
            for n in 0..super::audit::KEEP + 3 {
                super::audit::record(w, &entry(n))?;
            }
            Ok(())
        })
        .unwrap();
    let tx = store.sync_snapshot().unwrap();
    let newest = tx.audit_newest(2).unwrap();
    assert_eq!(
        newest,
        vec![entry(super::audit::KEEP + 2), entry(super::audit::KEEP + 1)]
    );
    let all = tx.audit_newest(usize::MAX).unwrap();
    assert_eq!(
        all.len() as u64,
        super::audit::KEEP,
        "the oldest were dropped"
    );
    assert_eq!(all.last(), Some(&entry(3)));
}

#[test]
fn a_version_6_store_gets_the_directory_and_keeps_its_accounts() {
    use super::directory::DirectoryReads;
    let dir = tempfile::tempdir().unwrap();
    let account = add(&Store::open(dir.path()).unwrap(), "dir@example.com");
    // Schema 6 had no directory table.
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::DIRECTORY).unwrap());
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 6);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    assert!(tx.account_by_email("dir@example.com").unwrap().is_some());
    // Readable: the step created the table (reading a missing one is an error).
    assert_eq!(
        tx.directory_entry(account.id).unwrap(),
        DirectoryEntry::default()
    );
    assert!(tx.directory_entries().unwrap().is_empty());
}

#[test]
fn the_directory_generation_moves_only_with_what_the_directory_shows() {
    use super::directory::{DirectoryReads, put_entry};
    let (_dir, store) = open();
    let generation = || {
        store
            .sync_snapshot()
            .unwrap()
            .directory_generation()
            .unwrap()
    };
    let start = generation();
    let a = add(&store, "gen@example.com");
    assert!(generation() > start, "a new account shows");
    let after_add = generation();
    // A delivery's counter change does not show.
    let mut counted = a.clone();
    counted.next_item_id += 5;
    store
        .write_blocking(move |w| ops::put_account(w, &counted))
        .unwrap();
    assert_eq!(generation(), after_add);
    let mut renamed = a.clone();
    renamed.next_item_id += 5;
    renamed.display_name = "Gen Eration".into();
    store
        .write_blocking(move |w| ops::put_account(w, &renamed))
        .unwrap();
    let after_rename = generation();
    assert!(after_rename > after_add);
    let entry = DirectoryEntry {
        title: "Buyer".into(),
        ..DirectoryEntry::default()
    };
    let stored = entry.clone();
    store
        .write_blocking(move |w| put_entry(w, a.id, &stored))
        .unwrap();
    assert!(generation() > after_rename);
    assert_eq!(
        store
            .sync_snapshot()
            .unwrap()
            .directory_entry(a.id)
            .unwrap(),
        entry
    );
    let before_delete = generation();
    let gone = store
        .sync_snapshot()
        .unwrap()
        .account(a.id)
        .unwrap()
        .unwrap();
    store
        .write_blocking(move |w| ops::delete_account(w, &gone))
        .unwrap();
    assert!(generation() > before_delete);
    assert!(
        store
            .sync_snapshot()
            .unwrap()
            .directory_entries()
            .unwrap()
            .is_empty()
    );
}

/// A schema 14 store (message items as JSON) converts its items to compact records on
/// open: every item reads back as it was, in its folder, and the table is smaller.
#[test]
fn a_version_14_store_gets_compact_items_that_read_as_before() {
    use super::items::ItemReads;
    use super::tables::Format;
    use crate::store::model::{Flags, FollowUp, MessageMeta};
    let dir = tempfile::tempdir().unwrap();
    let account = {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "compact@example.com");
        store
            .write_blocking(move |w| {
                for i in 0..500u64 {
                    let meta = MessageMeta {
                        received: 1000 + i as i64,
                        subject: format!("message {i} about the budget"),
                        from: format!("\"User {i}\" <u{i}@example.com>"),
                        preview: "word ".repeat(50),
                        conversation_id: vec![i as u8; 16],
                        attachments: vec![AttachmentMeta {
                            part: 2,
                            name: "a.pdf".into(),
                            ..AttachmentMeta::default()
                        }],
                        ..MessageMeta::default()
                    };
                    let flags = Flags {
                        read: i % 2 == 0,
                        flag: (i % 5 == 0).then(|| FollowUp {
                            status: 2,
                            flag_type: "Follow up".into(),
                            due: Some(7),
                            ..FollowUp::default()
                        }),
                        categories: vec!["Blue".into()],
                        ..Flags::default()
                    };
                    let blob = BlobId::of(&i.to_le_bytes());
                    super::items::insert(w, a.id, 1 + i % 2, blob, meta, flags)?;
                }
                Ok(())
            })
            .unwrap();
        a.id
    };
    type Raw = redb::TableDefinition<'static, (AccountId, FolderId, u64), &'static [u8]>;
    let raw: Raw = redb::TableDefinition::new("items");
    let rows = |db: &redb::Database| -> Vec<((AccountId, FolderId, u64), Vec<u8>)> {
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(raw).unwrap();
        t.iter()
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value(), v.value().to_vec())
            })
            .collect()
    };
    // Today's items, as schema 14 wrote them: JSON.
    let expected: Vec<_> = {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let compact = rows(&db);
        let tx = db.begin_write().unwrap();
        let mut expected = Vec::new();
        {
            let mut t = tx.open_table(raw).unwrap();
            for (k, v) in compact {
                let item: MailItem = tables::AsCompact::decode(&v).unwrap();
                t.insert(k, tables::encode(&item).as_slice()).unwrap();
                expected.push((k, item));
            }
        }
        tx.commit().unwrap();
        expected
    };
    assert_eq!(expected.len(), 500);
    set_schema_version(dir.path(), 14);
    let json_bytes: usize = {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        rows(&db).iter().map(|(_, v)| v.len()).sum()
    };
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    for (k, item) in &expected {
        assert_eq!(tx.item(k.0, k.1, k.2).unwrap().as_ref(), Some(item));
    }
    assert_eq!(tx.folder_items(account, 1).unwrap().len(), 250);
    drop(tx);
    drop(store);
    let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
    let after = rows(&db);
    assert_eq!(after.len(), 500);
    assert!(after.iter().all(|(_, v)| v[0] == tables::COMPACT_V1));
    let compact_bytes: usize = after.iter().map(|(_, v)| v.len()).sum();
    assert!(
        compact_bytes * 2 < json_bytes,
        "{compact_bytes} bytes compact, {json_bytes} as JSON"
    );
    let tx = db.begin_read().unwrap();
    let names: Vec<String> = tx
        .list_tables()
        .unwrap()
        .map(|t| redb::TableHandle::name(&t).to_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "items_to_compact"), "{names:?}");
}

#[test]
fn a_version_8_store_gets_the_sharing_tables() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        add(&store, "old@example.com");
    }
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::SHARES).unwrap());
        assert!(tx.delete_table(tables::GROUPS).unwrap());
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 8);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    use super::share::ShareReads;
    // Readable: the step created the tables (reading a missing one is an error).
    assert!(tx.shares().unwrap().is_empty());
    assert!(tx.groups().unwrap().is_empty());
    assert!(tx.account_by_email("old@example.com").unwrap().is_some());
}

/// A schema 9 store (every blob a file, as easd wrote them before packing) converts in
/// place: interrupted after some batches, and again in the middle of one, then opened
/// again, it has every body, packed, and no small blob file left.
#[test]
fn a_schema_9_store_packs_its_blob_files_resuming_after_a_kill() {
    use super::blob::pack::{PACK_BATCH, PACK_UNDER};
    use crate::store::model::{Flags, MessageMeta};
    let dir = tempfile::tempdir().unwrap();
    let blob_root = dir.path().join("blobs");
    let bodies: Vec<Vec<u8>> = (0..PACK_BATCH * 2 + 40)
        .map(|i| {
            format!(
                "Subject: {i}\r\n\r\n{}",
                "lorem ipsum dolor ".repeat(50 + i % 90)
            )
            .into()
        })
        .chain(std::iter::once(vec![b'x'; PACK_UNDER + 1]))
        .collect();
    {
        let store = Store::open(dir.path()).unwrap();
        let a = add(&store, "old@example.com");
        // Written the way schema 9 did: a file per blob.
        let loose = BlobStore::open(&blob_root).unwrap();
        let ids: Vec<BlobId> = bodies.iter().map(|b| loose.put(b).unwrap()).collect();
        store
            .write_blocking(move |w| {
                for id in &ids {
                    items::insert(
                        w,
                        a.id,
                        1,
                        id.clone(),
                        MessageMeta::default(),
                        Flags::default(),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::PACKED).unwrap();
        tx.delete_table(tables::PACK_MARKS).unwrap();
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 9);
    // Killed after one batch committed...
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        migrate(&db).unwrap();
        let db = Arc::new(tokio::sync::RwLock::new(db));
        let (blobs, _) = BlobStore::open_packed(&blob_root, &db).unwrap();
        let packs = blobs.packs().unwrap();
        assert!(!packs.pack_loose(&blob_root, Some(1)).unwrap());
        // ... and while the next one was being appended, before its commit.
        let h = BlobId::of(&bodies[PACK_BATCH + 7]).digest();
        packs
            .append_unsynced(h.unwrap(), &bodies[PACK_BATCH + 7])
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(meta_value(&store, super::blob::pack::LOOSE_PENDING).is_none());
    let tx = store.sync_snapshot().unwrap();
    let account = tx.account_by_email("old@example.com").unwrap().unwrap().id;
    let stored: Vec<BlobId> =
        tx.0.open_table(tables::ITEMS)
            .unwrap()
            .iter()
            .unwrap()
            .map(|r| {
                let item: MailItem = r.unwrap().1.value().decode().unwrap();
                item.blob
            })
            .collect();
    assert_eq!(stored.len(), bodies.len(), "account {account}");
    for (id, body) in stored.iter().zip(&bodies) {
        assert_eq!(&store.blobs().read(id).unwrap(), body);
    }
    // Only the large blob is still a file.
    let files: usize = std::fs::read_dir(&blob_root)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().len() == 2)
        .map(|d| std::fs::read_dir(d.path()).unwrap().count())
        .sum();
    assert_eq!(files, 1);
}

#[test]
fn a_version_11_store_gets_the_gal_sources_table() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        add(&store, "old@example.com");
    }
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        assert!(tx.delete_table(tables::GAL_SOURCES).unwrap());
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 11);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.sync_snapshot().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    use super::directory::DirectoryReads;
    // Readable: the step created the table (reading a missing one is an error).
    assert!(tx.gal_sources().unwrap().is_empty());
    assert!(tx.account_by_email("old@example.com").unwrap().is_some());
}

#[test]
fn deleting_a_flagged_folder_or_its_account_unflags_it_and_moves_the_directory_on() {
    use super::directory::{DirectoryReads, set_gal_source};
    let (_dir, store) = open();
    let a = add(&store, "alice@example.com");
    let (f, before) = store
        .write_blocking(move |ctx| {
            let f = folders::create(
                ctx,
                a.id,
                ROOT_FOLDER,
                "Suppliers",
                FolderType::UserContacts,
            )
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            set_gal_source(ctx, a.id, f.id, true)?;
            set_gal_source(ctx, a.id, 9, true)?;
            Ok((f.id, ctx.tx.directory_generation()?))
        })
        .unwrap();
    store
        .write_blocking(move |ctx| {
            folders::delete(ctx, a.id, f).map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok(())
        })
        .unwrap();
    let snap = store.sync_snapshot().unwrap();
    let left: Vec<FolderId> = snap
        .gal_sources()
        .unwrap()
        .iter()
        .map(|s| s.folder)
        .collect();
    assert_eq!(left, [9]);
    assert!(snap.directory_generation().unwrap() > before);
    drop(snap);
    store
        .write_blocking(move |ctx| ops::delete_account(ctx, &a))
        .unwrap();
    assert!(
        store
            .sync_snapshot()
            .unwrap()
            .gal_sources()
            .unwrap()
            .is_empty()
    );
}
