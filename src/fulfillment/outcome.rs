//! What accepting and placing an order gives back, and the fulfillment feed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::route::{Plan, SubOrder};
use crate::error::{Error, ErrorKind};
use crate::model::{Order, OrderAck, OrderRef, SupplierId};

/// An order that passed validation, was routed, and holds its stock. Serializable: persist it
/// before [`Fulfillment::place`](super::Fulfillment::place) so a crash-and-rerun places the same sub-orders under the same
/// references, which is what keeps a rerun from creating a second supplier order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The merchant's order.
    pub order: Order,
    /// Where each line goes.
    pub plan: Plan,
    /// When the reservations lapse if no supplier acknowledges.
    pub expires_at: DateTime<Utc>,
}

/// What happened to one sub-order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SubOrderOutcome {
    /// The supplier has the order (`already_existed` when this call found it rather than
    /// created it: a replay, a lookup after a lost answer).
    Placed(OrderAck),
    /// The supplier refused it, or it never left the process; its stock was released.
    Rejected(Error),
    /// It may have reached the supplier and nothing could tell whether it was created (no
    /// lookup by reference, no idempotency at the supplier, or the lookup failed too). Its
    /// stock stays held as if placed; resolve it with [`Fulfillment::place`](super::Fulfillment::place) again once the
    /// supplier answers, which looks it up before placing.
    Ambiguous(Error),
    /// Another call is placing this sub-order right now.
    InProgress,
}

/// The outcome of [`Fulfillment::place`](super::Fulfillment::place), per sub-order.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The merchant's reference.
    pub reference: OrderRef,
    /// Each sub-order with its outcome, in plan order.
    pub results: Vec<(SubOrder, SubOrderOutcome)>,
}

impl Placement {
    /// Whether every sub-order is placed.
    pub fn is_complete(&self) -> bool {
        self.results
            .iter()
            .all(|(_, o)| matches!(o, SubOrderOutcome::Placed(_)))
    }

    /// The acknowledgements received.
    pub fn acks(&self) -> Vec<&OrderAck> {
        self.results
            .iter()
            .filter_map(|(_, o)| match o {
                SubOrderOutcome::Placed(ack) => Some(ack),
                _ => None,
            })
            .collect()
    }
}

/// An entry of the fulfillment feed. References and supplier ids only: never an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
#[non_exhaustive]
pub enum FulfillmentEvent {
    /// Stock was reserved for an accepted order.
    Reserved {
        /// The merchant's reference.
        reference: OrderRef,
        /// The plan's sub-order references with their suppliers.
        sub_orders: Vec<(SupplierId, OrderRef)>,
    },
    /// A supplier acknowledged a sub-order.
    Placed(OrderAck),
    /// A supplier refused a sub-order (its stock was released).
    Rejected {
        /// The sub-order reference.
        reference: OrderRef,
        /// The supplier.
        supplier: SupplierId,
        /// Why, as a kind.
        kind: ErrorKind,
    },
    /// A sub-order's fate is unknown; its stock stays held.
    Ambiguous {
        /// The sub-order reference.
        reference: OrderRef,
        /// The supplier.
        supplier: SupplierId,
    },
    /// Held stock was returned to available-to-sell.
    Released {
        /// The sub-order reference.
        reference: OrderRef,
        /// Units released.
        units: u64,
    },
    /// A supplier confirmed a cancellation.
    Cancelled {
        /// The sub-order reference.
        reference: OrderRef,
        /// The supplier.
        supplier: SupplierId,
    },
}
