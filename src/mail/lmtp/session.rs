//! One LMTP conversation as a pure state machine (RFC 2033): bytes in, replies and
//! deliveries out, no I/O.
//!
//! The caller feeds whatever it read to [`Session::feed`], hands each [`Delivery`] to
//! [`Mailboxes::deliver`] and reports the outcome with [`Session::delivered`], and writes
//! [`Session::take_output`] to the peer whenever its input is drained (RFC 2920 pipelining).
//!
//! smtp-proto parses each command line (`Request::parse`) and dot-unstuffs the message
//! (`DataReceiver`), and formats the replies. The line framing is ours: its
//! `RequestReceiver` only limits lines that arrive split over several reads, and after an
//! over-long line it resumes parsing in the middle of that line, which would answer one
//! line twice and desynchronise a pipelining client.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Display;
use std::rc::Rc;

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use smtp_proto::{
    EXT_8BIT_MIME, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8,
    EhloResponse, Error as ParseError, MAIL_BODY_BINARYMIME, MAIL_SMTPUTF8, MailFrom, Request,
    Response,
};

use super::types::{LmtpConfig, NotDelivered};
use crate::refusal::{Limit, Refusals};

/// Longest command line accepted, CRLF included. RFC 5321 4.5.3.1.4 sets 512 and lets
/// extensions raise it; longer lines get `500 5.5.2` and are skipped.
pub const MAX_LINE: usize = 4096;

/// What the caller must do next.
pub enum Step {
    /// All input was consumed: flush the output and read more.
    NeedInput,
    /// A message is complete. Deliver it, then call [`Session::delivered`] before feeding
    /// the rest of the input (which stays in the slice given to [`Session::feed`]).
    Deliver(Delivery),
    /// The conversation is over: flush the output and close the connection.
    Close,
    /// A RCPT names this address (its `+tag` stripped): resolve it (a store read, which
    /// may wait) and call [`Session::resolved`] before feeding the rest of the input.
    Resolve { address: String },
    /// The next piece of a large message's data, in order: append it to the message's
    /// spool (`first`: start a new spool with it). The message's [`Delivery`] then says
    /// it was spilled and holds only the last piece.
    Spill { chunk: Vec<u8>, first: bool },
}

/// Message data beyond this is handed out as [`Step::Spill`] pieces instead of kept in
/// memory: most mail fits below it, and a 50 MiB message costs this much RAM, not 50 MiB.
pub const SPILL_AT: usize = 256 * 1024;

/// A complete message and the distinct accounts it goes to.
pub struct Delivery {
    pub accounts: Vec<u64>,
    /// The dot-unstuffed message, handed over without a copy — or, when `spilled`, only
    /// its last piece (the rest went out as [`Step::Spill`]).
    pub message: Vec<u8>,
    pub spilled: bool,
    /// What [`Session::delivered`] needs to answer each recipient.
    pub pending: Pending,
}

/// A message waiting for its delivery outcome.
pub struct Pending {
    envelope: Envelope,
    size: usize,
}

impl Pending {
    /// The envelope sender (MAIL FROM); empty for the null reverse-path `<>`.
    pub fn sender(&self) -> &str {
        &self.envelope.sender
    }
}

/// Why the caller ends a conversation the client did not end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    IdleTimeout,
    Shutdown,
}

/// The sender and the accepted recipients of the open mail transaction.
struct Envelope {
    sender: String,
    /// MAIL carried SMTPUTF8 (RFC 6531 3.4): addresses may be UTF-8.
    smtputf8: bool,
    /// The account of each accepted recipient, in RCPT order (an account may repeat).
    recipients: Vec<u64>,
}

enum Phase {
    /// Reading command lines.
    Command,
    /// Skipping the rest of an over-long command line, already answered.
    SkipLine,
    /// Reading message data after `354` (RFC 5321 4.1.1.4).
    Data(Incoming),
    /// Reading an over-size message to its end without keeping it.
    Discard(Discarding),
    /// After QUIT or [`Session::close`]: nothing more is read.
    Closed,
}

struct Incoming {
    envelope: Envelope,
    receiver: DataReceiver,
    /// The data not yet spilled.
    message: Vec<u8>,
    /// Bytes already handed out as [`Step::Spill`].
    spilled: usize,
}

struct Discarding {
    envelope: Envelope,
    receiver: DummyDataReceiver,
}

/// The protocol state of one connection. Its log lines Debug-format client addresses,
/// which may hold control characters.
pub struct Session {
    hostname: String,
    max_message_size: usize,
    max_recipients: usize,
    refusals: Rc<Refusals>,
    /// LHLO was answered (RFC 2033 4.1: it must precede a mail transaction).
    greeted: bool,
    /// The open mail transaction, between MAIL and DATA.
    envelope: Option<Envelope>,
    phase: Phase,
    /// The command line read so far.
    line: Vec<u8>,
    /// Replies not yet written to the peer.
    out: Vec<u8>,
    /// A RCPT waiting for [`Session::resolved`]: its address as sent, for the log.
    resolving: Option<String>,
    /// The address to hand out as [`Step::Resolve`].
    lookup: Option<String>,
}

impl Session {
    /// Starts a conversation; the greeting (RFC 5321 4.3.1) is the first output.
    pub fn new(cfg: &LmtpConfig) -> Self {
        let mut session = Self {
            hostname: cfg.hostname.clone(),
            max_message_size: cfg.max_message_size,
            max_recipients: cfg.max_recipients,
            refusals: cfg.refusals.clone(),
            greeted: false,
            envelope: None,
            phase: Phase::Command,
            line: Vec::new(),
            out: Vec::new(),
            resolving: None,
            lookup: None,
        };
        // RFC 2034 section 3: the greeting carries no enhanced status code.
        let greeting = format!("220 {} LMTP easd ready\r\n", session.hostname);
        session.out.extend_from_slice(greeting.as_bytes());
        session
    }

    /// Consumes `input` (advancing the slice) until it is drained, a recipient needs
    /// resolving, a message is complete or the conversation ends.
    pub fn feed(&mut self, input: &mut &[u8]) -> Step {
        loop {
            if let Some(address) = self.lookup.take() {
                return Step::Resolve { address };
            }
            if matches!(self.phase, Phase::Closed) {
                return Step::Close;
            }
            if input.is_empty() {
                return Step::NeedInput;
            }
            // Each handler puts back the phase it wants next; Command is the default.
            match std::mem::replace(&mut self.phase, Phase::Command) {
                Phase::Command => self.feed_command(input),
                Phase::SkipLine => self.skip_line(input),
                Phase::Data(incoming) => {
                    if let Some(step) = self.feed_data(incoming, input) {
                        return step;
                    }
                }
                Phase::Discard(discarding) => self.feed_discard(discarding, input),
                Phase::Closed => self.phase = Phase::Closed,
            }
        }
    }

    /// Answers every recipient of a delivered message, in RCPT order (RFC 2033 4.2).
    pub fn delivered(&mut self, pending: Pending, result: Result<(), NotDelivered>) {
        let Pending { envelope, size } = pending;
        let recipients = envelope.recipients.len();
        let reply = match result {
            Ok(()) => {
                tracing::info!(from = ?envelope.sender, recipients, size, "lmtp: delivered");
                Response::new(250, 2, 0, 0, "delivered")
            }
            Err(NotDelivered::Failed(error)) => {
                tracing::warn!(
                    from = ?envelope.sender, recipients, size, %error,
                    "lmtp: delivery failed"
                );
                Response::new(451, 4, 3, 0, "delivery failed, try again later")
            }
            // Logged and counted where the budget refused it.
            Err(NotDelivered::Busy) => Response::new(
                452,
                4,
                3,
                1,
                "insufficient system resources, try again later",
            ),
        };
        for _ in 0..recipients {
            self.write(&reply);
        }
    }

    /// Ends the conversation with `421` (RFC 5321 3.8) and reads nothing more.
    pub fn close(&mut self, why: Closing) {
        let (esc, text) = match why {
            Closing::IdleTimeout => (4, "idle timeout, closing connection"),
            Closing::Shutdown => (3, "shutting down, closing connection"),
        };
        let text = format!("{} {text}", self.hostname);
        self.reply(421, [4, esc, 2], text);
        self.phase = Phase::Closed;
    }

    /// The replies produced since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn feed_command(&mut self, input: &mut &[u8]) {
        let (chunk, complete) = split_line(input);
        if self.line.len() + chunk.len() > MAX_LINE {
            self.line.clear();
            self.reply(500, [5, 5, 2], "line too long");
            if !complete {
                self.phase = Phase::SkipLine;
            }
            return;
        }
        self.line.extend_from_slice(chunk);
        if complete {
            self.execute_line();
        }
    }

    fn skip_line(&mut self, input: &mut &[u8]) {
        if !split_line(input).1 {
            self.phase = Phase::SkipLine;
        }
    }

    fn execute_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        // The parser reads invalid UTF-8 lossily; an address must not be such a guess.
        let utf8 = std::str::from_utf8(&line).is_ok();
        match Request::parse(&mut line.iter()) {
            Ok(request) => self.command(request, utf8),
            Err(error) => self.parse_error(error),
        }
        self.line = line;
        self.line.clear();
    }

    fn command(&mut self, request: Request<Cow<'_, str>>, utf8: bool) {
        match request {
            Request::Lhlo { .. } => self.lhlo(),
            Request::Helo { .. } | Request::Ehlo { .. } => {
                self.reply(500, [5, 5, 1], "this is LMTP, say LHLO (RFC 2033 4.1)");
            }
            Request::Mail { from } if !utf8 && !from.address.is_ascii() => {
                self.not_utf8(&from.address, [5, 1, 7]);
            }
            Request::Rcpt { to } if !utf8 && !to.address.is_ascii() => {
                self.not_utf8(&to.address, [5, 1, 3]);
            }
            Request::Mail { from } => self.mail(&from),
            Request::Rcpt { to } => self.rcpt(&to.address),
            Request::Data => self.data(),
            Request::Rset => {
                self.envelope = None;
                self.reply(250, [2, 0, 0], "OK");
            }
            Request::Noop { .. } => self.reply(250, [2, 0, 0], "OK"),
            // RFC 5321 3.5.3: we do not confirm addresses over VRFY.
            Request::Vrfy { .. } => {
                self.reply(252, [2, 5, 2], "cannot VRFY, but will take a message");
            }
            Request::Quit => {
                let text = format!("{} closing connection", self.hostname);
                self.reply(221, [2, 0, 0], text);
                self.phase = Phase::Closed;
            }
            // RFC 5321 4.2.4: known commands we do not implement (EXPN, HELP, BDAT, ...).
            other => self.reply(502, [5, 5, 1], format!("{} not implemented", other.name())),
        }
    }

    fn parse_error(&mut self, error: ParseError) {
        // Parameter names are not echoed: they are arbitrary client bytes.
        match error {
            ParseError::UnknownCommand => self.reply(500, [5, 5, 2], "command not recognized"),
            ParseError::InvalidSenderAddress => {
                self.reply(501, [5, 1, 7], "bad sender address syntax");
            }
            ParseError::InvalidRecipientAddress => {
                self.reply(501, [5, 1, 3], "bad recipient address syntax");
            }
            ParseError::SyntaxError { syntax } => {
                self.reply(501, [5, 5, 4], format!("syntax: {syntax}"));
            }
            ParseError::InvalidParameter { param } => {
                self.reply(501, [5, 5, 4], format!("invalid {param} parameter"));
            }
            // RFC 5321 4.5.3.1.11 / 4.1.1.11: parameters not recognized.
            ParseError::UnsupportedParameter { .. } => {
                self.reply(555, [5, 5, 4], "parameter not supported");
            }
            // The parser sees whole lines, so it cannot run short of data; treat it as junk.
            ParseError::NeedsMoreData { .. }
            | ParseError::ResponseTooLong
            | ParseError::InvalidResponse { .. } => self.reply(501, [5, 5, 4], "syntax error"),
        }
    }

    /// RFC 2033 4.1: LHLO answers like EHLO and, like EHLO, resets the transaction
    /// (RFC 5321 4.1.4).
    fn lhlo(&mut self) {
        self.greeted = true;
        self.envelope = None;
        let mut response = EhloResponse::new(self.hostname.as_str());
        // SMTPUTF8 (RFC 6531): Postfix refuses to hand over a message with a raw UTF-8
        // header or address to a server that does not offer it (dsn=5.6.7).
        response.capabilities =
            EXT_PIPELINING | EXT_8BIT_MIME | EXT_ENHANCED_STATUS_CODES | EXT_SIZE | EXT_SMTP_UTF8;
        response.size = self.max_message_size;
        // io::Write for Vec<u8> never fails.
        let _ = response.write(&mut self.out);
    }

    fn mail(&mut self, from: &MailFrom<Cow<'_, str>>) {
        if !self.greeted {
            self.reply(503, [5, 5, 1], "send LHLO first");
        } else if self.envelope.is_some() {
            self.reply(503, [5, 5, 1], "nested MAIL command");
        } else if from.flags & MAIL_SMTPUTF8 == 0 && !from.address.is_ascii() {
            self.refuse_non_ascii(&from.address);
        } else if from.flags & MAIL_BODY_BINARYMIME != 0 {
            // RFC 3030 section 3: BINARYMIME needs BDAT, which is not offered.
            self.reply(555, [5, 5, 4], "BODY=BINARYMIME not supported");
        } else if from.size > self.max_message_size {
            // RFC 1870 section 6.
            self.refusals.record(
                Limit::LmtpMessage,
                &format_args!("lmtp from {:?}", from.address),
                format_args!(
                    "declared SIZE {} over max_message {}",
                    from.size, self.max_message_size
                ),
            );
            self.reply(
                552,
                [5, 3, 4],
                "message size exceeds fixed maximum message size",
            );
        } else {
            self.envelope = Some(Envelope {
                sender: from.address.to_string(),
                smtputf8: from.flags & MAIL_SMTPUTF8 != 0,
                recipients: Vec::new(),
            });
            self.reply(250, [2, 1, 0], "sender OK");
        }
    }

    fn rcpt(&mut self, address: &str) {
        let Some(envelope) = self.envelope.as_mut() else {
            return self.reply(503, [5, 5, 1], "need MAIL before RCPT");
        };
        if envelope.recipients.len() >= self.max_recipients {
            // RFC 5321 4.5.3.1.8.
            tracing::info!(
                from = ?envelope.sender, to = ?address,
                "lmtp: refused, too many recipients"
            );
            return self.reply(452, [4, 5, 3], "too many recipients");
        }
        if !envelope.smtputf8 && !address.is_ascii() {
            return self.refuse_non_ascii(address);
        }
        self.lookup = Some(strip_plus_tag(address).into_owned());
        self.resolving = Some(address.to_owned());
    }

    /// Answers the RCPT handed out as [`Step::Resolve`]: `account` is where its address
    /// delivers, `None` for an unknown or disabled account.
    pub fn resolved(&mut self, account: Option<u64>) {
        let (Some(address), Some(envelope)) = (self.resolving.take(), self.envelope.as_mut())
        else {
            return;
        };
        match account {
            Some(account) => {
                envelope.recipients.push(account);
                self.reply(250, [2, 1, 5], "recipient OK");
            }
            None => {
                tracing::info!(
                    from = ?envelope.sender, to = ?address,
                    "lmtp: refused, unknown recipient"
                );
                self.reply(550, [5, 1, 1], "no such mailbox");
            }
        }
    }

    /// RFC 6531 3.5: a non-ASCII address in a transaction whose MAIL did not carry
    /// SMTPUTF8 gets 553 with the enhanced code X.6.7.
    fn refuse_non_ascii(&mut self, address: &str) {
        tracing::info!(address = ?address, "lmtp: refused, non-ASCII address without SMTPUTF8");
        self.reply(553, [5, 6, 7], "non-ASCII address needs SMTPUTF8");
    }

    /// An address holding bytes that are not UTF-8 gets a syntax error (RFC 6531 3.3
    /// extends the address syntax by UTF-8 only).
    fn not_utf8(&mut self, address: &str, code: [u8; 3]) {
        tracing::info!(address = ?address, "lmtp: refused, address is not UTF-8");
        self.reply(501, code, "address is not valid UTF-8");
    }

    /// RFC 2033 4.2: DATA fails with 503 unless some RCPT succeeded.
    fn data(&mut self) {
        if let Some(envelope) = self.envelope.take_if(|e| !e.recipients.is_empty()) {
            self.phase = Phase::Data(Incoming::new(envelope));
            // RFC 2034 section 3: no enhanced status code on 354.
            self.out
                .extend_from_slice(b"354 go ahead, end with <CRLF>.<CRLF>\r\n");
        } else if self.envelope.is_some() {
            self.reply(503, [5, 5, 1], "no valid recipients");
        } else {
            self.reply(503, [5, 5, 1], "need MAIL before DATA");
        }
    }

    fn feed_data(&mut self, mut incoming: Incoming, input: &mut &[u8]) -> Option<Step> {
        let limit = self.max_message_size;
        let complete = incoming.ingest(input, limit);
        let size = incoming.size();
        if complete && size <= limit {
            return Some(Step::Deliver(incoming.into_delivery()));
        }
        // One CR of the terminator is held in the buffer until its LF arrives, so an
        // unfinished message is too big only past limit + 1.
        if complete {
            self.refuse_oversize(&incoming.envelope);
        } else if size > limit.saturating_add(1) {
            self.phase = Phase::Discard(Discarding {
                receiver: DummyDataReceiver::new_data(&incoming.receiver),
                envelope: incoming.envelope,
            });
        } else if incoming.message.len() >= SPILL_AT {
            let step = incoming.spill();
            self.phase = Phase::Data(incoming);
            return Some(step);
        } else {
            self.phase = Phase::Data(incoming);
        }
        None
    }

    fn feed_discard(&mut self, mut discarding: Discarding, input: &mut &[u8]) {
        let mut bytes = input.iter();
        let complete = discarding.receiver.ingest(&mut bytes);
        *input = bytes.as_slice();
        if complete {
            self.refuse_oversize(&discarding.envelope);
        } else {
            self.phase = Phase::Discard(discarding);
        }
    }

    /// RFC 1870 section 6 and RFC 2033 4.2: one 552 per accepted recipient.
    fn refuse_oversize(&mut self, envelope: &Envelope) {
        let recipients = envelope.recipients.len();
        self.refusals.record(
            Limit::LmtpMessage,
            &format_args!("lmtp from {:?}", envelope.sender),
            format_args!(
                "message to {recipients} recipients over max_message {}",
                self.max_message_size
            ),
        );
        let reply = Response::new(552, 5, 3, 4, "message exceeds fixed maximum message size");
        for _ in 0..recipients {
            self.write(&reply);
        }
    }

    fn reply(&mut self, code: u16, [class, subject, detail]: [u8; 3], text: impl Display) {
        self.write(&Response::new(code, class, subject, detail, text));
    }

    fn write(&mut self, response: &Response<impl Display>) {
        // io::Write for Vec<u8> never fails.
        let _ = response.write(&mut self.out);
    }
}

impl Incoming {
    fn new(envelope: Envelope) -> Self {
        let mut receiver = DataReceiver::new();
        let mut message = Vec::new();
        // DataReceiver sees a leading "." only after a CRLF, but the data starts at the
        // beginning of a line (RFC 5321 4.5.2): replay the DATA line's CRLF so that a
        // first line of "." ends an empty message and ".." is unstuffed.
        receiver.ingest(&mut b"\r\n".iter(), &mut message);
        message.clear();
        Self {
            envelope,
            receiver,
            message,
            spilled: 0,
        }
    }

    /// The data received so far, spilled or not.
    fn size(&self) -> usize {
        self.spilled + self.message.len()
    }

    /// Hands out all but the last byte kept so far: that one may be the CR which the
    /// terminator's LF takes back (the receiver pushes it, then pops it).
    fn spill(&mut self) -> Step {
        let last = self.message.split_off(self.message.len() - 1);
        let chunk = std::mem::replace(&mut self.message, last);
        let first = self.spilled == 0;
        self.spilled += chunk.len();
        Step::Spill { chunk, first }
    }

    /// Takes message data from `input`; true once the final CRLF.CRLF was read. The
    /// message never grows past `limit + 2` bytes, so an over-size one is not buffered.
    fn ingest(&mut self, input: &mut &[u8], limit: usize) -> bool {
        let room = limit.saturating_add(2).saturating_sub(self.size());
        let take = room.min(input.len());
        let mut bytes = input[..take].iter();
        let complete = self.receiver.ingest(&mut bytes, &mut self.message);
        *input = &input[take - bytes.len()..];
        complete
    }

    fn into_delivery(self) -> Delivery {
        let mut seen = HashSet::new();
        let mut accounts = self.envelope.recipients.clone();
        accounts.retain(|&account| seen.insert(account));
        Delivery {
            accounts,
            pending: Pending {
                size: self.spilled + self.message.len(),
                envelope: self.envelope,
            },
            spilled: self.spilled > 0,
            message: self.message,
        }
    }
}

/// Splits off `input` up to and including the next LF; the flag says whether one was found.
fn split_line<'a>(input: &mut &'a [u8]) -> (&'a [u8], bool) {
    let end = input.iter().position(|&b| b == b'\n');
    let (line, rest) = input.split_at(end.map_or(input.len(), |i| i + 1));
    *input = rest;
    (line, end.is_some())
}

/// `alice+lists@example.org` → `alice@example.org` (subaddressing, RFC 5233 section 1).
fn strip_plus_tag(address: &str) -> Cow<'_, str> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Cow::Borrowed(address);
    };
    match local.split_once('+') {
        Some((user, _)) if !user.is_empty() => Cow::Owned(format!("{user}@{domain}")),
        _ => Cow::Borrowed(address),
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::super::fake::FakeMailboxes;
    use super::super::types::Mailboxes;
    use super::*;

    const HELLO: &[u8] = b"LHLO mta.test\r\nMAIL FROM:<sender@remote.test>\r\n";

    /// A session wired to a fake; deliveries complete at once.
    struct Harness {
        session: Session,
        mailboxes: FakeMailboxes,
        /// The envelope sender of each delivery.
        senders: Vec<String>,
        closed: bool,
        /// The spilled pieces of the message being received.
        spool: Vec<u8>,
    }

    impl Harness {
        fn new() -> Self {
            let cfg = LmtpConfig {
                hostname: "mx.test".to_owned(),
                max_message_size: 100,
                max_recipients: 3,
                ..LmtpConfig::default()
            };
            let mut harness = Self {
                session: Session::new(&cfg),
                mailboxes: FakeMailboxes::default(),
                senders: Vec::new(),
                closed: false,
                spool: Vec::new(),
            };
            assert_eq!(harness.output(), "220 mx.test LMTP easd ready\r\n");
            harness
        }

        /// A session past LHLO and MAIL.
        fn in_transaction() -> Self {
            let mut harness = Self::new();
            assert_eq!(codes(&harness.send(HELLO)).last(), Some(&"250 2.1.0"));
            harness
        }

        fn send(&mut self, mut input: &[u8]) -> String {
            loop {
                match self.session.feed(&mut input) {
                    Step::NeedInput => break,
                    Step::Resolve { address } => {
                        let found = now(self.mailboxes.resolve(&address));
                        self.session.resolved(found);
                    }
                    Step::Spill { chunk, first } => {
                        if first {
                            self.spool.clear();
                        }
                        self.spool.extend_from_slice(&chunk);
                    }
                    Step::Deliver(d) => {
                        self.senders.push(d.pending.sender().to_owned());
                        let mut message = d.message;
                        if d.spilled {
                            message = [std::mem::take(&mut self.spool), message].concat();
                        }
                        let deliver = self.mailboxes.deliver("", &d.accounts, message.into());
                        let result = now(deliver);
                        self.session.delivered(d.pending, result);
                    }
                    Step::Close => {
                        self.closed = true;
                        break;
                    }
                }
            }
            self.output()
        }

        fn output(&mut self) -> String {
            String::from_utf8(self.session.take_output()).expect("replies are ASCII")
        }

        fn deliveries(&self) -> Vec<(Vec<u64>, Vec<u8>)> {
            self.mailboxes.deliveries.borrow().clone()
        }
    }

    /// Runs a future that never waits (the fake mailboxes).
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the fake never waits"),
        }
    }

    /// Each reply line cut after its enhanced code (`250 2.1.5`), else after its code
    /// (`354`), or `250-` for a continuation line.
    fn codes(output: &str) -> Vec<&str> {
        output
            .lines()
            .map(|line| match line.as_bytes() {
                [_, _, _, b'-', ..] => &line[..4],
                [_, _, _, b' ', _, b'.', _, b'.', _, ..] => &line[..9],
                _ => line.get(..3).unwrap_or(line),
            })
            .collect()
    }

    #[test]
    fn lhlo_lists_the_extensions() {
        let mut h = Harness::new();
        let out = h.send(b"LHLO mta.test\r\n");
        let lines: Vec<_> = out.lines().collect();
        assert!(lines[0].starts_with("250-mx.test"), "{out}");
        for ext in [
            "PIPELINING",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SIZE 100",
            "SMTPUTF8",
        ] {
            assert!(
                lines[1..].iter().any(|l| &l[4..] == ext),
                "{ext} missing: {out}"
            );
        }
        assert!(lines.last().is_some_and(|l| l.starts_with("250 ")), "{out}");
    }

    #[test]
    fn helo_and_ehlo_are_refused() {
        let mut h = Harness::new();
        let out = h.send(b"HELO mta.test\r\nEHLO mta.test\r\nMAIL FROM:<a@b.c>\r\n");
        assert_eq!(codes(&out), ["500 5.5.1", "500 5.5.1", "503 5.5.1"]);
    }

    #[test]
    fn delivers_to_every_accepted_recipient() {
        let mut h = Harness::in_transaction();
        let out = h.send(b"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
        assert_eq!(codes(&out), ["250 2.1.5", "250 2.1.5", "354"]);
        let out = h.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n");
        assert_eq!(codes(&out), ["250 2.0.0", "250 2.0.0"]);
        let message = b"Subject: hi\r\n\r\nbody\r\n".to_vec();
        assert_eq!(h.deliveries(), [(vec![1, 2], message)]);
        // The transaction is over; a new one may start.
        assert_eq!(
            codes(&h.send(b"RCPT TO:<bob@example.org>\r\n")),
            ["503 5.5.1"]
        );
        assert_eq!(codes(&h.send(b"MAIL FROM:<>\r\n")), ["250 2.1.0"]);
    }

    #[test]
    fn unknown_and_disabled_recipients_are_refused() {
        let mut h = Harness::in_transaction();
        let out = h.send(
            b"RCPT TO:<nobody@example.org>\r\nRCPT TO:<carol@example.org>\r\n\
              RCPT TO:<alice@example.org>\r\nDATA\r\nhi\r\n.\r\n",
        );
        assert_eq!(
            codes(&out),
            ["550 5.1.1", "550 5.1.1", "250 2.1.5", "354", "250 2.0.0"]
        );
        assert_eq!(h.deliveries()[0].0, [1]);
    }

    #[test]
    fn smtputf8_transaction_takes_utf8_addresses_and_headers() {
        let mut h = Harness::new();
        h.send(b"LHLO mta.test\r\n");
        let out = h.send(
            "MAIL FROM:<jörg@bücher.example> SMTPUTF8 BODY=8BITMIME\r\n\
             RCPT TO:<müller@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
                .as_bytes(),
        );
        // An account name is ASCII (store::ops::normalize_email): a UTF-8 recipient is
        // parsed and answered, as unknown.
        assert_eq!(codes(&out), ["250 2.1.0", "550 5.1.1", "250 2.1.5", "354"]);
        let message = "From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nhé\r\n";
        let out = h.send(format!("{message}.\r\n").as_bytes());
        assert_eq!(codes(&out), ["250 2.0.0"]);
        assert_eq!(h.deliveries(), [(vec![1], message.as_bytes().to_vec())]);
        assert_eq!(h.senders, ["jörg@bücher.example"]);
    }

    #[test]
    fn non_ascii_addresses_need_smtputf8() {
        let mut h = Harness::new();
        h.send(b"LHLO mta.test\r\n");
        let out = h.send(
            "MAIL FROM:<jörg@bücher.example>\r\nMAIL FROM:<s@remote.test>\r\n\
             RCPT TO:<müller@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
                .as_bytes(),
        );
        // RFC 6531 3.5: 553 5.6.7, and the transaction goes on with the ASCII ones.
        assert_eq!(
            codes(&out),
            ["553 5.6.7", "250 2.1.0", "553 5.6.7", "250 2.1.5"]
        );
    }

    #[test]
    fn addresses_that_are_not_utf8_are_refused() {
        let mut h = Harness::new();
        h.send(b"LHLO mta.test\r\n");
        let out = h.send(
            b"MAIL FROM:<j\xf6rg@x.test> SMTPUTF8\r\nMAIL FROM:<s@r.test> SMTPUTF8\r\n\
              RCPT TO:<m\xfcller@example.org>\r\nRCPT TO:<alice@example.org>\r\n",
        );
        assert_eq!(
            codes(&out),
            ["501 5.1.7", "250 2.1.0", "501 5.1.3", "250 2.1.5"]
        );
    }

    #[test]
    fn commands_out_of_sequence_get_503() {
        let mut h = Harness::new();
        let out = h.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n");
        assert_eq!(codes(&out), ["503 5.5.1", "503 5.5.1", "503 5.5.1"]);
        let out = h.send(HELLO);
        assert_eq!(codes(&out).last(), Some(&"250 2.1.0"));
        let out = h.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@example.org>\r\nDATA\r\n");
        // Nested MAIL; DATA without an accepted recipient (RFC 2033 4.2).
        assert_eq!(codes(&out), ["503 5.5.1", "550 5.1.1", "503 5.5.1"]);
    }

    #[test]
    fn too_many_recipients_get_452() {
        let mut h = Harness::in_transaction();
        let rcpt = b"RCPT TO:<alice@example.org>\r\n".repeat(4);
        let out = h.send(&rcpt);
        assert_eq!(
            codes(&out),
            ["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3"]
        );
    }

    #[test]
    fn mail_parameters() {
        let mut h = Harness::new();
        h.send(b"LHLO mta.test\r\n");
        let out = h.send(
            b"MAIL FROM:<a@b.c> SIZE=101\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\n\
              MAIL FROM:<a@b.c> SIZE=x\r\nMAIL FROM:<a@b.c> FOO=1\r\n\
              MAIL FROM:<a@b.c> SIZE=100 BODY=8BITMIME\r\n",
        );
        assert_eq!(
            codes(&out),
            [
                "552 5.3.4",
                "555 5.5.4",
                "501 5.5.4",
                "555 5.5.4",
                "250 2.1.0"
            ]
        );
    }

    #[test]
    fn simple_commands() {
        let mut h = Harness::in_transaction();
        let out = h.send(
            b"NOOP\r\nVRFY alice\r\nRSET\r\nRCPT TO:<alice@example.org>\r\n\
              EXPN staff\r\nFROB\r\nLHLO\r\nMAIL FROM:bad\r\nQUIT\r\nNOOP\r\n",
        );
        assert_eq!(
            codes(&out),
            [
                "250 2.0.0",
                "252 2.5.2",
                "250 2.0.0",
                "503 5.5.1",
                "502 5.5.1",
                "500 5.5.2",
                "501 5.5.4",
                "501 5.5.4",
                "221 2.0.0",
            ]
        );
        assert!(h.closed);
    }

    #[test]
    fn pipelined_input_split_anywhere_gives_the_same_replies() {
        let script: &[u8] = b"LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\n\
            RCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\n\
            RCPT TO:<bob@example.org>\r\nDATA\r\nline\r\n..dot\r\n.\r\n\
            MAIL FROM:<s@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n\
            two\r\n.\r\nQUIT\r\n";
        let mut whole = Harness::new();
        let expected = whole.send(script);
        assert_eq!(
            codes(&expected)[6..],
            [
                "250 2.1.0",
                "250 2.1.5",
                "550 5.1.1",
                "250 2.1.5",
                "354",
                "250 2.0.0",
                "250 2.0.0",
                "250 2.1.0",
                "250 2.1.5",
                "354",
                "250 2.0.0",
                "221 2.0.0",
            ]
        );
        for chunk in [1, 2, 3, 7, 64] {
            let mut h = Harness::new();
            let out: String = script.chunks(chunk).map(|c| h.send(c)).collect();
            assert_eq!(out, expected, "chunks of {chunk}");
            assert_eq!(h.deliveries(), whole.deliveries());
        }
    }

    #[test]
    fn message_data_is_dot_unstuffed() {
        let mut h = Harness::in_transaction();
        h.send(b"RCPT TO:<alice@example.org>\r\nDATA\r\n");
        let out = h.send(b"..first\r\nmid.dle\r\n...\r\n.\r\n");
        assert_eq!(codes(&out), ["250 2.0.0"]);
        assert_eq!(h.deliveries()[0].1, b".first\r\nmid.dle\r\n..\r\n");
    }

    #[test]
    fn a_large_message_is_spilled_in_pieces_that_add_up_to_it() {
        let cfg = LmtpConfig {
            max_message_size: 4 * SPILL_AT,
            ..LmtpConfig::default()
        };
        let mut h = Harness::in_transaction();
        h.session = Session::new(&cfg);
        h.send(HELLO);
        h.send(b"RCPT TO:<alice@example.org>\r\nDATA\r\n");
        // Lines with stuffed dots, so unstuffing happens across piece boundaries too.
        let line = b"..a line of message data that is long enough\r\n";
        let lines = 3 * SPILL_AT / line.len();
        let mut data: Vec<u8> = line.repeat(lines);
        data.extend_from_slice(b"last\r\n.\r\n");
        let mut spills = 0;
        for piece in data.chunks(64 * 1024 - 1) {
            let mut input = piece;
            loop {
                match h.session.feed(&mut input) {
                    Step::Spill { chunk, first } => {
                        assert_eq!(first, spills == 0);
                        spills += 1;
                        h.spool.extend_from_slice(&chunk);
                    }
                    Step::Deliver(d) => {
                        assert!(d.spilled);
                        assert!(d.message.len() < SPILL_AT + 64 * 1024);
                        let whole = [std::mem::take(&mut h.spool), d.message].concat();
                        let mut expected =
                            b".a line of message data that is long enough\r\n".repeat(lines);
                        expected.extend_from_slice(b"last\r\n");
                        assert!(
                            whole == expected,
                            "the pieces add up to the unstuffed message"
                        );
                        h.session.delivered(d.pending, Ok(()));
                    }
                    Step::NeedInput => break,
                    Step::Resolve { .. } | Step::Close => unreachable!(),
                }
            }
        }
        assert!(spills >= 2, "{spills} spills");
        assert!(h.output().ends_with("250 2.0.0 delivered\r\n"));
    }

    #[test]
    fn empty_message() {
        let mut h = Harness::in_transaction();
        let out = h.send(b"RCPT TO:<alice@example.org>\r\nDATA\r\n.\r\nNOOP\r\n");
        assert_eq!(codes(&out), ["250 2.1.5", "354", "250 2.0.0", "250 2.0.0"]);
        assert_eq!(h.deliveries()[0].1, b"");
    }

    #[test]
    fn bare_lf_is_tolerated_but_does_not_end_the_data() {
        let mut h = Harness::new();
        let out = h.send(b"LHLO mta.test\nMAIL FROM:<s@r.test>\nRCPT TO:<bob@example.org>\nDATA\n");
        assert_eq!(
            codes(&out)[codes(&out).len() - 3..],
            ["250 2.1.0", "250 2.1.5", "354"]
        );
        // "\n.\n" is data (no SMTP smuggling); only CRLF.CRLF ends it.
        let out = h.send(b"a\nb\n.\nRSET\n\r\n.\r\n");
        assert_eq!(codes(&out), ["250 2.0.0"]);
        assert_eq!(h.deliveries()[0].1, b"a\nb\n.\nRSET\n\r\n");
    }

    #[test]
    fn oversize_message_is_read_to_its_end_and_refused_per_recipient() {
        let mut h = Harness::in_transaction();
        h.send(b"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
        for _ in 0..50 {
            assert_eq!(h.send(&[b'x'; 1000]), "");
            // Not buffered beyond the limit.
            let Phase::Discard(_) = h.session.phase else {
                panic!("still buffering")
            };
        }
        let out = h.send(b"\r\n.\r\nNOOP\r\n");
        assert_eq!(codes(&out), ["552 5.3.4", "552 5.3.4", "250 2.0.0"]);
        assert!(h.deliveries().is_empty());
        // One refusal for the message, not one per recipient.
        assert_eq!(h.session.refusals.count(Limit::LmtpMessage), 1);
    }

    #[test]
    fn message_size_limit_is_exact() {
        for (size, expected) in [(100, "250 2.0.0"), (101, "552 5.3.4")] {
            let mut h = Harness::in_transaction();
            h.send(b"RCPT TO:<alice@example.org>\r\nDATA\r\n");
            // `size` bytes including the final CRLF, which belongs to the message.
            let mut data = vec![b'y'; size - 2];
            data.extend_from_slice(b"\r\n.\r\n");
            let out: String = data.chunks(1).map(|c| h.send(c)).collect();
            assert_eq!(codes(&out), [expected], "size {size}");
        }
    }

    #[test]
    fn duplicate_account_is_delivered_once_and_answered_twice() {
        let mut h = Harness::in_transaction();
        let out = h.send(
            b"RCPT TO:<alice@example.org>\r\nRCPT TO:<alice+lists@example.org>\r\n\
              DATA\r\nhi\r\n.\r\n",
        );
        assert_eq!(
            codes(&out),
            ["250 2.1.5", "250 2.1.5", "354", "250 2.0.0", "250 2.0.0"]
        );
        assert_eq!(h.deliveries()[0].0, [1]);
    }

    #[test]
    fn failed_delivery_gets_451_per_recipient() {
        let mut h = Harness::in_transaction();
        h.mailboxes.failing.set(true);
        let out = h.send(
            b"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nhi\r\n.\r\n",
        );
        assert_eq!(
            codes(&out),
            ["250 2.1.5", "250 2.1.5", "354", "451 4.3.0", "451 4.3.0"]
        );
    }

    #[test]
    fn no_room_in_the_memory_budget_gets_452_per_recipient() {
        let mut h = Harness::in_transaction();
        h.mailboxes.busy.set(true);
        let out = h.send(
            b"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nhi\r\n.\r\n",
        );
        assert_eq!(
            codes(&out),
            ["250 2.1.5", "250 2.1.5", "354", "452 4.3.1", "452 4.3.1"]
        );
        assert!(h.deliveries().is_empty());
    }

    #[test]
    fn over_long_lines_get_500_and_are_skipped() {
        let mut long = b"NOOP ".to_vec();
        long.resize(MAX_LINE + 10, b'a');
        long.extend_from_slice(b"\r\nNOOP\r\n");
        let mut h = Harness::new();
        assert_eq!(codes(&h.send(&long)), ["500 5.5.2", "250 2.0.0"]);
        for chunk in [1, 100, MAX_LINE - 1, MAX_LINE + 1] {
            let mut h = Harness::new();
            let out: String = long.chunks(chunk).map(|c| h.send(c)).collect();
            assert_eq!(codes(&out), ["500 5.5.2", "250 2.0.0"], "chunks of {chunk}");
        }
        // A line of exactly MAX_LINE bytes is fine.
        let mut h = Harness::new();
        let mut line = b"NOOP ".to_vec();
        line.resize(MAX_LINE - 2, b'a');
        line.extend_from_slice(b"\r\n");
        assert_eq!(codes(&h.send(&line)), ["250 2.0.0"]);
    }

    #[test]
    fn garbage_never_breaks_the_reply_stream() {
        // xorshift: deterministic junk with plenty of CR, LF, dots and NULs.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut junk = Vec::new();
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let byte = state as u8;
            junk.push(match byte % 8 {
                0 => b'\n',
                1 => b'\r',
                2 => b'.',
                _ => byte,
            });
        }
        let mut h = Harness::new();
        let out: String = junk.chunks(97).map(|c| h.send(c)).collect();
        assert!(
            out.lines()
                .all(|l| l.len() >= 3 && l.as_bytes()[..3].iter().all(u8::is_ascii_digit))
        );
        assert!(out.ends_with("\r\n"));
        assert_eq!(codes(&h.send(b"\r\nRSET\r\n")).last(), Some(&"250 2.0.0"));
    }

    #[test]
    fn close_says_why() {
        let mut h = Harness::new();
        h.session.close(Closing::IdleTimeout);
        assert_eq!(
            h.output(),
            "421 4.4.2 mx.test idle timeout, closing connection\r\n"
        );
        assert_eq!(h.send(b"NOOP\r\n"), "");
        assert!(h.closed);
        let mut h = Harness::new();
        h.session.close(Closing::Shutdown);
        assert_eq!(codes(&h.output()), ["421 4.3.2"]);
    }

    #[test]
    fn plus_tags_are_stripped() {
        assert_eq!(strip_plus_tag("alice+lists@x.org"), "alice@x.org");
        assert_eq!(strip_plus_tag("alice+a+b@x.org"), "alice@x.org");
        assert_eq!(strip_plus_tag("alice@x.org"), "alice@x.org");
        assert_eq!(strip_plus_tag("+tag@x.org"), "+tag@x.org");
        assert_eq!(strip_plus_tag("a+b"), "a+b");
        assert_eq!(strip_plus_tag(""), "");
    }

    /// A RCPT stops the feed until its address is resolved: the rest of the input waits
    /// in the slice and the replies stay in command order.
    #[test]
    fn a_recipient_is_resolved_before_the_rest_of_the_input() {
        let mut h = Harness::in_transaction();
        let mut input: &[u8] = b"RCPT TO:<alice+x@example.org>\r\nNOOP\r\n";
        match h.session.feed(&mut input) {
            Step::Resolve { address } => assert_eq!(address, "alice@example.org"),
            _ => panic!("a RCPT asks for its address to be resolved"),
        }
        assert_eq!(input, b"NOOP\r\n", "the rest of the input waits");
        assert_eq!(h.output(), "", "no reply before the address is resolved");
        h.session.resolved(None);
        assert_eq!(codes(&h.output()), ["550 5.1.1"]);
        assert!(matches!(h.session.feed(&mut input), Step::NeedInput));
        assert_eq!(codes(&h.output()), ["250 2.0.0"]);
    }
}
