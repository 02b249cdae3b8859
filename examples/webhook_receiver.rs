//! Receives the webhooks of every supplier in a config file that has a `webhook` section:
//! verifies each delivery, reads it into events, and applies them to the inventory sync and
//! order tracking.
//!
//! ```text
//! cargo run --example webhook_receiver -- --config suppliers.json --listen 127.0.0.1:8080 [--for SECONDS]
//! ```
//!
//! Suppliers post to `http://ADDR/webhooks/{supplier id}`. Answers: 200 accepted (also for a
//! replayed delivery), 401 bad or missing signature, 413 too large, 400 unreadable payload,
//! 404 unknown supplier. Runs until Ctrl-C (or for `--for` seconds); progress goes to stderr
//! and the last line on stdout is one JSON object:
//! `{"ok", "listening", "accepted", "refused", "events", "by_supplier", "elapsed_ms"}`.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use dropship::testkit::WebhookListener;
use dropship::{Error, ErrorKind, Hub};
use serde_json::json;

const USAGE: &str = "webhook_receiver --config FILE --listen ADDR [--for SECONDS]";

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let config = support::required("--config", USAGE);
    let listen = support::required("--listen", USAGE);
    let addr: SocketAddr = listen.parse().unwrap_or_else(|_| {
        let e = Error::new(
            ErrorKind::Invalid,
            format!("--listen {listen:?} is not an address such as 127.0.0.1:8080"),
        );
        support::fail(&e, support::early(started, &e))
    });
    let run_for = support::seconds("--for", USAGE);
    let hub = Hub::load(&config).unwrap_or_else(|e| support::fail(&e, support::early(started, &e)));
    let listener = WebhookListener::start(hub.clone(), addr)
        .await
        .unwrap_or_else(|e| support::fail(&e, support::early(started, &e)));
    for id in hub.webhook_suppliers() {
        eprintln!("{id}: {}", listener.url(id.as_str()));
    }
    eprintln!("listening on {}", listener.addr());
    match run_for {
        Some(d) => tokio::time::sleep(d).await,
        None => {
            if tokio::signal::ctrl_c().await.is_err() {
                eprintln!("error: cannot wait for Ctrl-C");
            }
        }
    }
    let records = listener.records();
    let addr = listener.addr().to_string();
    listener.shutdown().await;
    let mut by_supplier: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for r in &records {
        let entry = by_supplier.entry(r.supplier.clone()).or_default();
        *entry
            .entry(if r.status == 200 {
                "accepted"
            } else {
                "refused"
            })
            .or_insert(0) += 1;
    }
    println!(
        "{}",
        json!({
            "ok": true,
            "listening": addr,
            "accepted": records.iter().filter(|r| r.status == 200).count(),
            "refused": records.iter().filter(|r| r.status != 200).count(),
            "events": records.iter().map(|r| r.events).sum::<usize>(),
            "by_supplier": by_supplier,
            "elapsed_ms": support::elapsed_ms(started),
        })
    );
}
