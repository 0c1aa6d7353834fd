//! Mail out: a tiny SMTP server standing in for the relay.

use std::io::BufReader;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use easd::config::Config;

use super::*;

// ---------------------------------------------------------------------------------------
// SMTP sink (the outgoing relay) and push helpers
// ---------------------------------------------------------------------------------------

/// How an [`SmtpSink`] treats the next sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// A normal relay: every message is accepted (250) and recorded.
    Accept,
    /// DATA gets `451` (try again later); nothing is recorded.
    FailData,
    /// Every connection gets a `421` greeting and is closed.
    Refuse,
}

/// One message an [`SmtpSink`] accepted.
#[derive(Debug, Clone)]
pub struct SmtpMessage {
    /// MAIL FROM's address (without the angle brackets).
    pub from: String,
    /// MAIL FROM's parameters after the address (`SMTPUTF8`, `BODY=8BITMIME`), as sent.
    pub from_parameters: String,
    /// RCPT TO's addresses, in order.
    pub recipients: Vec<String>,
    /// The message, un-dot-stuffed, without the terminating `.` line.
    pub data: Vec<u8>,
}

impl SmtpMessage {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

struct SinkShared {
    mode: Mutex<SinkMode>,
    /// Recipients answered with a reply of their own instead of `250`.
    refused: Mutex<std::collections::HashMap<String, String>>,
    data_delay: Mutex<Duration>,
    messages: Mutex<Vec<SmtpMessage>>,
    connections: std::sync::atomic::AtomicUsize,
    stop: std::sync::atomic::AtomicBool,
}

/// A tiny SMTP server on 127.0.0.1:0 speaking just enough for mail-send's plain client:
/// greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. Stopped when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<SinkShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SmtpSink {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("sink address");
        let shared = Arc::new(SinkShared {
            mode: Mutex::new(SinkMode::Accept),
            refused: Mutex::new(std::collections::HashMap::new()),
            data_delay: Mutex::new(Duration::ZERO),
            messages: Mutex::new(Vec::new()),
            connections: std::sync::atomic::AtomicUsize::new(0),
            stop: std::sync::atomic::AtomicBool::new(false),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if for_thread.stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    for_thread
                        .connections
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let session = for_thread.clone();
                    std::thread::spawn(move || {
                        let _ = smtp_session(conn, &session);
                    });
                }
            })
            .expect("sink thread");
        SmtpSink {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn set_mode(&self, mode: SinkMode) {
        *self.shared.mode.lock().expect("sink mode") = mode;
    }

    /// Answers `RCPT TO:<recipient>` with `reply` (a whole reply line such as
    /// `550 5.1.1 no such user`) from now on; `None` accepts it again.
    pub fn refuse_recipient(&self, recipient: &str, reply: Option<&str>) {
        let mut refused = self.shared.refused.lock().expect("sink refusals");
        match reply {
            Some(reply) => refused.insert(recipient.to_owned(), format!("{reply}\r\n")),
            None => refused.remove(recipient),
        };
    }

    /// How long the sink sits on a received message before answering the final 250.
    pub fn set_data_delay(&self, delay: Duration) {
        *self.shared.data_delay.lock().expect("sink delay") = delay;
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.shared.messages.lock().expect("sink messages").clone()
    }

    /// Connections accepted so far (in any mode).
    pub fn connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Points `cfg.relay` at this sink (no TLS, short timeout).
    pub fn configure(&self, cfg: &mut Config) {
        cfg.relay.host = self.addr.ip().to_string();
        cfg.relay.port = self.addr.port();
        cfg.relay.security = easd::config::RelaySecurity::None;
        cfg.relay.username = None;
        cfg.relay.password = None;
        cfg.relay.timeout_seconds = 10;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The address inside `<...>` of a MAIL FROM / RCPT TO argument.
fn angle_address(arg: &str) -> String {
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

fn smtp_session(stream: std::net::TcpStream, shared: &SinkShared) -> std::io::Result<()> {
    use std::io::{BufRead as _, Write as _};
    stream.set_read_timeout(Some(LMTP_TIMEOUT))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let mode = *shared.mode.lock().expect("sink mode");
    if mode == SinkMode::Refuse {
        w.write_all(b"421 4.3.2 sink.test refuses service\r\n")?;
        return w.flush();
    }
    w.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    let mut from: Option<String> = None;
    let mut from_parameters = String::new();
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink.test greets you\r\n250 HELP\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(angle_address(&cmd[10..]));
            from_parameters = cmd
                .split_once('>')
                .map_or("", |(_, rest)| rest)
                .trim()
                .to_owned();
            recipients.clear();
            b"250 2.1.0 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let recipient = angle_address(&cmd[8..]);
            let refusal = shared
                .refused
                .lock()
                .expect("sink refusals")
                .get(&recipient)
                .cloned();
            if let Some(reply) = refusal {
                w.write_all(reply.as_bytes())?;
                w.flush()?;
                continue;
            }
            recipients.push(recipient);
            b"250 2.1.5 ok\r\n"
        } else if upper == "DATA" && recipients.is_empty() {
            b"554 5.5.1 no valid recipients\r\n"
        } else if upper == "DATA" {
            if *shared.mode.lock().expect("sink mode") == SinkMode::FailData {
                b"451 4.3.0 try again later\r\n"
            } else {
                w.write_all(b"354 go ahead\r\n")?;
                w.flush()?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l)? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" || l == b".\n" {
                        break;
                    }
                    let l = if l.starts_with(b".") { &l[1..] } else { &l[..] };
                    data.extend_from_slice(l);
                }
                let delay = *shared.data_delay.lock().expect("sink delay");
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                shared
                    .messages
                    .lock()
                    .expect("sink messages")
                    .push(SmtpMessage {
                        from: from.take().unwrap_or_default(),
                        from_parameters: std::mem::take(&mut from_parameters),
                        recipients: std::mem::take(&mut recipients),
                        data,
                    });
                b"250 2.0.0 queued\r\n"
            }
        } else if upper == "RSET" {
            from = None;
            recipients.clear();
            b"250 2.0.0 ok\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 bye\r\n")?;
            return w.flush();
        } else {
            b"500 5.5.2 unknown command\r\n"
        };
        w.write_all(reply)?;
        w.flush()?;
    }
}
