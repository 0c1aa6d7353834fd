//! The front door: one HTTP request to one EAS command, in a straight line —
//! authenticate → parse the query → gate the device → decode → command → encode.
//! Every refusal is answered here with its HTTP status (or EAS Status) and a log line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, header};

use super::cmd::{self, Ctx, Reply, Who};
use crate::app::App;
use crate::auth::AuthError;
use crate::budget::Reservation;
use crate::govern::{self, Gate, Verdict};
use crate::http_body::{
    BUDGET_PATIENCE, Body, BodyError, BodyLimits, FilePart, IncomingBody, ReadBody, busy, empty,
    plain, read_body,
};
use crate::proto::command::Command;
use crate::proto::query::{self, EasRequest, QueryError};
use crate::proto::status::{GlobalStatus, status_only};
use crate::proto::version::ProtocolVersion;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::store::model::{Account, Device};
use crate::wbxml::{self, Element};

pub const WBXML_CONTENT_TYPE: &str = "application/vnd.ms-sync.wbxml";

/// Numbers requests in the protocol log, so a request and its answer can be paired.
static REQUEST_SEQ: AtomicU32 = AtomicU32::new(0);

pub async fn handle(
    app: &App,
    req: Request<impl IncomingBody>,
    peer: SocketAddr,
    _secure: bool,
) -> Response<Body> {
    let method = req.method().clone();
    if ![Method::POST, Method::OPTIONS, Method::GET].contains(&method) {
        tracing::info!("{peer}: method {method} not allowed");
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET, OPTIONS and POST\n",
        );
        r.headers_mut().insert(
            header::ALLOW,
            header::HeaderValue::from_static("GET,OPTIONS,POST"),
        );
        return r;
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // Parsed before authentication for its DeviceId, which the login throttle needs (a
    // known device keeps working while its account is locked for unknown ones); a bad
    // query is answered only once the credentials are checked.
    let query = parse_query(req.uri(), req.headers());
    let device = match &query {
        Ok(r) => Some(r.device_id.clone()),
        Err(_) => query::device_id_hint(req.uri().query().unwrap_or("")),
    };
    // The steps before the command are boxed: this future lives as long as a Ping
    // waits, and would otherwise be as large as the largest of them.
    let login = app.auth.authenticate(
        &app.store,
        authorization,
        peer.ip(),
        device.as_ref().map(|d| d.as_str()),
    );
    let account = match Box::pin(login).await {
        Ok(a) => a,
        Err(e) => return Box::pin(login_refused(app, e, peer)).await,
    };
    // Not kept in this future while a Ping waits.
    drop(device);
    if !account.activesync {
        // The account's web pages still work; only its phones are refused.
        tracing::warn!("{peer}: {} may not use ActiveSync: 403", account.email);
        return plain(
            StatusCode::FORBIDDEN,
            "ActiveSync is off for this account\n",
        );
    }
    // OPTIONS ([MS-ASHTTP] 2.2.4.1.2), or GET: a browser's connectivity test, answered
    // with a page naming the account and the same versions.
    if method == Method::OPTIONS || method == Method::GET {
        let server_max = app.settings.current().max_version;
        let offered = govern::offered_versions(&app.store, &account, server_max).await;
        return match offered {
            Ok(versions) if method == Method::GET => {
                match govern::new_device_outlook(&app.store, &account).await {
                    Ok(outlook) => {
                        tracing::info!("{peer} {}: connectivity page", account.email);
                        super::connectivity::page(&account.email, &versions, &outlook)
                    }
                    Err(e) => {
                        tracing::error!("{}: {method} failed: {e}", account.email);
                        plain(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "server error
",
                        )
                    }
                }
            }
            Ok(versions) => options(&versions),
            Err(e) => {
                tracing::error!("{}: {method} failed: {e}", account.email);
                plain(StatusCode::INTERNAL_SERVER_ERROR, "server error\n")
            }
        };
    }
    let (parts, body) = req.into_parts();
    let request = match query {
        Ok(r) => r,
        Err((status, e)) => {
            tracing::info!("{peer} {}: bad request: {e}", account.email);
            return plain(status, "bad ActiveSync request\n");
        }
    };
    tracing::debug!(
        "{} {} {} ignored parameters: {:?}",
        account.email,
        request.device_id,
        request.command,
        request.ignored_parameters
    );
    if let Some(user) = &request.user
        && !same_user(user, &account)
    {
        tracing::warn!(
            "{peer}: User={user} in the query does not match the authenticated {}",
            account.email
        );
        return plain(
            StatusCode::FORBIDDEN,
            "User does not match the credentials\n",
        );
    }
    if !cmd::IMPLEMENTED.contains(&request.command) {
        tracing::info!("{}: {} is not implemented", account.email, request.command);
        return plain(StatusCode::NOT_IMPLEMENTED, "command not implemented\n");
    }
    // The versions on offer (the server settings' max_protocol_version): a request in a
    // higher one is refused as one above MaxProtocolVersion ([MS-ASHTTP] 2.2.4.1.2.2).
    if let Some(max) = app.settings.current().max_version
        && request.version > max
    {
        tracing::info!(
            "{} {}: {} in {} is above the versions on offer",
            account.email,
            request.device_id,
            request.command,
            request.version
        );
        return version_above(&request, max);
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let touch = govern::device::touch(&app.store, &account, &request, user_agent);
    let mut device = match Box::pin(touch).await {
        Ok(d) => d,
        Err(e) => return server_error(&account, &request, &e),
    };
    // A newer Ping or Sync from the device ends its older waiting one, answered.
    if matches!(request.command, Command::Ping | Command::Sync) {
        app.hub.supersede(account.id, device.device_id.as_str());
    }
    let gate = govern::gate(&app.store, &account, &mut device, &request);
    // The device's effective policy, as the gate decided on it, for the command's rules.
    let policy = match Box::pin(gate).await {
        Ok(Verdict {
            gate: Gate::Pass,
            policy,
        }) => policy,
        Ok(Verdict { gate: refusal, .. }) => {
            tracing::info!(
                "{} {}: {} in {} refused: {refusal}",
                account.email,
                request.device_id,
                request.command,
                request.version
            );
            return refused(&request, refusal);
        }
        Err(e) => return server_error(&account, &request, &e),
    };
    let who = format!("{}/{}", account.email, request.device_id);
    let limits = BodyLimits {
        max: app.cfg.limits.max_body,
        spool_over: app.cfg.limits.spool_over,
        budget: &app.budget,
        spool: &app.spool,
    };
    let ReadBody { bytes, mut held } = match read_body(body, &limits).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(max)) => {
            app.refusals.record(
                Limit::BodySize,
                &who,
                format_args!("{} body over max_body {max}", request.command),
            );
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
        }
        Err(BodyError::Busy { wanted }) => {
            app.refusals.record(
                Limit::MemoryBudget,
                &who,
                format_args!(
                    "{}: no room for {wanted} bytes of body ({} of {} in use)",
                    request.command,
                    app.budget.in_use(),
                    app.budget.total()
                ),
            );
            return busy();
        }
        Err(e @ BodyError::Spool(_)) => {
            tracing::error!("{who}: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "server error\n");
        }
        Err(e @ BodyError::Read(_)) => {
            tracing::info!("{who}: {e}");
            return plain(StatusCode::BAD_REQUEST, "unreadable request body\n");
        }
    };
    let logging = account.protocol_log || device.protocol_log;
    let seq = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed) % 10_000;
    let is_mime = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("message/rfc822"));
    let (bytes, mime_body) = if is_mime {
        (Bytes::new(), Some(bytes))
    } else {
        (bytes, None)
    };
    let decoded = decode_body(app, &bytes);
    // The decoded tree draws from the budget instead; the WBXML it came from is freed now.
    drop(bytes);
    // Headers are not needed past this point; a waiting Ping should not keep them.
    drop(parts);
    // The protocol log's entry for the request, as it arrived (before the command runs,
    // so that its time is the request's).
    if logging {
        let (what, body) = match &decoded {
            Ok(body) => (format!("<<< {}", request.command), body.as_ref()),
            Err(e) => (format!("<<< {} (undecodable: {e})", request.command), None),
        };
        log_entry(app, &account, &device, seq, &what, body);
    }
    // The body for the command, or the answer that refuses the request before it runs.
    let body = match decoded {
        Ok(body) => {
            let decoded = body.as_ref().map_or(0, Element::content_len);
            if !reserve_decoded(app, &mut held, decoded, &who, request.command).await {
                Err(Answer::Busy)
            } else {
                if mime_body.is_none() {
                    held.shrink_to(decoded);
                }
                Ok(body)
            }
        }
        Err(e) => {
            // Over a decoding bound is a refusal for resource reasons (recorded); anything
            // else is malformed input. Both are answered 400: the request cannot be
            // understood as sent ([MS-ASHTTP] 2.2.2.1.1), and 12.x has no Status for it.
            match e.limit() {
                Some(limit) => app.refusals.record(
                    limit,
                    &Who(&account.email, request.device_id.as_str()),
                    format_args!("{} with WBXML over its bounds: {e}", request.command),
                ),
                None => tracing::info!(
                    "{} {}: {} with undecodable WBXML: {e}",
                    account.email,
                    request.device_id,
                    request.command
                ),
            }
            Err(Answer::Malformed)
        }
    };
    let mut ctx = Ctx {
        app,
        account: &account,
        policy,
        device,
        req: &request,
        mime_body,
        held: Some(held),
    };
    let answer = match body {
        Err(refused) => {
            // A refused request keeps nothing of the budget.
            ctx.held = None;
            refused
        }
        Ok(body) => match cmd::dispatch(&mut ctx, body).await {
            Ok(Reply::Busy) => {
                app.refusals.record(
                    Limit::MemoryBudget,
                    &who,
                    format_args!("{}: no room for its response", request.command),
                );
                Answer::Busy
            }
            Ok(reply) => Answer::Reply(reply),
            Err(e) => Answer::Failed(e),
        },
    };
    // The protocol log's entry for the answer: here, once, for every outcome.
    if logging {
        let (what, body) = answer.log_line();
        log_entry(app, &account, &ctx.device, seq, &what, body);
    }
    // What the request and its response hold is given back once the response is written.
    let held = ctx.held.take();
    let mut response = answer.into_response(&account, &request);
    // The encoded response is memory until it is written: the budget counts it (best
    // effort, as it exists already), so that bodies arriving meanwhile wait for it.
    let in_memory = response.body().in_memory();
    let held = match held {
        Some(mut h) => {
            if h.bytes() < in_memory {
                h.grow(in_memory - h.bytes());
            }
            Some(h)
        }
        None => app.budget.try_reserve(in_memory),
    };
    let body = std::mem::replace(response.body_mut(), Body::new(Bytes::new()));
    *response.body_mut() = body.holding(held);
    response
}

/// How the front door answers a request once its body was read: the command's reply or a
/// refusal. The HTTP response and the protocol log's entry are both made from it.
enum Answer {
    Reply(Reply),
    /// The body is no WBXML that can be decoded within the limits: 400.
    Malformed,
    /// No room in the memory budget for the decoded request or for the response: 503.
    Busy,
    /// The command failed: 500.
    Failed(StoreError),
}

impl Answer {
    /// The protocol log's line for this answer, and the WBXML it carries.
    fn log_line(&self) -> (String, Option<&Element>) {
        match self {
            Answer::Reply(Reply::Wbxml(root)) => (">>> 200 OK".to_owned(), Some(root)),
            Answer::Reply(Reply::Multipart { root, parts }) => (
                format!(">>> 200 OK (multipart, {} binary parts)", parts.len()),
                Some(root),
            ),
            Answer::Reply(Reply::Raw { content_type, body }) => (
                format!(">>> 200 OK ({content_type}, {} bytes)", body.len()),
                None,
            ),
            Answer::Reply(Reply::Http(status)) => (format!(">>> {status}"), None),
            Answer::Reply(Reply::Busy) | Answer::Busy => (">>> 503".to_owned(), None),
            Answer::Malformed => (format!(">>> {}", StatusCode::BAD_REQUEST), None),
            Answer::Failed(_) => (format!(">>> {}", StatusCode::INTERNAL_SERVER_ERROR), None),
        }
    }

    fn into_response(self, account: &Account, request: &EasRequest) -> Response<Body> {
        match self {
            Answer::Reply(Reply::Wbxml(root)) => wbxml_response(&root),
            Answer::Reply(Reply::Multipart { root, parts }) => multipart_response(&root, parts),
            Answer::Reply(Reply::Raw { content_type, body }) => raw_response(&content_type, body),
            Answer::Reply(Reply::Http(status)) => empty(status),
            Answer::Reply(Reply::Busy) | Answer::Busy => busy(),
            Answer::Malformed => plain(StatusCode::BAD_REQUEST, "malformed WBXML\n"),
            Answer::Failed(e) => server_error(account, request, &e),
        }
    }
}

/// Grows what the request holds of the memory budget to the size of its decoded body,
/// waiting a little for room; false, with the refusal recorded, when there is none.
async fn reserve_decoded(
    app: &App,
    held: &mut Reservation,
    decoded: usize,
    who: &str,
    command: Command,
) -> bool {
    if decoded <= held.bytes() || held.grow(decoded - held.bytes()) {
        return true;
    }
    match app
        .budget
        .reserve(decoded - held.bytes(), BUDGET_PATIENCE)
        .await
    {
        Some(more) => {
            held.absorb(more);
            true
        }
        None => {
            app.refusals.record(
                Limit::MemoryBudget,
                &who,
                format_args!("{command}: no room for {decoded} bytes of decoded WBXML"),
            );
            false
        }
    }
}

/// What a request to the front door is, for the metrics: its command when the query
/// names one, else its method (OPTIONS, GET) or `invalid`.
pub fn command_label<B>(req: &Request<B>) -> &'static str {
    match *req.method() {
        Method::OPTIONS => "OPTIONS",
        Method::GET => "GET",
        Method::POST => {
            parse_query(req.uri(), req.headers()).map_or("invalid", |r| r.command.name())
        }
        _ => "invalid",
    }
}

fn parse_query(
    uri: &hyper::Uri,
    headers: &HeaderMap,
) -> Result<EasRequest, (StatusCode, QueryError)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Bytes that are not text still make a (malformed) key, answered by the gate.
    let policy_header = headers
        .get("X-MS-PolicyKey")
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    let mut request = query::parse_request(
        uri.query().unwrap_or(""),
        header("MS-ASProtocolVersion"),
        policy_header.as_deref(),
    )
    .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    request.accept_multipart |=
        header("MS-ASAcceptMultiPart").is_some_and(|v| v.eq_ignore_ascii_case("T"));
    Ok(request)
}

/// The query's User names the account the credentials authenticated: the same address,
/// `DOMAIN\user`, or the bare local part.
fn same_user(user: &str, account: &Account) -> bool {
    let login = crate::auth::login_address(user);
    login == account.email
        || (!login.contains('@') && account.email.split('@').next() == Some(login.as_str()))
}

/// Authenticates a request that names no device (Autodiscover, the metrics) with the same
/// authenticator and throttle: the account, or the answer refusing the login.
pub async fn login_without_device(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Account, Response<Body>> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let login = app
        .auth
        .authenticate(&app.store, authorization, peer.ip(), None);
    match Box::pin(login).await {
        Ok(account) => Ok(account),
        Err(e) => Err(login_refused(app, e, peer).await),
    }
}

/// The answer to a failed login, counted in the metrics when the credentials were wrong.
async fn login_refused(app: &App, e: AuthError, peer: SocketAddr) -> Response<Body> {
    if matches!(e, AuthError::BadCredentials { .. }) {
        app.metrics.auth_failure();
    }
    match e {
        AuthError::Missing => {
            tracing::debug!("{peer}: no credentials");
            challenge()
        }
        AuthError::Malformed => {
            tracing::info!("{peer}: malformed Authorization header");
            challenge()
        }
        AuthError::BadCredentials { user, delay } => {
            tracing::warn!("{peer}: failed login for {user:?}");
            tokio::time::sleep(delay).await;
            challenge()
        }
        AuthError::Disabled(user) => {
            tracing::warn!("{peer}: login to disabled account {user}");
            plain(StatusCode::FORBIDDEN, "account disabled\n")
        }
        AuthError::Throttled(wait) => {
            // The lock was logged (and counted) once, when it started.
            tracing::debug!("{peer}: login refused, locked for {}s more", wait.as_secs());
            let mut r = plain(StatusCode::TOO_MANY_REQUESTS, "too many failed logins\n");
            r.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(wait.as_secs().max(1)),
            );
            r
        }
        AuthError::Store(e) => {
            tracing::error!("{peer}: store error during login: {e}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "server error\n")
        }
    }
}

fn challenge() -> Response<Body> {
    let mut r = plain(StatusCode::UNAUTHORIZED, "authentication required\n");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"ActiveSync\""),
    );
    r
}

/// [MS-ASHTTP] 2.2.4.1.2: the versions the account may use (its MaxProtocolVersion) and
/// the commands this server implements.
fn options(versions: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("MS-Server-ActiveSync", env!("CARGO_PKG_VERSION"))
        .header("MS-ASProtocolVersions", versions)
        .header("MS-ASProtocolCommands", cmd::implemented_header())
        .header(header::ALLOW, "OPTIONS,POST")
        .header("Public", "OPTIONS,POST")
        .header(header::CACHE_CONTROL, "private")
        .body(Body::new(Bytes::new()))
        .expect("static response")
}

/// The answer to a request the device gate refused.
fn refused(request: &EasRequest, gate: Gate) -> Response<Body> {
    match gate {
        Gate::Refuse(status) => provisioning_required(request, status),
        Gate::WipeRequested => provisioning_required(request, GlobalStatus::RemoteWipeRequested),
        Gate::Blocked => forbidden(request, GlobalStatus::DeviceBlocked, "device blocked\n"),
        Gate::Wiped | Gate::Pass => {
            forbidden(request, GlobalStatus::DeviceBlocked, "device wiped\n")
        }
        Gate::TooManyDevices => status_answer(
            request,
            GlobalStatus::MaximumDevicesReached,
            StatusCode::FORBIDDEN,
            "too many devices for this account\n",
        ),
        Gate::VersionAbove(max) => version_above(request, max),
    }
}

/// A request in a higher protocol version than MaxProtocolVersion allows: HTTP 400, like
/// a version easd does not speak, with the versions the device may use
/// ([MS-ASHTTP] 2.2.4.1.2.2).
fn version_above(request: &EasRequest, max: ProtocolVersion) -> Response<Body> {
    let text = format!(
        "protocol version {} is above this device's maximum, {max}\n",
        request.version
    );
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(
            "MS-ASProtocolVersions",
            govern::own::versions_header(Some(max)),
        )
        .body(Body::new(Bytes::from(text)))
        .expect("version names are valid header values")
}

/// HTTP 403, with the command's Status body where the version has one ([MS-ASCMD] 2.2.2).
fn forbidden(request: &EasRequest, status: GlobalStatus, text: &'static str) -> Response<Body> {
    match (request.version >= ProtocolVersion::V14_0)
        .then(|| status_only(request.command, status))
        .flatten()
    {
        Some(root) => {
            let mut r = wbxml_response(&root);
            *r.status_mut() = StatusCode::FORBIDDEN;
            r
        }
        None => plain(StatusCode::FORBIDDEN, text),
    }
}

/// 12.x learns of provisioning through HTTP 449; 14.0+ through the command's Status
/// ([MS-ASPROV] 3.2.5.1.2; [MS-ASCMD] 2.2.2; [MS-ASHTTP] 3.2.5.1).
fn provisioning_required(request: &EasRequest, status: GlobalStatus) -> Response<Body> {
    let retry_with_provision = StatusCode::from_u16(449).expect("449 is a valid status");
    status_answer(
        request,
        status,
        retry_with_provision,
        "provisioning required\n",
    )
}

/// A global Status in the command's body for 14.0+ ([MS-ASCMD] 2.2.2); `legacy` for 12.x,
/// which has none, and HTTP 403 for a command without a Status.
fn status_answer(
    request: &EasRequest,
    status: GlobalStatus,
    legacy: StatusCode,
    text: &'static str,
) -> Response<Body> {
    if request.version < ProtocolVersion::V14_0 {
        return plain(legacy, text);
    }
    match status_only(request.command, status) {
        Some(root) => wbxml_response(&root),
        None => plain(StatusCode::FORBIDDEN, text),
    }
}

fn decode_body(app: &App, bytes: &[u8]) -> Result<Option<Element>, wbxml::DecodeError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let limits = wbxml::Limits {
        max_depth: app.cfg.limits.wbxml_max_depth,
        max_elements: app.cfg.limits.wbxml_max_elements,
        max_string_len: app.cfg.limits.wbxml_max_string,
        max_total: app.cfg.limits.max_body,
        max_decoded: app.cfg.limits.wbxml_decoded(),
    };
    wbxml::decode(bytes, &limits).map(Some)
}

pub fn wbxml_response(root: &Element) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, WBXML_CONTENT_TYPE)
        .body(Body::new(Bytes::from(wbxml::encode(root))))
        .expect("static response")
}

pub const MULTIPART_CONTENT_TYPE: &str = "application/vnd.ms-sync.multipart";

/// [MS-ASCMD] 2.2.1.10.1.1: a count of parts, an (offset, length) pair per part (32-bit
/// little-endian, offsets from the start of the body), then the parts; part 0 is WBXML.
/// The binary parts stay in their spool files: the connection streams them.
fn multipart_body(root: &Element, parts: Vec<FilePart>) -> Body {
    let wbxml = wbxml::encode(root);
    let count = parts.len() + 1;
    let header = 4 + 8 * count;
    let mut out = Vec::with_capacity(header + wbxml.len());
    out.extend_from_slice(&(count as u32).to_le_bytes());
    let mut offset = header as u64;
    for len in std::iter::once(wbxml.len() as u64).chain(parts.iter().map(|p| p.len)) {
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        offset += len;
    }
    out.extend_from_slice(&wbxml);
    Body::with_files(out, parts)
}

fn multipart_response(root: &Element, parts: Vec<FilePart>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, MULTIPART_CONTENT_TYPE)
        .body(multipart_body(root, parts))
        .expect("static response")
}

/// A non-WBXML body; a content type that is no valid header value (it comes from a
/// stored message) falls back to `application/octet-stream`.
fn raw_response(content_type: &str, body: Vec<u8>) -> Response<Body> {
    let value = header::HeaderValue::from_str(content_type)
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    let mut r = Response::new(Body::new(Bytes::from(body)));
    r.headers_mut().insert(header::CONTENT_TYPE, value);
    r
}

fn server_error(
    account: &Account,
    request: &EasRequest,
    e: &dyn std::fmt::Display,
) -> Response<Body> {
    tracing::error!(
        "{} {}: {} failed: {e}",
        account.email,
        request.device_id,
        request.command
    );
    match (request.version >= ProtocolVersion::V14_0)
        .then(|| status_only(request.command, GlobalStatus::ServerError))
        .flatten()
    {
        Some(root) => {
            let mut r = wbxml_response(&root);
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
        None => plain(StatusCode::INTERNAL_SERVER_ERROR, "server error\n"),
    }
}

fn log_entry(
    app: &App,
    account: &Account,
    device: &Device,
    seq: u32,
    what: &str,
    body: Option<&Element>,
) {
    let t = crate::store::now().rem_euclid(86_400);
    let header = format!(
        "{} [{}] [{seq:04}] {:02}:{:02}:{:02} {what}",
        device.device_id,
        account.email,
        t / 3600,
        t / 60 % 60,
        t % 60
    );
    app.protolog.write(&device.device_id, &header, body);
}
