//! Mail in: a blocking LMTP client, test messages, and old messages put into a stopped
//! server's store.

use std::io::BufReader;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;

use super::*;

// ---------------------------------------------------------------------------------------
// LMTP
// ---------------------------------------------------------------------------------------

/// Longest an LMTP reply may take before the test fails instead of hanging.
pub(super) const LMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// One (possibly multi-line) LMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmtpReply {
    pub code: u16,
    /// Every line's text after `NNN-` / `NNN `.
    pub lines: Vec<String>,
}

impl LmtpReply {
    /// The enhanced status code of the last line (`5.1.1`), when there is one.
    pub fn enhanced(&self) -> Option<&str> {
        let last = self.lines.last()?;
        let first = last.split_whitespace().next()?;
        let shape = first.split('.').count() == 3
            && first
                .split('.')
                .all(|p| p.chars().all(|c| c.is_ascii_digit()));
        shape.then_some(first)
    }

    /// `"550 5.1.1"`-style summary, for assertions.
    pub fn short(&self) -> String {
        match self.enhanced() {
            Some(e) => format!("{} {e}", self.code),
            None => self.code.to_string(),
        }
    }
}

/// A small blocking LMTP client (RFC 2033) over a raw TCP connection.
pub struct LmtpClient {
    reader: BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
    /// The 220 greeting.
    pub greeting: LmtpReply,
}

/// Dot-stuffs `message` for DATA (RFC 5321 4.5.2): bare LF becomes CRLF, a line starting
/// with `.` gets another, and the message ends with CRLF. The terminator is not included.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 4);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl LmtpClient {
    /// Connects and reads the greeting, which must be 220.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = std::net::TcpStream::connect_timeout(&addr, LMTP_TIMEOUT)
            .unwrap_or_else(|e| panic!("LMTP connect {addr}: {e}"));
        Self::from_stream(stream)
    }

    /// Like [`LmtpClient::connect`], but an error instead of a panic (for crash tests).
    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = std::net::TcpStream::connect_timeout(&addr, LMTP_TIMEOUT)?;
        stream.set_read_timeout(Some(LMTP_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let greeting = try_read_reply(&mut reader)?;
        if greeting.code != 220 {
            return Err(std::io::Error::other(format!("greeting {greeting:?}")));
        }
        Ok(LmtpClient {
            reader,
            writer,
            greeting,
        })
    }

    fn from_stream(stream: std::net::TcpStream) -> Self {
        stream
            .set_read_timeout(Some(LMTP_TIMEOUT))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone stream");
        let mut reader = BufReader::new(stream);
        let greeting = try_read_reply(&mut reader).expect("LMTP greeting");
        assert_eq!(greeting.code, 220, "greeting {greeting:?}");
        LmtpClient {
            reader,
            writer,
            greeting,
        }
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    pub fn try_read_reply(&mut self) -> std::io::Result<LmtpReply> {
        try_read_reply(&mut self.reader)
    }

    // Benches only (pipelined LMTP in `mail` and `push`).
    #[allow(dead_code)]
    #[track_caller]
    pub fn read_reply(&mut self) -> LmtpReply {
        self.try_read_reply().expect("LMTP reply")
    }

    /// Sends one command line (CRLF added) and reads its reply.
    pub fn try_command(&mut self, line: &str) -> std::io::Result<LmtpReply> {
        self.write_raw(format!("{line}\r\n").as_bytes())?;
        self.try_read_reply()
    }

    #[track_caller]
    pub fn command(&mut self, line: &str) -> LmtpReply {
        self.try_command(line)
            .unwrap_or_else(|e| panic!("LMTP {line:?}: {e}"))
    }

    /// LHLO, which must be answered 250.
    #[track_caller]
    pub fn lhlo(&mut self) -> LmtpReply {
        let r = self.command("LHLO mta.test");
        assert_eq!(r.code, 250, "LHLO: {r:?}");
        r
    }

    /// DATA, then the dot-stuffed message and the terminator; reads one reply per accepted
    /// recipient. DATA itself must get 354.
    pub fn try_data(&mut self, message: &[u8], accepted: usize) -> std::io::Result<Vec<LmtpReply>> {
        let go = self.try_command("DATA")?;
        if go.code != 354 {
            return Err(std::io::Error::other(format!("DATA answered {go:?}")));
        }
        let mut payload = dot_stuff(message);
        payload.extend_from_slice(b".\r\n");
        self.write_raw(&payload)?;
        (0..accepted).map(|_| self.try_read_reply()).collect()
    }

    /// One whole transaction: MAIL FROM, one RCPT per recipient, and (when any was
    /// accepted) DATA. Returns the RCPT replies and the per-recipient DATA replies; with no
    /// accepted recipient the transaction is reset and there are no DATA replies.
    pub fn try_send(
        &mut self,
        from: &str,
        recipients: &[&str],
        message: &[u8],
    ) -> std::io::Result<(Vec<LmtpReply>, Vec<LmtpReply>)> {
        let mail = self.try_command(&format!("MAIL FROM:<{from}>"))?;
        if mail.code != 250 {
            return Err(std::io::Error::other(format!("MAIL answered {mail:?}")));
        }
        let mut rcpt = Vec::new();
        for r in recipients {
            rcpt.push(self.try_command(&format!("RCPT TO:<{r}>"))?);
        }
        let accepted = rcpt.iter().filter(|r| r.code == 250).count();
        if accepted == 0 {
            let rset = self.try_command("RSET")?;
            assert_eq!(rset.code, 250, "RSET: {rset:?}");
            return Ok((rcpt, Vec::new()));
        }
        let data = self.try_data(message, accepted)?;
        Ok((rcpt, data))
    }

    #[track_caller]
    pub fn send(
        &mut self,
        from: &str,
        recipients: &[&str],
        message: &[u8],
    ) -> (Vec<LmtpReply>, Vec<LmtpReply>) {
        self.try_send(from, recipients, message)
            .unwrap_or_else(|e| panic!("LMTP transaction: {e}"))
    }

    /// QUIT, which must get 221.
    pub fn quit(mut self) {
        let r = self.command("QUIT");
        assert_eq!(r.code, 221, "QUIT: {r:?}");
    }
}

fn try_read_reply(reader: &mut impl std::io::BufRead) -> std::io::Result<LmtpReply> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let bad = || std::io::Error::other(format!("malformed LMTP reply line {line:?}"));
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let sep = line.as_bytes().get(3).copied();
        lines.push(line.get(4..).unwrap_or("").to_owned());
        match sep {
            Some(b'-') => continue,
            Some(b' ') | None => return Ok(LmtpReply { code, lines }),
            Some(_) => return Err(bad()),
        }
    }
}

/// A plain-text message with the usual headers.
pub fn text_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        unique_token()
    )
    .into_bytes()
}

/// [`message_with_attachment`] with `size` bytes `z` as the attachment.
pub fn attachment_message(to: &str, subject: &str, name: &str, size: usize) -> Vec<u8> {
    message_with_attachment(to, subject, name, &vec![b'z'; size])
}

/// A multipart/mixed message with a text body ("See the attachment.") and one base64
/// attachment.
pub fn message_with_attachment(to: &str, subject: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
    let content_type = if name.ends_with(".png") {
        "image/png"
    } else {
        "application/octet-stream"
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut wrapped = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 2);
    for chunk in b64.as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        wrapped.push_str("\r\n");
    }
    format!(
        "From: Sender <sender@remote.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n\
         --b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n\
         --b0undary\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b0undary--\r\n",
        unique_token()
    )
    .into_bytes()
}

/// Deterministic attachment bytes covering every byte value.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// A process-wide unique token (for Message-IDs and names).
pub fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

impl TestServer {
    /// Stores each `(raw message, age in seconds)` in the Inbox of `user` as received that
    /// long ago: delivery stamps the time of arrival, so old messages go into the stopped
    /// server's store directly; the server is started again afterwards.
    pub fn store_in_the_past(&mut self, user: &str, messages: &[(Vec<u8>, i64)]) {
        use easd::store::model::Flags;
        use easd::store::model::FolderType;
        use easd::store::ops::Reads;
        self.shutdown();
        let store = easd::store::Store::open(self.data_dir()).expect("store");
        for (raw, age) in messages {
            let meta = easd::mail::mime::parse(raw, easd::store::now() - age);
            let blob = store.blobs().put(raw).expect("blob");
            let user = user.to_owned();
            store
                .write_blocking(move |w| {
                    let account = w.account_by_email(&user)?.expect("account").id;
                    let inbox = w
                        .folders(account)?
                        .into_iter()
                        .find(|f| f.kind == FolderType::Inbox)
                        .expect("Inbox");
                    easd::store::items::insert(
                        w,
                        account,
                        inbox.id,
                        blob.clone(),
                        meta.clone(),
                        Flags::default(),
                    )
                })
                .expect("old message stored");
        }
        drop(store);
        self.restart();
    }
}

impl TestServer {
    /// An LMTP connection to this server, past LHLO.
    pub fn lmtp(&self) -> LmtpClient {
        let mut c = LmtpClient::connect(self.lmtp_addr());
        c.lhlo();
        c
    }

    /// Delivers `message` to `recipients` over LMTP; every recipient must get 250 twice
    /// (RCPT and after DATA).
    #[track_caller]
    pub fn deliver(&self, recipients: &[&str], message: &[u8]) {
        let mut c = self.lmtp();
        let (rcpt, data) = c.send("sender@remote.test", recipients, message);
        assert!(rcpt.iter().all(|r| r.code == 250), "RCPT: {rcpt:?}");
        assert_eq!(data.len(), recipients.len(), "DATA: {data:?}");
        assert!(data.iter().all(|r| r.code == 250), "DATA: {data:?}");
        c.quit();
    }

    /// Delivers a plain-text message with `subject` to `to`.
    #[track_caller]
    pub fn deliver_text(&self, to: &str, subject: &str, body: &str) {
        self.deliver(
            &[to],
            &text_message("sender@remote.test", to, subject, body),
        );
    }
}
