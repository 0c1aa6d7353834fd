//! The meeting messages the server mails on the user's behalf (iMIP, RFC 6047): at 16.x
//! the REPLY of a MeetingResponse with SendResponse ([MS-ASCMD] 2.2.3.163), and the
//! REQUEST and CANCEL of a meeting the user organizes on a device ([MS-ASCMD] 3.1.5.5).
//!
//! A message is multipart/alternative: a text part, then the iCalendar object
//! (`pim::ical::scheduling`) as `text/calendar; method=…` (RFC 6047 2.2–2.4). It goes out
//! through the SendMail path (`submit`): the relay for remote recipients, local delivery
//! for the server's own, a copy in Sent Items.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;

use super::invite::Answer;
use super::submit::{self, Submission, SubmitError};
use crate::config::Config;
use crate::pim::ical::{self, Scheduling};
use crate::pim::schedule::{Method, Notice};
use crate::store::Store;
use crate::store::model::Account;
use crate::store::model::pim::{Attendee, Event};

/// [MS-ASCAL] 2.2.2.4 AttendeeStatus: 2 tentative, 3 accepted, 4 declined.
const STATUS_TENTATIVE: i32 = 2;
const STATUS_ACCEPTED: i32 = 3;
const STATUS_DECLINED: i32 = 4;
/// [MS-ASAIRS] 2.2.2.41.1 Body Type 1: plain text.
const BODY_PLAIN: u8 = 1;

/// The words a subject starts with, in the languages easd speaks (those of its pages):
/// English, and French for an LCID whose primary language is French (0x0C).
struct Words {
    accepted: &'static str,
    tentative: &'static str,
    declined: &'static str,
    canceled: &'static str,
    updated: &'static str,
}

impl Words {
    fn of(lcid: Option<u16>) -> &'static Words {
        // An LCID's low 10 bits are its primary language ([MS-LCID] 2.1).
        match lcid.map(|l| l & 0x3FF) {
            Some(0x0C) => &Words {
                accepted: "Accepté : ",
                tentative: "Provisoire : ",
                declined: "Refusé : ",
                canceled: "Annulé : ",
                updated: "Mis à jour : ",
            },
            _ => &Words {
                accepted: "Accepted: ",
                tentative: "Tentative: ",
                declined: "Declined: ",
                canceled: "Canceled: ",
                updated: "Updated: ",
            },
        }
    }
}

/// The text a message carries beside its iCalendar object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Plain(String),
    Html(String),
}

/// One message to mail: who to, and its bytes.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub raw: Vec<u8>,
}

/// Who a message is from (the account's address and display name), and when.
pub struct Sender<'a> {
    pub email: &'a str,
    pub name: &'a str,
    /// The device's language, a Windows LCID (the base64 query's Locale, [MS-ASHTTP]
    /// 2.2.1.1.1.1.4): the subject's words. `None`: English.
    pub lcid: Option<u16>,
    /// The server's host name (Message-ID).
    pub hostname: &'a str,
    pub now: i64,
}

/// The REPLY of `sender` to the organizer of `event` for `answer` (RFC 5546 3.2.3): the
/// user as the one ATTENDEE with its PARTSTAT, the event's SEQUENCE, a RECURRENCE-ID when
/// answering for the occurrence that started at `instance`. The text is the client's
/// SendResponse Body; without one the message has none ([MS-ASCMD] 2.2.3.163: "an empty
/// SendResponse … an email with no body"). `None` when the event names no organizer.
pub fn reply(
    sender: &Sender<'_>,
    event: &Event,
    answer: Answer,
    instance: Option<i64>,
    note: Option<Note>,
) -> Option<Outgoing> {
    let organizer = event.organizer_email.as_deref().filter(|o| !o.is_empty())?;
    let mut attendee = event
        .attendees
        .iter()
        .find(|a| {
            a.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(sender.email))
        })
        .cloned()
        .unwrap_or_else(|| Attendee {
            email: Some(sender.email.to_owned()),
            name: Some(sender.name.to_owned()).filter(|n| !n.is_empty()),
            ..Attendee::default()
        });
    attendee.attendee_status = Some(match answer {
        Answer::Accept => STATUS_ACCEPTED,
        Answer::Tentative => STATUS_TENTATIVE,
        Answer::Decline => STATUS_DECLINED,
    });
    let kind = Scheduling::Reply {
        attendee: &attendee,
        instance,
    };
    let calendar = ical::scheduling(
        kind,
        "",
        event,
        event.itip_sequence.unwrap_or(0),
        sender.now,
    );
    let words = Words::of(sender.lcid);
    let subject = format!(
        "{}{}",
        match answer {
            Answer::Accept => words.accepted,
            Answer::Tentative => words.tentative,
            Answer::Decline => words.declined,
        },
        event.subject.as_deref().unwrap_or_default()
    );
    let to = [(event.organizer_name.as_deref(), organizer)];
    Some(message(sender, &to, &subject, note, kind, &calendar))
}

/// The REQUEST or CANCEL `n` the organizer `sender` owes its attendees (`pim::schedule`).
/// `None` when none of them has an address.
pub fn notice(sender: &Sender<'_>, n: &Notice) -> Option<Outgoing> {
    let to: Vec<(Option<&str>, &str)> =
        n.to.iter()
            .filter_map(|a| Some((a.name.as_deref(), a.email.as_deref()?)))
            .collect();
    if to.is_empty() {
        return None;
    }
    let kind = n.scheduling();
    let calendar = ical::scheduling(kind, "", &n.event, n.sequence, sender.now);
    let title = n.event.subject.as_deref().unwrap_or_default();
    let words = Words::of(sender.lcid);
    let subject = match n.method {
        Method::Cancel => format!("{}{title}", words.canceled),
        Method::Request if n.sequence > 0 => format!("{}{title}", words.updated),
        Method::Request => title.to_owned(),
    };
    let note = n
        .event
        .body
        .as_ref()
        .filter(|b| b.kind == BODY_PLAIN)
        .map(|b| Note::Plain(b.data.clone()));
    Some(message(sender, &to, &subject, note, kind, &calendar))
}

/// Mails the notices a committed Sync owes, one after the other; a failure is logged
/// (the change itself stands: it was committed and answered).
pub async fn send_notices(
    store: &Store,
    cfg: &Config,
    account: &Account,
    (notices, lcid): (&[Notice], Option<u16>),
    now: i64,
) {
    let sender = Sender {
        email: &account.email,
        name: &account.display_name,
        lcid,
        hostname: &cfg.hostname,
        now,
    };
    for n in notices {
        let uid = n.event.uid.as_deref().unwrap_or_default();
        let Some(out) = notice(&sender, n) else {
            continue;
        };
        match send(store, cfg, account, out).await {
            Ok(()) => tracing::info!(
                account = %account.email, uid, method = n.scheduling().method(),
                sequence = n.sequence, "meeting message sent to the attendees"
            ),
            Err(e) => tracing::warn!(
                account = %account.email, uid, method = n.scheduling().method(),
                error = %e, "meeting message not sent"
            ),
        }
    }
}

/// The multipart/alternative message of RFC 6047 2.4: the text, then the calendar.
fn message(
    sender: &Sender<'_>,
    to: &[(Option<&str>, &str)],
    subject: &str,
    note: Option<Note>,
    kind: Scheduling<'_>,
    calendar: &str,
) -> Outgoing {
    let text = match note {
        Some(Note::Html(html)) => MimePart::new("text/html", html),
        Some(Note::Plain(text)) => MimePart::new("text/plain", text),
        None => MimePart::new("text/plain", String::new()),
    };
    let calendar_type = ContentType::new("text/calendar")
        .attribute("method", kind.method())
        .attribute("charset", "utf-8");
    let to = Address::new_list(
        to.iter()
            .map(|(name, email)| {
                Address::new_address(name.map(|n| n.to_owned()), email.to_string())
            })
            .collect(),
    );
    let name = Some(sender.name.to_owned()).filter(|n| !n.is_empty());
    let raw = MessageBuilder::new()
        .from(Address::new_address(name, sender.email.to_owned()))
        .to(to)
        .subject(subject)
        .date(sender.now)
        .message_id(format!(
            "{:032x}@{}",
            rand::random::<u128>(),
            sender.hostname
        ))
        .body(MimePart::new(
            "multipart/alternative",
            vec![text, MimePart::new(calendar_type, calendar.to_owned())],
        ))
        .write_to_vec()
        // Writing into a Vec cannot fail.
        .unwrap_or_default();
    Outgoing { raw }
}

/// Mails `out` as `account` through the SendMail path, with a Sent Items copy as
/// SendMail's default (SaveInSentItems) makes.
pub async fn send(
    store: &Store,
    cfg: &Config,
    account: &Account,
    out: Outgoing,
) -> Result<(), SubmitError> {
    let sub = Submission {
        raw: out.raw,
        save_in_sent: true,
        client_id: None,
        source: None,
        draft: None,
    };
    submit::submit(store, cfg, account, sub).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pim::itip::{self, PartStat};
    use crate::store::model::pim::Stamp;

    fn sender(now: i64) -> Sender<'static> {
        Sender {
            email: "bob@example.com",
            name: "Bob B",
            lcid: None,
            hostname: "mail.example.com",
            now,
        }
    }

    fn invited() -> Event {
        Event {
            uid: Some("m-1@example.org".into()),
            subject: Some("Budget".into()),
            start_time: Some(Stamp(1_800_000_000)),
            end_time: Some(Stamp(1_800_003_600)),
            organizer_email: Some("boss@example.org".into()),
            organizer_name: Some("The Boss".into()),
            attendees: vec![Attendee {
                email: Some("BOB@example.com".into()),
                name: Some("Bob".into()),
                attendee_status: Some(5),
                ..Attendee::default()
            }],
            itip_sequence: Some(2),
            ..Event::default()
        }
    }

    fn calendar_part(raw: &[u8]) -> (String, Option<String>, String) {
        let m = mail_parser::MessageParser::default().parse(raw).unwrap();
        let (text, method) = crate::mail::mime::calendar(raw).expect("a calendar part");
        let first = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
        (text, method, first)
    }

    #[test]
    fn a_reply_goes_to_the_organizer_with_the_users_partstat_and_the_sequence() {
        let sender = sender(1_799_000_000);
        let out = reply(
            &sender,
            &invited(),
            Answer::Accept,
            None,
            Some(Note::Plain("See you there".into())),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&out.raw);
        assert!(text.contains("Subject: Accepted: Budget"), "{text}");
        assert!(text.contains("boss@example.org"), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
        let (ics, method, note) = calendar_part(&out.raw);
        assert_eq!(
            method.as_deref().map(str::to_ascii_uppercase).as_deref(),
            Some("REPLY")
        );
        assert_eq!(note, "See you there");
        let got = itip::parse(&ics).unwrap();
        let e = got.main_event().unwrap();
        assert_eq!(e.uid, "m-1@example.org");
        assert_eq!(e.sequence, 2);
        assert_eq!(e.attendees.len(), 1);
        assert_eq!(e.attendees[0].partstat, PartStat::Accepted);
        assert_eq!(e.attendees[0].person.name.as_deref(), Some("Bob"));
    }

    #[test]
    fn a_french_device_gets_french_subjects() {
        let mut sender = sender(0);
        sender.lcid = Some(0x040C); // fr-FR
        let out = reply(&sender, &invited(), Answer::Tentative, None, None).unwrap();
        let m = mail_parser::MessageParser::default()
            .parse(&out.raw)
            .unwrap();
        assert_eq!(m.subject(), Some("Provisoire : Budget"));
        let n = Notice {
            method: Method::Cancel,
            event: invited(),
            to: invited().attendees,
            sequence: 3,
        };
        let out = notice(&sender, &n).unwrap();
        let m = mail_parser::MessageParser::default()
            .parse(&out.raw)
            .unwrap();
        assert_eq!(m.subject(), Some("Annulé : Budget"));
        sender.lcid = Some(0x0407); // de-DE: not a language easd speaks
        let out = reply(&sender, &invited(), Answer::Decline, None, None).unwrap();
        let m = mail_parser::MessageParser::default()
            .parse(&out.raw)
            .unwrap();
        assert_eq!(m.subject(), Some("Declined: Budget"));
    }

    #[test]
    fn a_reply_without_an_organizer_is_not_made() {
        let sender = sender(0);
        let mut event = invited();
        event.organizer_email = None;
        assert!(reply(&sender, &event, Answer::Decline, None, None).is_none());
    }

    #[test]
    fn a_notice_to_no_address_is_not_made() {
        let sender = sender(0);
        let nobody = [Attendee {
            name: Some("No address".into()),
            ..Attendee::default()
        }];
        let n = Notice {
            method: Method::Request,
            event: invited(),
            to: nobody.to_vec(),
            sequence: 0,
        };
        assert!(notice(&sender, &n).is_none());
    }
}
