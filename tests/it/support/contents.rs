//! Requests for a folder's contents: Sync collections built and taken apart, fetches,
//! searches, moves, estimates and attachments.

use base64::Engine as _;
use easd::wbxml::Element;

use super::*;
use easd::wbxml::tag::airsync as air;
use easd::wbxml::tag::airsyncbase as asb;
use easd::wbxml::tag::{getitemestimate as gie, itemoperations as io, search as sr};

// ---------------------------------------------------------------------------------------
// Sync
// ---------------------------------------------------------------------------------------

/// One Collection of a Sync request, built up field by field.
#[derive(Debug, Clone, Default)]
pub struct SyncColl {
    pub id: String,
    /// `None` leaves SyncKey out (a malformed request).
    pub key: Option<String>,
    pub window: Option<usize>,
    pub get_changes: Option<bool>,
    pub deletes_as_moves: Option<bool>,
    pub filter: Option<u8>,
    /// (Type, TruncationSize) per airsyncbase:BodyPreference.
    pub body_prefs: Vec<(u8, Option<u32>)>,
    /// Further children of Options (MIMESupport, BodyPartPreference, …), after those.
    pub options: Vec<Element>,
    pub commands: Vec<Element>,
    /// The Supported list of an initial Sync ([MS-ASCMD] 2.2.3.179); `None`: none sent.
    pub supported: Option<Vec<easd::wbxml::Tag>>,
}

impl SyncColl {
    pub fn new(id: &str, key: &str) -> Self {
        SyncColl {
            id: id.into(),
            key: Some(key.into()),
            ..SyncColl::default()
        }
    }

    #[must_use]
    pub fn supported(mut self, tags: &[easd::wbxml::Tag]) -> Self {
        self.supported = Some(tags.to_vec());
        self
    }

    #[must_use]
    pub fn window(mut self, n: usize) -> Self {
        self.window = Some(n);
        self
    }

    #[must_use]
    pub fn get_changes(mut self, on: bool) -> Self {
        self.get_changes = Some(on);
        self
    }

    #[must_use]
    pub fn deletes_as_moves(mut self, on: bool) -> Self {
        self.deletes_as_moves = Some(on);
        self
    }

    #[must_use]
    pub fn filter(mut self, f: u8) -> Self {
        self.filter = Some(f);
        self
    }

    #[must_use]
    pub fn body(mut self, kind: u8, truncation: Option<u32>) -> Self {
        self.body_prefs.push((kind, truncation));
        self
    }

    /// Adds `e` to the collection's Options.
    #[must_use]
    pub fn option(mut self, e: Element) -> Self {
        self.options.push(e);
        self
    }

    #[must_use]
    pub fn command(mut self, c: Element) -> Self {
        self.commands.push(c);
        self
    }

    /// A Change setting email:Read.
    #[must_use]
    pub fn mark_read(self, server_id: &str, read: bool) -> Self {
        self.command(
            Element::new(air::CHANGE)
                .text_child(air::SERVER_ID, server_id)
                .child(
                    Element::new(air::APPLICATION_DATA)
                        .text_child(easd::wbxml::tag::email::READ, if read { "1" } else { "0" }),
                ),
        )
    }

    #[must_use]
    pub fn delete(self, server_id: &str) -> Self {
        self.command(Element::new(air::DELETE).text_child(air::SERVER_ID, server_id))
    }

    #[must_use]
    pub fn fetch(self, server_id: &str) -> Self {
        self.command(Element::new(air::FETCH).text_child(air::SERVER_ID, server_id))
    }

    pub fn element(&self) -> Element {
        let mut c = Element::new(air::COLLECTION);
        if let Some(k) = &self.key {
            c.push_text(air::SYNC_KEY, k.as_str());
        }
        c.push_text(air::COLLECTION_ID, self.id.as_str());
        if let Some(tags) = &self.supported {
            let mut list = Element::new(air::SUPPORTED);
            for tag in tags {
                list.push(Element::new(*tag));
            }
            c.push(list);
        }
        if let Some(d) = self.deletes_as_moves {
            c.push_text(air::DELETES_AS_MOVES, if d { "1" } else { "0" });
        }
        if let Some(g) = self.get_changes {
            c.push_text(air::GET_CHANGES, if g { "1" } else { "0" });
        }
        if let Some(w) = self.window {
            c.push_text(air::WINDOW_SIZE, w.to_string());
        }
        if self.filter.is_some() || !self.body_prefs.is_empty() || !self.options.is_empty() {
            let mut o = Element::new(air::OPTIONS);
            if let Some(f) = self.filter {
                o.push_text(air::FILTER_TYPE, f.to_string());
            }
            for (kind, trunc) in &self.body_prefs {
                let mut p =
                    Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string());
                if let Some(t) = trunc {
                    p.push_text(asb::TRUNCATION_SIZE, t.to_string());
                }
                o.push(p);
            }
            for option in &self.options {
                o.push(option.clone());
            }
            c.push(o);
        }
        if !self.commands.is_empty() {
            let mut cmds = Element::new(air::COMMANDS);
            for cmd in &self.commands {
                cmds.push(cmd.clone());
            }
            c.push(cmds);
        }
        c
    }
}

/// One Collection of a Sync response, taken apart.
#[derive(Debug, Clone)]
pub struct SyncOut {
    pub status: String,
    pub key: Option<String>,
    pub more: bool,
    /// (ServerId, ApplicationData).
    pub adds: Vec<(String, Element)>,
    pub changes: Vec<(String, Element)>,
    pub deletes: Vec<String>,
    pub soft_deletes: Vec<String>,
    pub responses: Option<Element>,
    pub raw: Element,
}

impl SyncOut {
    pub fn parse(collection: &Element) -> Self {
        let cmds = collection.find(air::COMMANDS);
        let with_data = |tag| -> Vec<(String, Element)> {
            cmds.map(|c| {
                c.find_all(tag)
                    .map(|e| {
                        (
                            text(e, air::SERVER_ID).to_owned(),
                            e.find(air::APPLICATION_DATA)
                                .cloned()
                                .unwrap_or_else(|| panic!("no ApplicationData in {e:?}")),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let ids = |tag| -> Vec<String> {
            cmds.map(|c| {
                c.find_all(tag)
                    .map(|e| text(e, air::SERVER_ID).to_owned())
                    .collect()
            })
            .unwrap_or_default()
        };
        SyncOut {
            status: text(collection, air::STATUS).to_owned(),
            key: collection.text_of(air::SYNC_KEY).map(str::to_owned),
            more: collection.find(air::MORE_AVAILABLE).is_some(),
            adds: with_data(air::ADD),
            changes: with_data(air::CHANGE),
            deletes: ids(air::DELETE),
            soft_deletes: ids(air::SOFT_DELETE),
            responses: collection.find(air::RESPONSES).cloned(),
            raw: collection.clone(),
        }
    }

    /// The new key of a Status 1 answer.
    #[track_caller]
    pub fn ok_key(&self) -> String {
        assert_eq!(self.status, "1", "Sync status: {:?}", self.raw);
        self.key.clone().expect("SyncKey in a Status 1 answer")
    }

    /// The Responses/Fetch of a Sync that carried one Fetch command.
    #[track_caller]
    pub fn fetched(&self) -> &Element {
        self.responses
            .as_ref()
            .and_then(|r| r.find(air::FETCH))
            .unwrap_or_else(|| panic!("no Responses/Fetch in {:?}", self.raw))
    }

    pub fn add_ids(&self) -> Vec<String> {
        self.adds.iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn has_commands(&self) -> bool {
        self.raw.find(air::COMMANDS).is_some()
    }
}

impl EasClient {
    /// Sync of the given collections; the whole response.
    #[track_caller]
    pub fn sync(&self, collections: &[SyncColl]) -> Element {
        let mut list = Element::new(air::COLLECTIONS);
        for c in collections {
            list.push(c.element());
        }
        self.call("Sync", &Element::new(air::SYNC).child(list))
    }

    /// Sync of one collection; its answer.
    #[track_caller]
    pub fn sync1(&self, coll: &SyncColl) -> SyncOut {
        let r = self.sync(std::slice::from_ref(coll));
        let c = r
            .find_path(&[air::COLLECTIONS, air::COLLECTION])
            .unwrap_or_else(|| panic!("no Collections/Collection in {r:?}"));
        SyncOut::parse(c)
    }

    /// ItemOperations Fetch of the item `server_id` (`folder:item`), with a BodyPreference of
    /// `body_type` when given; its Properties (the Fetch must succeed).
    #[track_caller]
    pub fn fetch_item(&self, server_id: &str, body_type: Option<u8>) -> Element {
        use easd::wbxml::tag::itemoperations as io;
        let options: Vec<Element> = body_type
            .map(|kind| Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string()))
            .into_iter()
            .collect();
        let f = self.fetch_with(server_id, &options);
        assert_eq!(f.text_of(io::STATUS), Some("1"), "{f:?}");
        f.find(io::PROPERTIES).expect("Properties").clone()
    }

    /// ItemOperations Fetch of the item `server_id` (`folder:item`) with these children of
    /// Options (none: no Options); the response's Fetch element, whatever its Status.
    #[track_caller]
    pub fn fetch_with(&self, server_id: &str, options: &[Element]) -> Element {
        use easd::wbxml::tag::itemoperations as io;
        let (folder, _) = server_id.split_once(':').expect("folder:item");
        let mut fetch = Element::new(io::FETCH)
            .text_child(io::STORE, "Mailbox")
            .text_child(air::COLLECTION_ID, folder)
            .text_child(air::SERVER_ID, server_id);
        if !options.is_empty() {
            fetch.push(
                options
                    .iter()
                    .fold(Element::new(io::OPTIONS), |o, e| o.child(e.clone())),
            );
        }
        let r = self.call(
            "ItemOperations",
            &Element::new(io::ITEM_OPERATIONS).child(fetch),
        );
        assert_eq!(r.text_of(io::STATUS), Some("1"), "{r:?}");
        r.find_path(&[io::RESPONSE, io::FETCH])
            .unwrap_or_else(|| panic!("no Response/Fetch in {r:?}"))
            .clone()
    }

    /// The Properties of each result of a Mailbox Search for `word` with these children of
    /// search:Options (the Store must answer Status 1).
    #[track_caller]
    pub fn search_mailbox(&self, word: &str, options: &[Element]) -> Vec<Element> {
        self.search_store(word, options)
            .find_all(sr::RESULT)
            .map(|res| res.find(sr::PROPERTIES).expect("Properties").clone())
            .collect()
    }

    /// The Store of a Mailbox Search's answer for `word` with these children of
    /// search:Options; it must answer Status 1.
    #[track_caller]
    pub fn search_store(&self, word: &str, options: &[Element]) -> Element {
        let r = self.call(
            "Search",
            &Element::new(sr::SEARCH).child(
                Element::new(sr::STORE)
                    .text_child(sr::NAME, "Mailbox")
                    .child(
                        Element::new(sr::QUERY)
                            .child(Element::new(sr::AND).text_child(sr::FREE_TEXT, word)),
                    )
                    .child(
                        options
                            .iter()
                            .fold(Element::new(sr::OPTIONS), |o, e| o.child(e.clone())),
                    ),
            ),
        );
        let store = r
            .find_path(&[sr::RESPONSE, sr::STORE])
            .unwrap_or_else(|| panic!("no Store in {r:?}"))
            .clone();
        assert_eq!(store.text_of(sr::STATUS), Some("1"), "{r:?}");
        store
    }

    /// ItemOperations Fetch of an attachment by FileReference: the Fetch's Status and, when
    /// it was fetched, the decoded bytes.
    pub fn fetch_attachment(&self, file_ref: &str) -> (String, Option<Vec<u8>>) {
        use easd::wbxml::tag::itemoperations as io;
        let r = self.call(
            "ItemOperations",
            &Element::new(io::ITEM_OPERATIONS).child(
                Element::new(io::FETCH)
                    .text_child(io::STORE, "Mailbox")
                    .text_child(asb::FILE_REFERENCE, file_ref),
            ),
        );
        let f = r
            .find_path(&[io::RESPONSE, io::FETCH])
            .unwrap_or_else(|| panic!("no Response/Fetch in {r:?}"));
        let data = f.find_path(&[io::PROPERTIES, io::DATA]).map(|d| {
            base64::engine::general_purpose::STANDARD
                .decode(d.text().unwrap_or_default())
                .expect("base64 Data")
        });
        (f.text_of(io::STATUS).unwrap_or_default().to_owned(), data)
    }

    /// MoveItems of one item from folder `from` to `to`: the move's Status and the item's
    /// new ServerId (DstMsgId), checking that the answer names the item moved.
    #[track_caller]
    pub fn move_item(&self, item: &str, from: &str, to: &str) -> (String, Option<String>) {
        use easd::wbxml::tag::r#move as mv;
        let r = self.call(
            "MoveItems",
            &Element::new(mv::MOVE_ITEMS).child(
                Element::new(mv::MOVE)
                    .text_child(mv::SRC_MSG_ID, item)
                    .text_child(mv::SRC_FLD_ID, from)
                    .text_child(mv::DST_FLD_ID, to),
            ),
        );
        let resp = r
            .find(mv::RESPONSE)
            .unwrap_or_else(|| panic!("no Response in {r:?}"));
        assert_eq!(resp.text_of(mv::SRC_MSG_ID), Some(item), "{r:?}");
        (
            text(resp, mv::STATUS).to_owned(),
            resp.text_of(mv::DST_MSG_ID).map(str::to_owned),
        )
    }

    /// SyncKey 0 for `id`; returns the new key (checking that nothing else came back).
    #[track_caller]
    pub fn sync_init(&self, id: &str) -> String {
        let out = self.sync1(&SyncColl::new(id, "0"));
        assert!(!out.has_commands(), "key 0 brought commands: {:?}", out.raw);
        out.ok_key()
    }

    /// Syncs `coll` (its key updated each round) until no MoreAvailable; returns the last
    /// key and every Add, in order.
    #[track_caller]
    pub fn sync_all(&self, mut coll: SyncColl) -> (String, Vec<(String, Element)>) {
        let mut adds = Vec::new();
        for _ in 0..10_000 {
            let out = self.sync1(&coll);
            let key = out.ok_key();
            adds.extend(out.adds);
            coll.key = Some(key.clone());
            if !out.more {
                return (key, adds);
            }
        }
        panic!("MoreAvailable never ended");
    }

    /// The ServerId of the default folder of `kind` (2 Inbox, 4 Deleted Items, ...), from a
    /// FolderSync 0.
    #[track_caller]
    pub fn folder_of_type(&self, kind: u8) -> String {
        let (_, r) = self.folder_sync_ok("0");
        changes_of(&r)
            .adds
            .into_iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no folder of type {kind}"))
            .server_id
    }
}

/// A parsed `application/vnd.ms-sync.multipart` body ([MS-ASCMD] 2.2.1.10.1.1): checks
/// that the count, offsets and lengths are consistent and cover the body exactly.
#[track_caller]
pub fn parse_multipart(body: &[u8]) -> Vec<&[u8]> {
    let u32_at = |at: usize| -> usize {
        let b: [u8; 4] = body
            .get(at..at + 4)
            .unwrap_or_else(|| panic!("multipart body too short at {at}"))
            .try_into()
            .expect("4 bytes");
        u32::from_le_bytes(b) as usize
    };
    let count = u32_at(0);
    assert!(count >= 1, "no parts");
    let header = 4 + 8 * count;
    let mut expected = header;
    let mut parts = Vec::with_capacity(count);
    for i in 0..count {
        let (offset, len) = (u32_at(4 + 8 * i), u32_at(8 + 8 * i));
        assert_eq!(offset, expected, "part {i} offset");
        let part = body
            .get(offset..offset + len)
            .unwrap_or_else(|| panic!("part {i} ({offset}+{len}) outside {} bytes", body.len()));
        parts.push(part);
        expected = offset + len;
    }
    assert_eq!(expected, body.len(), "parts do not end the body");
    parts
}

// ---- commands that hand out contents, one request each -------------------------------------

/// GetItemEstimate for one collection; (Status, Estimate).
pub fn estimate(
    c: &EasClient,
    folder: &str,
    key: Option<&str>,
    filter: Option<u8>,
) -> (String, Option<usize>) {
    let mut coll = Element::new(gie::COLLECTION);
    if let Some(k) = key {
        coll.push_text(air::SYNC_KEY, k);
    }
    coll.push_text(gie::COLLECTION_ID, folder);
    if let Some(f) = filter {
        coll.push(Element::new(air::OPTIONS).text_child(air::FILTER_TYPE, f.to_string()));
    }
    let r = c.call(
        "GetItemEstimate",
        &Element::new(gie::GET_ITEM_ESTIMATE).child(Element::new(gie::COLLECTIONS).child(coll)),
    );
    let resp = r
        .find(gie::RESPONSE)
        .unwrap_or_else(|| panic!("no Response in {r:?}"));
    let n = resp
        .find(gie::COLLECTION)
        .and_then(|c| c.text_of(gie::ESTIMATE))
        .map(|e| e.parse().expect("numeric Estimate"));
    (text(resp, gie::STATUS).to_owned(), n)
}

/// POSTs GetAttachment with `AttachmentName` (percent-encoded) and an empty body.
pub fn get_attachment(c: &EasClient, name: &str) -> Resp {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let query = format!(
        "{}&AttachmentName={encoded}",
        c.query("GetAttachment", None)
    );
    c.post_raw(&query, &[], Vec::new())
}

/// The ItemOperations Fetch Status of item `server_id` (`folder:item`).
pub fn fetch_status(c: &EasClient, server_id: &str) -> String {
    let (folder, _) = server_id.split_once(':').expect("folder:item");
    let r = c.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(
            Element::new(io::FETCH)
                .text_child(io::STORE, "Mailbox")
                .text_child(air::COLLECTION_ID, folder)
                .text_child(air::SERVER_ID, server_id),
        ),
    );
    let fetch = r.find_path(&[io::RESPONSE, io::FETCH]).expect("Fetch");
    text(fetch, io::STATUS).to_owned()
}

/// The Properties of each result of a Mailbox Search for `word`, body `kind` untruncated.
pub fn search(c: &EasClient, word: &str, kind: u8) -> Vec<Element> {
    let preference = Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string());
    c.search_mailbox(word, &[preference])
}

/// A groupware item as a device received it, put in the order of the item `sent` and
/// without what the server adds of its own (a calendar UID, a Body's EstimatedDataSize)
/// where `sent` lacks it: equal to `sent` when the server kept every element and value.
pub fn as_sent(got: &Element, sent: &Element) -> Element {
    use easd::wbxml::tag::{airsyncbase, calendar};
    let server_made = [calendar::UID, airsyncbase::ESTIMATED_DATA_SIZE];
    let position = |e: &Element| {
        sent.elements()
            .position(|s| s.tag == e.tag)
            .unwrap_or(usize::MAX)
    };
    let mut children: Vec<Element> = got
        .elements()
        .filter(|e| sent.find(e.tag).is_some() || !server_made.contains(&e.tag))
        .map(|e| match sent.find(e.tag) {
            Some(s) if e.elements().next().is_some() => as_sent(e, s),
            _ => e.clone(),
        })
        .collect();
    children.sort_by_key(position);
    let mut out = Element::new(got.tag);
    for c in children {
        out.push(c);
    }
    out
}
