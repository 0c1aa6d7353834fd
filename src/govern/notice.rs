//! The mails device governance puts into Inboxes: the quarantine notice to the user, and
//! to the owner and the admins the wipe confirmation and the notice that a device cannot
//! connect because it did not confirm its policy. Delivered locally, never through SMTP.

use crate::mail::deliver;
use crate::store::model::{Account, AccountId, Device};
use crate::store::ops::Reads;
use crate::store::{Store, StoreError, now};

/// A plain-text message from the server to `to`.
fn message(to: &str, subject: &str, body: &str) -> Vec<u8> {
    let domain = to.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let date = mail_parser::DateTime::from_timestamp(now()).to_rfc822();
    format!(
        "From: \"Mail server\" <postmaster@{domain}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: {date}\r\nMessage-ID: <{:032x}@{domain}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        rand::random::<u128>(),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

/// Tells the user that a new device waits for an administrator's decision.
pub async fn quarantined(store: &Store, account: &Account, d: &Device) -> Result<(), StoreError> {
    let body = format!(
        "Your device {} ({}) is quarantined: it can synchronise only your default folders and \
         receives no new items until the administrator allows it.\n\nContact your administrator \
         to have it allowed.",
        d.device_id, d.device_type
    );
    let raw = message(&account.email, "Your mobile device is quarantined", &body);
    deliver::deliver(store, &[account.id], raw).await.map(drop)
}

/// Confirms a completed remote wipe to the account owner and to every admin account.
pub async fn wiped(
    store: &Store,
    account: &Account,
    device_id: &str,
    soft: bool,
) -> Result<(), StoreError> {
    let kind = if soft {
        "account-only wipe (AccountOnlyRemoteWipe)"
    } else {
        "full wipe (RemoteWipe)"
    };
    let body = format!(
        "The {kind} of device {device_id} of {} is confirmed: the device acknowledged it.\n\n\
         The device cannot synchronise until an administrator clears it.",
        account.email
    );
    let subject = format!("Remote wipe of {device_id} confirmed");
    to_owner_and_admins(store, account, &subject, &body).await
}

/// Tells the owner and every admin that a device is refused because it cannot apply its
/// security policy (AllowNonProvisionableDevices=0); `why` says what it did.
pub async fn non_compliant(
    store: &Store,
    account: &Account,
    d: &Device,
    why: &str,
) -> Result<(), StoreError> {
    let body = format!(
        "The device {} ({}) of {} didn't confirm the security profile required by server \
         administrator, therefore cannot connect.\n\nThe device {why}. An administrator \
         can allow devices that do not support the policy (AllowNonProvisionableDevices=1).",
        d.device_id, d.device_type, account.email
    );
    let subject = format!("Device {} cannot connect", d.device_id);
    to_owner_and_admins(store, account, &subject, &body).await
}

/// Delivers one message to the account owner and one to every other admin account.
async fn to_owner_and_admins(
    store: &Store,
    account: &Account,
    subject: &str,
    body: &str,
) -> Result<(), StoreError> {
    let mut to: Vec<(AccountId, String)> = vec![(account.id, account.email.clone())];
    let owner = account.id;
    let admins = store
        .view(move |tx| {
            Ok::<_, StoreError>(
                (tx.accounts()?.into_iter())
                    .filter(|a| a.admin && a.id != owner)
                    .map(|a| (a.id, a.email))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    to.extend(admins);
    for (id, email) in to {
        deliver::deliver(store, &[id], message(&email, subject, body)).await?;
    }
    Ok(())
}
