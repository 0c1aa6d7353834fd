//! Device gate cost: what `govern::gate` (wipe state, ABQ state, the policy's protocol
//! version and device limits, the policy key against the effective policy) costs per
//! request of an admitted, provisioned device, with 1,000 ABQ rules and 10,000 devices
//! (1,000 accounts of 10) in a temporary store. Policy levels hold their own settings at
//! the server, 20 domains, 100 users and 100 devices, so lookups walk every level.
//!
//! The device row is read before the gate (`govern::device::touch`), so it is not counted.
//! Target: < 5 µs per request. Also prints what the first request after a policy or rule
//! change pays to rebuild the cached view.

use std::time::{Duration, Instant};

use easd::govern::abq::{Param, Rule, Rules};
use easd::govern::levels::{self, Level};
use easd::govern::{self, Gate, cache};
use easd::proto::command::Command;
use easd::proto::ids::{DeviceId, DeviceType, PolicyKey, SentPolicyKey};
use easd::proto::query::{EasRequest, QueryForm};
use easd::proto::version::ProtocolVersion;
use easd::store::model::{Access, Account, Device, DeviceInfo, ProvisionState, Wipe};
use easd::store::{Store, ops};

const ACCOUNTS: usize = 1_000;
const DEVICES_PER_ACCOUNT: usize = 10;
const RULES: usize = 1_000;
const REQUESTS: u32 = 500_000;
const TARGET: Duration = Duration::from_micros(5);
const VERSION: ProtocolVersion = ProtocolVersion::V16_1;

fn email(i: usize) -> String {
    format!("user{i}@domain{}.example", i % 50)
}

fn device_id(account: usize, n: usize) -> String {
    format!("PHONE{account}X{n}")
}

/// 1,000 server rules on OS, Model and Type, plus user and domain rules.
fn rules() -> Rules {
    let mut r = Rules::default();
    for i in 0..RULES {
        let (param, value) = match i % 3 {
            0 => (Param::Os, format!("Android {i}")),
            1 => (Param::Model, format!("Pixel {i}")),
            _ => (Param::Type, format!("Type{i}")),
        };
        let action = [Access::Allow, Access::Quarantine, Access::Block][i % 3];
        r.add(Rule {
            id: 0,
            param,
            value,
            action,
            description: String::new(),
            enabled: !i.is_multiple_of(10),
            settings: None,
        })
        .expect("rule");
    }
    for i in 0..20 {
        r.users.insert(email(i * 7), Access::Allow);
        r.domains
            .insert(format!("domain{i}.example"), Access::Allow);
    }
    r
}

/// Policy levels with their own settings all the way down.
fn levels() -> Vec<(Level, Vec<(String, String)>)> {
    let kv = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let mut out = vec![(Level::Server, kv("MinDevicePasswordLength", "6"))];
    for d in 0..20 {
        let domain = format!("domain{d}.example");
        out.push((Level::Domain(domain), kv("AllowCamera", "0")));
    }
    for i in 0..100 {
        out.push((Level::User(email(i * 3)), kv("DevicePasswordEnabled", "1")));
        let device = Level::Device(email(i * 5), device_id(i * 5, 1));
        out.push((device, kv("MaxDevicePasswordFailedAttempts", "8")));
    }
    out
}

/// Seeds the store; returns every account and its devices, admitted and provisioned for
/// the effective policy.
fn seed(store: &Store) -> Vec<(Account, Device)> {
    let accounts: Vec<Account> = store
        .write_blocking(|ctx| {
            (0..ACCOUNTS)
                .map(|i| ops::create_account(ctx, &email(i), "", "x", false))
                .collect()
        })
        .expect("accounts");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut r = rules();
    rt.block_on(cache::change(store, move |tx| r.save(tx)))
        .expect("rules");
    for (level, values) in levels() {
        rt.block_on(cache::change(store, move |tx| {
            levels::set(tx, &level, &values)
        }))
        .expect("policy level");
    }
    let view = rt.block_on(cache::view(store)).expect("view");
    let mut all = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        for n in 0..DEVICES_PER_ACCOUNT {
            let id = device_id(i, n);
            let policy = view.levels.device(a, &id);
            all.push((
                a.clone(),
                Device {
                    account: a.id,
                    device_id: DeviceId::new(&id).expect("device id"),
                    device_type: DeviceType::new("iPhone").expect("device type"),
                    info: DeviceInfo::default(),
                    protocol: VERSION,
                    first_seen: 0,
                    last_seen: 0,
                    provision: ProvisionState::Provisioned {
                        final_key: PolicyKey::new(1000 + n as u32).expect("not 0"),
                        acked: None,
                    },
                    http_user_agent: None,
                    policy_hash: Some(policy.hash(VERSION)),
                    recovery_password: None,
                    protocol_log: false,
                    abq: Some(Access::Allow),
                    abq_reason: Some("global rule".into()),
                    abq_direct: None,
                    quarantine_mailed: false,
                    wipe: Wipe::None,
                    settings: None,
                },
            ));
        }
    }
    for chunk in all.chunks(1_000) {
        let rows: Vec<Device> = chunk.iter().map(|(_, d)| d.clone()).collect();
        store
            .write_blocking(move |ctx| rows.iter().try_for_each(|d| ops::put_device(ctx, d)))
            .expect("devices");
    }
    all
}

fn request(d: &Device) -> EasRequest {
    EasRequest {
        command: Command::FolderSync,
        version: VERSION,
        user: None,
        device_id: DeviceId::new(&d.device_id).expect("DeviceId"),
        device_type: DeviceType::new(&d.device_type).expect("DeviceType"),
        policy_key: SentPolicyKey::Key(d.provision.final_key()),
        locale: None,
        collection_id: None,
        item_id: None,
        attachment_name: None,
        long_id: None,
        occurrence: None,
        save_in_sent: false,
        accept_multipart: false,
        query_form: QueryForm::Plain,
        ignored_parameters: Vec::new(),
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let started = Instant::now();
    let mut devices = seed(&store);
    let requests: Vec<EasRequest> = devices.iter().map(|(_, d)| request(d)).collect();
    println!(
        "seeded {ACCOUNTS} accounts, {} devices, {RULES} rules in {:.1?}",
        devices.len(),
        started.elapsed()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let per_request = rt.block_on(async {
        // One pass fills the per-device cache, as the devices' first requests would.
        for ((a, d), req) in devices.iter_mut().zip(&requests) {
            let g = govern::gate(&store, a, d, req).await;
            assert_eq!(g.expect("gate").gate, Gate::Pass, "{}", d.device_id);
        }
        let count = devices.len();
        let t = Instant::now();
        for i in 0..REQUESTS as usize {
            let (a, d) = &mut devices[i % count];
            let g = govern::gate(&store, a, d, &requests[i % count]);
            assert_eq!(g.await.expect("gate").gate, Gate::Pass);
        }
        t.elapsed() / REQUESTS
    });
    let verdict = if per_request < TARGET { "PASS" } else { "MISS" };
    println!(
        "device gate: {:.2} µs per request ({RULES} rules, {} devices; target < {} µs): {verdict}",
        per_request.as_secs_f64() * 1e6,
        devices.len(),
        TARGET.as_micros()
    );

    // What the first request after a change pays.
    rt.block_on(cache::change(&store, |tx| {
        levels::set(
            tx,
            &Level::Server,
            &[("AllowCamera".to_owned(), "0".to_owned())],
        )
    }))
    .expect("change");
    let t = Instant::now();
    rt.block_on(cache::view(&store)).expect("view");
    println!(
        "first request after a policy or rule change: +{:.2?} to rebuild the cached view",
        t.elapsed()
    );
}
