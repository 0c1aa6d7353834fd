//! Hands outgoing mail for non-local recipients to the configured SMTP relay (mail-send).

use std::time::Duration;

use mail_send::SmtpClientBuilder;
use mail_send::smtp::message::Message;

use crate::config::{RelayConfig, RelaySecurity};

#[derive(Debug, thiserror::Error)]
#[error("relay {host}:{port}: {detail}")]
pub struct RelayError {
    host: String,
    port: u16,
    detail: String,
}

/// Sends `raw` from `from` to `recipients` through the relay; Ok once the relay accepted it.
pub async fn send(
    cfg: &RelayConfig,
    helo: &str,
    from: &str,
    recipients: &[String],
    raw: &[u8],
) -> Result<(), RelayError> {
    let err = |detail: String| RelayError {
        host: cfg.host.clone(),
        port: cfg.port,
        detail,
    };
    let mut builder = SmtpClientBuilder::new(cfg.host.clone(), cfg.port)
        .map_err(err)?
        .helo_host(helo)
        .implicit_tls(cfg.security == RelaySecurity::Tls)
        .timeout(Duration::from_secs(cfg.timeout_seconds));
    if cfg.allow_invalid_certs {
        builder = builder.allow_invalid_certs();
    }
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        builder = builder.credentials((u.clone(), p.clone()));
    }
    // mail-send ends DATA with "\r\n.\r\n" whatever the message ends with: the message's
    // own final line break is that CRLF (RFC 5321 4.1.1.4), else the relay would add an
    // empty line and the relayed copy would differ from the Sent Items one.
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    let message = Message::new(
        from,
        recipients.iter().map(String::as_str).collect::<Vec<_>>(),
        raw,
    );
    let result = match cfg.security {
        RelaySecurity::None => match builder.connect_plain().await {
            Ok(mut c) => c.send(message).await,
            Err(e) => Err(e),
        },
        RelaySecurity::Starttls | RelaySecurity::Tls => match builder.connect().await {
            Ok(mut c) => c.send(message).await,
            Err(e) => Err(e),
        },
    };
    result.map(drop).map_err(|e| err(e.to_string()))
}
