//! Hands outgoing mail for non-local recipients to the configured SMTP relay (mail-send).
//!
//! The relay's answer decides what the phone is told. A temporary failure anywhere (the
//! relay is down, a 4xx reply, a timeout) sends nothing: the whole message is retried
//! later (SendMail Status 111). A permanent refusal (5xx, RFC 5321 4.2.1) of some
//! recipients is final for those only: the others still get the message, and the refused
//! ones are reported back as [`Refusal`]s for a delivery-status notification.
//!
//! mail-send's `SmtpClient::send` stops at the first refused RCPT, so the transaction is
//! driven command by command (`mail_from`, `rcpt_to`, `data`), which hand back each reply.

use std::time::Duration;

use mail_send::smtp::message::Parameters;
use mail_send::{SmtpClient, SmtpClientBuilder};
use smtp_proto::Response;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{RelayConfig, RelaySecurity};

/// The relay could not take the message now; nothing was sent, try again later.
#[derive(Debug, thiserror::Error)]
#[error("relay {host}:{port}: {detail}")]
pub struct RelayError {
    host: String,
    port: u16,
    detail: String,
}

/// A recipient the relay refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub recipient: String,
    /// The reply code (5xx).
    pub code: u16,
    /// The enhanced status code (RFC 3463), `[0, 0, 0]` when the relay sent none.
    pub status: [u8; 3],
    /// The reply text.
    pub text: String,
}

/// Sends `raw` from `from` to `recipients` through the relay. Ok once the relay accepted
/// it for every recipient not in the returned list of permanent refusals (which may name
/// them all); Err for a temporary failure, with nothing sent.
pub async fn send(
    cfg: &RelayConfig,
    helo: &str,
    from: &str,
    recipients: &[String],
    raw: &[u8],
) -> Result<Vec<Refusal>, RelayError> {
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
    let result = match cfg.security {
        RelaySecurity::None => match builder.connect_plain().await {
            Ok(client) => transaction(client, from, recipients, raw).await,
            Err(e) => Err(e.to_string()),
        },
        RelaySecurity::Starttls | RelaySecurity::Tls => match builder.connect().await {
            Ok(client) => transaction(client, from, recipients, raw).await,
            Err(e) => Err(e.to_string()),
        },
    };
    result.map_err(err)
}

/// One mail transaction on a connected client, then QUIT. Err(detail) = temporary.
async fn transaction<T: AsyncRead + AsyncWrite + Unpin>(
    mut client: SmtpClient<T>,
    from: &str,
    recipients: &[String],
    raw: &[u8],
) -> Result<Vec<Refusal>, String> {
    let mut mail_params = Parameters::new();
    if !from.is_ascii() || recipients.iter().any(|r| !r.is_ascii()) {
        // RFC 6531 3.4: UTF-8 addresses travel only in an SMTPUTF8 transaction.
        mail_params.add("SMTPUTF8");
    }
    if let Some(reply) = classify(client.mail_from(from, &mail_params).await)? {
        // A refused sender refuses the message for everyone.
        return Ok(refuse_all(recipients.iter(), &reply));
    }
    let mut refused = Vec::new();
    let mut accepted = Vec::new();
    for recipient in recipients {
        match classify(client.rcpt_to(recipient, &Parameters::new()).await) {
            Ok(None) => accepted.push(recipient),
            Ok(Some(reply)) => refused.push(refusal(recipient, &reply)),
            // Nothing is sent unless every recipient is settled: a retry of the whole
            // message must not reach the accepted ones twice.
            Err(detail) => {
                let _ = client.rset().await;
                return Err(detail);
            }
        }
    }
    if accepted.is_empty() {
        let _ = client.rset().await;
    } else if let Some(reply) = classify(client.data(raw).await.map(drop))? {
        refused.extend(refuse_all(accepted.into_iter(), &reply));
    }
    // The message is the relay's now; a failed QUIT changes nothing.
    let _ = client.quit().await;
    Ok(refused)
}

/// Ok(None) for success, Ok(Some(reply)) for a permanent refusal (5xx), Err(detail) for
/// anything temporary (4xx, I/O, timeout, a reply that does not parse).
fn classify(result: mail_send::Result<()>) -> Result<Option<Response<String>>, String> {
    match result {
        Ok(()) => Ok(None),
        Err(mail_send::Error::UnexpectedReply(reply)) if (500..600).contains(&reply.code) => {
            Ok(Some(reply))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn refusal(recipient: &str, reply: &Response<String>) -> Refusal {
    Refusal {
        recipient: recipient.to_owned(),
        code: reply.code,
        status: reply.esc,
        text: reply.message.clone(),
    }
}

fn refuse_all<'a>(
    recipients: impl Iterator<Item = &'a String>,
    reply: &Response<String>,
) -> Vec<Refusal> {
    recipients.map(|r| refusal(r, reply)).collect()
}
