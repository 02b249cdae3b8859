//! Order tracking: lifecycle rules, per-line progress, parcel deduplication, unknown words,
//! acknowledgement timeouts, export/import, and a REST supplier on wiremock polled while
//! webhook events arrive out of order.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dropship::adapters::rest::RestSupplier;
use dropship::config::SupplierConfig;
use dropship::fulfillment::tracking::{
    IgnoreReason, OrderChangeKind, OrderTracker, Registered, ShipmentOutcome, TrackOutcome,
    TrackReport, TrackingSnapshot, UpdateSource,
};
use dropship::transport::FixedJitter;
use dropship::{
    Dropshipper, ErrorKind, OrderAck, OrderHandle, OrderLine, OrderRef, OrderState, OrderStatus,
    Shipment, ShipmentLine, Sku, SupplierEvent, SupplierId,
};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use OrderStatus::*;

fn acme() -> SupplierId {
    SupplierId::new("acme").unwrap()
}

fn reference(r: &str) -> OrderRef {
    OrderRef::new(r).unwrap()
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

/// A tracker holding order `r` with lines A x2 and B x1, sent at t(0).
fn tracker_with(r: &str) -> OrderTracker {
    let tracker = OrderTracker::new();
    let lines = vec![OrderLine::new(sku("A"), 2), OrderLine::new(sku("B"), 1)];
    let handle = OrderHandle::by_reference(reference(r));
    assert_eq!(
        tracker.track(acme(), handle, lines, t(0)).unwrap(),
        Registered::New
    );
    tracker
}

fn state(r: &str, status: OrderStatus, word: &str, at: Option<i64>) -> OrderState {
    OrderState {
        supplier: acme(),
        handle: OrderHandle::by_reference(reference(r)),
        status,
        raw_status: word.into(),
        shipments: Vec::new(),
        updated_at: at.map(t),
    }
}

fn webhook(s: OrderState) -> SupplierEvent {
    SupplierEvent::OrderStatusChanged(s)
}

fn parcel(number: Option<&str>, carrier: Option<&str>, lines: &[(&str, u32)]) -> Shipment {
    Shipment {
        carrier: carrier.map(Into::into),
        tracking_number: number.map(Into::into),
        lines: lines
            .iter()
            .map(|(s, q)| ShipmentLine {
                sku: sku(s),
                quantity: *q,
            })
            .collect(),
        ..Shipment::default()
    }
}

fn shipped_event(r: &str, shipment: Shipment) -> SupplierEvent {
    SupplierEvent::ShipmentCreated {
        supplier: acme(),
        handle: OrderHandle::by_reference(reference(r)),
        shipment,
        at: t(100),
    }
}

fn applied(report: &TrackReport, from: OrderStatus, to: OrderStatus) {
    assert_eq!(
        report.outcome,
        TrackOutcome::Applied { from, to },
        "{report:?}"
    );
}

fn status_of(tracker: &OrderTracker, r: &str) -> OrderStatus {
    tracker.get(&acme(), &reference(r)).unwrap().status
}

#[test]
fn forward_moves_are_applied_and_published() {
    let tracker = tracker_with("SO-1");
    let mut feed = tracker.subscribe();
    let ack = OrderAck {
        supplier: acme(),
        reference: reference("SO-1"),
        supplier_order_id: "CJ-1".into(),
        status: Accepted,
        accepted_at: t(1),
        already_existed: false,
    };
    applied(&tracker.acknowledged(&ack), Pending, Accepted);
    applied(
        &tracker.apply_polled(&state("SO-1", Processing, "PROCESSING", Some(10))),
        Accepted,
        Processing,
    );
    let report = tracker
        .ingest(&webhook(state("SO-1", Shipped, "SHIPPED", Some(20))))
        .unwrap();
    applied(&report, Processing, Shipped);
    applied(
        &tracker.apply_polled(&state("SO-1", Delivered, "DELIVERED", Some(30))),
        Shipped,
        Delivered,
    );
    let order = tracker.get(&acme(), &reference("SO-1")).unwrap();
    assert_eq!(order.status, Delivered);
    assert!(order.is_terminal() && order.is_acknowledged());
    assert_eq!(order.handle.supplier_order_id.as_deref(), Some("CJ-1"));
    assert_eq!(order.raw_status.as_deref(), Some("DELIVERED"));
    assert_eq!(order.supplier_updated_at, Some(t(30)));
    assert!(tracker.open().is_empty());
    assert_eq!(tracker.all().len(), 1);
    // Terminal orders can be let go; open ones never are.
    assert_eq!(tracker.prune_terminal(order.status_changed_at), 0);
    let later = order.status_changed_at + chrono::Duration::seconds(1);
    assert_eq!(tracker.prune_terminal(later), 1);
    assert!(tracker.get(&acme(), &reference("SO-1")).is_none());

    let changes = feed.drain();
    let moves: Vec<_> = changes
        .iter()
        .filter_map(|c| match &c.kind {
            OrderChangeKind::Status { to, source, .. } => Some((to.clone(), *source)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        [
            (Accepted, UpdateSource::Ack),
            (Processing, UpdateSource::Poll),
            (Shipped, UpdateSource::Webhook),
            (Delivered, UpdateSource::Poll),
        ]
    );
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(matches!(
        changes[0].kind,
        OrderChangeKind::Acknowledged { .. }
    ));
    assert!(matches!(
        changes.last().map(|c| &c.kind),
        Some(OrderChangeKind::Forgotten)
    ));
    // A stock event is not an order event.
    assert!(
        tracker
            .ingest(&SupplierEvent::StockChanged(dropship::StockLevel::new(
                acme(),
                sku("A"),
                dropship::SupplierSku::new("a").unwrap(),
                dropship::Availability::Exact(1),
            )))
            .is_none()
    );
}

#[test]
fn every_kind_of_regression_is_ignored_and_reported() {
    // A stale poll after a webhook said shipped (undated: the lifecycle decides).
    let tracker = tracker_with("SO-2");
    tracker.ingest(&webhook(state("SO-2", Shipped, "SHIPPED", None)));
    let stale = tracker.apply_polled(&state("SO-2", Processing, "PROCESSING", None));
    assert_eq!(
        stale.ignored(),
        Some(&IgnoreReason::Regression { current: Shipped })
    );
    assert_eq!(stale.status, Some(Shipped));
    // The stale word does not replace the word of the status held.
    let order = tracker.get(&acme(), &reference("SO-2")).unwrap();
    assert_eq!(order.raw_status.as_deref(), Some("SHIPPED"));
    // A hold after shipping began is a regression too.
    let hold = tracker.apply_polled(&state("SO-2", OnHold, "HOLD", None));
    assert!(matches!(
        hold.ignored(),
        Some(IgnoreReason::Regression { .. })
    ));

    // Delivered, then processing.
    tracker.apply_polled(&state("SO-2", Delivered, "DELIVERED", None));
    let late = tracker.apply_polled(&state("SO-2", Processing, "PROCESSING", None));
    assert_eq!(
        late.ignored(),
        Some(&IgnoreReason::Regression { current: Delivered })
    );
    assert_eq!(status_of(&tracker, "SO-2"), Delivered);

    // Dated updates: an older one is ignored unless it moves forward on the main line,
    // which no stale report can do (suppliers stamp polls and webhooks with different clocks
    // and precisions); the watermark never goes back.
    let tracker = tracker_with("SO-3");
    tracker.apply_polled(&state("SO-3", Processing, "PROCESSING", Some(50)));
    let hold = tracker
        .ingest(&webhook(state("SO-3", OnHold, "HOLD", Some(40))))
        .unwrap();
    assert_eq!(
        hold.ignored(),
        Some(&IgnoreReason::Older {
            last_applied: t(50)
        })
    );
    assert_eq!(status_of(&tracker, "SO-3"), Processing);
    let shipped = tracker
        .ingest(&webhook(state("SO-3", Shipped, "SHIPPED", Some(40))))
        .unwrap();
    assert_eq!(shipped.ignored(), None);
    assert_eq!(status_of(&tracker, "SO-3"), Shipped);
    let hold = tracker.apply_polled(&state("SO-3", OnHold, "HOLD", Some(45)));
    assert!(matches!(hold.ignored(), Some(IgnoreReason::Older { .. })));

    // Out of a terminal state nothing moves.
    let tracker = tracker_with("SO-4");
    tracker.apply_polled(&state("SO-4", Failed, "FAILED", None));
    let after = tracker.apply_polled(&state("SO-4", Shipped, "SHIPPED", None));
    assert_eq!(
        after.ignored(),
        Some(&IgnoreReason::Terminal { current: Failed })
    );

    // A redelivered webhook is a duplicate; the same status with a new word is not.
    let tracker = tracker_with("SO-5");
    let w = webhook(state("SO-5", Processing, "PROCESSING", Some(5)));
    tracker.ingest(&w);
    assert_eq!(
        tracker.ingest(&w).unwrap().ignored(),
        Some(&IgnoreReason::Duplicate)
    );
    let reworded = tracker.apply_polled(&state("SO-5", Processing, "IN_PRODUCTION", Some(5)));
    assert_eq!(reworded.outcome, TrackOutcome::Unchanged);

    // Updates for an order nobody tracks.
    let unknown = tracker.apply_polled(&state("NOPE", Shipped, "SHIPPED", None));
    assert_eq!(unknown.ignored(), Some(&IgnoreReason::UnknownOrder));
    assert_eq!(unknown.status, None);
}

#[test]
fn cancel_before_shipping_is_allowed_after_shipping_refused_and_returns_allowed() {
    for before in [Pending, Accepted, Processing, OnHold] {
        let tracker = tracker_with("SO-6");
        if before != Pending {
            tracker.apply_polled(&state("SO-6", before.clone(), "X", None));
        }
        let report = tracker.apply_polled(&state("SO-6", Cancelled, "CANCELLED", None));
        applied(&report, before.clone(), Cancelled);
        let order = tracker.get(&acme(), &reference("SO-6")).unwrap();
        assert!(order.lines.iter().all(|l| l.cancelled == l.ordered));
        assert_eq!(order.remaining_units(), 0);
    }

    let tracker = tracker_with("SO-7");
    tracker.apply_polled(&state("SO-7", Shipped, "SHIPPED", None));
    let cancel = tracker.apply_polled(&state("SO-7", Cancelled, "CANCELLED", None));
    assert_eq!(
        cancel.ignored(),
        Some(&IgnoreReason::Regression { current: Shipped })
    );
    applied(
        &tracker.apply_polled(&state("SO-7", Returned, "RETURNED", None)),
        Shipped,
        Returned,
    );

    // Delivered -> Returned is the one way out of a terminal state.
    let tracker = tracker_with("SO-8");
    tracker.apply_polled(&state("SO-8", Delivered, "DELIVERED", None));
    applied(
        &tracker.apply_polled(&state("SO-8", Returned, "RETURNED", None)),
        Delivered,
        Returned,
    );
    // Returned before shipping is no move.
    let tracker = tracker_with("SO-9");
    let early = tracker.apply_polled(&state("SO-9", Returned, "RETURNED", None));
    assert_eq!(
        early.ignored(),
        Some(&IgnoreReason::NotAllowed { current: Pending })
    );

    // From PartiallyShipped a cancel cancels what has not shipped.
    let tracker = tracker_with("SO-10");
    tracker.ingest(&shipped_event(
        "SO-10",
        parcel(Some("P1"), None, &[("A", 1)]),
    ));
    assert_eq!(status_of(&tracker, "SO-10"), PartiallyShipped);
    applied(
        &tracker.apply_polled(&state("SO-10", Cancelled, "CANCELLED", None)),
        PartiallyShipped,
        Cancelled,
    );
    let order = tracker.get(&acme(), &reference("SO-10")).unwrap();
    let a = &order.lines[0];
    assert_eq!((a.shipped, a.cancelled, a.remaining()), (1, 1, 0));
    assert_eq!(order.lines[1].cancelled, 1);
}

#[test]
fn lines_ship_partially_then_fully() {
    let tracker = tracker_with("SO-11");
    tracker.apply_polled(&state("SO-11", Processing, "PROCESSING", None));
    let first = tracker
        .ingest(&shipped_event(
            "SO-11",
            parcel(Some("P1"), Some("UPS"), &[("A", 1)]),
        ))
        .unwrap();
    assert_eq!(first.outcome, TrackOutcome::NoStatus);
    assert_eq!(first.derived, Some((Processing, PartiallyShipped)));
    assert_eq!(
        first.shipments,
        [ShipmentOutcome::Added {
            tracking_number: Some("P1".into())
        }]
    );
    let order = tracker.get(&acme(), &reference("SO-11")).unwrap();
    assert_eq!(
        order
            .lines
            .iter()
            .map(|l| (l.shipped, l.remaining(), l.is_shipped()))
            .collect::<Vec<_>>(),
        [(1, 1, false), (0, 1, false)]
    );
    assert!(order.lines_reported());
    // A poll listing the first parcel and a second one completing the order.
    let mut poll = state("SO-11", PartiallyShipped, "PARTIAL", None);
    poll.shipments = vec![
        parcel(Some("p1"), None, &[("A", 1)]),
        parcel(Some("P2"), Some("UPS"), &[("A", 1), ("B", 1)]),
    ];
    let second = tracker.apply_polled(&poll);
    assert_eq!(second.outcome, TrackOutcome::Unchanged);
    assert_eq!(second.derived, Some((PartiallyShipped, Shipped)));
    let order = tracker.get(&acme(), &reference("SO-11")).unwrap();
    assert!(order.lines.iter().all(|l| l.is_shipped()));
    assert_eq!(order.tracking_numbers(), ["P1", "P2"]);

    // The supplier's word is trusted over incomplete parcel contents, and the gap is shown.
    let tracker = tracker_with("SO-12");
    let mut says_shipped = state("SO-12", Shipped, "SHIPPED", None);
    says_shipped.shipments = vec![parcel(Some("Q1"), None, &[("A", 2)])];
    applied(&tracker.apply_polled(&says_shipped), Pending, Shipped);
    let order = tracker.get(&acme(), &reference("SO-12")).unwrap();
    assert_eq!(order.status, Shipped);
    assert_eq!(order.remaining_units(), 1);
    assert!(!order.lines[1].is_shipped());
}

#[test]
fn partial_cancels_per_line() {
    let tracker = tracker_with("SO-13");
    let mut feed = tracker.subscribe();
    tracker.ingest(&shipped_event(
        "SO-13",
        parcel(Some("P1"), None, &[("A", 2)]),
    ));
    assert_eq!(status_of(&tracker, "SO-13"), PartiallyShipped);
    // The rest (B) is cancelled: everything is shipped or cancelled, so it has shipped.
    let report = tracker
        .cancel_lines(&acme(), &reference("SO-13"), &[(sku("B"), 1)])
        .unwrap();
    assert_eq!(report.derived, Some((PartiallyShipped, Shipped)));
    // Totals, so a repeated report changes nothing.
    let again = tracker
        .cancel_lines(&acme(), &reference("SO-13"), &[(sku("B"), 1)])
        .unwrap();
    assert!(!again.changed());
    assert!(
        feed.drain()
            .iter()
            .any(|c| matches!(c.kind, OrderChangeKind::Lines { .. }))
    );

    // Refused as a whole: a SKU not on the order, more than remains.
    let tracker = tracker_with("SO-14");
    let err = tracker
        .cancel_lines(
            &acme(),
            &reference("SO-14"),
            &[(sku("A"), 1), (sku("ZZ"), 1), (sku("B"), 2)],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["cancelled[1].sku", "cancelled[2].quantity"]);
    let order = tracker.get(&acme(), &reference("SO-14")).unwrap();
    assert_eq!(order.lines[0].cancelled, 0, "nothing applied");
    // Every line cancelled with nothing shipped is a cancelled order.
    let all = tracker
        .cancel_lines(
            &acme(),
            &reference("SO-14"),
            &[(sku("A"), 2), (sku("B"), 1)],
        )
        .unwrap();
    assert_eq!(all.derived, Some((Pending, Cancelled)));
    let missing = tracker
        .cancel_lines(&acme(), &reference("NOPE"), &[(sku("A"), 1)])
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[test]
fn duplicate_shipment_webhooks_are_merged() {
    let tracker = tracker_with("SO-15");
    let event = shipped_event("SO-15", parcel(Some("1Z 999 AA"), None, &[("A", 2)]));
    tracker.ingest(&event);
    let dup = tracker.ingest(&event).unwrap();
    assert_eq!(
        dup.shipments,
        [ShipmentOutcome::Duplicate {
            tracking_number: Some("1Z 999 AA".into())
        }]
    );
    assert!(!dup.changed());
    // The same parcel from the poll, spelled differently and naming its carrier.
    let mut poll = state("SO-15", Processing, "PROCESSING", None);
    poll.shipments = vec![parcel(Some("1z999aa"), Some("UPS"), &[])];
    let merged = tracker.apply_polled(&poll);
    assert_eq!(
        merged.shipments,
        [ShipmentOutcome::Merged {
            tracking_number: Some("1z999aa".into())
        }]
    );
    // Parcels without a number, deduplicated by content.
    let bare = parcel(None, Some("Post"), &[("B", 1)]);
    tracker.ingest(&shipped_event("SO-15", bare.clone()));
    let bare_again = tracker.ingest(&shipped_event("SO-15", bare)).unwrap();
    assert!(matches!(
        bare_again.shipments[0],
        ShipmentOutcome::Duplicate { .. }
    ));
    let order = tracker.get(&acme(), &reference("SO-15")).unwrap();
    assert_eq!(order.shipments.len(), 2);
    assert_eq!(order.shipments[0].carrier.as_deref(), Some("UPS"));
    // Counted once: A x2 and B x1 shipped in all.
    assert_eq!(
        order.lines.iter().map(|l| l.shipped).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(order.status, Shipped);
    assert_eq!(
        tracker.tracking_numbers(&acme(), &reference("SO-15")),
        ["1Z 999 AA"]
    );
}

#[test]
fn unknown_words_are_kept_and_reported_without_moving() {
    let tracker = tracker_with("SO-16");
    let mut feed = tracker.subscribe();
    tracker.apply_polled(&state("SO-16", Processing, "PROCESSING", None));
    let word = "READY_FOR_PICKUP";
    let report = tracker.apply_polled(&state("SO-16", Unknown(word.into()), word, None));
    assert_eq!(
        report.ignored(),
        Some(&IgnoreReason::UnknownWord(word.into()))
    );
    assert_eq!(report.status, Some(Processing));
    let order = tracker.get(&acme(), &reference("SO-16")).unwrap();
    assert_eq!(order.status, Processing);
    assert_eq!(order.raw_status.as_deref(), Some(word));
    assert_eq!(order.unknown_word.as_deref(), Some(word));
    assert!(
        feed.drain()
            .iter()
            .any(|c| matches!(&c.kind, OrderChangeKind::UnknownWord { word: w } if w == word))
    );
    // A known word later clears it.
    tracker.apply_polled(&state("SO-16", Shipped, "SHIPPED", None));
    let order = tracker.get(&acme(), &reference("SO-16")).unwrap();
    assert_eq!(order.unknown_word, None);
    // A huge word is kept cut, never refused.
    let long = "é".repeat(1000);
    let report = tracker.apply_polled(&state("SO-16", Unknown(long.clone()), &long, None));
    let Some(IgnoreReason::UnknownWord(kept)) = report.ignored() else {
        panic!("{report:?}");
    };
    assert!(kept.len() <= 128 && !kept.is_empty());
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    fn now(&self) -> DateTime<Utc> {
        t(self.0.load(Ordering::SeqCst))
    }
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_secs() as i64, Ordering::SeqCst);
    }
}

#[test]
fn unacknowledged_orders_are_reported_after_the_timeout() {
    let clock = ManualClock(Arc::new(AtomicI64::new(0)));
    let c = clock.clone();
    let tracker = OrderTracker::builder()
        .ack_timeout(Duration::from_secs(600))
        .clock(move || c.now())
        .build()
        .unwrap();
    for r in ["SO-20", "SO-21", "SO-22"] {
        tracker
            .track(
                acme(),
                OrderHandle::by_reference(reference(r)),
                vec![OrderLine::new(sku("A"), 1)],
                clock.now(),
            )
            .unwrap();
    }
    clock.advance(Duration::from_secs(599));
    assert!(tracker.unacknowledged().is_empty());
    // One acknowledged by its answer, one by a webhook about it.
    tracker.acknowledged(&OrderAck {
        supplier: acme(),
        reference: reference("SO-20"),
        supplier_order_id: "X-20".into(),
        status: Pending,
        accepted_at: clock.now(),
        already_existed: false,
    });
    tracker.ingest(&webhook(state("SO-21", Accepted, "OK", None)));
    clock.advance(Duration::from_secs(1));
    let late = tracker.unacknowledged();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].reference, reference("SO-22"));
    assert_eq!(late[0].waiting, Duration::from_secs(600));
    // Reported, not forgotten.
    assert_eq!(status_of(&tracker, "SO-22"), Pending);
    assert_eq!(tracker.unacknowledged_at(t(10_000)).len(), 1);

    // A conflicting ack is refused; a retried placement is idempotent.
    let conflict = tracker.acknowledged(&OrderAck {
        supplier: acme(),
        reference: reference("SO-20"),
        supplier_order_id: "X-99".into(),
        status: Accepted,
        accepted_at: clock.now(),
        already_existed: true,
    });
    assert_eq!(
        conflict.ignored(),
        Some(&IgnoreReason::ConflictingAck {
            known: "X-20".into()
        })
    );
    let again = tracker.track(
        acme(),
        OrderHandle::by_reference(reference("SO-22")),
        vec![OrderLine::new(sku("A"), 1)],
        clock.now(),
    );
    assert_eq!(again.unwrap(), Registered::AlreadyTracked);
    let other_lines = tracker.track(
        acme(),
        OrderHandle::by_reference(reference("SO-22")),
        vec![OrderLine::new(sku("A"), 2)],
        clock.now(),
    );
    assert_eq!(other_lines.unwrap_err().kind(), ErrorKind::Invalid);
    let bad = tracker.track(
        acme(),
        OrderHandle::by_reference(reference("SO-23")),
        vec![OrderLine::new(sku("A"), 0), OrderLine::new(sku("A"), 1)],
        clock.now(),
    );
    assert_eq!(bad.unwrap_err().problems().len(), 2);
    assert!(
        OrderTracker::builder()
            .ack_timeout(Duration::ZERO)
            .build()
            .is_err()
    );
}

#[test]
fn export_import_round_trip() {
    let tracker = tracker_with("SO-30");
    tracker
        .track(
            acme(),
            OrderHandle::by_reference(reference("SO-31")),
            vec![OrderLine::new(sku("C"), 1)],
            t(0),
        )
        .unwrap();
    tracker.apply_polled(&state("SO-30", Processing, "PROCESSING", Some(10)));
    tracker.apply_polled(&state("SO-30", OnHold, "HOLD", Some(20)));
    tracker.ingest(&shipped_event(
        "SO-31",
        parcel(Some("Z1"), None, &[("C", 1)]),
    ));

    let json = serde_json::to_string(&tracker.export()).unwrap();
    let snapshot: TrackingSnapshot = serde_json::from_str(&json).unwrap();
    let restored = OrderTracker::new();
    let report = restored.import(&snapshot).unwrap();
    assert_eq!((report.restored, report.kept), (2, 0));
    assert!(report.refused.is_empty());
    assert_eq!(restored.all(), tracker.all());

    // The restored tracker goes on by the same rules: the hold began at processing, and
    // the dated watermark survived.
    let back = restored.apply_polled(&state("SO-30", Pending, "NEW", Some(30)));
    assert!(matches!(
        back.ignored(),
        Some(IgnoreReason::Regression { .. })
    ));
    let old = restored.apply_polled(&state("SO-30", Shipped, "SHIPPED", Some(15)));
    assert!(matches!(old.ignored(), Some(IgnoreReason::Older { .. })));
    applied(
        &restored.apply_polled(&state("SO-30", Processing, "PROCESSING", Some(40))),
        OnHold,
        Processing,
    );
    // Importing again keeps the live state.
    assert_eq!(restored.import(&snapshot).unwrap().kept, 2);
    assert_eq!(status_of(&restored, "SO-30"), Processing);

    // Another format is refused; an unusable record is refused alone.
    let mut other = snapshot.clone();
    other.format = 99;
    assert_eq!(
        OrderTracker::new().import(&other).unwrap_err().kind(),
        ErrorKind::Config
    );
    let mut broken: Value = serde_json::from_str(&json).unwrap();
    broken["orders"][0]["lines"] = json!([]);
    let broken: TrackingSnapshot = serde_json::from_value(broken).unwrap();
    let report = OrderTracker::new().import(&broken).unwrap();
    assert_eq!(report.restored, 1);
    assert_eq!(report.refused[0].path, "orders[0].lines");
    // The snapshot carries no address fields at all.
    assert!(!json.contains("ship_to") && !json.contains("address"));
}

// ---------------------------------------------------------------------------------------
// Over HTTP.

/// The supplier's view of order CJ-1, editable while the test runs.
#[derive(Clone)]
struct Remote(Arc<Mutex<Value>>);

impl Remote {
    fn set(&self, word: &str, at: i64, parcels: Value) {
        *self.0.lock().unwrap() = json!({"code": 200, "data": {
            "orderId": "CJ-1", "orderStatus": word, "updatedAt": t(at).timestamp(),
            "shipments": parcels,
        }});
    }
}

async fn serve(remote: &Remote) -> MockServer {
    let server = MockServer::start().await;
    let r = remote.clone();
    Mock::given(path("/v1/orders/CJ-1"))
        .respond_with(move |_: &wiremock::Request| {
            ResponseTemplate::new(200).set_body_json(r.0.lock().unwrap().clone())
        })
        .mount(&server)
        .await;
    server
}

fn rest_supplier(server: &MockServer) -> Arc<dyn Dropshipper> {
    let cfg = json!({
        "id": "acme", "protocol": "rest", "base_url": format!("{}/v1", server.uri()),
        "limits": {"requests_per_second": 1000, "burst": 100},
        "retry": {"max_attempts": 2, "base_delay": "5ms", "max_delay": "10ms", "deadline": "2s"},
        "breaker": {"min_calls": 1000},
        "status_map": {"preset": "cj"},
        "operations": {"order_status": {"path": "/orders/{{order.supplier_order_id}}",
            "status": "/data/orderStatus", "order_id": "/data/orderId",
            "updated_at": "/data/updatedAt", "shipments": "/data/shipments",
            "carrier": "/logisticName", "tracking_number": "/trackNumber"}},
    });
    let cfg = SupplierConfig::from_json_with_env(&cfg.to_string(), &|_| None).expect("config");
    Arc::new(
        RestSupplier::with_transport(&cfg, |b| b.jitter(Arc::new(FixedJitter(1.0))))
            .expect("supplier"),
    )
}

fn handle() -> OrderHandle {
    OrderHandle {
        reference: reference("SO-40"),
        supplier_order_id: Some("CJ-1".into()),
    }
}

fn dated(status: OrderStatus, word: &str, at: i64, parcels: Vec<Shipment>) -> SupplierEvent {
    SupplierEvent::OrderStatusChanged(OrderState {
        supplier: acme(),
        handle: handle(),
        status,
        raw_status: word.into(),
        shipments: parcels,
        updated_at: Some(t(at)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_out_of_order_webhooks_converge_over_http() {
    let remote = Remote(Arc::new(Mutex::new(Value::Null)));
    remote.set("PROCESSING", 10, json!([]));
    let server = serve(&remote).await;
    let supplier = rest_supplier(&server);
    let tracker = OrderTracker::new();
    tracker
        .track(acme(), handle(), vec![OrderLine::new(sku("A"), 1)], t(0))
        .unwrap();
    let poll_one = || async {
        let report = tracker.poll(&*supplier).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        report.reports
    };

    // Step by step first: the supplier's API lags behind its own webhooks.
    applied(&poll_one().await[0], Pending, Processing);
    let usps = parcel(Some("9400 1000"), Some("usps"), &[]);
    let shipped = tracker
        .ingest(&dated(Shipped, "SHIPPED", 30, vec![usps.clone()]))
        .unwrap();
    applied(&shipped, Processing, Shipped);
    let lagging = poll_one().await;
    assert_eq!(
        lagging[0].ignored(),
        Some(&IgnoreReason::Older {
            last_applied: t(30)
        })
    );
    let late_hook = tracker
        .ingest(&dated(Processing, "PROCESSING", 10, vec![]))
        .unwrap();
    assert!(matches!(
        late_hook.ignored(),
        Some(IgnoreReason::Older { .. })
    ));
    // The API catches up; its parcel is the webhook's parcel, spelled its own way.
    remote.set(
        "SHIPPED",
        30,
        json!([{"logisticName": "USPS", "trackNumber": "94001000"}]),
    );
    let caught_up = poll_one().await;
    assert_eq!(caught_up[0].ignored(), Some(&IgnoreReason::Duplicate));
    assert!(matches!(
        caught_up[0].shipments[..],
        [ShipmentOutcome::Duplicate { .. }]
    ));

    // Then concurrently: webhooks newest first while the test keeps polling the lagging API.
    let hooks = vec![
        dated(Delivered, "DELIVERED", 50, vec![usps.clone()]),
        shipped_event("SO-40", usps.clone()),
        dated(Shipped, "SHIPPED", 30, vec![usps.clone()]),
    ];
    let task = {
        let tracker = tracker.clone();
        tokio::spawn(async move {
            let mut reports = Vec::new();
            for event in hooks {
                reports.push(tracker.ingest(&event).unwrap());
                tokio::task::yield_now().await;
            }
            reports
        })
    };
    let mut polled = Vec::new();
    for _ in 0..3 {
        polled.extend(poll_one().await);
    }
    let hooked = task.await.unwrap();
    applied(&hooked[0], Shipped, Delivered);
    // The parcel event only adds the parcel's ship time; the old status is older.
    assert!(
        matches!(hooked[1].shipments[..], [ShipmentOutcome::Merged { .. }]),
        "{hooked:?}"
    );
    assert!(matches!(
        hooked[2].ignored(),
        Some(IgnoreReason::Older { .. })
    ));
    assert!(!hooked[2].changed());
    // Each poll ran before the delivered webhook (nothing new), or after it (older, or not
    // polled at all: delivered orders are not polled). None moved anything.
    for report in &polled {
        assert!(!report.changed(), "{report:?}");
    }
    remote.set(
        "DELIVERED",
        50,
        json!([{"logisticName": "USPS", "trackNumber": "94001000"}]),
    );
    assert!(poll_one().await.is_empty());

    let order = tracker.get(&acme(), &reference("SO-40")).unwrap();
    assert_eq!(order.status, Delivered);
    assert_eq!(order.raw_status.as_deref(), Some("DELIVERED"));
    assert_eq!(order.supplier_updated_at, Some(t(50)));
    assert_eq!(order.shipments.len(), 1, "{:?}", order.shipments);
    assert_eq!(order.tracking_numbers(), ["9400 1000"]);
    assert_eq!(order.shipments[0].carrier.as_deref(), Some("usps"));
    assert_eq!(order.shipments[0].shipped_at, Some(t(100)));
    assert!(tracker.open().is_empty());
    assert!(server.received_requests().await.unwrap().len() >= 3);
}
