//! Typed results of each update, and the change feed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::progress::LineProgress;
use crate::model::{OrderRef, OrderStatus, Shipment, SupplierId};

/// The path an update came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UpdateSource {
    /// The supplier's answer to the placement.
    Ack,
    /// A status read ([`Dropshipper::order_status`](crate::Dropshipper::order_status)).
    Poll,
    /// A webhook event.
    Webhook,
    /// The order's own lines: parcels and cancels covering them.
    Lines,
}

/// Why an update's status was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum IgnoreReason {
    /// The tracker holds no order under this supplier and reference.
    UnknownOrder,
    /// The supplier dated it before the last update applied.
    Older {
        /// The supplier's time of the last applied update.
        last_applied: DateTime<Utc>,
    },
    /// The order has already moved past it (a stale poll saying `processing` after a
    /// webhook said `shipped`, a cancel after shipping).
    Regression {
        /// The status kept.
        current: OrderStatus,
    },
    /// The order is cancelled, returned or failed, and nothing moves it.
    Terminal {
        /// The status kept.
        current: OrderStatus,
    },
    /// Not a move the lifecycle has (returned before it shipped).
    NotAllowed {
        /// The status kept.
        current: OrderStatus,
    },
    /// A word no status map knows; kept as the raw word, the status stays.
    UnknownWord(String),
    /// The same status, word and time as already held: a redelivery.
    Duplicate,
    /// An acknowledgement naming another supplier order id than the one already known.
    ConflictingAck {
        /// The id kept.
        known: String,
    },
}

/// What happened to the status an update carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum TrackOutcome {
    /// The status moved.
    Applied {
        /// Before.
        from: OrderStatus,
        /// After.
        to: OrderStatus,
    },
    /// The status the order already had, with a new word or a newer time (both recorded).
    Unchanged,
    /// Not applied, and why.
    Ignored(IgnoreReason),
    /// The update carried no status (a shipment event, a line cancel).
    NoStatus,
}

/// What happened to one parcel an update carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum ShipmentOutcome {
    /// A parcel not seen before.
    Added {
        /// Its tracking number, if it has one.
        tracking_number: Option<String>,
    },
    /// A known parcel; the report filled in fields it lacked (carrier, content, ...).
    Merged {
        /// Its tracking number, if it has one.
        tracking_number: Option<String>,
    },
    /// A known parcel, nothing new.
    Duplicate {
        /// Its tracking number, if it has one.
        tracking_number: Option<String>,
    },
    /// Not kept: the order already holds
    /// [`MAX_SHIPMENTS_PER_ORDER`](super::MAX_SHIPMENTS_PER_ORDER) parcels.
    OverLimit {
        /// Its tracking number, if it has one.
        tracking_number: Option<String>,
    },
}

/// What one update did to one order.
///
/// ```
/// # fn demo(report: dropship::fulfillment::tracking::TrackReport) {
/// use dropship::fulfillment::tracking::{IgnoreReason, TrackOutcome};
/// match &report.outcome {
///     TrackOutcome::Applied { from, to } => println!("{}: {from} -> {to}", report.reference),
///     TrackOutcome::Ignored(IgnoreReason::UnknownWord(w)) => println!("add {w:?} to the map"),
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackReport {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Which order.
    pub reference: OrderRef,
    /// What happened to the status the update carried.
    pub outcome: TrackOutcome,
    /// A further move the order's lines made (parcels covering every line move a
    /// `processing` order to `shipped`), as `(from, to)`.
    pub derived: Option<(OrderStatus, OrderStatus)>,
    /// One entry per parcel the update carried, in its order.
    pub shipments: Vec<ShipmentOutcome>,
    /// The order's status after the update (`None` for an unknown order).
    pub status: Option<OrderStatus>,
}

impl TrackReport {
    pub(crate) fn unknown_order(supplier: SupplierId, reference: OrderRef) -> Self {
        TrackReport {
            supplier,
            reference,
            outcome: TrackOutcome::Ignored(IgnoreReason::UnknownOrder),
            derived: None,
            shipments: Vec::new(),
            status: None,
        }
    }

    /// Why the status was ignored, if it was.
    pub fn ignored(&self) -> Option<&IgnoreReason> {
        match &self.outcome {
            TrackOutcome::Ignored(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether the update changed anything: a status move, a new word, a parcel.
    pub fn changed(&self) -> bool {
        matches!(
            self.outcome,
            TrackOutcome::Applied { .. } | TrackOutcome::Unchanged
        ) || self.derived.is_some()
            || self.shipments.iter().any(|s| {
                matches!(
                    s,
                    ShipmentOutcome::Added { .. } | ShipmentOutcome::Merged { .. }
                )
            })
    }
}

/// One entry of the order change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderChange {
    /// Position in the feed: strictly increasing across one tracker.
    pub seq: u64,
    /// Which supplier.
    pub supplier: SupplierId,
    /// Which order.
    pub reference: OrderRef,
    /// When the tracker made the change (its clock).
    pub at: DateTime<Utc>,
    /// What changed.
    pub kind: OrderChangeKind,
}

/// What an [`OrderChange`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
#[non_exhaustive]
pub enum OrderChangeKind {
    /// The order is now tracked.
    Tracked,
    /// The supplier acknowledged it (by its answer to the placement, or by reporting on it).
    Acknowledged {
        /// The supplier's order id, when known.
        supplier_order_id: Option<String>,
    },
    /// The status moved.
    Status {
        /// Before.
        from: OrderStatus,
        /// After.
        to: OrderStatus,
        /// The path the move came by.
        source: UpdateSource,
    },
    /// A parcel was added, or a known one completed.
    Shipment {
        /// The parcel as now held.
        shipment: Shipment,
        /// `true` for a new parcel, `false` for a completed one.
        new: bool,
    },
    /// Per-line progress changed.
    Lines {
        /// Every line, as now held.
        lines: Vec<LineProgress>,
    },
    /// The supplier used a word no status map knows; the status stayed.
    UnknownWord {
        /// The word (trimmed, capped in length).
        word: String,
    },
    /// The order was removed from the tracker.
    Forgotten,
}

/// A subscription to the order change feed; like the inventory sync's
/// [`ChangeFeed`](crate::sync::ChangeFeed), each subscriber has a bounded queue and learns
/// when it lagged (re-read with [`OrderTracker::all`](super::OrderTracker::all) then).
pub type OrderFeed = crate::sync::Feed<OrderChange>;
