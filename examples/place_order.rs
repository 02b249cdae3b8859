//! Places one order with the suppliers of a config file: reads their stock, routes the order
//! by the file's `fulfillment` settings, reserves, places each sub-order exactly once, and
//! reports the supplier's answer.
//!
//! ```text
//! cargo run --example place_order -- --config suppliers.json --order order.json
//! ```
//!
//! The order file is an `Order` as JSON:
//! `{"reference": "SO-1001", "lines": [{"sku": "MUG-BLUE", "quantity": 2}],
//!   "ship_to": {"name": "...", "line1": "...", "city": "...", "country_code": "US"}}`.
//! Progress goes to stderr; the last line on stdout is one JSON object:
//! `{"ok", "reference", "sub_orders": [{"supplier", "reference", "outcome", "supplier_order_id"}],
//! "placed", "errors_by_kind", "elapsed_ms"}`. Exit status 0 when every sub-order is placed,
//! 1 otherwise, 2 on bad arguments.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use dropship::fulfillment::SubOrderOutcome;
use dropship::{Error, ErrorKind, Hub, Order};
use serde_json::json;

const USAGE: &str = "place_order --config FILE --order FILE";

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let config = support::required("--config", USAGE);
    let order_path = support::required("--order", USAGE);
    let order: Order = std::fs::read_to_string(&order_path)
        .map_err(|e| format!("cannot read {order_path}: {e}"))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("{order_path}: {e}")))
        .unwrap_or_else(|message| {
            let e = Error::new(ErrorKind::Invalid, message);
            support::fail(&e, support::early(started, &e))
        });
    let hub = Hub::load(&config).unwrap_or_else(|e| support::fail(&e, support::early(started, &e)));

    let mut errors = Vec::new();
    for (id, result) in hub.sync().crawl_all().await {
        match result {
            Ok(r) => eprintln!("{id}: {} stock levels", r.levels),
            Err(e) => {
                eprintln!("warning: {}", support::one_line(&e));
                errors.push(e);
            }
        }
    }
    let accepted = match hub.fulfillment().accept(&order) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e.clone());
            let summary = json!({
                "ok": false, "reference": order.reference.as_str(), "sub_orders": [],
                "placed": 0, "errors_by_kind": support::by_kind(&errors),
                "elapsed_ms": support::elapsed_ms(started),
            });
            support::fail(&e, summary);
        }
    };
    for sub in &accepted.plan.sub_orders {
        let lines: Vec<String> = sub
            .lines
            .iter()
            .map(|l| format!("{} x {}", l.quantity, l.sku))
            .collect();
        eprintln!(
            "routing {} to {}: {}",
            sub.reference,
            sub.supplier,
            lines.join(", ")
        );
    }
    let placement = hub.fulfillment().place(&accepted).await;
    let mut subs = Vec::new();
    let mut placed = 0;
    for (sub, outcome) in &placement.results {
        let (word, id) = match outcome {
            SubOrderOutcome::Placed(ack) => {
                placed += 1;
                let word = if ack.already_existed {
                    "already_placed"
                } else {
                    "placed"
                };
                (word, Some(ack.supplier_order_id.clone()))
            }
            SubOrderOutcome::Rejected(e) => {
                eprintln!("error: {}", support::one_line(e));
                errors.push(e.clone());
                ("rejected", None)
            }
            SubOrderOutcome::Ambiguous(e) => {
                eprintln!(
                    "error: {} (may have been placed; look it up before retrying)",
                    support::one_line(e)
                );
                errors.push(e.clone());
                ("ambiguous", None)
            }
            _ => ("in_progress", None),
        };
        subs.push(
            json!({"supplier": sub.supplier.as_str(), "reference": sub.reference.as_str(),
                         "outcome": word, "supplier_order_id": id}),
        );
    }
    let ok = placement.is_complete();
    println!(
        "{}",
        json!({
            "ok": ok, "reference": order.reference.as_str(), "sub_orders": subs, "placed": placed,
            "errors_by_kind": support::by_kind(&errors), "elapsed_ms": support::elapsed_ms(started),
        })
    );
    if !ok {
        std::process::exit(1);
    }
}
