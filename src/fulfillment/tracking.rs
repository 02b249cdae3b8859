//! Order tracking: the placement's answer, status polls and webhooks merged into one state
//! per (supplier, order reference), from the moment an order is sent until it ends.
//!
//! [`OrderTracker`] holds the orders. Each update returns a [`TrackReport`] saying what became
//! of it; every change goes to a [`subscribe`](OrderTracker::subscribe) feed; the whole state
//! [`export`](OrderTracker::export)s to a serializable [`TrackingSnapshot`] so a restart keeps
//! tracking. The tracker is given order lines, never addresses, and logs only supplier ids and
//! references.
//!
//! # The lifecycle
//!
//! The main line is `Pending < Accepted < Processing < PartiallyShipped < Shipped < Delivered`.
//! A status moves forward along it (skipping is fine: polls miss steps), never back.
//!
//! | Move                       | Allowed from                                                     |
//! |----------------------------|------------------------------------------------------------------|
//! | `OnHold` (side state)      | `Pending`, `Accepted`, `Processing`                              |
//! | out of `OnHold`            | to the status it was held at or any later one                    |
//! | `Cancelled`                | any status before `Shipped`; from `PartiallyShipped` it cancels the rest |
//! | `Failed`                   | any status before shipping (`Pending` .. `Processing`, `OnHold`) |
//! | `Returned`                 | `Shipped`, `Delivered`                                           |
//!
//! `Delivered`, `Cancelled`, `Returned` and `Failed` are terminal
//! ([`OrderStatus::is_terminal`](crate::OrderStatus::is_terminal)): nothing moves them, except
//! `Delivered -> Returned`. A status the order has left behind (a stale poll saying
//! `processing` after a webhook said `shipped`, a cancel after shipping) is
//! [`Regression`](IgnoreReason::Regression); any move out of cancelled, returned or failed is
//! [`Terminal`](IgnoreReason::Terminal); a return before shipping is
//! [`NotAllowed`](IgnoreReason::NotAllowed). None is applied; each is reported.
//!
//! - **Time.** When the supplier dates its updates
//!   ([`OrderState::updated_at`](crate::OrderState::updated_at)), one dated before the last
//!   applied one is [`Older`](IgnoreReason::Older), whatever it says. Undated updates are
//!   judged by the lifecycle alone.
//! - **Unknown words** ([`OrderStatus::Unknown`](crate::OrderStatus::Unknown)) never move the
//!   status; the word is kept ([`TrackedOrder::raw_status`], [`TrackedOrder::unknown_word`])
//!   and reported ([`IgnoreReason::UnknownWord`], [`OrderChangeKind::UnknownWord`]).
//! - **Parcels** are facts, merged from every update whatever became of its status, and
//!   deduplicated: the same tracking number (case and spaces aside) with the same carrier is
//!   one parcel (a report without a carrier matches any carrier); a parcel without a number is
//!   identified by its content (carrier, tracking URL, lines).
//! - **Lines.** Shipped units per line are recounted from the parcels' contents, so a parcel
//!   reported twice never counts twice. When the lines show more than the status (parcels
//!   covering every line of a `processing` order), the status follows them forward
//!   ([`UpdateSource::Lines`]), never back. When the supplier's word is further on than the
//!   lines (it says `shipped`, its parcels cover half the lines), **the supplier's word is
//!   kept**: parcels often list no content, and a supplier knows what it shipped better
//!   than our count of what it described. The difference stays visible per line
//!   ([`LineProgress::remaining`], [`TrackedOrder::remaining_units`]).
//! - **Acknowledgement.** An order is acknowledged by the placement's answer
//!   ([`OrderTracker::acknowledged`]) or by any report about it. One sent longer ago than the
//!   configured timeout without either is listed by [`OrderTracker::unacknowledged`], and
//!   stays tracked.
//!
//! ```
//! # fn main() -> dropship::Result<()> {
//! use chrono::Utc;
//! use dropship::fulfillment::tracking::{IgnoreReason, OrderTracker};
//! use dropship::{OrderHandle, OrderLine, OrderRef, OrderState, OrderStatus, Sku, SupplierId};
//!
//! let tracker = OrderTracker::builder()
//!     .ack_timeout(std::time::Duration::from_secs(600))
//!     .build()?;
//! let cj = SupplierId::new("cj")?;
//! let handle = OrderHandle::by_reference(OrderRef::new("SO-7")?);
//! tracker.track(cj.clone(), handle.clone(), vec![OrderLine::new(Sku::new("MUG")?, 1)], Utc::now())?;
//! let report = tracker.apply_polled(&OrderState {
//!     supplier: cj.clone(),
//!     handle,
//!     status: OrderStatus::Unknown("READY_FOR_PICKUP".into()),
//!     raw_status: "READY_FOR_PICKUP".into(),
//!     shipments: Vec::new(),
//!     updated_at: None,
//! });
//! assert_eq!(report.ignored(), Some(&IgnoreReason::UnknownWord("READY_FOR_PICKUP".into())));
//! assert_eq!(report.status, Some(OrderStatus::Pending));
//! # Ok(()) }
//! ```

mod lifecycle;
mod progress;
mod record;
mod report;
mod snapshot;
mod tracker;

pub use progress::{LineProgress, MAX_SHIPMENTS_PER_ORDER};
pub use record::TrackedOrder;
pub use report::{
    IgnoreReason, OrderChange, OrderChangeKind, OrderFeed, ShipmentOutcome, TrackOutcome,
    TrackReport, UpdateSource,
};
pub use snapshot::{ImportReport, TRACKING_SNAPSHOT_FORMAT, TrackingSnapshot};
pub use tracker::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_FEED_CAPACITY, OrderTracker, OrderTrackerBuilder, PollReport,
    Registered, Unacknowledged,
};
