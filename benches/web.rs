//! The web pages' budgets (issue 14): every page renders in at most 5 ms of server time
//! and weighs at most 50 KB (HTML and its stylesheet), with 1,000 devices and 500
//! accounts in the store. Server time is the pages' own `Server-Timing` header (from the
//! request's arrival at the pages to the response built), so the client's TLS and the
//! network are not counted. Prints each page's median (held to the budget) and worst
//! render time, and its size.
//!
//! `cargo bench --bench web`

use std::time::Duration;

use easd::proto::ids::{DeviceId, DeviceType, PolicyKey};
use easd::proto::version::ProtocolVersion;
use easd::store::model::{Access, Device, DeviceInfo, ProvisionState, Wipe};
use easd::store::{Store, ops};

#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;
use support::*;

const ACCOUNTS: usize = 500;
const DEVICES_PER_ACCOUNT: usize = 2;
const RENDERS: usize = 200;
const TIME_BUDGET: Duration = Duration::from_millis(5);
const SIZE_BUDGET: usize = 50 * 1000;
const ADMIN: &str = "boss@example.com";

fn email(i: usize) -> String {
    format!("user{i}@domain{}.example", i % 20)
}

/// 500 accounts of two devices each, written straight into the stopped server's store.
fn populate(data: &std::path::Path) {
    let store = Store::open(data).expect("store");
    store
        .write_blocking(|ctx| {
            for i in 0..ACCOUNTS {
                let a = ops::create_account(ctx, &email(i), &format!("User {i}"), "x", false)?;
                for n in 0..DEVICES_PER_ACCOUNT {
                    let d = Device {
                        account: a.id,
                        device_id: DeviceId::new(&format!("PHONE{i}X{n}")).expect("id"),
                        device_type: DeviceType::new("iPhone").expect("type"),
                        info: DeviceInfo {
                            model: Some("iPhone15C2".into()),
                            os: Some("iOS 17.4".into()),
                            friendly_name: Some(format!("Phone {n} of user {i}")),
                            ..DeviceInfo::default()
                        },
                        protocol: ProtocolVersion::V16_1,
                        first_seen: 1_700_000_000,
                        last_seen: 1_760_000_000,
                        provision: ProvisionState::Provisioned {
                            final_key: PolicyKey::new(1000 + n as u32).expect("not 0"),
                            acked: None,
                        },
                        http_user_agent: None,
                        policy_hash: None,
                        recovery_password: None,
                        protocol_log: false,
                        abq: Some(if n == 0 {
                            Access::Allow
                        } else {
                            Access::Quarantine
                        }),
                        abq_reason: Some("global rule".into()),
                        abq_direct: None,
                        quarantine_mailed: false,
                        wipe: Wipe::None,
                        settings: None,
                    };
                    ops::put_device(ctx, &d)?;
                }
            }
            // A full audit page's worth of entries, and more.
            for n in 0..1_000 {
                easd::store::audit::record(
                    ctx,
                    &easd::store::model::AuditEntry {
                        at: 1_760_000_000 + n,
                        actor: ADMIN.into(),
                        origin: "192.168.1.20".into(),
                        action: "device_access".into(),
                        detail: format!(
                            r#"{{"device":"{}/PHONE{n}X0","access":"block"}}"#,
                            email(n as usize % ACCOUNTS)
                        ),
                        error: None,
                    },
                )?;
            }
            Ok(())
        })
        .expect("populate");
}

fn main() {
    let mut s = start_server(|_| {});
    s.control_ok(easd::admin::ops::Request::UserAdd {
        email: ADMIN.into(),
        name: None,
        admin: true,
        password: PASSWORD.into(),
    });
    s.shutdown();
    populate(s.data_dir());
    s.restart();
    let mut admin = Browser::signed_in(&s, ADMIN);
    let mut visitor = Browser::new(&s);
    let css = admin.get("/web.css").body.len();
    println!("stylesheet: {css} bytes");
    let mut over = false;
    for (path, signed_in) in [
        ("/admin", true),
        ("/admin/accounts", true),
        ("/admin/devices", true),
        ("/admin/devices?status=quarantine&page=3", true),
        (
            "/admin/devices/show?device=user7%40domain7.example%2FPHONE7X0",
            true,
        ),
        ("/admin/rules", true),
        ("/admin/rules/settings?rule=global", true),
        ("/admin/policies?level=domain:domain3.example", true),
        ("/admin/certificate", true),
        ("/admin/logs?account=user7%40domain7.example&q=Sync", true),
        ("/admin/settings", true),
        ("/admin/audit", true),
        ("/account", true),
        ("/login", false),
    ] {
        let b = if signed_in { &mut admin } else { &mut visitor };
        let mut times = Vec::with_capacity(RENDERS);
        let mut size = 0;
        for _ in 0..RENDERS {
            let r = b.get(path);
            assert_eq!(r.status, 200, "{path}");
            let dur: f64 = r
                .header("server-timing")
                .and_then(|h| h.strip_prefix("app;dur="))
                .and_then(|d| d.parse().ok())
                .expect("Server-Timing");
            times.push(Duration::from_secs_f64(dur / 1000.0));
            size = r.body.len();
        }
        times.sort();
        let median = times[RENDERS / 2];
        let worst = times[RENDERS - 1];
        let ok = median <= TIME_BUDGET && size + css <= SIZE_BUDGET;
        over |= !ok;
        println!(
            "{path}: median {:.3} ms, worst {:.3} ms per render; {size} bytes + {css} CSS; {}",
            median.as_secs_f64() * 1000.0,
            worst.as_secs_f64() * 1000.0,
            if ok {
                "within budget"
            } else {
                "OVER BUDGET (5 ms, 50 KB)"
            }
        );
    }
    if over {
        std::process::exit(1);
    }
}
