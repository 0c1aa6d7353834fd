//! Backup and restore: one archive ([`super::archive`]) holding a consistent copy of the
//! database and every blob it references.
//!
//! Consistency comes from one redb read transaction: its MVCC snapshot is copied table by
//! table into a fresh database file while the writer goes on. Blobs are immutable and
//! content-addressed, so copying the ones the snapshot references afterwards is still
//! consistent with it (nothing deletes blobs yet; a blob collector will have to keep those
//! of a running backup).

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use redb::{
    Database, MultimapTableHandle, ReadTransaction, ReadableTable, ReadableTableMetadata,
    TableHandle,
};
use sha2::{Digest, Sha256};

use super::archive::{self, sync_parent};
use super::tables::{self, ITEMS, TableVisitor};
use super::{BlobId, SCHEMA_VERSION, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub accounts: u64,
    pub items: u64,
    pub blobs: u64,
    /// Referenced blobs whose files were already gone from the store (left out).
    pub missing_blobs: u64,
    pub bytes: u64,
    pub seconds: f64,
}

impl fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backup written to {}: {} accounts, {} items, {} blobs, {:.1} MiB in {:.2} s",
            self.path.display(),
            self.accounts,
            self.items,
            self.blobs,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.seconds
        )?;
        if self.missing_blobs > 0 {
            write!(
                f,
                "; {} referenced blobs were missing from the store",
                self.missing_blobs
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestoreSummary {
    pub dir: PathBuf,
    pub schema: u32,
    pub accounts: u64,
    pub items: u64,
    pub blobs: u64,
    /// Referenced blobs the archive did not hold.
    pub missing_blobs: u64,
    /// Where the directory's previous contents went (`--force`).
    pub moved_aside: Option<PathBuf>,
}

impl fmt::Display for RestoreSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restored into {}: schema {}, {} accounts, {} items, {} blobs",
            self.dir.display(),
            self.schema,
            self.accounts,
            self.items,
            self.blobs
        )?;
        if self.missing_blobs > 0 {
            write!(f, "; {} referenced blobs missing", self.missing_blobs)?;
        }
        if let Some(old) = &self.moved_aside {
            write!(f, "\nthe previous contents are in {}", old.display())?;
        }
        Ok(())
    }
}

impl Store {
    /// Writes a backup of the store as it is now to `path` (absolute). Blocks for as long
    /// as the copy takes: run it on a blocking thread.
    pub fn snapshot_to(&self, path: &Path) -> Result<BackupSummary, StoreError> {
        let started = Instant::now();
        // No blob is collected while this runs: the snapshot may name blobs that stop
        // being referenced meanwhile.
        let _hold = self.blobs().hold();
        let snapshot = self.begin_read()?;
        check_tables_listed(&snapshot)?;
        let db_copy = TempFile(with_suffix(path, ".db.tmp")?);
        copy_database(&snapshot, &db_copy.0)?;
        let blobs = referenced_blobs(&snapshot)?;
        let (accounts, items) = counts(&snapshot)?;
        drop(snapshot);
        let mut out = archive::Writer::create(path)?;
        out.add_file(super::DATABASE_FILE, &db_copy.0)?;
        let mut missing = 0;
        for id in &blobs {
            match self.blobs().open_blob(id) {
                Ok((size, mut f)) => {
                    out.add(&blob_name(id), &mut f, size)?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => missing += 1,
                Err(e) => return Err(e.into()),
            }
        }
        let bytes = out.finish()?;
        Ok(BackupSummary {
            path: path.to_owned(),
            accounts,
            items,
            blobs: blobs.len() as u64 - missing,
            missing_blobs: missing,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Removed when dropped: the intermediate database copy.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `path` with `suffix` appended to its last component (`/x/data` → `/x/data.suffix`).
fn with_suffix(path: &Path, suffix: &str) -> Result<PathBuf, StoreError> {
    let mut name = path
        .file_name()
        .ok_or_else(|| StoreError::Invalid(format!("{} names no file", path.display())))?
        .to_owned();
    name.push(suffix);
    Ok(path.with_file_name(name))
}

/// Refuses a store holding a table the copy would not know: a backup silently missing a
/// table is worse than none.
fn check_tables_listed(tx: &ReadTransaction) -> Result<(), StoreError> {
    let mut known = tables::names();
    known.extend(tables::search_run_names(
        &tx.open_table(tables::SEARCH_RUN_LIST)?,
    )?);
    let unknown = |name: &str| {
        StoreError::Invalid(format!(
            "table {name} is not in the store's table list (store::tables::for_each); \
             refusing an incomplete backup"
        ))
    };
    for t in tx.list_tables()? {
        if !known.iter().any(|k| k == t.name()) {
            return Err(unknown(t.name()));
        }
    }
    match tx.list_multimap_tables()?.next() {
        Some(t) => Err(unknown(t.name())),
        None => Ok(()),
    }
}

/// Copies every table of `src` into a new database at `dest`, in one durable commit.
fn copy_database(src: &ReadTransaction, dest: &Path) -> Result<(), StoreError> {
    match fs::remove_file(dest) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let db = Database::create(dest).map_err(StoreError::from)?;
    let tx = db.begin_write()?;
    let mut copy = CopyTables { src, dst: &tx };
    tables::for_each(&mut copy)?;
    // The search index's runs: a table each, named by the list just copied.
    for name in tables::search_run_names(&src.open_table(tables::SEARCH_RUN_LIST)?)? {
        copy.copy(tables::search_run(&name))?;
    }
    // The archive holds every blob as a file, packed or not: the restored store packs
    // them again when first opened.
    super::blob::pack::mark_loose_pending(&tx)?;
    tx.commit()?;
    Ok(())
}

struct CopyTables<'a> {
    src: &'a ReadTransaction,
    dst: &'a redb::WriteTransaction,
}

impl CopyTables<'_> {
    fn copy<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        table: redb::TableDefinition<'_, K, V>,
    ) -> Result<(), StoreError> {
        let from = self.src.open_table(table)?;
        let mut to = self.dst.open_table(table)?;
        // Where blobs are packed in this data directory, which the archive does not hold.
        if tables::LOCAL_TO_THE_DATA_DIRECTORY.contains(&table.name()) {
            return Ok(());
        }
        for row in from.iter()? {
            let (k, v) = row?;
            to.insert(k.value(), v.value())?;
        }
        Ok(())
    }
}

impl TableVisitor for CopyTables<'_> {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: redb::TableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        self.copy(table)
    }
}

/// Every blob the records of `tx` name (messages, directory photos and certificates), in
/// id order (which is the on-disk order of blob files too).
fn referenced_blobs(tx: &ReadTransaction) -> Result<Vec<BlobId>, StoreError> {
    let mut ids = HashSet::new();
    super::collect::for_each_reference(tx, |id| {
        ids.insert(id.clone());
    })?;
    let mut ids: Vec<BlobId> = ids.into_iter().collect();
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(ids)
}

fn counts(tx: &ReadTransaction) -> Result<(u64, u64), StoreError> {
    Ok((
        tx.open_table(tables::ACCOUNTS)?.len()?,
        tx.open_table(ITEMS)?.len()?,
    ))
}

/// A blob's path in the archive, which is also its path under the data directory.
fn blob_name(id: &BlobId) -> String {
    let s = id.as_str();
    format!("blobs/{}/{}", &s[..2], &s[2..])
}

/// The blob id of an archive path made by [`blob_name`]; `None` for anything else.
fn blob_of(name: &str) -> Option<BlobId> {
    let (dir, file) = name.strip_prefix("blobs/")?.split_once('/')?;
    (dir.len() == 2)
        .then(|| BlobId::parse(&format!("{dir}{file}")))
        .flatten()
}

/// Restores `archive` into `dir`, which must be empty or absent unless `force` (then its
/// contents are moved aside to `DIR.before-restore-<unix time>`). The caller makes sure no
/// daemon serves `dir`; a store still open there is refused here too.
pub fn restore(archive_path: &Path, dir: &Path, force: bool) -> Result<RestoreSummary, StoreError> {
    let dir = normalize(dir)?;
    check_target(&dir, force)?;
    archive::verify(archive_path).map_err(|e| bad_archive(archive_path, e))?;
    let staging = with_suffix(&dir, &format!(".restore-{}", std::process::id()))?;
    if let Some(parent) = staging.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::create_dir(&staging)
        .map_err(|e| StoreError::Invalid(format!("creating {}: {e}", staging.display())))?;
    let unpacked = unpack(archive_path, &staging).and_then(|blobs| inspect(&staging, blobs));
    let mut summary = match unpacked {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    summary.moved_aside = put_in_place(&staging, &dir).inspect_err(|_| {
        let _ = fs::remove_dir_all(&staging);
    })?;
    summary.dir = dir;
    Ok(summary)
}

fn bad_archive(path: &Path, e: io::Error) -> StoreError {
    StoreError::Invalid(format!("{}: {e}; nothing was restored", path.display()))
}

/// An absolute path without a trailing slash, so that siblings can be named from it.
fn normalize(dir: &Path) -> Result<PathBuf, StoreError> {
    Ok(std::path::absolute(dir)?.components().collect())
}

fn check_target(dir: &Path, force: bool) -> Result<(), StoreError> {
    let mut entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Invalid(format!("{}: {e}", dir.display()))),
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if !force {
        return Err(StoreError::Invalid(format!(
            "{} is not empty; restore into an empty directory, or pass --force to move its \
             contents aside to {}.before-restore-<time>",
            dir.display(),
            dir.display()
        )));
    }
    let db = dir.join(super::DATABASE_FILE);
    match Database::open(&db) {
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::Locked { path: db }),
        // Absent or unreadable: it is only being moved aside.
        _ => Ok(()),
    }
}

/// Unpacks every entry into `staging`; returns the blobs found. Only the database and
/// well-formed blob paths are accepted, and each blob must hash to its name.
fn unpack(archive_path: &Path, staging: &Path) -> Result<HashSet<BlobId>, StoreError> {
    let mut blobs = HashSet::new();
    archive::read_entries(archive_path, |name, contents, _| {
        if name == super::DATABASE_FILE {
            write_new(&staging.join(super::DATABASE_FILE), contents).map(drop)
        } else if let Some(id) = blob_of(name) {
            let digest = write_new(&staging.join(name), contents)?;
            if BlobId::of_digest(&digest) != id {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{name} does not match its checksum"),
                ));
            }
            blobs.insert(id);
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected entry {name:?}"),
            ))
        }
    })
    .map_err(|e| bad_archive(archive_path, e))?;
    sync_tree(staging)?;
    Ok(blobs)
}

/// Writes a file that must not exist yet (a repeated entry is an error), durably;
/// returns the SHA-256 of what was written.
fn write_new(path: &Path, contents: &mut dyn Read) -> io::Result<[u8; 32]> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut f = File::create_new(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = contents.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        f.write_all(&buf[..n])?;
    }
    f.sync_all()?;
    Ok(hash.finalize().into())
}

/// Fsyncs `dir` and its subdirectories, so the new entries survive a crash.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        }
    }
    File::open(dir)?.sync_all()
}

/// Reads the unpacked database: refuses a newer schema, counts what is there.
fn inspect(staging: &Path, blobs: HashSet<BlobId>) -> Result<RestoreSummary, StoreError> {
    let not_a_store = |detail: String| {
        StoreError::Invalid(format!(
            "the backup holds no usable easd database: {detail}"
        ))
    };
    let db = Database::open(staging.join(super::DATABASE_FILE))
        .map_err(|e| not_a_store(e.to_string()))?;
    let tx = db.begin_read()?;
    let schema = super::schema_version(&tx)
        .map_err(|e| not_a_store(e.to_string()))?
        .ok_or_else(|| not_a_store("no schema version".into()))?;
    if schema > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: schema,
            known: SCHEMA_VERSION,
        });
    }
    let (accounts, items) = counts(&tx)?;
    let missing = referenced_blobs(&tx)?
        .iter()
        .filter(|id| !blobs.contains(id))
        .count();
    Ok(RestoreSummary {
        dir: staging.to_owned(),
        schema,
        accounts,
        items,
        blobs: blobs.len() as u64,
        missing_blobs: missing as u64,
        moved_aside: None,
    })
}

/// Moves a non-empty `dir` aside (an empty one is removed), then `staging` to `dir`.
fn put_in_place(staging: &Path, dir: &Path) -> Result<Option<PathBuf>, StoreError> {
    let aside = with_suffix(dir, &format!(".before-restore-{}", super::now()))?;
    let moved = match fs::remove_dir(dir) {
        Ok(()) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
            if aside.exists() {
                return Err(StoreError::Invalid(format!(
                    "{} already exists; try again in a second",
                    aside.display()
                )));
            }
            fs::rename(dir, &aside).map_err(|e| moving(dir, &aside, e))?;
            Some(aside)
        }
        Err(e) => return Err(StoreError::Invalid(format!("{}: {e}", dir.display()))),
    };
    if let Err(e) = fs::rename(staging, dir) {
        if let Some(old) = &moved {
            let _ = fs::rename(old, dir);
        }
        return Err(moving(staging, dir, e));
    }
    sync_parent(dir)?;
    Ok(moved)
}

fn moving(from: &Path, to: &Path, e: io::Error) -> StoreError {
    StoreError::Invalid(format!(
        "moving {} to {}: {e}",
        from.display(),
        to.display()
    ))
}

#[cfg(test)]
mod tests;
