//! Helpers shared by the device governance tests (`governance`, `policy`,
//! `device_settings`, `groupware`): a server with three accounts (one an admin), the
//! governance control requests, the CLI, and reading an Inbox.

use easd::admin::govern::GovRequest;
use easd::admin::ops::Request;
use easd::admin::reply::{GovReply, Reply};
use easd::govern::abq::Param;
use easd::govern::policy::Value;
use easd::govern::registry::{DeviceSummary, Filter};
use easd::store::model::Access;
use easd::wbxml::Element;
use easd::wbxml::tag::{email as em, folderhierarchy as fh, settings as st};

use crate::support::*;

pub const ALICE: &str = "alice@example.com";
pub const BOB: &str = "bob@other.org";
pub const ADMIN: &str = "admin@example.com";
pub const INBOX: u8 = 2;

/// A server with ALICE, BOB and the admin account ADMIN.
pub fn server() -> TestServer {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    s.add_user(BOB);
    s.control_ok(Request::UserAdd {
        email: ADMIN.into(),
        name: None,
        admin: true,
        password: PASSWORD.into(),
    });
    s
}

pub fn gov(s: &TestServer, req: GovRequest) -> Reply {
    s.control(Request::Govern(req))
}

#[track_caller]
pub fn gov_ok(s: &TestServer, req: GovRequest) {
    match gov(s, req.clone()) {
        Reply::Done { .. } | Reply::Govern(_) => {}
        other => panic!("{req:?} answered {other:?}"),
    }
}

#[track_caller]
pub fn gov_err(s: &TestServer, req: GovRequest) -> String {
    match gov(s, req.clone()) {
        Reply::Error { message } => message,
        other => panic!("{req:?} should fail, answered {other:?}"),
    }
}

pub fn devices(s: &TestServer, filter: Filter) -> Vec<DeviceSummary> {
    match gov(s, GovRequest::DeviceList { filter }) {
        Reply::Govern(GovReply::Devices { devices }) => devices,
        other => panic!("device list answered {other:?}"),
    }
}

#[track_caller]
pub fn one_device(s: &TestServer, user: &str, id: &str) -> DeviceSummary {
    match gov(
        s,
        GovRequest::DeviceShow {
            device: format!("{user}/{id}"),
        },
    ) {
        Reply::Govern(GovReply::Devices { mut devices }) if devices.len() == 1 => devices.remove(0),
        other => panic!("device show answered {other:?}"),
    }
}

/// FolderSync with SyncKey 0, whatever the answer.
pub fn folder_sync_status(c: &EasClient) -> Resp {
    c.post(
        "FolderSync",
        Some(&Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, "0")),
    )
}

/// Subjects in the Inbox of `user`, read through a fresh allowed device.
pub fn inbox_subjects(s: &TestServer, user: &str, device_id: &str) -> Vec<String> {
    let mut c = s.eas(user, device_id);
    c.provision();
    let inbox = c.folder_of_type(INBOX);
    let k = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &k).window(512));
    adds.iter()
        .map(|(_, d)| d.text_of(em::SUBJECT).unwrap_or_default().to_owned())
        .collect()
}

/// Runs the `easd` binary on the server's data directory (through its control socket).
pub fn cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    std::process::Command::new(cli_path())
        .arg("--data")
        .arg(s.data_dir())
        .args(args)
        .output()
        .expect("run easd")
}

// ---- devices and rules ---------------------------------------------------------------

pub fn add_rule(s: &TestServer, param: Param, value: &str, action: Access, enabled: bool) -> u64 {
    match gov(
        s,
        GovRequest::RuleAdd {
            param,
            value: Some(value.into()),
            from_device: None,
            action,
            description: String::new(),
            enabled,
        },
    ) {
        Reply::Govern(GovReply::Created { id }) => id,
        other => panic!("rule add answered {other:?}"),
    }
}

/// Settings DeviceInformation with `os` and `model`.
pub fn introduce(c: &EasClient, os: &str, model: &str) {
    let set = Element::new(st::SET)
        .text_child(st::MODEL, model)
        .text_child(st::OS, os);
    let body = Element::new(st::SETTINGS).child(Element::new(st::DEVICE_INFORMATION).child(set));
    let r = c.call("Settings", &body);
    assert_eq!(r.text_of(st::STATUS), Some("1"), "{r:?}");
}

/// A device that introduced itself and provisioned: the next command admits it.
pub fn phone(s: &TestServer, user: &str, id: &str, os: &str, model: &str) -> EasClient {
    let mut c = s.eas(user, id);
    introduce(&c, os, model);
    c.provision();
    c
}

/// The first command after provisioning admits the device; its ABQ state in the list.
pub fn admitted(s: &TestServer, c: &EasClient) -> Access {
    folder_sync_status(c);
    one_device(s, &c.user, &c.device_id).abq
}

// ---- security policies ------------------------------------------------------------------

/// A policy level's source and values.
pub fn policy(s: &TestServer, req: GovRequest) -> (String, Vec<(String, Value)>) {
    match gov(s, req.clone()) {
        Reply::Govern(GovReply::Policy { source, values, .. }) => (source, values),
        other => panic!("{req:?} answered {other:?}"),
    }
}

/// One value of `values` as text: the number, else its debug form.
pub fn setting(values: &[(String, Value)], name: &str) -> String {
    match values.iter().find(|(k, _)| k == name).map(|(_, v)| v) {
        Some(Value::Int(n)) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// `easd policy set --level LEVEL KEY=VALUE…` through the control socket.
pub fn set(s: &TestServer, level: &str, kv: &[(&str, &str)]) {
    let values = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    policy(
        s,
        GovRequest::PolicySet {
            level: level.into(),
            values,
        },
    );
}

/// The source of a level and its MinDevicePasswordLength.
pub fn show(s: &TestServer, level: &str) -> (String, String) {
    let (source, values) = policy(
        s,
        GovRequest::PolicyShow {
            level: level.into(),
        },
    );
    (source, setting(&values, "MinDevicePasswordLength"))
}
