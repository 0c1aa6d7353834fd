//! `/metrics`: the daemon's counters for Prometheus, to loopback clients by default and,
//! when `[metrics] access = "loopback-or-admin"`, to others with an admin account's login.

use std::net::SocketAddr;

use bytes::Bytes;
use hyper::{Method, Request, Response, StatusCode, header};

use crate::app::App;
use crate::config::MetricsAccess;
use crate::eas::front::login_without_device;
use crate::http_body::{Body, plain};
use crate::metrics::Gauges;

pub const PATH: &str = "/metrics";

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Who gets the counters, before any login is looked at.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Scrapes are off: as if there were no such path.
    Hidden,
    Open,
    /// Only with an admin account's login.
    AdminOnly,
    Refused,
}

fn admission(access: MetricsAccess, loopback: bool) -> Admission {
    match (access, loopback) {
        (MetricsAccess::Off, _) => Admission::Hidden,
        (_, true) => Admission::Open,
        (MetricsAccess::LoopbackOrAdmin, false) => Admission::AdminOnly,
        (MetricsAccess::Loopback, false) => Admission::Refused,
    }
}

pub async fn handle<B>(app: &App, req: &Request<B>, peer: SocketAddr) -> Response<Body> {
    let loopback = peer.ip().to_canonical().is_loopback();
    let admission = admission(app.cfg.metrics.access, loopback);
    if admission == Admission::Hidden {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != Method::GET {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        return r;
    }
    match admission {
        Admission::Open => {}
        Admission::Hidden | Admission::Refused => {
            tracing::info!("{peer}: /metrics refused: not a loopback client");
            return plain(StatusCode::FORBIDDEN, "metrics are for local clients\n");
        }
        Admission::AdminOnly => match login_without_device(app, req.headers(), peer).await {
            Ok(account) if account.admin => {}
            Ok(account) => {
                tracing::warn!("{peer}: /metrics refused to non-admin {}", account.email);
                return plain(StatusCode::FORBIDDEN, "admin accounts only\n");
            }
            Err(refused) => return refused,
        },
    }
    let gauges = Gauges {
        waiting: app.hub.waiting(),
        store_bytes: app.store.database_bytes().ok(),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::new(Bytes::from(app.metrics.render(&gauges))))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default_admins_from_elsewhere_when_configured() {
        use MetricsAccess::*;
        assert_eq!(admission(Loopback, true), Admission::Open);
        assert_eq!(admission(Loopback, false), Admission::Refused);
        assert_eq!(admission(LoopbackOrAdmin, true), Admission::Open);
        assert_eq!(admission(LoopbackOrAdmin, false), Admission::AdminOnly);
        assert_eq!(admission(Off, true), Admission::Hidden);
        assert_eq!(admission(Off, false), Admission::Hidden);
        assert_eq!(MetricsAccess::default(), Loopback);
        let cfg: crate::config::Config =
            toml::from_str("[metrics]\naccess = \"loopback-or-admin\"\n").unwrap();
        assert_eq!(cfg.metrics.access, LoopbackOrAdmin);
    }
}
