//! Places orders with the suppliers of a config file: reads their stock, routes each order by
//! the file's `fulfillment` settings, reserves, places each sub-order exactly once, and reports
//! the suppliers' answers.
//!
//! ```text
//! cargo run --example place_order -- --config suppliers.json --order order.json
//! ```
//!
//! The order file holds one `Order` as JSON, or an array of them (placed one after another):
//! `{"reference": "SO-1001", "lines": [{"sku": "MUG-BLUE", "quantity": 2}],
//!   "ship_to": {"name": "...", "line1": "...", "city": "...", "country_code": "US"}}`.
//! Running it again with the same references places nothing twice. Progress goes to stderr;
//! the last line on stdout is one JSON object: `{"ok", "orders": [{"reference", "ok",
//! "sub_orders": [{"supplier", "reference", "outcome", "supplier_order_id"}]}], "placed",
//! "errors_by_kind", "elapsed_ms"}` (with one order, its `reference` and `sub_orders` also at the
//! top). Exit status 0 when every sub-order is placed, 1 otherwise, 2 on bad arguments.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use dropship::fulfillment::SubOrderOutcome;
use dropship::{Error, ErrorKind, Hub, Order};
use serde_json::{Value, json};

const USAGE: &str = "place_order --config FILE --order FILE";

fn read_orders(path: &str) -> Result<Vec<Order>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let list = match value {
        Value::Array(list) => list,
        one => vec![one],
    };
    list.into_iter()
        .enumerate()
        .map(|(i, v)| serde_json::from_value(v).map_err(|e| format!("{path}: order [{i}]: {e}")))
        .collect()
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let config = support::required("--config", USAGE);
    let order_path = support::required("--order", USAGE);
    let orders = read_orders(&order_path).unwrap_or_else(|message| {
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
    let mut results = Vec::new();
    let mut placed = 0;
    let mut last_error: Option<Error> = None;
    for order in &orders {
        let mut subs = Vec::new();
        let ok = match hub.fulfillment().accept(order) {
            Err(e) => {
                eprintln!("error: {}: {}", order.reference, support::one_line(&e));
                errors.push(e.clone());
                last_error = Some(e);
                false
            }
            Ok(accepted) => {
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
                    subs.push(json!({"supplier": sub.supplier.as_str(), "reference": sub.reference.as_str(),
                                     "outcome": word, "supplier_order_id": id}));
                }
                placement.is_complete()
            }
        };
        results.push(json!({"reference": order.reference.as_str(), "ok": ok, "sub_orders": subs}));
    }
    let ok = results.iter().all(|r| r["ok"] == json!(true));
    let mut summary = json!({
        "ok": ok, "orders": results, "placed": placed,
        "errors_by_kind": support::by_kind(&errors), "elapsed_ms": support::elapsed_ms(started),
    });
    if let ([one], Some(map)) = (results.as_slice(), summary.as_object_mut()) {
        map.insert("reference".into(), one["reference"].clone());
        map.insert("sub_orders".into(), one["sub_orders"].clone());
    }
    if ok {
        println!("{summary}");
        return;
    }
    // The errors were printed as they happened; the exit status says the run fell short.
    if last_error.is_none() && errors.is_empty() {
        eprintln!("error: not every sub-order was placed");
    }
    println!("{summary}");
    std::process::exit(1);
}
