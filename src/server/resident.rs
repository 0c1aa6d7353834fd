//! Gives back, once start-up is over, the memory only start-up needed.
//!
//! Start-up runs code and allocates memory that the serving daemon never touches again:
//! argument parsing, the TOML config, the store's open and migration checks, argon2 for the
//! first admin account, the self-signed certificate, TLS setup. The resident set is what
//! `top` and the admin see, so with `[limits] release_startup_memory` on it holds what
//! serving needs and little else:
//!
//! - the heap's free blocks go back to the kernel (`malloc_trim`);
//! - code and constant pages of the executable and its libraries are unmapped from this
//!   process. They are clean, file-backed pages: the kernel keeps them in its page cache,
//!   and the next instruction that needs one maps it again at the cost of a minor fault.
//!   What serving uses comes back within the first requests; what only start-up used stays
//!   out. (Linux maps file pages in 64 KiB runs, so without this most of the binary's text
//!   ends up resident however little of it runs; `build.rs` also lays the serving code out
//!   together.)
//!
//! What a board's `MemoryMax` weighs is another figure: the cgroup's `memory.current`,
//! which counts the page-cache pages the daemon faulted in whether they are still mapped
//! or not. Unmapping code therefore lowers the resident set but not the charge, and
//! `malloc_trim` finds next to nothing to give back after start-up (measured on x86_64,
//! `benches/server.rs`: resident 2.8 MiB lower idle and 1.2-2.1 MiB lower after 2,000
//! FolderSyncs, anonymous memory unchanged, and the binary's pages stay in the page cache
//! either way). So the board profiles turn it off; the built-in default keeps it on, for
//! boxes without a memory cgroup where the resident set is the figure that is watched.
//!
//! Dropping a page that was written would revert it to the file's bytes, so the ranges come
//! from the loaded objects' own program headers: segments that are not writable, less the
//! RELRO part (relocated at load, then made read-only), and not the vDSO. Where the kernel's
//! `/proc/self/smaps` is readable, any mapping it reports with a private (written) page is
//! left alone as well, which covers text relocations. Both checks are needed: an emulator
//! such as qemu-user reports no private pages at all.

use std::ops::Range;

/// Trims the heap and unmaps start-up code; a no-op where it is not supported.
pub fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    #[cfg(target_os = "linux")]
    {
        let written = match std::fs::read_to_string("/proc/self/smaps") {
            Ok(smaps) => written_mappings(&smaps),
            Err(e) => {
                tracing::debug!("resident set not trimmed: /proc/self/smaps: {e}");
                return;
            }
        };
        for range in loaded::read_only_ranges() {
            if written
                .iter()
                .any(|w| w.start < range.end && range.start < w.end)
            {
                continue;
            }
            // SAFETY: the range lies in a loaded object's non-writable segment outside its
            // RELRO part, in mappings holding no written page (module comment):
            // MADV_DONTNEED only drops page-table entries, and the next access maps the
            // same file bytes again.
            unsafe {
                libc::madvise(
                    range.start as *mut libc::c_void,
                    range.end - range.start,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }
}

/// The address ranges of `/proc/self/smaps` mappings that hold an anonymous (private,
/// written) page.
fn written_mappings(smaps: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut current = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_range(line) {
            current = Some(range);
        } else if let Some(kib) = line.strip_prefix("Anonymous:")
            && let Some(range) = current.take()
            && kib.trim() != "0 kB"
        {
            out.push(range);
        }
    }
    out
}

/// The range of a mapping's header line (`start-end perms offset dev inode [path]`).
fn mapping_range(line: &str) -> Option<Range<usize>> {
    let (start, end) = line.split_whitespace().next()?.split_once('-')?;
    let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
    // A header has permissions next; a field line ("Size:") has no '-' in its first word.
    line.split_whitespace()
        .nth(1)
        .filter(|p| p.len() == 4)
        .map(|_| range)
}

/// A loaded ELF segment, at its address in memory.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    range: Range<usize>,
    writable: bool,
}

/// The whole pages of an object's non-writable segments that are not in its RELRO range
/// (which is rounded outwards: its pages were written at load).
fn read_only_pages(
    segments: &[Segment],
    relro: Option<Range<usize>>,
    page: usize,
) -> Vec<Range<usize>> {
    let down = |a: usize| a / page * page;
    let up = |a: usize| a.div_ceil(page) * page;
    let relro = relro.map(|r| down(r.start)..up(r.end));
    let mut out = Vec::new();
    for s in segments.iter().filter(|s| !s.writable) {
        let inner = up(s.range.start)..down(s.range.end);
        let pieces = match &relro {
            Some(r) if r.start < inner.end && inner.start < r.end => {
                vec![inner.start..r.start, r.end..inner.end]
            }
            _ => vec![inner],
        };
        out.extend(pieces.into_iter().filter(|p| p.start < p.end));
    }
    out
}

#[cfg(target_os = "linux")]
mod loaded {
    use super::{Range, Segment, read_only_pages};

    #[cfg(target_pointer_width = "64")]
    type Phdr = libc::Elf64_Phdr;
    #[cfg(target_pointer_width = "32")]
    type Phdr = libc::Elf32_Phdr;

    /// The read-only pages of every loaded object but the vDSO (a kernel page, not a file).
    pub fn read_only_ranges() -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        // SAFETY: dl_iterate_phdr calls `collect` with valid info for each loaded object,
        // and `out` outlives the call.
        unsafe {
            libc::dl_iterate_phdr(Some(collect), (&mut out as *mut Vec<Range<usize>>).cast());
        }
        out
    }

    unsafe extern "C" fn collect(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our `data` (see above).
        let (info, out) = unsafe { (&*info, &mut *data.cast::<Vec<Range<usize>>>()) };
        // SAFETY: getauxval and sysconf only read process constants.
        let (vdso, page) = unsafe {
            (
                libc::getauxval(libc::AT_SYSINFO_EHDR) as usize,
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let base = info.dlpi_addr as usize;
        if info.dlpi_phdr.is_null() || page <= 0 || (vdso != 0 && base == vdso) {
            return 0;
        }
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
        let headers: &[Phdr] =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let at = |h: &Phdr| {
            let start = base.wrapping_add(h.p_vaddr as usize);
            start..start.saturating_add(h.p_memsz as usize)
        };
        let segments: Vec<Segment> = headers
            .iter()
            .filter(|h| h.p_type == libc::PT_LOAD)
            .map(|h| Segment {
                range: at(h),
                writable: h.p_flags & libc::PF_W != 0,
            })
            .collect();
        let relro = headers
            .iter()
            .find(|h| h.p_type == libc::PT_GNU_RELRO)
            .map(at);
        out.extend(read_only_pages(&segments, relro, page as usize));
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Addresses fit in 32 bits: the armv7 build runs these tests too.
    const SMAPS: &str = "\
00400000-00500000 r--p 00000000 fd:01 1234 /usr/bin/easd
Size:               1024 kB
Anonymous:             0 kB
00500000-00900000 r-xp 00100000 fd:01 1234 /usr/bin/easd
Anonymous:             0 kB
00900000-00910000 r--p 00500000 fd:01 1234 /usr/bin/easd
Anonymous:            64 kB
b7100000-b7200000 rw-p 00000000 00:00 0
Anonymous:           512 kB
bffd0000-bffd1000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";

    #[test]
    fn mappings_with_written_pages_are_found() {
        assert_eq!(
            written_mappings(SMAPS),
            vec![0x00900000..0x00910000, 0xb7100000..0xb7200000]
        );
        assert!(written_mappings("Anonymous: 4 kB\nnot a header\n").is_empty());
        assert!(written_mappings("zz-yy r-xp 0 0 1 /x\nAnonymous: 4 kB\n").is_empty());
    }

    #[test]
    fn read_only_pages_skip_writable_segments_and_relro() {
        let seg = |start, end, writable| Segment {
            range: start..end,
            writable,
        };
        let segments = [
            seg(0x0000, 0x1800, false), // headers and constants
            seg(0x1800, 0x5200, false), // code: partial first and last pages stay
            seg(0x6000, 0x9000, false), // constants, partly RELRO
            seg(0x9000, 0xa000, true),  // data
        ];
        assert_eq!(
            read_only_pages(&segments, Some(0x7100..0x7f00), 0x1000),
            vec![
                0x0000..0x1000,
                0x2000..0x5000,
                0x6000..0x7000,
                0x8000..0x9000
            ]
        );
        assert_eq!(
            read_only_pages(&segments[..1], None, 0x1000),
            vec![0x0000..0x1000]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_read_only_code_to_release() {
        let here = this_process_has_read_only_code_to_release as fn() as usize;
        assert!(
            loaded::read_only_ranges().iter().any(|r| r.contains(&here)),
            "the test's own code lies in a read-only range"
        );
    }
}
