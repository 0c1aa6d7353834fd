//! HTTP/1.1 connections, served without per-connection buffers while a request waits.
//!
//! Why not hyper's server connection: hyper 1.x gives every connection an 8 KiB read buffer
//! and an 8 KiB write buffer for its whole life (and a request in flight keeps a third 8 KiB
//! alive), which alone exceeds what an idle Ping may cost (24 KiB with TLS and the Ping's
//! own state). Here the head is read into a buffer that is freed once parsed, a response is
//! written from one short-lived buffer, and a waiting request holds neither.
//!
//! Served: HTTP/1.1 and 1.0; Content-Length and chunked request bodies, read only when the
//! handler asks for them and within its limit; `Expect: 100-continue`; keep-alive and
//! pipelining; 30 s to send a head; an in-flight request is dropped when the client closes
//! the connection; graceful shutdown (idle connections close, in-flight requests finish).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use crate::budget::Reservation;
use crate::http_body::{BUDGET_PATIENCE, Body, BodyError, BodyLimits, IncomingBody, Received};

/// The time a client has to send a request head (also on an idle keep-alive connection).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request head (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
/// The first read of a head reserves this much; the buffer grows up to `MAX_HEAD`.
const HEAD_CHUNK: usize = 1024;
/// An unread Content-Length body up to this size is skipped to keep the connection;
/// a larger one closes it.
const DRAIN_MAX: u64 = 64 * 1024;
/// Bytes a client may pipeline while its previous request is being answered.
const PIPELINE_MAX: usize = 64 * 1024;
/// Responses up to this size go out in one write (head and body in one buffer).
const COALESCE_MAX: usize = 64 * 1024;
/// The buffer through which a spooled request body goes to its file, and a file part of
/// a response to the connection.
const SPOOL_CHUNK: usize = 32 * 1024;

/// A client connection, with or without TLS. The TLS state stays inline (no second
/// allocation per connection); plain HTTP is the rare case.
#[allow(clippy::large_enum_variant)]
pub enum Io {
    Plain(TcpStream),
    Tls(tokio_rustls::server::TlsStream<TcpStream>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The connection and the bytes read from it but not yet consumed. The connection is
/// boxed so that the futures that move a `Wire` around stay small.
struct Wire {
    io: Box<Io>,
    /// Unconsumed input; no allocation while empty.
    buf: Vec<u8>,
}

impl Wire {
    /// Drops `n` consumed bytes from the front; frees the buffer when nothing is left.
    fn consume(&mut self, n: usize) {
        if n >= self.buf.len() {
            self.buf = Vec::new();
        } else {
            self.buf.drain(..n);
        }
    }

    /// Reads more input into `buf` (growing it by at least `chunk`); 0 at end of stream.
    async fn fill(&mut self, chunk: usize) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < chunk / 2 {
            self.buf.reserve(chunk.max(self.buf.len()));
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// Reads whatever arrives next through a small stack buffer, so that waiting for it
    /// holds no heap buffer; 0 at end of stream.
    async fn watch(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 128];
        let n = self.io.read(&mut tmp).await?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// One line (without CRLF) of at most `max` bytes.
    async fn line(&mut self, max: usize) -> Result<Vec<u8>, BodyError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line = self.buf[..end].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.consume(end + 1);
                return Ok(line);
            }
            if self.buf.len() > max {
                return Err(BodyError::Read("chunked body: line too long".into()));
            }
            if self.fill(256).await.map_err(read_error)? == 0 {
                return Err(BodyError::Read("connection closed in the body".into()));
            }
        }
    }

    /// Appends exactly `n` body bytes to `out`.
    async fn take_into(&mut self, mut n: u64, out: &mut Vec<u8>) -> Result<(), BodyError> {
        let have = self.buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        out.extend_from_slice(&self.buf[..have]);
        self.consume(have);
        n -= have as u64;
        if n == 0 {
            return Ok(());
        }
        // What the client announced, up to a point: the rest grows as it arrives.
        out.reserve(usize::try_from(n).unwrap_or(0).min(256 * 1024));
        let got = (&mut self.io)
            .take(n)
            .read_to_end(out)
            .await
            .map_err(read_error)?;
        if (got as u64) < n {
            return Err(BodyError::Read("connection closed in the body".into()));
        }
        Ok(())
    }

    /// Writes exactly `n` body bytes to `file`, through a small buffer.
    async fn copy_to(&mut self, n: u64, file: &mut std::fs::File) -> Result<(), BodyError> {
        use std::io::Write;
        let have = self.buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        file.write_all(&self.buf[..have])
            .map_err(BodyError::Spool)?;
        self.consume(have);
        let mut rest = n - have as u64;
        if rest == 0 {
            return Ok(());
        }
        let mut chunk = vec![0u8; SPOOL_CHUNK];
        while rest > 0 {
            let want = chunk.len().min(usize::try_from(rest).unwrap_or(usize::MAX));
            let got = self.io.read(&mut chunk[..want]).await.map_err(read_error)?;
            if got == 0 {
                return Err(BodyError::Read("connection closed in the body".into()));
            }
            file.write_all(&chunk[..got]).map_err(BodyError::Spool)?;
            rest -= got as u64;
        }
        Ok(())
    }

    /// Reads and discards `n` body bytes.
    async fn skip(&mut self, n: u64) -> io::Result<()> {
        let have = self.buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        self.consume(have);
        let rest = n - have as u64;
        if rest > 0 {
            let got =
                tokio::io::copy(&mut (&mut self.io).take(rest), &mut tokio::io::sink()).await?;
            if got < rest {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }
}

fn read_error(e: io::Error) -> BodyError {
    BodyError::Read(e.to_string())
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Unread,
    /// Read to its end: the connection can carry the next request.
    Done,
    /// Read in part (too large, or broken): the connection must close.
    Broken,
}

/// Shared by the connection and a request body still to be read.
struct Slot {
    wire: RefCell<Option<Wire>>,
    framing: Framing,
    /// `Expect: 100-continue`, and no 100 sent yet.
    expect: Cell<bool>,
    state: Cell<BodyState>,
    /// Signalled when the body has been read (or given up on).
    done: Notify,
}

/// A request body, read on demand by [`read_body`].
pub struct RequestBody(Option<Rc<Slot>>);

impl RequestBody {
    /// A body with no bytes.
    pub fn empty() -> Self {
        RequestBody(None)
    }
}

impl IncomingBody for RequestBody {
    async fn receive(self, limits: &BodyLimits<'_>) -> Result<Received, BodyError> {
        let Some(slot) = self.0 else {
            let none = limits.budget.nothing();
            return Ok(Received::Memory(Bytes::new(), none));
        };
        let Some(mut wire) = slot.wire.borrow_mut().take() else {
            return Err(BodyError::Read("the connection is gone".into()));
        };
        let result = read_framed(&mut wire, &slot, limits).await;
        slot.state.set(match (&result, slot.framing) {
            (Ok(_), _) => BodyState::Done,
            // Nothing of a refused Content-Length body was read: it may still be skipped.
            (Err(BodyError::TooLarge(_) | BodyError::Busy { .. }), Framing::Length(_))
                if !slot.expect.get() =>
            {
                BodyState::Unread
            }
            (Err(_), _) => BodyState::Broken,
        });
        *slot.wire.borrow_mut() = Some(wire);
        slot.done.notify_one();
        result
    }
}

async fn read_framed(
    wire: &mut Wire,
    slot: &Slot,
    limits: &BodyLimits<'_>,
) -> Result<Received, BodyError> {
    let limit = limits.max;
    if let Framing::Length(n) = slot.framing
        && n > limit as u64
    {
        return Err(BodyError::TooLarge(limit));
    }
    // A body of known length kept in memory is reserved whole before the client is asked
    // for it; a chunked one grows its reservation as chunks come.
    let mut sink = match slot.framing {
        Framing::Length(n) if n <= limits.spool_over as u64 => {
            let wanted = n as usize;
            let held = limits
                .budget
                .reserve(wanted, BUDGET_PATIENCE)
                .await
                .ok_or(BodyError::Busy { wanted })?;
            Sink::Memory(Vec::new(), held)
        }
        Framing::Length(_) => Sink::File(limits.spool.file().map_err(BodyError::Spool)?, 0),
        Framing::Chunked => Sink::Memory(Vec::new(), limits.budget.nothing()),
    };
    if slot.expect.replace(false) {
        wire.io
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(read_error)?;
        wire.io.flush().await.map_err(read_error)?;
    }
    match slot.framing {
        Framing::Length(n) => sink.take(wire, n, limits).await?,
        Framing::Chunked => loop {
            let line = wire.line(4096).await?;
            let size = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| BodyError::Read("chunked body: bad chunk size".into()))?;
            if size == 0 {
                // Trailers, up to the empty line.
                let mut trailer_bytes = 0;
                loop {
                    let l = wire.line(4096).await?;
                    if l.is_empty() {
                        break;
                    }
                    trailer_bytes += l.len();
                    if trailer_bytes > MAX_HEAD {
                        return Err(BodyError::Read("chunked body: trailers too long".into()));
                    }
                }
                break;
            }
            if sink.len() as u64 + size > limit as u64 {
                return Err(BodyError::TooLarge(limit));
            }
            sink.take(wire, size, limits).await?;
            if !wire.line(2).await?.is_empty() {
                return Err(BodyError::Read(
                    "chunked body: no CRLF after a chunk".into(),
                ));
            }
        },
    }
    Ok(match sink {
        Sink::Memory(out, held) => Received::Memory(Bytes::from(out), held),
        Sink::File(file, len) => Received::Spooled(file, len),
    })
}

/// Where the bytes of a body go as they arrive.
enum Sink {
    /// In memory, within a reservation at least as large.
    Memory(Vec<u8>, Reservation),
    /// In a spool file, so many bytes so far.
    File(std::fs::File, usize),
}

impl Sink {
    fn len(&self) -> usize {
        match self {
            Sink::Memory(out, _) => out.len(),
            Sink::File(_, len) => *len,
        }
    }

    /// Appends exactly `n` body bytes: in memory while the body stays within
    /// `limits.spool_over` and the budget has room (waiting briefly for it), else moving
    /// what it has to a spool file and going on there.
    async fn take(
        &mut self,
        wire: &mut Wire,
        n: u64,
        limits: &BodyLimits<'_>,
    ) -> Result<(), BodyError> {
        if let Sink::Memory(out, held) = self {
            let after = out.len() as u64 + n;
            if after > limits.spool_over as u64 {
                let mut file = limits.spool.file().map_err(BodyError::Spool)?;
                std::io::Write::write_all(&mut file, out).map_err(BodyError::Spool)?;
                *self = Sink::File(file, out.len());
            } else if after as usize > held.bytes() {
                let wanted = after as usize - held.bytes();
                if !held.grow(wanted) {
                    let more = limits
                        .budget
                        .reserve(wanted, BUDGET_PATIENCE)
                        .await
                        .ok_or(BodyError::Busy { wanted })?;
                    held.absorb(more);
                }
            }
        }
        match self {
            Sink::Memory(out, _) => wire.take_into(n, out).await,
            Sink::File(file, len) => {
                wire.copy_to(n, file).await?;
                *len += n as usize;
                Ok(())
            }
        }
    }
}

/// A parsed request head.
pub struct Head {
    request: Request<()>,
    framing: Option<Framing>,
    expect: bool,
    keep_alive: bool,
}

#[derive(Debug)]
pub enum HeadError {
    /// Unparsable: 400.
    Bad(&'static str),
    /// Over `MAX_HEAD`: 431.
    TooLarge,
}

/// Parses a complete head at the start of `buf`: the head and its length, or None when
/// more bytes are needed. Pure, so that it can be fuzzed (fuzz/fuzz_targets/http_head.rs).
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(_) => return Err(HeadError::Bad("malformed request head")),
    };
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Bad("bad method"))?;
    let uri: Uri = req
        .path
        .unwrap_or("")
        .parse()
        .map_err(|_| HeadError::Bad("bad request target"))?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    let map = request.headers_mut();
    map.reserve(req.headers.len());
    for h in req.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HeadError::Bad("bad header"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HeadError::Bad("bad header"))?;
        map.append(name, value);
    }
    let framing = framing(map, version)?;
    let has = |name: HeaderName, token: &str| {
        map.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let keep_alive = match version {
        Version::HTTP_10 => has(header::CONNECTION, "keep-alive"),
        _ => !has(header::CONNECTION, "close"),
    };
    let expect = version == Version::HTTP_11 && has(header::EXPECT, "100-continue");
    Ok(Some((
        Head {
            request,
            framing,
            expect,
            keep_alive,
        },
        len,
    )))
}

/// RFC 9112 6.3: chunked when Transfer-Encoding ends in chunked, else Content-Length, else
/// no body. None: no body.
fn framing(map: &hyper::HeaderMap, version: Version) -> Result<Option<Framing>, HeadError> {
    if map.contains_key(header::TRANSFER_ENCODING) {
        let last = map
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .rfind(|t| !t.is_empty());
        return match last {
            Some(t) if t.eq_ignore_ascii_case("chunked") && version == Version::HTTP_11 => {
                Ok(Some(Framing::Chunked))
            }
            _ => Err(HeadError::Bad("unsupported Transfer-Encoding")),
        };
    }
    let mut length = None;
    for v in map.get_all(header::CONTENT_LENGTH) {
        for part in v
            .to_str()
            .map_err(|_| HeadError::Bad("bad Content-Length"))?
            .split(',')
        {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| HeadError::Bad("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::Bad("conflicting Content-Length"));
            }
            length = Some(n);
        }
    }
    Ok(length.filter(|&n| n > 0).map(Framing::Length))
}

/// Reads the next head; None when the client closed the connection between requests.
async fn read_head(wire: &mut Wire) -> io::Result<Option<Result<Head, HeadError>>> {
    loop {
        if !wire.buf.is_empty() {
            match parse_head(&wire.buf) {
                Ok(Some((head, len))) => {
                    wire.consume(len);
                    return Ok(Some(Ok(head)));
                }
                Ok(None) if wire.buf.len() >= MAX_HEAD => {
                    return Ok(Some(Err(HeadError::TooLarge)));
                }
                Ok(None) => {}
                Err(e) => return Ok(Some(Err(e))),
            }
        }
        let chunk = if wire.buf.is_empty() {
            HEAD_CHUNK
        } else {
            wire.buf.len().min(MAX_HEAD - wire.buf.len())
        };
        if wire.fill(chunk).await? == 0 {
            return if wire.buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    }
}

/// Counts open connections, so that shutdown can wait for them.
#[derive(Default)]
pub struct Tracker {
    open: Cell<usize>,
    closed: Notify,
}

/// Held by a connection task while it runs.
pub struct Tracked(Rc<Tracker>);

impl Tracker {
    pub fn track(self: &Rc<Self>) -> Tracked {
        self.open.set(self.open.get() + 1);
        Tracked(self.clone())
    }

    /// Waits until every tracked connection has ended.
    pub async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open.get() == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let open = self.0.open.get() - 1;
        self.0.open.set(open);
        if open == 0 {
            self.0.closed.notify_waiters();
        }
    }
}

/// What is left of the request body once its response is ready.
enum After {
    Clean,
    Skip(u64),
    Close,
}

/// Serves requests on one connection until it closes, or until `stopped` turns true
/// while no request is in flight.
pub async fn serve<H, F>(
    io: Box<Io>,
    mut stopped: watch::Receiver<bool>,
    handler: H,
) -> io::Result<()>
where
    H: Fn(Request<RequestBody>) -> F,
    F: Future<Output = Response<Body>>,
{
    let mut wire = Wire {
        io,
        buf: Vec::new(),
    };
    loop {
        let head = tokio::select! {
            biased;
            _ = stopped.wait_for(|s| *s) => return Ok(()),
            r = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut wire)) => match r {
                Err(_) => {
                    tracing::debug!("no request head within {HEAD_TIMEOUT:?}");
                    return Ok(());
                }
                Ok(r) => r?,
            },
        };
        let head = match head {
            None => return Ok(()),
            Some(Ok(head)) => head,
            Some(Err(e)) => {
                let (status, why) = match e {
                    HeadError::Bad(why) => (StatusCode::BAD_REQUEST, why),
                    HeadError::TooLarge => (
                        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "request head too large",
                    ),
                };
                tracing::info!("refusing a request: {why} ({})", status.as_u16());
                let r = empty_response(status);
                write_response(&mut wire.io, r, Version::HTTP_11, false, false).await?;
                linger(wire).await;
                return Ok(());
            }
        };
        let Head {
            request,
            framing,
            expect,
            mut keep_alive,
        } = head;
        let version = request.version();
        let is_head = request.method() == Method::HEAD;
        // The body, when there is one, takes the connection until it has been read.
        let (mut slot, body, mut local) = match framing {
            None => (None, RequestBody::empty(), Some(wire)),
            Some(framing) => {
                let slot = Rc::new(Slot {
                    wire: RefCell::new(Some(wire)),
                    framing,
                    expect: Cell::new(expect),
                    state: Cell::new(BodyState::Unread),
                    done: Notify::new(),
                });
                (Some(slot.clone()), RequestBody(Some(slot)), None)
            }
        };
        let mut after = After::Clean;
        let (parts, ()) = request.into_parts();
        let mut answer = Box::pin(handler(Request::from_parts(parts, body)));
        // Meanwhile: once the body is read, watch the connection so that a client that
        // goes away ends its request (a waiting Ping holds no buffer for this).
        let response = loop {
            if let Some(s) = slot.take_if(|s| s.state.get() != BodyState::Unread) {
                local = s.wire.borrow_mut().take();
                after = after_body(&s);
            }
            match (&mut local, &slot) {
                (Some(w), _) if w.buf.len() < PIPELINE_MAX => {
                    tokio::select! {
                        biased;
                        r = &mut answer => break Some(r),
                        n = w.watch() => match n {
                            Ok(0) | Err(_) => break None,
                            Ok(_) => {}
                        },
                    }
                }
                (None, Some(s)) => {
                    tokio::select! {
                        biased;
                        r = &mut answer => break Some(r),
                        () = s.done.notified() => {}
                    }
                }
                _ => break Some((&mut answer).await),
            }
        };
        drop(answer);
        let Some(response) = response else {
            tracing::debug!("the client closed the connection before the answer");
            return Ok(());
        };
        if let Some(s) = slot.take() {
            local = s.wire.borrow_mut().take();
            after = after_body(&s);
        }
        let Some(w) = local else {
            return Ok(());
        };
        wire = w;
        if matches!(after, After::Close) || *stopped.borrow() {
            keep_alive = false;
        }
        write_response(&mut wire.io, response, version, keep_alive, is_head).await?;
        match after {
            After::Close => {
                linger(wire).await;
                return Ok(());
            }
            After::Skip(n) => {
                if tokio::time::timeout(HEAD_TIMEOUT, wire.skip(n))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            After::Clean => {}
        }
        if !keep_alive {
            let _ = wire.io.shutdown().await;
            return Ok(());
        }
    }
}

/// What the unread rest of a body means for the connection.
fn after_body(slot: &Slot) -> After {
    match (slot.state.get(), slot.framing) {
        (BodyState::Done, _) => After::Clean,
        (BodyState::Unread, Framing::Length(n)) if n <= DRAIN_MAX && !slot.expect.get() => {
            After::Skip(n)
        }
        _ => After::Close,
    }
}

/// Closes after a response while the client may still be sending: our side is shut, and
/// what still arrives is read and dropped for a moment, so that the close does not reset
/// the connection before the client has read the answer.
async fn linger(mut wire: Wire) {
    let _ = wire.io.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut sink = vec![0u8; 4096];
        let mut total = 0usize;
        while total < 1 << 20 {
            match wire.io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

fn empty_response(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// Writes one response: status line, the handler's headers, Content-Length, Date and
/// Connection as needed, then the body (none for HEAD).
async fn write_response(
    io: &mut Io,
    response: Response<Body>,
    version: Version,
    keep_alive: bool,
    is_head: bool,
) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let total = body.len();
    let (body, mut files, _held) = body.into_parts();
    let status = parts.status;
    let mut out = Vec::with_capacity(
        256 + if body.len() <= COALESCE_MAX {
            body.len()
        } else {
            0
        },
    );
    out.extend_from_slice(if version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            || name == header::DATE
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !bodiless {
        out.extend_from_slice(format!("content-length: {total}\r\n").as_bytes());
    }
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
    out.extend_from_slice(b"\r\n");
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let send_body = !is_head && !bodiless && total > 0;
    if send_body && total <= COALESCE_MAX as u64 && files.is_empty() {
        out.extend_from_slice(&body);
        io.write_all(&out).await?;
    } else {
        io.write_all(&out).await?;
        drop(out);
        if send_body {
            io.write_all(&body).await?;
            drop(body);
            write_files(io, &mut files).await?;
        }
    }
    io.flush().await
}

/// Streams the file parts of a body through one small buffer: the response never holds
/// more than a chunk of them in memory.
async fn write_files(io: &mut Io, files: &mut [crate::http_body::FilePart]) -> io::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mut chunk = vec![0u8; SPOOL_CHUNK];
    for part in files {
        let mut left = part.len;
        while left > 0 {
            let n = part.read_chunk(left, &mut chunk)?;
            io.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
    }
    Ok(())
}

fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        449 => "Retry With",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        match parse_head(text.as_bytes()) {
            Ok(Some((h, len))) => {
                assert_eq!(len, text.len());
                h
            }
            _ => panic!("no head in {text:?}"),
        }
    }

    #[test]
    fn heads_and_their_framing() {
        let h = head("POST /a?b=c HTTP/1.1\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(h.framing, Some(Framing::Length(12)));
        assert!(h.expect && h.keep_alive);
        assert_eq!(h.request.uri().query(), Some("b=c"));
        let h = head(
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!(h.framing, Some(Framing::Chunked));
        let h = head("GET / HTTP/1.0\r\n\r\n");
        assert!(!h.keep_alive && h.framing.is_none());
        let h = head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(h.keep_alive);
        let h = head("POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!h.keep_alive && h.framing.is_none());
        assert!(matches!(
            parse_head(b"POST / HTTP/1.1\r\nContent-Le"),
            Ok(None)
        ));
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/9.9\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad.as_bytes()), Err(HeadError::Bad(_))),
                "{bad:?}"
            );
        }
    }

    /// Serves one connection with a test handler: `/wait` never answers (and records
    /// being dropped); anything else answers with the body's length, or 413 over 16 bytes.
    async fn exchange(input: &[u8], half_close: bool) -> (String, Rc<Cell<bool>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dropped = Rc::new(Cell::new(false));
        let flag = dropped.clone();
        let server = tokio::task::spawn_local(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (_stop, stopped) = watch::channel(false);
            let data = tempfile::tempdir().unwrap();
            let spool = Rc::new(crate::spool::Spool::open(data.path()).unwrap());
            let budget = crate::budget::MemoryBudget::new(10);
            let handler = move |req: Request<RequestBody>| {
                let flag = flag.clone();
                let (spool, budget) = (spool.clone(), budget.clone());
                async move {
                    if req.uri().path() == "/wait" {
                        struct Guard(Rc<Cell<bool>>);
                        impl Drop for Guard {
                            fn drop(&mut self) {
                                self.0.set(true);
                            }
                        }
                        let _guard = Guard(flag);
                        std::future::pending::<()>().await;
                    }
                    // Bodies over 4 bytes are spooled; the budget holds 10.
                    let limits = BodyLimits {
                        max: 16,
                        spool_over: 4,
                        budget: &budget,
                        spool: &spool,
                    };
                    match crate::http_body::read_body(req.into_body(), &limits).await {
                        Ok(b) => {
                            assert_eq!(b.held.bytes(), b.bytes.len());
                            let text = format!("len={}", b.bytes.len());
                            Response::new(Body::new(Bytes::from(text)))
                        }
                        Err(BodyError::TooLarge(_)) => {
                            empty_response(StatusCode::PAYLOAD_TOO_LARGE)
                        }
                        Err(BodyError::Busy { .. }) => {
                            empty_response(StatusCode::SERVICE_UNAVAILABLE)
                        }
                        Err(_) => empty_response(StatusCode::BAD_REQUEST),
                    }
                }
            };
            let _ = serve(Box::new(Io::Plain(tcp)), stopped, handler).await;
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(input).await.unwrap();
        if half_close {
            client.shutdown().await.unwrap();
        }
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut out)).await;
        drop(client);
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        (String::from_utf8_lossy(&out).into_owned(), dropped)
    }

    fn statuses(out: &str) -> Vec<&str> {
        out.match_indices("HTTP/1.")
            .map(|(i, _)| &out[i + 9..i + 12])
            .collect()
    }

    async fn local<F: Future>(f: F) -> F::Output {
        tokio::task::LocalSet::new().run_until(f).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn pipelined_requests_chunked_bodies_and_closing() {
        local(async {
            let (out, _) = exchange(
                b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\n\
                  Transfer-Encoding: chunked\r\n\r\n4;x=y\r\nwxyz\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n\
                  POST /c HTTP/1.1\r\nConnection: close\r\n\r\n",
                false,
            )
            .await;
            assert_eq!(statuses(&out), ["200", "200", "200"], "{out}");
            assert!(out.contains("content-length: 5\r\n"), "{out}");
            let bodies: Vec<_> = out
                .match_indices("len=")
                .map(|(i, _)| &out[i..i + 5])
                .collect();
            assert_eq!(bodies, ["len=3", "len=6", "len=0"], "{out}");
            assert!(out.contains("connection: close"), "{out}");
            // HTTP/1.0 closes unless asked to keep alive.
            let (out, _) =
                exchange(b"POST /a HTTP/1.0\r\n\r\nPOST /a HTTP/1.0\r\n\r\n", false).await;
            assert_eq!(statuses(&out), ["200"], "{out}");
            assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
        })
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn too_large_bodies_expect_and_bad_heads() {
        local(async {
            // A small unread body is skipped and the connection goes on.
            let (out, _) = exchange(
                b"POST /a HTTP/1.1\r\nContent-Length: 20\r\n\r\n01234567890123456789\
                  POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
                true,
            )
            .await;
            assert_eq!(statuses(&out), ["413", "200"], "{out}");
            // Spooled while it arrives, then too large for the budget to load: 503, and
            // the connection goes on.
            let (out, _) = exchange(
                b"POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n012345678901\
                  POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                  3\r\nabc\r\n6\r\ndefghi\r\n0\r\n\r\n",
                true,
            )
            .await;
            assert_eq!(statuses(&out), ["503", "200"], "{out}");
            assert!(out.contains("len=9"), "{out}");
            // A chunked body over the limit ends the connection.
            let (out, _) = exchange(
                b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n",
                true,
            )
            .await;
            assert_eq!(statuses(&out), ["413"], "{out}");
            assert!(out.contains("connection: close"), "{out}");
            // 100 Continue comes before the body is read, and only then.
            let (out, _) = exchange(
                b"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
                true,
            )
            .await;
            assert_eq!(statuses(&out), ["100", "200"], "{out}");
            let (out, _) = exchange(b"GARBAGE\r\n\r\n", true).await;
            assert_eq!(statuses(&out), ["400"], "{out}");
            let (out, _) =
                exchange(b"POST /a HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", true).await;
            assert_eq!(statuses(&out), ["400"], "{out}");
        })
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_client_that_goes_away_ends_its_request() {
        local(async {
            let (out, dropped) =
                exchange(b"POST /wait HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true).await;
            assert_eq!(out, "");
            assert!(dropped.get());
        })
        .await;
    }
}
