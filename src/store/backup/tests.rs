use std::collections::BTreeSet;

use redb::TableDefinition;

use super::*;
use crate::store::model::FolderType;
use crate::store::model::{DirectoryEntry, Flags, MessageMeta, StoredBytes};
use crate::store::{directory, folders, items, ops};

/// A directory photo large enough to be a blob file of its own.
static PHOTO: [u8; 40_000] = [7; 40_000];

/// A store with one account, a created folder, three messages (one blob shared), and a
/// directory entry with a photo (a blob file) and a certificate (packed).
fn populated() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let blobs = store.blobs().clone();
    let one = blobs.put(b"Subject: one\r\n\r\nbody one").unwrap();
    let two = blobs.put(b"Subject: two\r\n\r\nbody two").unwrap();
    let stored = |bytes: &[u8]| StoredBytes {
        blob: blobs.put(bytes).unwrap(),
        size: bytes.len() as u32,
    };
    let entry = DirectoryEntry {
        photo: Some(stored(&PHOTO)),
        certificates: vec![stored(b"a certificate")],
        ..DirectoryEntry::default()
    };
    store
        .write_blocking(move |ctx| {
            let a = ops::create_account(ctx, "ann@example.com", "Ann", "h", false)?;
            directory::put_entry(ctx, a.id, &entry)?;
            folders::create(ctx, a.id, 0, "Projects", FolderType::UserMail)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            for blob in [&one, &two, &one] {
                let meta = MessageMeta {
                    search_terms: vec!["budget".into()],
                    ..MessageMeta::default()
                };
                items::insert(ctx, a.id, 1, blob.clone(), meta, Flags::default())?;
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

/// Every row of every listed table, rendered: two stores with equal dumps hold the same.
fn dump(tx: &ReadTransaction) -> Vec<String> {
    struct Dump<'a>(&'a ReadTransaction, Vec<String>);
    impl TableVisitor for Dump<'_> {
        fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
            &mut self,
            table: TableDefinition<'static, K, V>,
        ) -> Result<(), StoreError> {
            for row in self.0.open_table(table)?.iter()? {
                let (k, v) = row?;
                self.1.push(format!(
                    "{}: {:?} = {:?}",
                    table.name(),
                    k.value(),
                    v.value()
                ));
            }
            Ok(())
        }
    }
    let mut d = Dump(tx, Vec::new());
    tables::for_each(&mut d).unwrap();
    d.1
}

fn table_names(tx: &ReadTransaction) -> BTreeSet<String> {
    tx.list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect()
}

#[test]
fn the_table_list_names_each_table_of_a_populated_store_once() {
    let (_dir, store) = populated();
    let listed = tables::names();
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "a table is listed twice");
    assert_eq!(table_names(&store.sync_snapshot().unwrap().0), unique);
}

#[test]
fn backup_and_restore_keep_every_row_and_blob() {
    let (dir, store) = populated();
    let archive = dir.path().join("b.easd");
    let summary = store.snapshot_to(&archive).unwrap();
    // Two message bodies, the photo and the certificate.
    assert_eq!((summary.accounts, summary.items, summary.blobs), (1, 3, 4));
    assert!(!dir.path().join("b.easd.tmp").exists());
    assert!(!dir.path().join("b.easd.db.tmp").exists());

    let target = dir.path().join("restored");
    let restored = restore(&archive, &target, false).unwrap();
    assert_eq!(
        (restored.accounts, restored.items, restored.blobs),
        (1, 3, 4)
    );
    assert_eq!(restored.missing_blobs, 0);
    let copy = Store::open(&target).unwrap();
    // Where each blob sits in its data directory's segments is that directory's own:
    // the restored store packed the archive's blob files again when opened.
    let rows = |s: &Store| -> Vec<String> {
        let local = tables::LOCAL_TO_THE_DATA_DIRECTORY;
        assert_eq!(
            local,
            [
                tables::PACKED.name(),
                tables::PACK_MARKS.name(),
                tables::JOURNAL_MARKS.name()
            ]
        );
        dump(&s.sync_snapshot().unwrap().0)
            .into_iter()
            .filter(|r| !local.iter().any(|t| r.starts_with(&format!("{t}: "))))
            .collect()
    };
    assert_eq!(rows(&copy), rows(&store));
    let packed = |s: &Store| {
        s.sync_snapshot()
            .unwrap()
            .0
            .open_table(tables::PACKED)
            .unwrap()
            .len()
            .unwrap()
    };
    assert_eq!(packed(&copy), 3);
    // No second copy left as a file; the photo is one.
    let one = BlobId::of(b"Subject: one\r\n\r\nbody one");
    assert!(!target.join(blob_name(&one)).exists());
    assert!(target.join(blob_name(&BlobId::of(&PHOTO))).exists());
    for id in referenced_blobs(&copy.sync_snapshot().unwrap().0).unwrap() {
        assert_eq!(
            copy.blobs().read(&id).unwrap(),
            store.blobs().read(&id).unwrap()
        );
    }
}

#[test]
fn a_table_missing_from_the_list_fails_the_backup() {
    let (dir, store) = populated();
    store
        .write_blocking(|ctx| {
            ctx.tx
                .open_table(TableDefinition::<u64, u64>::new("stray"))?
                .insert(1, 2)?;
            Ok(())
        })
        .unwrap();
    let archive = dir.path().join("b.easd");
    let err = store.snapshot_to(&archive).unwrap_err().to_string();
    assert!(err.contains("table stray"), "{err}");
    assert!(!archive.exists() && !dir.path().join("b.easd.tmp").exists());
}

#[test]
fn restore_wants_an_empty_directory_or_force() {
    let (dir, store) = populated();
    let archive = dir.path().join("b.easd");
    store.snapshot_to(&archive).unwrap();
    let target = dir.path().join("busy");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("old.txt"), "keep me").unwrap();

    let err = restore(&archive, &target, false).unwrap_err().to_string();
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert!(target.join("old.txt").exists());

    let done = restore(&archive, &target, true).unwrap();
    let aside = done.moved_aside.expect("moved aside");
    assert!(aside.to_string_lossy().contains("busy.before-restore-"));
    assert_eq!(
        fs::read_to_string(aside.join("old.txt")).unwrap(),
        "keep me"
    );
    assert!(target.join(super::super::DATABASE_FILE).exists() && !target.join("old.txt").exists());
}

#[test]
fn restore_refuses_a_store_that_is_open() {
    let (dir, store) = populated();
    let archive = dir.path().join("b.easd");
    store.snapshot_to(&archive).unwrap();
    let err = restore(&archive, store.data_dir(), true).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
}

/// An archive of the given entries, with a valid checksum.
fn forged(dir: &Path, entries: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join("forged.easd");
    let mut w = archive::Writer::create(&path).unwrap();
    for (name, bytes) in entries {
        w.add(name, &mut &bytes[..], bytes.len() as u64).unwrap();
    }
    w.finish().unwrap();
    path
}

#[test]
fn restore_refuses_unknown_entries_and_lying_blobs_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let blob = format!("blobs/{}/{}", "ab", "c".repeat(62));
    for (entries, expected) in [
        (vec![("etc/passwd", &b"x"[..])], "unexpected entry"),
        (vec![(blob.as_str(), &b"not that"[..])], "does not match"),
        (
            vec![("easd.redb", &b"x"[..]), ("easd.redb", &b"x"[..])],
            "exists",
        ),
        (
            vec![("easd.redb", &b"not a database"[..])],
            "no usable easd database",
        ),
    ] {
        let archive = forged(dir.path(), &entries);
        let target = dir.path().join("t");
        let err = restore(&archive, &target, false).unwrap_err().to_string();
        assert!(err.contains(expected), "{entries:?}: {err}");
        assert!(!target.exists(), "{entries:?} left {}", target.display());
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "staging left behind: {leftovers:?}");
    }
}

#[test]
fn restore_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("newer.redb");
    {
        let db = Database::create(&db_path).unwrap();
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
    let bytes = fs::read(&db_path).unwrap();
    fs::remove_file(&db_path).unwrap();
    let archive = forged(dir.path(), &[(super::super::DATABASE_FILE, &bytes)]);
    let err = restore(&archive, &dir.path().join("t"), false).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    assert!(!dir.path().join("t").exists());
}

#[test]
fn a_backup_holds_the_search_index_runs_and_the_restored_store_searches_them() {
    let (dir, store) = populated();
    let blob = store.blobs().put(b"Subject: many\r\n\r\nbody").unwrap();
    let n = crate::store::search_index::postings::MERGE_DOCS + 10;
    store
        .write_blocking(move |ctx| {
            for _ in 0..n {
                let meta = MessageMeta {
                    search_terms: vec!["quarterly".into()],
                    ..MessageMeta::default()
                };
                items::insert(ctx, 1, 1, blob.clone(), meta, Flags::default())?;
            }
            Ok(())
        })
        .unwrap();
    let runs = |s: &Store| {
        let tx = s.sync_snapshot().unwrap();
        tables::search_run_names(&tx.0.open_table(tables::SEARCH_RUN_LIST).unwrap()).unwrap()
    };
    assert!(!runs(&store).is_empty(), "the queue was merged into a run");
    let archive = dir.path().join("b.easd");
    store.snapshot_to(&archive).unwrap();
    let target = dir.path().join("restored");
    restore(&archive, &target, false).unwrap();
    let copy = Store::open(&target).unwrap();
    assert_eq!(runs(&copy), runs(&store));
    let found = |s: &Store| {
        let tx = s.sync_snapshot().unwrap();
        crate::store::search_index::search(&tx, 1, &["quarterly".into()], |_| true)
            .unwrap()
            .len()
    };
    assert_eq!(found(&store), n as usize);
    assert_eq!(found(&copy), n as usize);
}
