//! Temporary files for data too large to keep in memory while it is in flight: request
//! bodies as they arrive, and the binary parts of a multipart response until they are
//! written out. They live in `DATA/tmp`, emptied at start (what a crash left there belongs
//! to no request any more).
//!
//! Each file is unlinked as soon as it is created: the open handle is its only name, so
//! the file goes away when its holder drops it, whatever happens to the request.

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    next: Cell<u64>,
}

impl Spool {
    /// Creates `data/tmp` if needed and removes what a previous run left in it.
    pub fn open(data: &Path) -> io::Result<Self> {
        let dir = data.join("tmp");
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(Self {
            dir,
            next: Cell::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty file, open for reading and writing, already unlinked.
    pub fn file(&self) -> io::Result<File> {
        let n = self.next.get();
        self.next.set(n + 1);
        let path = self.dir.join(format!("spool-{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        fs::remove_file(&path)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    use super::*;

    #[test]
    fn files_have_no_name_and_start_empties_the_directory() {
        let data = tempfile::tempdir().unwrap();
        fs::create_dir_all(data.path().join("tmp/left-over-dir")).unwrap();
        fs::write(data.path().join("tmp/left-over"), b"x").unwrap();
        let spool = Spool::open(data.path()).unwrap();
        assert_eq!(fs::read_dir(spool.dir()).unwrap().count(), 0);
        let mut f = spool.file().unwrap();
        let mut g = spool.file().unwrap();
        assert_eq!(fs::read_dir(spool.dir()).unwrap().count(), 0);
        f.write_all(b"hello").unwrap();
        g.write_all(b"other").unwrap();
        f.rewind().unwrap();
        let mut back = String::new();
        f.read_to_string(&mut back).unwrap();
        assert_eq!(back, "hello");
    }
}
