//! Gives back, once start-up is over, the memory only start-up needed.
//!
//! Start-up runs code and allocates memory that the serving daemon never touches again:
//! argument parsing, the TOML config, the store's open and migration checks, argon2 for the
//! first admin account, the self-signed certificate, TLS setup. On a 256 MiB appliance
//! the daemon's resident set is what the admin sees and what the board's `MemoryMax`
//! weighs, so it should hold what serving needs and little else:
//!
//! - the heap's free blocks go back to the kernel (`malloc_trim`);
//! - code and constant pages of the executable and its libraries are unmapped from this process. They
//!   are clean, file-backed pages: the kernel keeps them in its page cache, and the next
//!   instruction that needs one maps it again at the cost of a minor fault. What serving
//!   uses comes back within the first requests; what only start-up used stays out. Linux
//!   maps file pages in 64 KiB runs ("fault-around"), so before this the whole text of the
//!   binary ends up resident however little of it runs.
//!
//! Only read-only file mappings that hold no private (anonymous) page are touched: dropping
//! a private page of a file mapping would revert it to the file's bytes, which for relocated
//! data (RELRO, read-only once relocated) would be wrong. Code and constants are never
//! written, so they have none; the check makes that an invariant rather than an assumption.

/// Trims the heap and unmaps code pages; a no-op where it is not supported.
pub fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    #[cfg(target_os = "linux")]
    match std::fs::read_to_string("/proc/self/smaps") {
        Ok(smaps) => {
            for (start, end) in clean_code_mappings(&smaps) {
                // SAFETY: the range is a whole mapping that is executable, file-backed and
                // holds no private page (see the module comment); MADV_DONTNEED on it only
                // drops page-table entries, and the next access maps the same file bytes
                // again.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
                }
            }
        }
        Err(e) => tracing::debug!("resident set not trimmed: /proc/self/smaps: {e}"),
    }
}

/// The address ranges of `/proc/self/smaps` mappings that are read-only (code, constants),
/// backed by a file and hold no anonymous (private, written) page.
fn clean_code_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The mapping whose fields are being read, if it qualifies so far.
    let mut current = None;
    for line in smaps.lines() {
        if let Some(header) = Header::parse(line) {
            current = header
                .read_only_file()
                .then_some((header.start, header.end));
        } else if let Some(kib) = line.strip_prefix("Anonymous:")
            && let Some(range) = current.take()
            && kib.trim() == "0 kB"
        {
            out.push(range);
        }
    }
    out
}

/// A mapping's header line: `start-end perms offset dev inode [path]`.
struct Header<'a> {
    start: usize,
    end: usize,
    perms: &'a str,
    inode: &'a str,
    path: &'a str,
}

impl<'a> Header<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?;
        let (_offset, _dev) = (fields.next()?, fields.next()?);
        let inode = fields.next()?;
        Some(Header {
            start,
            end,
            perms,
            inode,
            path: fields.next().unwrap_or(""),
        })
    }

    fn read_only_file(&self) -> bool {
        self.perms.as_bytes().get(1) == Some(&b'-')
            && self.inode != "0"
            && self.path.starts_with('/')
            && self.start < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Addresses fit in 32 bits: the armv7 build runs these tests too.
    const SMAPS: &str = "\
00400000-00500000 r--p 00000000 fd:01 1234 /usr/bin/easd
Size:               1024 kB
Rss:                 100 kB
Anonymous:             0 kB
00500000-00900000 r-xp 00100000 fd:01 1234 /usr/bin/easd
Size:               4096 kB
Anonymous:             0 kB
00900000-00910000 r--p 00500000 fd:01 1234 /usr/bin/easd
Anonymous:            64 kB
b7000000-b7010000 r-xp 00000000 fd:01 99 /usr/lib/libc.so.6 (deleted)
Anonymous:             4 kB
b7100000-b7200000 rw-p 00000000 00:00 0
Anonymous:           512 kB
b7200000-b7210000 rw-p 00000000 fd:01 5 /var/lib/easd/x
Anonymous:             0 kB
b7300000-b7310000 r-xp 00000000 fd:01 77 /usr/lib/ld.so
Anonymous:             0 kB
bffd0000-bffd1000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_read_only_file_mappings_without_private_pages_are_chosen() {
        assert_eq!(
            clean_code_mappings(SMAPS),
            vec![
                (0x00400000, 0x00500000),
                (0x00500000, 0x00900000),
                (0xb7300000, 0xb7310000)
            ]
        );
    }

    #[test]
    fn garbage_lines_choose_nothing() {
        assert!(clean_code_mappings("Anonymous: 0 kB\nnot a header\n").is_empty());
        assert!(clean_code_mappings("zz-yy r-xp 0 0 1 /x\nAnonymous: 0 kB\n").is_empty());
    }
}
