//! The bodies of HTTP requests and responses (a request body as the front ends read it:
//! [`IncomingBody`], [`read_body`]), and the small vocabulary of responses shared by the
//! front ends; a leaf below both the connection (`server::conn`) and the front ends
//! (`eas`), which hand response bodies to each other.

use std::fs::File;
use std::io::{Read, Seek};
use std::time::Duration;

use bytes::Bytes;
use hyper::{Response, StatusCode, header};

use std::rc::Rc;

use crate::budget::{MemoryBudget, Reservation};
use crate::spool::Spool;

/// How long a request waits for the memory budget before it is refused with 503.
pub const BUDGET_PATIENCE: Duration = Duration::from_secs(2);
/// The Retry-After of a 503 for want of memory: long enough for the bodies and responses
/// in flight to finish.
pub const BUDGET_RETRY_AFTER_SECS: u32 = 10;

/// A response body: bytes in memory, then the regions of files (spooled parts of a
/// multipart response), which the connection streams in small chunks. Its length is known
/// before the first byte is written, so it goes out with a Content-Length.
pub struct Body {
    head: Bytes,
    files: Vec<FilePart>,
    /// The budget the in-memory part holds, given back once the body has been written.
    held: Option<Reservation>,
}

/// `len` bytes of `file` from its start.
pub struct FilePart {
    pub file: File,
    pub len: u64,
}

impl Body {
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Body {
            head: bytes.into(),
            files: Vec::new(),
            held: None,
        }
    }

    /// `head`, then each file's first `len` bytes.
    pub fn with_files(head: impl Into<Bytes>, files: Vec<FilePart>) -> Self {
        Body {
            head: head.into(),
            files,
            held: None,
        }
    }

    /// Keeps `reservation` until the body has been written (or dropped).
    #[must_use]
    pub fn holding(mut self, reservation: Option<Reservation>) -> Self {
        self.held = reservation;
        self
    }

    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.files.iter().map(|f| f.len).sum::<u64>()
    }

    /// Bytes the body holds in memory (its file parts are on disk).
    pub fn in_memory(&self) -> usize {
        self.head.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The in-memory bytes and the file parts, for the connection to write.
    pub(crate) fn into_parts(self) -> (Bytes, Vec<FilePart>, Option<Reservation>) {
        (self.head, self.files, self.held)
    }
}

impl FilePart {
    /// Reads the next chunk of at most `buf.len()` bytes of what is left (`left`), from
    /// the file's start on the first call (`left == len`).
    pub(crate) fn read_chunk(&mut self, left: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if left == self.len {
            self.file.rewind()?;
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(n)
    }
}

pub fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::new(Bytes::from_static(text.as_bytes())))
        .expect("static response")
}

pub fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::new(Bytes::new()))
        .expect("static response")
}

/// 503 with Retry-After: the memory budget could not hold what the request needed
/// (RFC 9110 15.6.4, 10.2.3).
pub fn busy() -> Response<Body> {
    let mut r = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "server busy, retry later\n",
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(BUDGET_RETRY_AFTER_SECS),
    );
    r
}

/// Where a body goes while it arrives, and how much it may take.
pub struct BodyLimits<'a> {
    /// The largest body accepted.
    pub max: usize,
    /// Bodies up to this size are kept in memory as they arrive (drawing from `budget`);
    /// larger ones go to a file in `spool` and are loaded only once complete.
    pub spool_over: usize,
    pub budget: &'a Rc<MemoryBudget>,
    pub spool: &'a Spool,
}

/// A whole request body in memory, and the budget its bytes hold.
pub struct ReadBody {
    pub bytes: Bytes,
    pub held: Reservation,
}

/// A request body read on demand, after the request was authenticated: what a front end
/// sees of the connection's body (`server::conn::RequestBody` is the one there is).
// The futures stay on the connection's thread (current-thread runtime): no Send bound.
#[allow(async_fn_in_trait)]
pub trait IncomingBody {
    /// The whole body within `limits`, as it arrived: in memory, or spooled to a file.
    async fn receive(self, limits: &BodyLimits<'_>) -> Result<Received, BodyError>;
}

/// Reads the whole body within `limits`: refusing more than `limits.max` bytes without
/// buffering them, drawing what it keeps in memory from the budget (waiting at most
/// [`BUDGET_PATIENCE`] for room), and spooling a large body to a file while it arrives, so
/// that a slow sender holds disk, not memory.
/// Boxed, so that a request's future is not as large as this step for as long as it lives.
pub async fn read_body(
    body: impl IncomingBody,
    limits: &BodyLimits<'_>,
) -> Result<ReadBody, BodyError> {
    let received = Box::pin(body.receive(limits)).await?;
    match received {
        Received::Memory(bytes, held) => Ok(ReadBody { bytes, held }),
        Received::Spooled(mut file, len) => {
            let held = limits
                .budget
                .reserve(len, BUDGET_PATIENCE)
                .await
                .ok_or(BodyError::Busy { wanted: len })?;
            let mut bytes = Vec::with_capacity(len);
            file.rewind().map_err(BodyError::Spool)?;
            file.read_to_end(&mut bytes).map_err(BodyError::Spool)?;
            if bytes.len() != len {
                return Err(BodyError::Spool(std::io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(ReadBody {
                bytes: bytes.into(),
                held,
            })
        }
    }
}

/// A body as the connection received it.
pub enum Received {
    /// In memory, its bytes held in the budget.
    Memory(Bytes, Reservation),
    /// In an (unlinked) spool file of this many bytes.
    Spooled(File, usize),
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the request body: {0}")]
    Read(String),
    /// The memory budget had no room for `wanted` more bytes within its patience.
    #[error("no room in the memory budget for {wanted} bytes of request body")]
    Busy { wanted: usize },
    #[error("spooling the request body: {0}")]
    Spool(std::io::Error),
}
