//! An ActiveSync device: the query and headers it sends, provisioning and folder
//! hierarchy requests, and reading their answers.

use std::net::IpAddr;

use easd::proto::command::Command;
use easd::proto::ids::{DeviceId, DeviceType, PolicyKey, SentPolicyKey};
use easd::proto::query::{EasRequest, QueryForm, encode_base64_query, encode_plain_query};
use easd::proto::version::ProtocolVersion;
use easd::wbxml::{self, Element, Tag, tag::folderhierarchy as fh, tag::provision as pv};
use hyper::Method;

use super::*;

// ---------------------------------------------------------------------------------------
// ActiveSync
// ---------------------------------------------------------------------------------------

/// One ActiveSync device of one user.
#[derive(Clone)]
pub struct EasClient {
    pub http: HttpClient,
    pub user: String,
    pub password: String,
    pub device_id: String,
    pub device_type: String,
    pub version: &'static str,
    /// Sent in X-MS-PolicyKey (plain query) or in the base64 query.
    pub policy_key: Option<u32>,
    pub base64_query: bool,
}

impl EasClient {
    /// A 16.1 device of `user` talking through `http`.
    pub fn new(http: HttpClient, user: &str, password: &str, device_id: &str) -> Self {
        EasClient {
            http,
            user: user.into(),
            password: password.into(),
            device_id: device_id.into(),
            device_type: "TestDevice".into(),
            version: "16.1",
            policy_key: None,
            base64_query: false,
        }
    }

    #[must_use]
    pub fn with_version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    #[must_use]
    pub fn with_base64_query(mut self) -> Self {
        self.base64_query = true;
        self
    }

    #[must_use]
    pub fn with_password(mut self, password: &str) -> Self {
        self.password = password.into();
        self
    }

    #[must_use]
    pub fn with_device(mut self, device_id: &str) -> Self {
        self.device_id = device_id.into();
        self
    }

    /// The same device connecting from another local address (see
    /// [`HttpClient::connecting_from`]).
    #[must_use]
    pub fn connecting_from(mut self, source: IpAddr) -> Self {
        self.http = self.http.connecting_from(source);
        self
    }

    /// The query string (without `?`) of `cmd`, in this client's encoding.
    pub fn query(&self, cmd: &str, user: Option<&str>) -> String {
        let req = EasRequest {
            command: Command::from_name(cmd).unwrap_or_else(|| panic!("unknown command {cmd}")),
            version: ProtocolVersion::parse(self.version).expect("supported version"),
            user: user.map(str::to_owned),
            device_id: DeviceId::new(&self.device_id).expect("valid DeviceId"),
            device_type: DeviceType::new(&self.device_type).expect("valid DeviceType"),
            policy_key: match self.policy_key {
                Some(k) => SentPolicyKey::Key(PolicyKey::new(k)),
                None => SentPolicyKey::Absent,
            },
            locale: Some(0x0409),
            collection_id: None,
            item_id: None,
            attachment_name: None,
            long_id: None,
            occurrence: None,
            save_in_sent: false,
            accept_multipart: false,
            query_form: if self.base64_query {
                QueryForm::Base64
            } else {
                QueryForm::Plain
            },
            ignored_parameters: Vec::new(),
        };
        if self.base64_query {
            encode_base64_query(&req).expect("base64 query")
        } else {
            encode_plain_query(&req)
        }
    }

    /// The headers this client sends with every POST: credentials, content type, and for
    /// the plain query the version and policy key headers.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("Authorization", basic_auth(&self.user, &self.password)),
            (
                "Content-Type",
                easd::eas::front::WBXML_CONTENT_TYPE.to_owned(),
            ),
            ("User-Agent", "easd-test/1.0".to_owned()),
        ];
        if !self.base64_query {
            h.push(("MS-ASProtocolVersion", self.version.to_owned()));
            if let Some(k) = self.policy_key {
                h.push(("X-MS-PolicyKey", k.to_string()));
            }
        }
        h
    }

    /// POSTs `cmd` with an optional WBXML body.
    pub fn post(&self, cmd: &str, body: Option<&Element>) -> Resp {
        self.post_as(cmd, None, body)
    }

    /// POSTs `cmd` with `User=` in the query.
    pub fn post_as(&self, cmd: &str, user: Option<&str>, body: Option<&Element>) -> Resp {
        let query = self.query(cmd, user);
        self.post_raw(&query, &[], body.map(wbxml::encode).unwrap_or_default())
    }

    /// POSTs to `/Microsoft-Server-ActiveSync?query` with this client's headers; `extra`
    /// headers replace same-named ones.
    pub fn post_raw(&self, query: &str, extra: &[(&str, String)], body: Vec<u8>) -> Resp {
        let mut headers: Vec<(&str, String)> = self
            .headers()
            .into_iter()
            .filter(|(n, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(n)))
            .collect();
        headers.extend(extra.iter().cloned());
        self.http
            .request(Method::POST, &format!("{EAS_PATH}?{query}"), &headers, body)
    }

    /// OPTIONS with this client's credentials.
    pub fn options(&self) -> Resp {
        self.http.request(
            Method::OPTIONS,
            EAS_PATH,
            &[("Authorization", basic_auth(&self.user, &self.password))],
            Vec::new(),
        )
    }

    /// POSTs and expects HTTP 200 with a WBXML body.
    #[track_caller]
    pub fn call(&self, cmd: &str, body: &Element) -> Element {
        let r = self.post(cmd, Some(body));
        r.expect_status(200);
        r.wbxml()
    }

    // ---- Provision ----------------------------------------------------------------

    /// Provision phase 1; `extra` (e.g. a 14.1+ DeviceInformation) goes first in the body.
    pub fn provision_phase1(&self, extra: Option<Element>) -> Element {
        let mut body = Element::new(pv::PROVISION);
        if let Some(e) = extra {
            body.push(e);
        }
        body.push(Element::new(pv::POLICIES).child(
            Element::new(pv::POLICY).text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE),
        ));
        self.call("Provision", &body)
    }

    /// Provision phase 2: acknowledges `key` with policy status `status`.
    pub fn provision_phase2(&self, key: &str, status: &str) -> Element {
        let body = Element::new(pv::PROVISION).child(
            Element::new(pv::POLICIES).child(
                Element::new(pv::POLICY)
                    .text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE)
                    .text_child(pv::POLICY_KEY, key)
                    .text_child(pv::STATUS, status),
            ),
        );
        self.call("Provision", &body)
    }

    /// Both phases; stores and returns the final key.
    pub fn provision(&mut self) -> u32 {
        let one = self.provision_phase1(None);
        assert_eq!(one.text_of(pv::STATUS), Some("1"), "phase 1: {one:?}");
        let temporary = policy_of(&one)
            .text_of(pv::POLICY_KEY)
            .expect("temporary PolicyKey")
            .to_owned();
        let two = self.provision_phase2(&temporary, "1");
        assert_eq!(two.text_of(pv::STATUS), Some("1"), "phase 2: {two:?}");
        let policy = policy_of(&two);
        assert_eq!(policy.text_of(pv::STATUS), Some("1"), "phase 2: {two:?}");
        let key: u32 = policy
            .text_of(pv::POLICY_KEY)
            .expect("final PolicyKey")
            .parse()
            .expect("numeric PolicyKey");
        self.policy_key = Some(key);
        key
    }

    // ---- folder hierarchy -----------------------------------------------------------

    pub fn folder_sync(&self, key: &str) -> Element {
        self.call(
            "FolderSync",
            &Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, key),
        )
    }

    /// FolderSync that must succeed; returns the new key and the response.
    #[track_caller]
    pub fn folder_sync_ok(&self, key: &str) -> (String, Element) {
        let r = self.folder_sync(key);
        assert_eq!(r.text_of(fh::STATUS), Some("1"), "FolderSync {key}: {r:?}");
        (r.text_of(fh::SYNC_KEY).expect("SyncKey").to_owned(), r)
    }

    pub fn folder_create(&self, key: &str, parent: &str, name: &str, kind: &str) -> Element {
        self.call(
            "FolderCreate",
            &Element::new(fh::FOLDER_CREATE)
                .text_child(fh::SYNC_KEY, key)
                .text_child(fh::PARENT_ID, parent)
                .text_child(fh::DISPLAY_NAME, name)
                .text_child(fh::TYPE, kind),
        )
    }

    pub fn folder_update(&self, key: &str, id: &str, parent: &str, name: &str) -> Element {
        self.call(
            "FolderUpdate",
            &Element::new(fh::FOLDER_UPDATE)
                .text_child(fh::SYNC_KEY, key)
                .text_child(fh::SERVER_ID, id)
                .text_child(fh::PARENT_ID, parent)
                .text_child(fh::DISPLAY_NAME, name),
        )
    }

    pub fn folder_delete(&self, key: &str, id: &str) -> Element {
        self.call(
            "FolderDelete",
            &Element::new(fh::FOLDER_DELETE)
                .text_child(fh::SYNC_KEY, key)
                .text_child(fh::SERVER_ID, id),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Reading responses
// ---------------------------------------------------------------------------------------

/// `Provision/Policies/Policy` of a Provision response.
#[track_caller]
pub fn policy_of(provision: &Element) -> &Element {
    provision
        .find_path(&[pv::POLICIES, pv::POLICY])
        .unwrap_or_else(|| panic!("no Policies/Policy in {provision:?}"))
}

/// Text of the child `tag`, panicking with the element when absent.
#[track_caller]
pub fn text(e: &Element, tag: Tag) -> &str {
    e.text_of(tag)
        .unwrap_or_else(|| panic!("no {tag:?} in {e:?}"))
}

/// One folder entry of a FolderSync Changes list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    pub server_id: String,
    pub parent_id: String,
    pub name: String,
    pub kind: u8,
}

/// What a FolderSync response's Changes hold.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FolderChanges {
    pub count: usize,
    pub adds: Vec<FolderEntry>,
    pub updates: Vec<FolderEntry>,
    pub deletes: Vec<String>,
}

#[track_caller]
pub fn changes_of(folder_sync: &Element) -> FolderChanges {
    let changes = folder_sync
        .find(fh::CHANGES)
        .unwrap_or_else(|| panic!("no Changes in {folder_sync:?}"));
    let entry = |e: &Element| FolderEntry {
        server_id: text(e, fh::SERVER_ID).to_owned(),
        parent_id: text(e, fh::PARENT_ID).to_owned(),
        name: text(e, fh::DISPLAY_NAME).to_owned(),
        kind: text(e, fh::TYPE).parse().expect("numeric Type"),
    };
    FolderChanges {
        count: text(changes, fh::COUNT).parse().expect("numeric Count"),
        adds: changes.find_all(fh::ADD).map(entry).collect(),
        updates: changes.find_all(fh::UPDATE).map(entry).collect(),
        deletes: changes
            .find_all(fh::DELETE)
            .map(|d| text(d, fh::SERVER_ID).to_owned())
            .collect(),
    }
}

/// The head of a chunked POST of `cmd` as `client`, ready for its chunks.
pub fn chunked_head(client: &EasClient, cmd: &str) -> String {
    let mut head = format!(
        "POST {EAS_PATH}?{} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n",
        client.query(cmd, None)
    );
    for (name, value) in client.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}
