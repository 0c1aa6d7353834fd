//! The layer rule, checked: every `crate::…` import of a file in `src/` goes to its own
//! layer or one below (ARCHITECTURE.md, "Layers"). The checker is a pure function over
//! (file, source text), so a planted violation can be shown to be caught.
//!
//! Test code (`#[cfg(test)] mod …` blocks and files) is not checked: a test may build its
//! input with whatever helper is handy.

use std::collections::BTreeSet;
use std::path::Path;

/// The top-level modules of the crate, bottom up: a module may import from its own layer
/// and the layers before it, never from a later one. Within a layer, the cycle check
/// (`module-cycles.py`) keeps the imports one way.
const LAYERS: &[&[&str]] = &[
    // Small leaves everything may use: refusal counters, memory budgets, bounded
    // collections, configuration, log setup, spool files, HTTP bodies, metrics, the
    // served certificate's particulars.
    &[
        "refusal",
        "budget",
        "bounded",
        "config",
        "logging",
        "spool",
        "http_body",
        "metrics",
    ],
    &["wbxml"],
    // Protocol values, and the protocol log (which redacts WBXML).
    &["proto", "protolog"],
    // Persisted records (`store::model`) and their storage.
    &["store"],
    &[
        "auth",
        "mail",
        "govern",
        "sync",
        "push",
        "pim",
        "tls",
        "server_settings",
        "directory",
    ],
    // The state shared by all request handlers.
    &["app"],
    // The EAS front door, commands and item classes; the admin operations; the web pages
    // (a second face on the admin operations).
    &["eas", "admin", "web"],
    &["server"],
    &["cli"],
];

/// The layer of a top-level module; `None` for one not in [`LAYERS`].
fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module path of a file under `src/`: `store/items.rs` → `["store", "items"]`,
/// `mail/lmtp/mod.rs` → `["mail", "lmtp"]`, `lib.rs` → `[]`.
fn module_of(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// `text` without comments, string and char literals, and `#[cfg(test)] mod … { … }`.
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' || (b[i] == b'r' && b[i + 1..].starts_with(b"\"")) {
            i = skip_string(b, i);
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3; // 'x'
        } else if b[i..].starts_with(b"'\\") {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    drop_test_modules(&out)
}

/// The index after the string literal starting at `i` (plain or raw).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'r' {
        i += 1;
        let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
        i += hashes + 1;
        while i < b.len() {
            if b[i] == b'"'
                && b[i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&c| c == b'#')
                    .count()
                    == hashes
            {
                return i + 1 + hashes;
            }
            i += 1;
        }
        return i;
    }
    i += 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

fn drop_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let item = after.trim_start();
        let is_inline_mod = item
            .strip_prefix("pub ")
            .unwrap_or(item)
            .strip_prefix("mod ")
            .is_some_and(|m| {
                let m = m.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
                m.trim_start().starts_with('{')
            });
        if !is_inline_mod {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        let open = after.find('{').expect("checked above");
        let mut depth = 0;
        let mut end = after.len();
        for (k, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The child modules a file declares `#[cfg(test)] mod name;`: test-only files.
fn test_children(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        rest = &rest[at + "#[cfg(test)]".len()..];
        let item = rest.trim_start();
        let item = item.strip_prefix("pub ").unwrap_or(item);
        if let Some(m) = item.strip_prefix("mod ") {
            let name: String = m
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if m[name.len()..].trim_start().starts_with(';') {
                out.push(name);
            }
        }
    }
    out
}

/// Expands a use tree: `a::{b, c::{d, e as f}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    expand_into(&[], &tree, &mut out);
    out
}

fn expand_into(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let mut depth = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (k, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((head, inner)) = part.split_once('{') {
            let mut next = prefix.to_vec();
            next.extend(segments(head));
            expand_into(&next, inner.trim_end().trim_end_matches('}'), out);
        } else {
            let path = part.split(" as ").next().unwrap_or(part);
            let mut full = prefix.to_vec();
            full.extend(segments(path));
            out.push(full);
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The top-level module a path names, seen from the module `me`; `None` for other crates,
/// `std`, and the crate root itself.
fn top_of(path: &[String], me: &[String]) -> Option<String> {
    let (head, rest) = path.split_first()?;
    let mut base: Vec<String> = match head.as_str() {
        "crate" => Vec::new(),
        "self" => me.to_vec(),
        "super" => me[..me.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    let mut rest = rest;
    while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
        base.pop();
        rest = tail;
    }
    base.extend(rest.iter().cloned());
    base.into_iter().next()
}

/// The top-level modules the code of `file` (a path under `src/`) imports, by `use` or by
/// a `crate::…`/`super::…` path written out.
pub fn imports(file: &str, text: &str) -> BTreeSet<String> {
    let me = module_of(file);
    let code = code_of(text);
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = find_word(rest, "use") {
        let tail = &rest[at + 3..];
        let Some(end) = tail.find(';') else { break };
        for path in expand(&tail[..end]) {
            out.extend(top_of(&path, &me));
        }
        rest = &tail[end..];
    }
    for head in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(head) {
            let before = rest[..at].chars().next_back();
            let after = &rest[at..];
            rest = &after[head.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: Vec<String> = after
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .map(|p| segments(p).collect())
                .unwrap_or_default();
            out.extend(top_of(&path, &me));
        }
    }
    out.remove(me.first().map(String::as_str).unwrap_or(""));
    out
}

/// `word` standing alone (not part of an identifier) in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find(word).map(|k| k + from) {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        if !before.is_some_and(ident) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// The imports of `file` that go up a layer (or to a module in no layer), as
/// `(file, imported module)`.
pub fn violations(file: &str, imports: &BTreeSet<String>) -> Vec<(String, String)> {
    let me = module_of(file);
    let Some(own) = me.first() else {
        return Vec::new(); // the crate root declares the modules
    };
    let own_layer = layer(own);
    imports
        .iter()
        .filter(|m| match (own_layer, layer(m)) {
            (Some(own), Some(theirs)) => theirs > own,
            _ => true,
        })
        .map(|m| (file.to_owned(), m.clone()))
        .collect()
}

/// Whether `text`'s code (comments and literals aside) names `word` as an identifier.
pub fn names(text: &str, word: &str) -> bool {
    let code = code_of(text);
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, w)| {
        !code[..at].chars().next_back().is_some_and(ident)
            && !code[at + w.len()..].chars().next().is_some_and(ident)
    })
}

/// Every `.rs` file under `dir`, as paths relative to `root`, skipping test-only files.
pub fn source_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    let mut skip = BTreeSet::new();
    for path in &entries {
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(path).expect("read source");
            for child in test_children(&text) {
                skip.insert(dir.join(format!("{child}.rs")));
                skip.insert(dir.join(&child));
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if !matches!(stem, "mod" | "lib" | "main") {
                    skip.insert(dir.join(stem).join(format!("{child}.rs")));
                    skip.insert(dir.join(stem).join(&child));
                }
            }
        }
    }
    for path in entries {
        if skip.contains(&path) {
            continue;
        }
        if path.is_dir() {
            source_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let rel = rel.to_str().expect("utf-8 path").to_owned();
            out.push((rel, std::fs::read_to_string(&path).expect("read source")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_import_goes_up_a_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        source_files(&src, &src, &mut files);
        assert!(files.len() > 50, "found the sources: {}", files.len());
        let mut found = Vec::new();
        for (file, text) in &files {
            // lib.rs and main.rs are the crate root: `violations` passes them by.
            found.extend(violations(file, &imports(file, text)));
        }
        assert!(found.is_empty(), "imports going up a layer: {found:?}");
    }

    #[test]
    fn a_planted_upward_import_is_caught() {
        let text = "//! A store file.\nuse crate::store::model::Account;\nuse super::ops::Reads;\n\
                    use crate::{wbxml::Element, eas::front};\n";
        let found = imports("store/items.rs", text);
        assert_eq!(found, set(&["eas", "wbxml"]));
        assert_eq!(
            violations("store/items.rs", &found),
            vec![("store/items.rs".to_owned(), "eas".to_owned())]
        );
        // Written out in code rather than imported, and from a nested module.
        let inline = "fn f() { let _ = crate::server::http::handle; }\n";
        let found = imports("proto/status.rs", inline);
        assert_eq!(violations("proto/status.rs", &found).len(), 1);
        // `super::super::` from a nested file reaches the top level.
        let found = imports("mail/lmtp/session.rs", "use super::super::super::cli::Cli;");
        assert_eq!(found, set(&["cli"]));
        // A module in no layer is refused until it is given one.
        assert_eq!(violations("wbxml/mod.rs", &set(&["newthing"])).len(), 1);
    }

    #[test]
    fn downward_comments_strings_and_tests_are_not_violations() {
        let text = "use crate::store::Store;\n// use crate::cli::Cli;\n\
                    const S: &str = \"crate::server::App\";\n\
                    #[cfg(test)]\nmod tests {\n    use crate::server::App;\n}\n";
        let found = imports("eas/front.rs", text);
        assert_eq!(found, set(&["store"]));
        assert!(violations("eas/front.rs", &found).is_empty());
        assert_eq!(
            expand("a::{b, c::{d, e as f}}"),
            vec![vec!["a", "b"], vec!["a", "c", "d"], vec!["a", "c", "e"]]
        );
    }
}
