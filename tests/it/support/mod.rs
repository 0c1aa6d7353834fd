//! Test harness: an in-process easd on ephemeral ports with a temporary data directory,
//! and small blocking clients of its front door (HTTPS and HTTP), LMTP and control socket.
//!
//! Used by the integration tests (`tests/it/main.rs`: `mod support;`) and by benches
//! (`#[path = "../tests/it/support/mod.rs"] mod support;`). One surface: everything is
//! re-exported here, so users write `use support::*` whatever topic an item lives in.

mod bench;
mod bench_load;
mod contents;
mod eas;
mod http;
mod items;
mod lmtp;
mod process;
mod server;
mod smtp;
mod tls;
mod web;

// Only benches use it (see `bench`); unused in the test binary.
#[allow(unused_imports)]
pub use bench::*;
#[allow(unused_imports)]
pub use bench_load::*;
pub use contents::*;
pub use eas::*;
pub use http::*;
pub use items::*;
pub use lmtp::*;
pub use process::*;
pub use server::*;
pub use smtp::*;
pub use tls::*;
pub use web::*;

/// Waits (up to 20 s, polling) until `cond` holds; panics naming `what` when it never does.
#[track_caller]
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A loopback port nothing listens on (bound, then released): for a listener to come, or
/// to be refused.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

/// The ActiveSync path, as clients send it.
pub const EAS_PATH: &str = "/Microsoft-Server-ActiveSync";

/// Password every account made by [`TestServer::add_user`] gets unless told otherwise.
pub const PASSWORD: &str = "correct horse battery staple";
