//! Content-addressed blob files: large values (message bodies, attachments) live on disk,
//! written and fsynced before the commit that references them, so a crash leaves at worst
//! an orphan file, never a record pointing at nothing.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// SHA-256 of the content, as 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BlobId(String);

impl BlobId {
    pub fn of(bytes: &[u8]) -> Self {
        BlobId(hex(&Sha256::digest(bytes)))
    }

    /// Validates an id read back from a record before it becomes a path.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| BlobId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn open(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        self.root.join(&id.0[..2]).join(&id.0[2..])
    }

    /// Writes `bytes` durably and returns their id. Writing the same content twice is free.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = BlobId::of(bytes);
        let dest = self.path(&id);
        if dest.exists() {
            return Ok(id);
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}.{}", id.0, std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        let dir = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(dir)?;
        fs::rename(&tmp, &dest)?;
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()?;
        Ok(id)
    }

    /// Starts a batch: blobs written without an fsync each, made durable together by
    /// [`BlobBatch::sync`] (one `syncfs`) — for imports and seeding, where one fsync per
    /// file and one per directory would dominate.
    pub fn batch(&self) -> BlobBatch<'_> {
        BlobBatch {
            store: self,
            written: 0,
        }
    }

    pub fn open_blob(&self, id: &BlobId) -> io::Result<File> {
        File::open(self.path(id))
    }

    pub fn read(&self, id: &BlobId) -> io::Result<Vec<u8>> {
        fs::read(self.path(id))
    }
}

/// Blobs written but not yet durable. Nothing may reference them in a commit before
/// [`BlobBatch::sync`] has returned `Ok`; a batch dropped unsynced leaves at worst orphan
/// files (as a crash would), never a record pointing at nothing.
pub struct BlobBatch<'a> {
    store: &'a BlobStore,
    written: usize,
}

impl BlobBatch<'_> {
    /// Writes `bytes` (not yet durably) and returns their id.
    pub fn put(&mut self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = BlobId::of(bytes);
        let dest = self.store.path(&id);
        if dest.exists() {
            return Ok(id);
        }
        let tmp = self
            .store
            .root
            .join("tmp")
            .join(format!("{}.{}", id.0, std::process::id()));
        fs::write(&tmp, bytes)?;
        let dir = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(dir)?;
        fs::rename(&tmp, &dest)?;
        self.written += 1;
        Ok(id)
    }

    /// Makes every blob of the batch durable: one `syncfs` of the blob directory's file
    /// system flushes the files' data and the directory entries of their renames.
    pub fn sync(self) -> io::Result<()> {
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
