//! Generates the WBXML code-page table (`$OUT_DIR/codepages.rs`) from
//! `src/wbxml/codepages.tsv`, the single source of truth for tag tokens and for which
//! elements carry opaque data.
//!
//! The TSV is validated here so that a bad edit fails the build instead of
//! producing a codec that silently mis-tokenises a tag.
//!
//! It also lays out the release binary's code: see [`link_text_order`].

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

const TSV: &str = "src/wbxml/codepages.tsv";
const HEADER: &str = "page\tnamespace\ttoken\ttag\topaque";
const PAGE_COUNT: u8 = 26;
/// Tokens 0x00-0x04 are WBXML global tokens and bit 0x40/0x80 are the
/// content/attribute flags, so tag tokens live in 0x05..=0x3F ([MS-ASWBXML] 2.1.2.1).
const TOKENS: std::ops::RangeInclusive<u8> = 0x05..=0x3F;

type BoxResult<T> = Result<T, Box<dyn Error>>;

struct Row {
    token: u8,
    tag: String,
    /// The element's content is a byte array, sent as WBXML OPAQUE ([MS-ASDTYPE] 2.7.1).
    opaque: bool,
}

struct Page {
    namespace: String,
    rows: Vec<Row>,
}

fn main() -> BoxResult<()> {
    println!("cargo:rerun-if-changed={TSV}");
    println!("cargo:rerun-if-changed=build.rs");
    let pages = parse(&fs::read_to_string(TSV)?)?;
    let out = PathBuf::from(env::var("OUT_DIR")?).join("codepages.rs");
    fs::write(out, generate(&pages)?)?;
    link_text_order()?;
    discard_unwind_tables()
}

/// The functions a serving daemon runs, in `image/text-order.txt`, are linked first and
/// together, so that its resident code is those pages rather than every 64 KiB run of the
/// binary that holds one of them (Linux maps file pages in such runs). The list names
/// symbols of the release build and is made by `image/order-text.sh`; names it holds that a
/// build lacks are skipped, so a stale list costs memory, never correctness.
///
/// Only for x86_64 Linux release builds with rustc's own linker (lld, the default there):
/// a linker configured for the target (`RUSTC_LINKER`) may not know the option.
/// `EASD_LINK_MAP=FILE` also writes the linker's map, which `order-text.sh` reads and
/// `image/measure.sh` counts the list's names in.
fn link_text_order() -> BoxResult<()> {
    const ORDER: &str = "image/text-order.txt";
    println!("cargo:rerun-if-changed={ORDER}");
    println!("cargo:rerun-if-env-changed=EASD_LINK_MAP");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if env::var("TARGET")? != "x86_64-unknown-linux-gnu"
        || env::var("PROFILE")? != "release"
        || env::var_os("RUSTC_LINKER").is_some()
    {
        return Ok(());
    }
    let order = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join(ORDER);
    if order.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if let Ok(map) = env::var("EASD_LINK_MAP") {
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
    }
    Ok(())
}

/// The ARM release binaries are linked without unwind tables (`image/no-unwind-tables.ld`):
/// on aarch64 `.eh_frame` and `.eh_frame_hdr` were 614 KB of 6.86 MB stripped, the
/// largest cut left under the 6 MiB budget (image/README.md, "Footprint"). They are there
/// although release panics abort: fat LTO merges std's bitcode, built for unwinding with
/// debug info, and LLVM then gives every function its call frame information
/// (`-C force-unwind-tables=no` changes nothing). Nothing unwinds with `panic = "abort"`;
/// what is lost is `RUST_BACKTRACE=full`'s list of raw addresses at a panic (the stripped
/// binary has no names to print, so `RUST_BACKTRACE=1` printed no frame already), and a
/// debugger unwinds a core dump by reading function prologues instead. The panic message
/// and its source location stay. Only release builds of the binary: tests and benchmarks
/// unwind. On armv7 the tables are EHABI's `.ARM.exidx`/`.ARM.extab`.
fn discard_unwind_tables() -> BoxResult<()> {
    const SCRIPT: &str = "image/no-unwind-tables.ld";
    println!("cargo:rerun-if-changed={SCRIPT}");
    let arm = matches!(
        env::var("CARGO_CFG_TARGET_ARCH")?.as_str(),
        "aarch64" | "arm"
    );
    if !arm || env::var("CARGO_CFG_TARGET_OS")? != "linux" || env::var("PROFILE")? != "release" {
        return Ok(());
    }
    let script = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join(SCRIPT);
    println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    Ok(())
}

fn parse(text: &str) -> BoxResult<Vec<Page>> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, HEADER)) => {}
        other => return Err(format!("{TSV}: expected header {HEADER:?}, got {other:?}").into()),
    }
    let mut pages: BTreeMap<u8, Page> = BTreeMap::new();
    for (index, line) in lines {
        let at = |msg: String| format!("{TSV}:{}: {msg}", index + 1);
        let (page, namespace, row) = parse_row(line).map_err(|e| at(e.to_string()))?;
        let entry = pages.entry(page).or_insert_with(|| Page {
            namespace: namespace.to_owned(),
            rows: Vec::new(),
        });
        if entry.namespace != namespace {
            return Err(at(format!("page {page} already named {}", entry.namespace)).into());
        }
        if entry.rows.iter().any(|r| r.token == row.token) {
            return Err(at(format!("duplicate token {:#04x} on page {page}", row.token)).into());
        }
        if entry.rows.iter().any(|r| r.tag == row.tag) {
            return Err(at(format!("duplicate tag {} on page {page}", row.tag)).into());
        }
        entry.rows.push(row);
    }
    let keys: Vec<u8> = pages.keys().copied().collect();
    if keys != (0..PAGE_COUNT).collect::<Vec<_>>() {
        return Err(format!("{TSV}: expected pages 0..{PAGE_COUNT}, got {keys:?}").into());
    }
    let mut namespaces = HashSet::new();
    for page in pages.values() {
        if !namespaces.insert(page.namespace.to_lowercase()) {
            return Err(format!("{TSV}: duplicate namespace {}", page.namespace).into());
        }
    }
    Ok(pages.into_values().collect())
}

fn parse_row(line: &str) -> BoxResult<(u8, &str, Row)> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [page, namespace, token, tag, opaque] = fields[..] else {
        return Err(format!("expected 5 tab-separated fields: {line:?}").into());
    };
    let opaque = match opaque {
        "1" => true,
        "0" => false,
        other => return Err(format!("opaque column {other:?} is not 0 or 1").into()),
    };
    let page: u8 = page.parse()?;
    let token = token
        .strip_prefix("0x")
        .ok_or_else(|| format!("token {token:?} is not 0x-prefixed hex"))?;
    let token = u8::from_str_radix(token, 16)?;
    if !TOKENS.contains(&token) {
        return Err(format!("token {token:#04x} outside 0x05..=0x3F").into());
    }
    // Names become Rust identifiers and XML element names.
    for name in [namespace, tag] {
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(format!("{name:?} is not an ASCII alphanumeric name").into());
        }
    }
    let row = Row {
        token,
        tag: tag.to_owned(),
        opaque,
    };
    Ok((page, namespace, row))
}

fn generate(pages: &[Page]) -> BoxResult<String> {
    let mut out = String::from("// @generated by build.rs from src/wbxml/codepages.tsv\n\n");
    writeln!(out, "/// Every code page, indexed by page number.")?;
    writeln!(out, "pub static PAGES: [Page; {PAGE_COUNT}] = [")?;
    for (index, page) in pages.iter().enumerate() {
        let mut tags = vec!["None".to_owned(); 64];
        let mut opaque = 0u64;
        for row in &page.rows {
            tags[usize::from(row.token)] = format!("Some({:?})", row.tag);
            if row.opaque {
                opaque |= 1 << row.token;
            }
        }
        writeln!(
            out,
            "    Page {{ index: {index}, namespace: {:?}, tags: [{}], opaque: {opaque:#x} }},",
            page.namespace,
            tags.join(", ")
        )?;
    }
    writeln!(out, "];\n")?;
    writeln!(
        out,
        "/// Tag constants, one module per code page (`tag::r#move` for Move)."
    )?;
    writeln!(out, "pub mod tag {{")?;
    writeln!(out, "    use super::Tag;")?;
    for (index, page) in pages.iter().enumerate() {
        generate_page_module(&mut out, index, page)?;
    }
    writeln!(out, "}}")?;
    Ok(out)
}

fn generate_page_module(out: &mut String, index: usize, page: &Page) -> BoxResult<()> {
    writeln!(out, "\n    /// Code page {index}: `{}`.", page.namespace)?;
    writeln!(out, "    pub mod {} {{", module_name(&page.namespace))?;
    writeln!(out, "        use super::Tag;")?;
    let mut seen = HashSet::new();
    for row in &page.rows {
        let name = const_name(&row.tag);
        if !seen.insert(name.clone()) {
            return Err(format!("{}: constant {name} collides", page.namespace).into());
        }
        writeln!(out, "        /// `{}` ({:#04x})", row.tag, row.token)?;
        writeln!(
            out,
            "        pub const {name}: Tag = Tag::new({index}, {:#04x});",
            row.token
        )?;
    }
    writeln!(out, "    }}")?;
    Ok(())
}

/// Lowercase namespace; `move` is a keyword, so it becomes the raw identifier `r#move`.
fn module_name(namespace: &str) -> String {
    let lower = namespace.to_lowercase();
    if lower == "move" {
        format!("r#{lower}")
    } else {
        lower
    }
}

/// `SyncKey` → `SYNC_KEY`, `SMTPAddress` → `SMTP_ADDRESS`, `Email1Address` →
/// `EMAIL1_ADDRESS`: a word starts at an uppercase letter that follows a
/// lowercase letter or digit, or that ends an acronym (next char lowercase).
fn const_name(tag: &str) -> String {
    let chars: Vec<char> = tag.chars().collect();
    let mut out = String::with_capacity(tag.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if !prev.is_ascii_uppercase() || next_lower {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
