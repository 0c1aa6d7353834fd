//! The per-device protocol log: decoded requests and responses, for debugging a phone.
//!
//! Off by default; switched per account or device at run time (`easd log on|off`). Each
//! device's log is a file under DATA/protocol-log that is rotated to `.1` when it reaches
//! its budget, so the log is a bounded ring of two generations. Credentials never reach it:
//! the Authorization header is not logged and password elements are masked in the tree.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::wbxml::{self, Element, Node, tag};

pub struct ProtocolLog {
    dir: PathBuf,
    max_bytes: u64,
}

impl ProtocolLog {
    pub fn new(data: &Path, max_bytes: u64) -> Self {
        Self {
            dir: data.join("protocol-log"),
            max_bytes,
        }
    }

    pub fn path(data: &Path, device_id: &str) -> PathBuf {
        data.join("protocol-log").join(format!("{device_id}.log"))
    }

    /// Appends one entry: a header line and the XML view of the body, secrets masked.
    pub fn write(&self, device_id: &str, header: &str, body: Option<&Element>) {
        let xml = body.map(|b| wbxml::to_xml(&masked(b)));
        if let Err(e) = self.append(device_id, header, xml.as_deref()) {
            tracing::warn!("protocol log for {device_id}: {e}");
        }
    }

    fn append(&self, device_id: &str, header: &str, xml: Option<&str>) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!("{device_id}.log"));
        if fs::metadata(&path).is_ok_and(|m| m.len() >= self.max_bytes) {
            fs::rename(&path, path.with_extension("log.1"))?;
        }
        let mut entry = String::with_capacity(header.len() + xml.map_or(0, str::len) + 2);
        entry.push_str(header);
        entry.push('\n');
        if let Some(xml) = xml {
            entry.push_str(xml);
            if !xml.ends_with('\n') {
                entry.push('\n');
            }
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(entry.as_bytes())
    }

    /// The whole log of a device, oldest first.
    pub fn read(data: &Path, device_id: &str) -> std::io::Result<String> {
        let path = Self::path(data, device_id);
        let mut out = fs::read_to_string(path.with_extension("log.1")).unwrap_or_default();
        out.push_str(&fs::read_to_string(&path)?);
        Ok(out)
    }
}

/// The end of a device's log, at most `max` bytes of each generation (the newest, then as
/// much of the rotated one as fits), oldest first, starting at an entry's header: a bounded
/// read whatever the configured log size.
pub fn read_tail(data: &Path, device_id: &str, max: u64) -> std::io::Result<String> {
    let path = ProtocolLog::path(data, device_id);
    let newest = tail_of(&path, max)?;
    let older = match max.saturating_sub(newest.len() as u64) {
        0 => String::new(),
        left => tail_of(&path.with_extension("log.1"), left).unwrap_or_default(),
    };
    let all = older + &newest;
    let header = format!("{device_id} [");
    let start = if all.starts_with(&header) {
        0
    } else {
        all.find(&format!("\n{header}"))
            .map_or(all.len(), |i| i + 1)
    };
    Ok(all[start..].to_owned())
}

/// The last `max` bytes of the file at `path` (from a character boundary).
fn tail_of(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut bytes = Vec::with_capacity(max.min(len) as usize);
    f.take(max).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The entries of a device's log text (each a header line and the XML under it),
/// oldest first.
pub fn entries<'a>(log: &'a str, device_id: &str) -> Vec<&'a str> {
    let header = format!("{device_id} [");
    let mut starts: Vec<usize> = Vec::new();
    let mut at = 0;
    for line in log.split_inclusive('\n') {
        if line.starts_with(&header) {
            starts.push(at);
        }
        at += line.len();
    }
    starts.push(log.len());
    starts.windows(2).map(|w| &log[w[0]..w[1]]).collect()
}

/// A copy of `e` with the text of password elements replaced by `***`.
fn masked(e: &Element) -> Element {
    let secret = e.tag == tag::settings::PASSWORD;
    Element {
        tag: e.tag,
        children: e
            .children
            .iter()
            .map(|n| match n {
                Node::Element(c) => Node::Element(masked(c)),
                Node::Text(_) if secret => Node::Text("***".into()),
                other => other.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let log = ProtocolLog::new(dir.path(), 10_000);
        let body = Element::new(tag::settings::SETTINGS).child(
            Element::new(tag::settings::DEVICE_PASSWORD).child(
                Element::new(tag::settings::SET).text_child(tag::settings::PASSWORD, "hunter2"),
            ),
        );
        log.write("DEV1", "DEV1 [u] [0001] 00:00:00 <<< Settings", Some(&body));
        let text = ProtocolLog::read(dir.path(), "DEV1").unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<Password>***</Password>"), "{text}");
    }

    #[test]
    fn a_bounded_tail_starts_at_an_entry_and_splits_into_entries() {
        let dir = tempfile::tempdir().unwrap();
        let log = ProtocolLog::new(dir.path(), 1 << 20);
        for n in 0..50 {
            let e = Element::new(tag::ping::PING)
                .text_child(tag::ping::HEARTBEAT_INTERVAL, n.to_string());
            log.write(
                "DEV1",
                &format!("DEV1 [a@example.com] [{n:04}] 00:00:00 Ping"),
                Some(&e),
            );
        }
        let tail = read_tail(dir.path(), "DEV1", 600).unwrap();
        assert!(tail.len() <= 600 && tail.starts_with("DEV1 ["), "{tail}");
        let entries = entries(&tail, "DEV1");
        assert!(entries.len() > 1);
        assert!(entries.last().unwrap().contains("[0049]"));
        assert!(
            entries
                .iter()
                .all(|e| e.starts_with("DEV1 [") && e.contains("<"))
        );
        assert!(read_tail(dir.path(), "NOSUCH", 600).is_err());
    }

    #[test]
    fn the_log_is_a_bounded_ring() {
        let dir = tempfile::tempdir().unwrap();
        let log = ProtocolLog::new(dir.path(), 200);
        for i in 0..100 {
            let body = Element::new(tag::airsync::SYNC);
            log.write(
                "DEV1",
                &format!("DEV1 [u] [{i:04}] 00:00:00 <<< Sync"),
                Some(&body),
            );
        }
        let text = ProtocolLog::read(dir.path(), "DEV1").unwrap();
        assert!(text.len() < 600, "{} bytes", text.len());
        assert!(text.contains("[0099]"));
        assert!(!text.contains("[0000]"));
    }
}
