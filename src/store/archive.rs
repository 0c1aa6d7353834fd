//! The backup container: one file holding named byte streams, checked as a whole.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! magic    8 bytes  "EASDBAK1"
//! entry*   u16 path length (1..=1024), path (UTF-8, relative, '/'-separated),
//!          u64 size, then `size` bytes
//! end      u16 0
//! trailer  32 bytes SHA-256 of every byte before it
//! ```
//!
//! Our own format rather than tar: it needs no dependency, and its trailer covers the
//! contents too (tar only checksums headers), which a restore must check before it
//! unpacks anything.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"EASDBAK1";
const MAX_PATH: usize = 1024;
const TRAILER: u64 = 32;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Whether `name` is a safe relative path: no root, no `.` or `..`, no empty component,
/// so that joining it to a directory stays inside that directory.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PATH
        && !name.contains(['\\', '\0'])
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Feeds everything written through it to a SHA-256.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Writes an archive to `PATH.tmp`; [`Writer::finish`] makes it durable and renames it to
/// `PATH`, so `PATH` is never a partial archive. Dropped unfinished, it removes the
/// temporary file.
pub struct Writer {
    out: Option<Hashing<BufWriter<File>>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl Writer {
    pub fn create(dest: &Path) -> io::Result<Self> {
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut out = Hashing {
            inner: BufWriter::new(File::create(&tmp)?),
            hash: Sha256::new(),
        };
        out.write_all(MAGIC)?;
        Ok(Self {
            out: Some(out),
            tmp,
            dest: dest.to_owned(),
        })
    }

    /// Adds an entry of exactly `size` bytes read from `src`.
    pub fn add(&mut self, name: &str, src: &mut impl Read, size: u64) -> io::Result<()> {
        if !is_safe_name(name) {
            return Err(invalid(format!("unsafe archive path {name:?}")));
        }
        let out = self.out.as_mut().expect("writer is not finished");
        out.write_all(&(name.len() as u16).to_le_bytes())?;
        out.write_all(name.as_bytes())?;
        out.write_all(&size.to_le_bytes())?;
        let copied = io::copy(&mut src.take(size), out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name} ended after {copied} of {size} bytes"),
            ));
        }
        Ok(())
    }

    /// Adds the file at `path` under `name`; returns its size.
    pub fn add_file(&mut self, name: &str, path: &Path) -> io::Result<u64> {
        let mut f = File::open(path)?;
        let size = f.metadata()?.len();
        self.add(name, &mut f, size)?;
        Ok(size)
    }

    /// Writes the end marker and trailer, fsyncs, renames into place; returns the size.
    pub fn finish(mut self) -> io::Result<u64> {
        let mut out = self.out.take().expect("writer is not finished");
        out.write_all(&0u16.to_le_bytes())?;
        let digest = out.hash.clone().finalize();
        let mut file = out.inner.into_inner().map_err(|e| e.into_error())?;
        file.write_all(&digest)?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        fs::rename(&self.tmp, &self.dest)?;
        sync_parent(&self.dest)?;
        Ok(size)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Makes a rename or a new file in `path`'s directory durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// Checks the magic and the trailer over the whole file, reading nothing into memory
/// beyond a buffer.
pub fn verify(path: &Path) -> io::Result<()> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len < MAGIC.len() as u64 + 2 + TRAILER {
        return Err(invalid("too short to be an easd backup"));
    }
    let mut body = Hashing {
        inner: BufReader::new(&mut f).take(len - TRAILER),
        hash: Sha256::new(),
    };
    let mut magic = [0u8; 8];
    body.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(invalid("not an easd backup (wrong magic)"));
    }
    io::copy(&mut body, &mut io::sink())?;
    let digest = body.hash.finalize();
    check_trailer(
        &mut f,
        len,
        &digest,
        "checksum mismatch: the backup is damaged or truncated",
    )
}

/// Compares the SHA-256 `digest` of everything before the trailer with the trailer.
fn check_trailer(f: &mut File, len: u64, digest: &[u8], mismatch: &str) -> io::Result<()> {
    f.seek(SeekFrom::Start(len - TRAILER))?;
    let mut trailer = [0u8; TRAILER as usize];
    f.read_exact(&mut trailer)?;
    if digest != trailer {
        return Err(invalid(mismatch));
    }
    Ok(())
}

/// Calls `entry(name, contents, size)` for each entry in order; `name` has passed
/// [`is_safe_name`]. Whatever `entry` leaves unread is skipped. The checksum is checked
/// again at the end, so an archive that changed since [`verify`] is still caught (though
/// only after its entries were seen: unpack somewhere disposable).
pub fn read_entries(
    path: &Path,
    mut entry: impl FnMut(&str, &mut dyn Read, u64) -> io::Result<()>,
) -> io::Result<()> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut body = Hashing {
        inner: BufReader::new(&mut f).take(len.saturating_sub(TRAILER)),
        hash: Sha256::new(),
    };
    let mut magic = [0u8; 8];
    body.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(invalid("not an easd backup (wrong magic)"));
    }
    while let Some(name) = read_name(&mut body)? {
        let size = u64::from_le_bytes(read_array(&mut body)?);
        let mut contents = (&mut body).take(size);
        entry(&name, &mut contents, size)?;
        io::copy(&mut contents, &mut io::sink())?;
        if contents.limit() != 0 {
            return Err(invalid(format!("{name} is truncated")));
        }
    }
    if body.inner.limit() != 0 {
        return Err(invalid("data after the end marker"));
    }
    let digest = body.hash.finalize();
    // The buffered reader has read ahead: the trailer is read by position.
    check_trailer(
        &mut f,
        len,
        &digest,
        "checksum mismatch: the backup changed while reading",
    )
}

fn read_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// The next entry's path, or `None` at the end marker.
fn read_name(r: &mut impl Read) -> io::Result<Option<String>> {
    let len = u16::from_le_bytes(read_array(r)?) as usize;
    if len == 0 {
        return Ok(None);
    }
    if len > MAX_PATH {
        return Err(invalid(format!("entry path of {len} bytes")));
    }
    let mut raw = vec![0u8; len];
    r.read_exact(&mut raw)?;
    let name = String::from_utf8(raw).map_err(|_| invalid("entry path is not UTF-8"))?;
    if !is_safe_name(&name) {
        return Err(invalid(format!("unsafe entry path {name:?}")));
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("a.bak");
        let mut w = Writer::create(&path).unwrap();
        for (name, bytes) in entries {
            w.add(name, &mut &bytes[..], bytes.len() as u64).unwrap();
        }
        w.finish().unwrap();
        path
    }

    fn entries(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        read_entries(path, |name, r, _| {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf)?;
            out.push((name.to_owned(), buf));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn round_trip_and_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &[("a", b"one"), ("b/c", b""), ("d", &[0xff; 70_000])],
        );
        verify(&path).unwrap();
        let got = entries(&path).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0.as_str(), got[0].1.as_slice()), ("a", &b"one"[..]));
        assert_eq!(got[2].1.len(), 70_000);
        assert!(!dir.path().join("a.bak.tmp").exists());
    }

    #[test]
    fn any_flipped_byte_or_truncation_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &[("easd.redb", b"database bytes")]);
        let good = fs::read(&path).unwrap();
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            fs::write(&path, &bad).unwrap();
            assert!(verify(&path).is_err(), "flip at {at} passed");
            assert!(entries(&path).is_err(), "flip at {at} read");
        }
        fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(verify(&path).is_err());
    }

    #[test]
    fn unsafe_names_are_refused_on_both_sides() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "a/..",
        ] {
            assert!(!is_safe_name(bad), "{bad:?} accepted");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::create(&dir.path().join("x")).unwrap();
        assert!(w.add("../x", &mut &b""[..], 0).is_err());
        // A forged archive with a valid checksum but a `..` path is refused when read.
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(&4u16.to_le_bytes());
        forged.extend_from_slice(b"../x");
        forged.extend_from_slice(&0u64.to_le_bytes());
        forged.extend_from_slice(&0u16.to_le_bytes());
        let digest = Sha256::digest(&forged);
        forged.extend_from_slice(&digest);
        let path = dir.path().join("forged");
        fs::write(&path, &forged).unwrap();
        verify(&path).unwrap();
        let err = entries(&path).unwrap_err();
        assert!(err.to_string().contains("unsafe"), "{err}");
    }
}
