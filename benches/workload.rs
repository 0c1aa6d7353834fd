//! The serving workload `image/order-text.sh` profiles: it drives an easd that is already
//! running (under callgrind there) through what phones and the MTA do all day — Provision,
//! FolderSync, LMTP deliveries, Sync with windows and body preferences, ItemOperations,
//! GetItemEstimate, MoveItems, Search, Settings, and a Ping woken by a delivery — so that
//! the functions serving runs can be linked together (see `build.rs`).
//!
//! Not a benchmark: without `EASD_WORKLOAD` it does nothing. With
//! `EASD_WORKLOAD=HTTPS_ADDR,LMTP_ADDR,DATA_DIR,ADMIN_PASSWORD` it drives that server and
//! prints how long it took.

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use easd::wbxml::Element;
use easd::wbxml::tag::{
    airsync as air, getitemestimate as gie, r#move as mv, ping as p, search as s, settings as st,
};
use support::*;

const USER: &str = "admin@localhost";

fn main() {
    let Ok(spec) = std::env::var("EASD_WORKLOAD") else {
        println!("workload: set EASD_WORKLOAD (image/order-text.sh does); nothing to do");
        return;
    };
    let fields: Vec<&str> = spec.split(',').collect();
    let [https, lmtp, data, password] = fields[..] else {
        panic!("EASD_WORKLOAD: HTTPS_ADDR,LMTP_ADDR,DATA_DIR,ADMIN_PASSWORD");
    };
    let https: SocketAddr = https.parse().expect("HTTPS address");
    let lmtp: SocketAddr = lmtp.parse().expect("LMTP address");
    let cert = PathBuf::from(data).join("tls/cert.pem");
    let started = Instant::now();

    let device = |id: &str| EasClient::new(HttpClient::https_to(https, &cert), USER, password, id);
    let mut phone = device("WORKLOAD1");
    phone.options();
    phone.provision();
    let (hierarchy, _) = phone.folder_sync_ok("0");
    phone.folder_sync_ok(&hierarchy);
    phone.call(
        "Settings",
        &Element::new(st::SETTINGS)
            .child(Element::new(st::USER_INFORMATION).child(Element::new(st::GET))),
    );
    let inbox = phone.folder_of_type(2);
    let trash = phone.folder_of_type(4);

    let mut mta = LmtpClient::connect(lmtp);
    mta.lhlo();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut messages: Vec<Vec<u8>> = std::fs::read_dir(&fixtures)
        .expect("tests/fixtures/mail")
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    for i in 0..20 {
        let body = format!("Message {i} of the workload.\n").repeat(40);
        messages.push(text_message(
            "sender@example.net",
            USER,
            &format!("Report {i}"),
            &body,
        ));
    }
    for m in &messages {
        mta.send("sender@example.net", &[USER], m);
    }

    let key = phone.sync_init(&inbox);
    let (key, adds) = phone.sync_all(SyncColl::new(&inbox, &key).window(8).body(2, Some(2048)));
    for (id, _) in adds.iter().take(4) {
        for kind in [1, 2, 4] {
            phone.fetch_item(id, Some(kind));
        }
    }
    let first = &adds.first().expect("delivered messages").0;
    let second = &adds.get(1).expect("two messages").0;
    let out = phone.sync1(&SyncColl::new(&inbox, &key).mark_read(first, true));
    let key = out.ok_key();
    phone.call(
        "MoveItems",
        &Element::new(mv::MOVE_ITEMS).child(
            Element::new(mv::MOVE)
                .text_child(mv::SRC_MSG_ID, second)
                .text_child(mv::SRC_FLD_ID, &inbox)
                .text_child(mv::DST_FLD_ID, &trash),
        ),
    );
    phone.call(
        "GetItemEstimate",
        &Element::new(gie::GET_ITEM_ESTIMATE).child(
            Element::new(gie::COLLECTIONS).child(
                Element::new(gie::COLLECTION)
                    .text_child(air::SYNC_KEY, &key)
                    .text_child(gie::COLLECTION_ID, &inbox),
            ),
        ),
    );
    phone.call(
        "Search",
        &Element::new(s::SEARCH).child(
            Element::new(s::STORE)
                .text_child(s::NAME, "Mailbox")
                .child(
                    Element::new(s::QUERY).child(
                        Element::new(s::AND)
                            .text_child(air::COLLECTION_ID, &inbox)
                            .text_child(s::FREE_TEXT, "workload report"),
                    ),
                )
                .text_child(s::RANGE, "0-9"),
        ),
    );

    // A Ping waits; a delivery wakes it; the phone syncs what came.
    let mut pinger = device("WORKLOAD2");
    pinger.provision();
    let ping_inbox = inbox.clone();
    let waiting = std::thread::spawn(move || {
        pinger.call(
            "Ping",
            &Element::new(p::PING)
                .text_child(p::HEARTBEAT_INTERVAL, "120")
                .child(
                    Element::new(p::FOLDERS).child(
                        Element::new(p::FOLDER)
                            .text_child(p::ID, &ping_inbox)
                            .text_child(p::CLASS, "Email"),
                    ),
                ),
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    mta.send(
        "sender@example.net",
        &[USER],
        &text_message(
            "sender@example.net",
            USER,
            "Wake up",
            "New mail for the Ping.",
        ),
    );
    let woke = waiting.join().expect("Ping thread");
    assert_eq!(woke.text_of(p::STATUS), Some("2"), "Ping: {woke:?}");
    phone.sync_all(SyncColl::new(&inbox, &key).window(8));
    mta.quit();
    println!("workload: done in {:.1} s", started.elapsed().as_secs_f64());
}
