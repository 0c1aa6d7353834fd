//! Content-addressed blobs: large values (message bodies, attachments) live outside the
//! database, written and fsynced before the commit that references them, so a crash leaves
//! at worst an orphan (collected later, as the blobs of deleted mail are:
//! `store::collect`), never a record pointing at nothing. Bodies under
//! [`pack::PACK_UNDER`] are packed into segment files ([`pack`]); larger ones, and every
//! blob of a store opened without packing (spool directories, tests), are a file each.

pub mod pack;

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::StoreError;
use pack::{Hash, Packs};

pub use super::model::BlobId;

/// Where a blob's packed record is looked up: its id's 32 bytes.
fn hash_of(id: &BlobId) -> Hash {
    id.digest().expect("a blob id is 64 lower-case hex digits")
}

/// Calls `f` with each blob file under `root` (`xx/yyyy…`, named by its content's hash:
/// the packed segments, `tmp` and anything else left out), its path and metadata.
fn blob_files(root: &Path, mut f: impl FnMut(Hash, PathBuf, fs::Metadata)) -> io::Result<()> {
    for dir in fs::read_dir(root)? {
        let dir = dir?;
        let prefix = dir.file_name().to_string_lossy().into_owned();
        if prefix.len() != 2 || !dir.file_type()?.is_dir() {
            continue;
        }
        for file in fs::read_dir(dir.path())? {
            let file = file?;
            let name = format!("{prefix}{}", file.file_name().to_string_lossy());
            if let Some(hash) = super::model::digest_of_hex(&name) {
                f(hash, file.path(), file.metadata()?);
            }
        }
    }
    Ok(())
}

#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    /// Where small blobs go; `None`: every blob is a file.
    packs: Option<Arc<Packs>>,
    /// Held to put a blob file in place, or to find an existing one and touch it, and by
    /// a collection to look at a file's age and remove it: a file is collected only if no
    /// put has found it within the grace period (`store::collect`).
    files: Arc<Mutex<()>>,
    /// Backups in progress: no collection runs meanwhile (a backup's snapshot may name
    /// blobs that are no longer referenced).
    holds: Arc<AtomicUsize>,
}

/// A backup in progress ([`BlobStore::hold`]).
pub struct Hold(Arc<AtomicUsize>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({})", self.root.display())
    }
}

impl BlobStore {
    /// A blob directory where every blob is a file of its own.
    pub fn open(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(Self {
            root: root.to_owned(),
            packs: None,
            files: Arc::default(),
            holds: Arc::default(),
        })
    }

    /// The store's blob directory: small blobs packed into `root/packs`, indexed in `db`;
    /// with the delivery journal's records still to apply.
    pub(super) fn open_packed(
        root: &Path,
        db: &Arc<tokio::sync::RwLock<redb::Database>>,
    ) -> Result<(Self, pack::Unapplied), StoreError> {
        let mut store = Self::open(root)?;
        let (packs, unapplied) = Packs::open(&root.join("packs"), db)?;
        store.packs = Some(Arc::new(packs));
        Ok((store, unapplied))
    }

    pub(super) fn packs(&self) -> Option<&Arc<Packs>> {
        self.packs.as_ref()
    }

    /// Whether new small bodies are compressed where that pays (the default).
    pub fn set_compression(&self, on: bool) {
        if let Some(p) = &self.packs {
            p.set_compression(on);
        }
    }

    /// Where `bytes` go: the packs when there are some and it is small.
    fn packed_for(&self, len: usize) -> Option<&Packs> {
        self.packs.as_deref().filter(|_| len < pack::PACK_UNDER)
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        self.root.join(&id.as_str()[..2]).join(&id.as_str()[2..])
    }

    fn files(&self) -> MutexGuard<'_, ()> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the blob file `dest` exists; if so it is touched, so that a collection
    /// running before the put's job commits finds it new and keeps it.
    fn reuse_file(&self, dest: &Path) -> io::Result<bool> {
        let _files = self.files();
        match File::options().write(true).open(dest) {
            Ok(f) => f.set_modified(SystemTime::now()).map(|()| true),
            // Not there; or not ours to touch (restored by another user): the put writes
            // it again, and the rename gives the file a new time.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Moves a written blob file into place (its directory made first).
    fn place(&self, tmp: &Path, dest: &Path) -> io::Result<()> {
        let dir = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(dir)?;
        let _files = self.files();
        fs::rename(tmp, dest)
    }

    /// Counts a backup in progress until the guard is dropped.
    pub fn hold(&self) -> Hold {
        self.holds.fetch_add(1, Ordering::SeqCst);
        Hold(self.holds.clone())
    }

    /// Whether a backup is in progress.
    pub(super) fn held(&self) -> bool {
        self.holds.load(Ordering::SeqCst) > 0
    }

    /// The blob files (not the segments) last written or reused before `cutoff`.
    pub(super) fn files_before(&self, cutoff: SystemTime) -> io::Result<HashSet<Hash>> {
        let mut old = HashSet::new();
        blob_files(&self.root, |hash, _, meta| {
            if meta.modified().is_ok_and(|m| m <= cutoff) {
                old.insert(hash);
            }
        })?;
        Ok(old)
    }

    /// Removes the blob file of `hash` if nothing wrote or reused it since `cutoff`;
    /// answers its length if it did.
    pub(super) fn remove_file_before(
        &self,
        hash: &Hash,
        cutoff: SystemTime,
    ) -> io::Result<Option<u64>> {
        let path = self.path(&BlobId::of_digest(hash));
        let _files = self.files();
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.modified()? > cutoff {
            return Ok(None);
        }
        fs::remove_file(&path)?;
        Ok(Some(meta.len()))
    }

    /// Removes the files in `tmp` older than `cutoff`: spools of messages a crash
    /// interrupted.
    pub(super) fn remove_tmp_before(&self, cutoff: SystemTime) -> io::Result<(u64, u64)> {
        let (mut files, mut bytes) = (0, 0);
        for f in fs::read_dir(self.root.join("tmp"))? {
            let f = f?;
            let meta = f.metadata()?;
            if meta.is_file() && meta.modified()? <= cutoff {
                fs::remove_file(f.path())?;
                files += 1;
                bytes += meta.len();
            }
        }
        Ok((files, bytes))
    }

    /// Writes `bytes` durably and returns their id. Writing the same content twice is free.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = BlobId::of(bytes);
        if let Some(packs) = self.packed_for(bytes.len()) {
            packs.put(hash_of(&id), bytes).map_err(into_io)?;
            return Ok(id);
        }
        let dest = self.path(&id);
        if self.reuse_file(&dest)? {
            return Ok(id);
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}.{}", id.as_str(), std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        self.place(&tmp, &dest)?;
        // The rename is durable only once the directory entry is.
        File::open(dest.parent().expect("blob path has a parent"))?.sync_all()?;
        Ok(id)
    }

    /// Writes `bytes` and returns their id; a small body is durable only with the next
    /// sync of the packs, which the delivery journal's record after it brings
    /// (`Store::journal`) and every commit comes after ([`Packs::stage`]). A large one is
    /// durable on return, as with [`BlobStore::put`].
    pub fn put_deferred(&self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = BlobId::of(bytes);
        match self.packed_for(bytes.len()) {
            Some(packs) => packs.put_deferred(hash_of(&id), bytes).map_err(into_io)?,
            None => return self.put(bytes),
        }
        Ok(id)
    }

    /// Starts a batch: blobs written without an fsync each, made durable together by
    /// [`BlobBatch::sync`] (one `syncfs`) — for imports and seeding, where one fsync per
    /// file and one per directory would dominate.
    pub fn batch(&self) -> BlobBatch<'_> {
        BlobBatch {
            store: self,
            written: 0,
            packed: Vec::new(),
        }
    }

    /// Starts a blob written piece by piece as it arrives (see [`BlobWriter`]).
    pub fn writer(&self) -> io::Result<BlobWriter> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("spool.{}.{n}", std::process::id()));
        Ok(BlobWriter {
            store: self.clone(),
            // Readable too: `map` views it.
            file: File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?,
            tmp,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// A blob as a reader and its length (a backup streams it).
    pub fn open_blob(&self, id: &BlobId) -> io::Result<(u64, Box<dyn Read + Send>)> {
        if let Some(bytes) = self.read_packed(id)? {
            return Ok((bytes.len() as u64, Box::new(io::Cursor::new(bytes))));
        }
        let f = File::open(self.path(id))?;
        Ok((f.metadata()?.len(), Box::new(f)))
    }

    pub fn read(&self, id: &BlobId) -> io::Result<Vec<u8>> {
        match self.read_packed(id)? {
            Some(bytes) => Ok(bytes),
            None => fs::read(self.path(id)),
        }
    }

    fn read_packed(&self, id: &BlobId) -> io::Result<Option<Vec<u8>>> {
        let Some(packs) = &self.packs else {
            return Ok(None);
        };
        packs.read_current(&hash_of(id)).map_err(into_io)
    }
}

/// A store error where the blob API speaks `io::Error` (its callers' error type).
fn into_io(e: StoreError) -> io::Error {
    match e {
        StoreError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// A blob written as it arrives — an LMTP message spooled to disk instead of held in RAM:
/// the bytes go to a temporary file and are hashed on the way, and [`BlobWriter::commit`]
/// makes the file the content-addressed blob without another copy. Dropped uncommitted
/// (a refused or abandoned message), the temporary file is removed.
pub struct BlobWriter {
    store: BlobStore,
    tmp: PathBuf,
    file: File,
    hasher: Sha256,
    len: u64,
}

impl BlobWriter {
    /// Appends `bytes` (to the page cache: durability comes with [`BlobWriter::commit`]).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A read-only view of what was written, for parsing without a copy in RAM: its pages
    /// are the file's, clean and reclaimable, not the process's heap.
    pub fn map(&self) -> io::Result<Mapped> {
        if self.len == 0 {
            return Ok(Mapped(None));
        }
        // SAFETY: the file is private to this writer (a unique name in the blob store's
        // tmp directory), is only ever appended to (never truncated or rewritten), and
        // once committed becomes an immutable blob: the mapped bytes cannot change.
        unsafe { memmap2::Mmap::map(&self.file) }.map(|m| Mapped(Some(m)))
    }

    /// Makes the written bytes durable as a blob and returns its id; content already
    /// stored is kept and the spool discarded.
    pub fn commit(mut self) -> io::Result<BlobId> {
        let id = BlobId::of_digest(&std::mem::take(&mut self.hasher).finalize());
        if let Some(packs) = self.store.packed_for(self.len as usize) {
            packs.put(hash_of(&id), &self.map()?).map_err(into_io)?;
            return Ok(id); // Drop removes the spool file.
        }
        let dest = self.store.path(&id);
        if self.store.reuse_file(&dest)? {
            return Ok(id); // Drop removes the spool file.
        }
        self.file.sync_all()?;
        self.store.place(&self.tmp, &dest)?;
        // The rename is durable only once the directory entry is.
        File::open(dest.parent().expect("blob path has a parent"))?.sync_all()?;
        Ok(id)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful commit the file was renamed away and this fails harmlessly.
        let _ = fs::remove_file(&self.tmp);
    }
}

/// What [`BlobWriter::map`] gives: the bytes written so far.
pub struct Mapped(Option<memmap2::Mmap>);

impl Mapped {
    /// Gives back the pages wholly inside `range` that reading faulted in: they leave the
    /// process's resident set (the file keeps them in the page cache) and fault back in
    /// with the same bytes if read again.
    pub fn release(&self, range: std::ops::Range<usize>) {
        let Some(map) = &self.0 else {
            return;
        };
        let page = page_size();
        let start = range.start.div_ceil(page) * page;
        let end = (range.end.min(map.len()) / page) * page;
        if start < end {
            // SAFETY: the mapping is read-only and the file is never written while mapped
            // (see `BlobWriter::map`), so MADV_DONTNEED drops nothing that is not on disk.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().unwrap_or_default()
    }
}

/// Blobs written but not yet durable. Nothing may reference them in a commit before
/// [`BlobBatch::sync`] has returned `Ok`; a batch dropped unsynced leaves at worst orphan
/// files (as a crash would), never a record pointing at nothing.
pub struct BlobBatch<'a> {
    store: &'a BlobStore,
    written: usize,
    /// Packed records appended, registered once synced.
    packed: Vec<(Hash, crate::store::model::PackedBody)>,
}

impl BlobBatch<'_> {
    /// Writes `bytes` (not yet durably) and returns their id.
    pub fn put(&mut self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = BlobId::of(bytes);
        if let Some(packs) = self.store.packed_for(bytes.len()) {
            let hash = hash_of(&id);
            if self.packed.iter().any(|(h, _)| *h == hash) {
                return Ok(id);
            }
            let appended = packs.append_unsynced(hash, bytes).map_err(into_io)?;
            self.packed.extend(appended);
            return Ok(id);
        }
        let dest = self.store.path(&id);
        if self.store.reuse_file(&dest)? {
            return Ok(id);
        }
        let tmp =
            self.store
                .root
                .join("tmp")
                .join(format!("{}.{}", id.as_str(), std::process::id()));
        fs::write(&tmp, bytes)?;
        self.store.place(&tmp, &dest)?;
        self.written += 1;
        Ok(id)
    }

    /// Makes every blob of the batch durable: one `syncfs` of the blob directory's file
    /// system flushes the files' data and the directory entries of their renames.
    pub fn sync(self) -> io::Result<()> {
        if let Some(packs) = &self.store.packs
            && !self.packed.is_empty()
        {
            packs.register(self.packed).map_err(into_io)?;
        }
        if self.written == 0 {
            return Ok(());
        }
        let dir = File::open(&self.store.root)?;
        // SAFETY: syncfs takes an open descriptor, which `dir` holds for the call.
        if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let a = store.put(b"hello").unwrap();
        let b = store.put(b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(store.read(&a).unwrap(), b"hello");
        assert_eq!(
            a.as_str(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(BlobId::parse(a.as_str()).is_some());
        assert!(BlobId::parse("../etc/passwd").is_none());
    }

    #[test]
    fn a_writer_makes_the_same_blob_as_put_and_cleans_up_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write(b"hel").unwrap();
        w.write(b"lo").unwrap();
        assert_eq!((w.len(), &*w.map().unwrap()), (5, &b"hello"[..]));
        let id = w.commit().unwrap();
        assert_eq!(id, BlobId::of(b"hello"));
        assert_eq!(store.read(&id).unwrap(), b"hello");
        // The same content again: the blob is kept, the spool removed.
        let mut again = store.writer().unwrap();
        again.write(b"hello").unwrap();
        assert_eq!(again.commit().unwrap(), id);
        let mut abandoned = store.writer().unwrap();
        abandoned.write(b"refused").unwrap();
        assert!(store.writer().unwrap().map().unwrap().is_empty());
        drop(abandoned);
        let tmp: Vec<_> = fs::read_dir(dir.path().join("tmp")).unwrap().collect();
        assert!(tmp.is_empty(), "{tmp:?}");
    }

    #[test]
    fn a_batch_writes_readable_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut batch = store.batch();
        let a = batch.put(b"one").unwrap();
        let b = batch.put(b"two").unwrap();
        assert_eq!(batch.put(b"one").unwrap(), a);
        batch.sync().unwrap();
        assert_eq!(store.read(&a).unwrap(), b"one");
        assert_eq!(store.read(&b).unwrap(), b"two");
        assert_eq!(store.put(b"two").unwrap(), b);
    }
}
