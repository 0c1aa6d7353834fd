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
    let folders = store.read().unwrap().folders(a.id).unwrap();
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
    assert_eq!(store.read().unwrap().accounts().unwrap().len(), 1);
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
        .read()
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
    let tx = store.read().unwrap();
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
    let tx = store.read().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    assert_eq!(SCHEMA_VERSION, 5);
    assert!(tx.account_by_email("old@example.com").unwrap().is_some());
    let at = meta_value(&store, "upgraded_at").expect("upgraded_at recorded");
    let at = i64::from_le_bytes(at.try_into().unwrap());
    assert!(at >= before && at <= now(), "{at}");
}

#[test]
fn a_new_store_records_no_upgrade() {
    let (_dir, store) = open();
    assert_eq!(
        schema_version(&store.read().unwrap()).unwrap(),
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
    assert_eq!(store.read().unwrap().accounts().unwrap().len(), 2);
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
            .read()
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
    let tx = store.read().unwrap();
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
    // Schema 2 kept one key per posting and had no blocks.
    {
        let db = redb::Database::create(dir.path().join("easd.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::BLOCKS).unwrap();
        let old: redb::TableDefinition<(AccountId, &str, FolderId, u64), ()> =
            redb::TableDefinition::new("search_postings");
        {
            let mut t = tx.open_table(old).unwrap();
            for (term, item) in [("budget", 1), ("plan", 1), ("lunch", 2), ("plan", 2)] {
                t.insert((account, term, 1, item), ()).unwrap();
            }
            t.insert((account, "budget", 1, 3), ()).unwrap();
        }
        tx.commit().unwrap();
    }
    set_schema_version(dir.path(), 2);
    let store = Store::open(dir.path()).unwrap();
    let tx = store.read().unwrap();
    assert_eq!(schema_version(&tx).unwrap(), Some(SCHEMA_VERSION));
    let names: Vec<String> =
        tx.0.list_tables()
            .unwrap()
            .map(|t| redb::TableHandle::name(&t).to_owned())
            .collect();
    assert!(!names.iter().any(|n| n == "search_postings"), "{names:?}");
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
    let tx = store.read().unwrap();
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
    let tx = store.read().unwrap();
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
    let read = store.read().unwrap().account(a.id).unwrap().unwrap();
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
    assert!(store.read().unwrap().audit_newest(10).unwrap().is_empty());
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
    let tx = store.read().unwrap();
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
