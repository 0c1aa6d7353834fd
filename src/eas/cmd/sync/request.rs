//! The Sync request read into typed values ([MS-ASCMD] 2.2.1.21): its collections, their
//! options and the client's commands, completed from what the device sent before (an empty
//! or Partial Sync). Pure: no store, no network; what is wrong is said, not guessed.

use std::collections::HashMap;

use crate::bounded::{Distinct, at_most};
use crate::config;
use crate::eas::class::groupware::Class;
use crate::eas::class::{BodyOptions, MailOptions, MailPolicy};
use crate::proto::filter::FilterType;
use crate::store::model::CachedCollection;
use crate::wbxml::tag::email2;
use crate::wbxml::{self, Element, tag::airsync as a};

/// One collection of a Sync request, with what the client cached from earlier requests.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CollectionRequest {
    pub(super) id: String,
    pub(super) key: Option<String>,
    pub(super) window: Option<usize>,
    pub(super) deletes_as_moves: bool,
    pub(super) get_changes: Option<bool>,
    /// The Options element, WBXML-encoded, so a later request without Options reuses it.
    pub(super) options: Option<Vec<u8>>,
    pub(super) commands: Vec<ClientCommand>,
    /// The elements listed in Supported, as code page << 8 | token ([MS-ASCMD]
    /// 2.2.3.179); `None` when the collection had no Supported. Only an initial Sync's
    /// counts: it is kept with the new state.
    pub(super) supported: Option<Vec<u16>>,
}

/// The most elements a Supported lists: more than the richest class (contacts with
/// Contacts2) has.
const MAX_SUPPORTED: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ClientCommand {
    /// `send`: email2:Send, a draft to send ([MS-ASEMAIL] 2.2.2.69).
    /// `instance`: airsyncbase:InstanceId, one occurrence of a series (16.x; [MS-ASCMD]
    /// 2.2.3.24), as sent.
    Change {
        server_id: String,
        data: Element,
        send: bool,
        instance: Option<String>,
    },
    /// `instance`: as for Change ([MS-ASCMD] 2.2.3.42.2).
    Delete {
        server_id: String,
        instance: Option<String>,
    },
    Fetch {
        server_id: String,
    },
    /// A new item; `data` is its ApplicationData, checked when it is applied.
    Add {
        client_id: String,
        data: Option<Element>,
        send: bool,
    },
}

/// What the device sent last: an empty Sync or a Partial one is completed from it.
pub(super) use crate::store::model::{HangRequest, SyncCache as Cache};

impl CollectionRequest {
    /// What a later empty or Partial Sync repeats of this collection.
    pub(super) fn cached(&self) -> CachedCollection {
        CachedCollection {
            id: self.id.clone(),
            window: self.window,
            deletes_as_moves: self.deletes_as_moves,
            get_changes: self.get_changes,
            options: self.options.clone(),
        }
    }
}

impl From<CachedCollection> for CollectionRequest {
    /// A collection repeated from the cache: no SyncKey or commands of its own.
    fn from(c: CachedCollection) -> Self {
        CollectionRequest {
            id: c.id,
            key: None,
            window: c.window,
            deletes_as_moves: c.deletes_as_moves,
            get_changes: c.get_changes,
            options: c.options,
            commands: Vec::new(),
            supported: None,
        }
    }
}

pub(super) fn parse_hang(body: &Element) -> Result<Option<HangRequest>, &'static str> {
    if let Some(w) = body.text_of(a::WAIT) {
        return w
            .trim()
            .parse()
            .map(|m| Some(HangRequest::WaitMinutes(m)))
            .map_err(|_| "Wait is not a number");
    }
    if let Some(h) = body.text_of(a::HEARTBEAT_INTERVAL) {
        return h
            .trim()
            .parse()
            .map(|s| Some(HangRequest::HeartbeatSeconds(s)))
            .map_err(|_| "HeartbeatInterval is not a number");
    }
    Ok(None)
}

/// Why a Sync request is refused while it is read.
#[derive(Debug, PartialEq)]
pub(super) enum BadRequest {
    /// Status 4, with what is wrong.
    Malformed(&'static str),
    /// More collections than `max_collections` (Status 15).
    TooManyCollections,
    /// A collection with more commands than `max_commands` (Status 4).
    TooManyCommands,
}

impl From<&'static str> for BadRequest {
    fn from(why: &'static str) -> Self {
        BadRequest::Malformed(why)
    }
}

/// The request's collections, each named once and at most `max_collections` of them;
/// reading stops at the first one over a bound.
pub(super) fn parse(
    body: &Element,
    cache: Option<&Cache>,
    limits: &config::Limits,
) -> Result<Vec<CollectionRequest>, BadRequest> {
    let partial = body.find(a::PARTIAL).is_some();
    let cached: HashMap<&str, &CachedCollection> = cache
        .map(|c| c.collections.iter().map(|r| (r.id.as_str(), r)).collect())
        .unwrap_or_default();
    let mut seen = Distinct::new(limits.max_collections);
    let mut out = Vec::new();
    if let Some(list) = body.find(a::COLLECTIONS) {
        for c in list.find_all(a::COLLECTION) {
            let id = c
                .text_of(a::COLLECTION_ID)
                .ok_or("Collection without CollectionId")?;
            if !seen.admit(id).map_err(|_| BadRequest::TooManyCollections)? {
                return Err(BadRequest::Malformed("a collection named twice"));
            }
            let cached = cached.get(id).copied();
            out.push(parse_collection(c, id, cached, limits.max_commands)?);
        }
    }
    if partial {
        // Collections not named keep their cached parameters ([MS-ASCMD] 2.2.3.131).
        for cached in cache.map(|c| c.collections.as_slice()).unwrap_or_default() {
            if seen
                .admit(cached.id.as_str())
                .map_err(|_| BadRequest::TooManyCollections)?
            {
                out.push(cached.clone().into());
            }
        }
    }
    Ok(out)
}

fn parse_collection(
    c: &Element,
    id: &str,
    cached: Option<&CachedCollection>,
    max_commands: usize,
) -> Result<CollectionRequest, BadRequest> {
    let key = c.text_of(a::SYNC_KEY).ok_or("Collection without SyncKey")?;
    let window = match c.text_of(a::WINDOW_SIZE) {
        Some(w) => Some(
            w.parse::<usize>()
                .map_err(|_| "WindowSize is not a number")?,
        ),
        None => cached.and_then(|r| r.window),
    };
    let flag = |tag| c.find(tag).map(|e| e.text().is_none_or(|t| t != "0"));
    let options = match c.find(a::OPTIONS) {
        Some(o) => Some(wbxml::encode(o)),
        None => cached.and_then(|r| r.options.clone()),
    };
    let mut commands = Vec::new();
    if let Some(cmds) = c.find(a::COMMANDS) {
        let cmds =
            at_most(cmds.elements(), max_commands).map_err(|_| BadRequest::TooManyCommands)?;
        for cmd in cmds {
            let server_id = || {
                cmd.text_of(a::SERVER_ID)
                    .map(str::to_owned)
                    .ok_or("command without ServerId")
            };
            let send = cmd.find(email2::SEND).is_some();
            let instance = |cmd: &Element| {
                cmd.text_of(crate::wbxml::tag::airsyncbase::INSTANCE_ID)
                    .map(str::to_owned)
            };
            commands.push(if cmd.tag == a::CHANGE {
                ClientCommand::Change {
                    server_id: server_id()?,
                    // A Send alone changes nothing else of the draft.
                    data: match cmd.find(a::APPLICATION_DATA) {
                        Some(d) => d.clone(),
                        None if send => Element::new(a::APPLICATION_DATA),
                        None => {
                            return Err(BadRequest::Malformed("Change without ApplicationData"));
                        }
                    },
                    send,
                    instance: instance(cmd),
                }
            } else if cmd.tag == a::DELETE {
                ClientCommand::Delete {
                    server_id: server_id()?,
                    instance: instance(cmd),
                }
            } else if cmd.tag == a::FETCH {
                ClientCommand::Fetch {
                    server_id: server_id()?,
                }
            } else if cmd.tag == a::ADD {
                ClientCommand::Add {
                    client_id: cmd
                        .text_of(a::CLIENT_ID)
                        .ok_or("Add without ClientId")?
                        .to_owned(),
                    data: cmd.find(a::APPLICATION_DATA).cloned(),
                    send,
                }
            } else {
                return Err(BadRequest::Malformed("unknown command in Commands"));
            });
        }
    }
    Ok(CollectionRequest {
        id: id.to_owned(),
        key: Some(key.to_owned()),
        window,
        // [MS-ASCMD] 2.2.3.43: DeletesAsMoves defaults to true.
        deletes_as_moves: flag(a::DELETES_AS_MOVES).unwrap_or(true),
        get_changes: flag(a::GET_CHANGES),
        options,
        commands,
        supported: match c.find(a::SUPPORTED) {
            Some(list) => Some(
                at_most(list.elements(), MAX_SUPPORTED)
                    .map_err(|_| BadRequest::Malformed("Supported lists too many elements"))?
                    .into_iter()
                    .map(|e| u16::from(e.tag.page()) << 8 | u16::from(e.tag.token()))
                    .collect(),
            ),
            None => None,
        },
    })
}

/// Which object is kept when the client changed an item that also changed on the server
/// since its SyncKey ([MS-ASCMD] 2.2.3.34 Conflict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conflict {
    /// 0: the client object replaces the server object.
    ClientWins,
    /// 1, and the default: the server object replaces the client object; the client's
    /// change is answered with Status 7.
    ServerWins,
}

/// Per-request options of one collection, as the device's policy allows them.
pub(super) struct Options {
    pub(super) mail: MailOptions,
    pub(super) conflict: Conflict,
}

/// The collection's options; `class` is its item class (`None`: mail), which decides what
/// its FilterType may be.
pub(super) fn options(
    req: &CollectionRequest,
    policy: &MailPolicy,
    class: Option<Class>,
) -> Result<Options, &'static str> {
    let Some(bytes) = &req.options else {
        let mut mail = policy.enforce(MailOptions::default());
        mail.filter = policy.filter(class, FilterType::All);
        return Ok(Options {
            mail,
            conflict: Conflict::ServerWins,
        });
    };
    let el = wbxml::decode(bytes, &wbxml::Limits::default())
        .map_err(|_| "cached Options do not decode")?;
    let filter = match el.text_of(a::FILTER_TYPE) {
        Some(f) => FilterType::parse(f).ok_or("FilterType out of range")?,
        None => FilterType::All,
    };
    let conflict = match el.text_of(a::CONFLICT).map(str::trim) {
        Some("0") => Conflict::ClientWins,
        Some("1") | None => Conflict::ServerWins,
        Some(_) => return Err("Conflict is neither 0 nor 1"),
    };
    let body = BodyOptions::parse(&el).map_err(|_| "invalid body options")?;
    let mut mail = policy.enforce(MailOptions { filter, body });
    mail.filter = policy.filter(class, filter);
    Ok(Options { mail, conflict })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_option_is_0_or_1_and_defaults_to_server_wins() {
        let request = |options: Option<Element>| CollectionRequest {
            id: "1".into(),
            key: Some("1".into()),
            window: None,
            deletes_as_moves: true,
            get_changes: None,
            options: options.map(|o| wbxml::encode(&o)),
            commands: Vec::new(),
            supported: None,
        };
        let conflict = |value: Option<&str>| {
            let mut o = Element::new(a::OPTIONS);
            if let Some(v) = value {
                o.push_text(a::CONFLICT, v);
            }
            options(
                &request(Some(o)),
                &MailPolicy::of(&Default::default()),
                None,
            )
            .map(|o| o.conflict)
        };
        assert_eq!(conflict(Some("0")), Ok(Conflict::ClientWins));
        assert_eq!(conflict(Some("1")), Ok(Conflict::ServerWins));
        assert_eq!(conflict(None), Ok(Conflict::ServerWins));
        assert!(conflict(Some("2")).is_err());
        let none = options(&request(None), &MailPolicy::of(&Default::default()), None);
        assert_eq!(none.map(|o| o.conflict), Ok(Conflict::ServerWins));
    }

    fn sync_of(collections: impl Iterator<Item = Element>) -> Element {
        Element::new(a::SYNC).child(collections.fold(Element::new(a::COLLECTIONS), Element::child))
    }

    fn collection(id: &str, commands: usize) -> Element {
        let c = Element::new(a::COLLECTION)
            .text_child(a::SYNC_KEY, "1")
            .text_child(a::COLLECTION_ID, id);
        if commands == 0 {
            return c;
        }
        let cmds = (0..commands).fold(Element::new(a::COMMANDS), |l, i| {
            l.child(Element::new(a::FETCH).text_child(a::SERVER_ID, format!("{id}:{i}")))
        });
        c.child(cmds)
    }

    fn limits(max_collections: usize, max_commands: usize) -> config::Limits {
        config::Limits {
            max_collections,
            max_commands,
            ..config::Limits::default()
        }
    }

    #[test]
    fn collections_and_commands_are_bounded_while_read() {
        let body = sync_of((0..3).map(|i| collection(&i.to_string(), 2)));
        let read = parse(&body, None, &limits(3, 2)).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[2].commands.len(), 2);
        assert_eq!(
            parse(&body, None, &limits(2, 2)),
            Err(BadRequest::TooManyCollections)
        );
        assert_eq!(
            parse(&body, None, &limits(3, 1)),
            Err(BadRequest::TooManyCommands)
        );
        let twice = sync_of(["1", "2", "1"].into_iter().map(|id| collection(id, 0)));
        assert_eq!(
            parse(&twice, None, &limits(10, 10)),
            Err(BadRequest::Malformed("a collection named twice"))
        );
        // A Partial Sync's cached collections count against the bound too.
        let cache = Cache {
            collections: read.iter().map(CollectionRequest::cached).collect(),
            hang: None,
        };
        let partial = sync_of(std::iter::once(collection("9", 0))).child(Element::new(a::PARTIAL));
        assert_eq!(
            parse(&partial, Some(&cache), &limits(4, 2)).unwrap().len(),
            4
        );
        assert_eq!(
            parse(&partial, Some(&cache), &limits(3, 2)),
            Err(BadRequest::TooManyCollections)
        );
    }

    /// One collection element holding `children`, inside a Sync.
    fn sync_with(children: Vec<Element>) -> Element {
        let c = children
            .into_iter()
            .fold(Element::new(a::COLLECTION), Element::child);
        sync_of(std::iter::once(c))
    }

    fn read(body: &Element) -> Result<Vec<CollectionRequest>, BadRequest> {
        parse(body, None, &limits(10, 10))
    }

    #[test]
    fn malformed_collections_are_refused_with_the_reason() {
        let id = || Element::with_text(a::COLLECTION_ID, "1");
        let key = || Element::with_text(a::SYNC_KEY, "1");
        let refused = |children: Vec<Element>| match read(&sync_with(children)) {
            Err(BadRequest::Malformed(why)) => why,
            other => panic!("not refused as malformed: {other:?}"),
        };
        assert_eq!(refused(vec![key()]), "Collection without CollectionId");
        assert_eq!(refused(vec![id()]), "Collection without SyncKey");
        let window = Element::with_text(a::WINDOW_SIZE, "many");
        assert_eq!(
            refused(vec![key(), id(), window]),
            "WindowSize is not a number"
        );
        let commands = |cmd: Element| Element::new(a::COMMANDS).child(cmd);
        let change = Element::new(a::CHANGE).text_child(a::SERVER_ID, "1:2");
        assert_eq!(
            refused(vec![key(), id(), commands(change)]),
            "Change without ApplicationData"
        );
        let add = Element::new(a::ADD).child(Element::new(a::APPLICATION_DATA));
        assert_eq!(
            refused(vec![key(), id(), commands(add)]),
            "Add without ClientId"
        );
        let delete = Element::new(a::DELETE);
        assert_eq!(
            refused(vec![key(), id(), commands(delete)]),
            "command without ServerId"
        );
        let other = Element::new(a::SOFT_DELETE).text_child(a::SERVER_ID, "1:2");
        assert_eq!(
            refused(vec![key(), id(), commands(other)]),
            "unknown command in Commands"
        );
    }

    #[test]
    fn a_collection_reads_into_typed_values() {
        let cmds = Element::new(a::COMMANDS)
            .child(
                Element::new(a::CHANGE)
                    .text_child(a::SERVER_ID, "1:2")
                    .child(Element::new(email2::SEND)),
            )
            .child(Element::new(a::ADD).text_child(a::CLIENT_ID, "c1"))
            .child(Element::new(a::DELETE).text_child(a::SERVER_ID, "1:3"));
        let body = sync_with(vec![
            Element::with_text(a::SYNC_KEY, "7"),
            Element::with_text(a::COLLECTION_ID, "1"),
            Element::with_text(a::WINDOW_SIZE, "25"),
            Element::with_text(a::DELETES_AS_MOVES, "0"),
            Element::new(a::GET_CHANGES),
            cmds,
        ]);
        let read = read(&body).expect("a well-formed request");
        let c = &read[0];
        assert_eq!((c.key.as_deref(), c.window), (Some("7"), Some(25)));
        // "0" turns a flag off, an empty element turns it on.
        assert_eq!((c.deletes_as_moves, c.get_changes), (false, Some(true)));
        assert_eq!(
            c.commands,
            vec![
                ClientCommand::Change {
                    server_id: "1:2".into(),
                    // A Send alone changes nothing else of the draft.
                    data: Element::new(a::APPLICATION_DATA),
                    send: true,
                    instance: None,
                },
                ClientCommand::Add {
                    client_id: "c1".into(),
                    data: None,
                    send: false,
                },
                ClientCommand::Delete {
                    server_id: "1:3".into(),
                    instance: None,
                },
            ]
        );
        // A later request without WindowSize or Options keeps the cached ones.
        let cache = Cache {
            collections: read.iter().map(CollectionRequest::cached).collect(),
            hang: None,
        };
        let again = sync_with(vec![
            Element::with_text(a::SYNC_KEY, "8"),
            Element::with_text(a::COLLECTION_ID, "1"),
        ]);
        let again = parse(&again, Some(&cache), &limits(10, 10)).unwrap();
        assert_eq!(
            (again[0].window, again[0].deletes_as_moves),
            (Some(25), true)
        );
    }

    #[test]
    fn hanging_waits_must_be_numbers() {
        let with = |tag, v: &str| Element::new(a::SYNC).child(Element::with_text(tag, v));
        assert_eq!(
            parse_hang(&with(a::WAIT, " 5 ")),
            Ok(Some(HangRequest::WaitMinutes(5)))
        );
        assert_eq!(
            parse_hang(&with(a::HEARTBEAT_INTERVAL, "300")),
            Ok(Some(HangRequest::HeartbeatSeconds(300)))
        );
        assert_eq!(parse_hang(&Element::new(a::SYNC)), Ok(None));
        assert!(parse_hang(&with(a::WAIT, "soon")).is_err());
        assert!(parse_hang(&with(a::HEARTBEAT_INTERVAL, "-1")).is_err());
    }

    #[test]
    fn filter_type_beyond_8_is_refused() {
        let opts = |f: &str| CollectionRequest {
            id: "1".into(),
            key: None,
            window: None,
            deletes_as_moves: true,
            get_changes: None,
            options: Some(wbxml::encode(
                &Element::new(a::OPTIONS).text_child(a::FILTER_TYPE, f),
            )),
            commands: Vec::new(),
            supported: None,
        };
        let policy = MailPolicy::of(&Default::default());
        assert_eq!(
            options(&opts("3"), &policy, None).map(|o| o.mail.filter),
            Ok(FilterType::OneWeek)
        );
        assert!(options(&opts("9"), &policy, None).is_err());
        assert!(options(&opts("x"), &policy, None).is_err());
    }
}
