//! Order fulfillment on top of the adapters and the inventory sync: validate, reserve, route,
//! place exactly once, and track to delivery.
//!
//! - [`Fulfillment::plan`] validates an order (every line, every field the chosen supplier
//!   needs) and routes it by a [`RoutingPolicy`] into a [`Plan`] the caller can inspect.
//! - [`Fulfillment::accept`] does the same and reserves the stock atomically: concurrent
//!   orders for the last units never oversell. Reservations lapse after a time unless a
//!   supplier acknowledges; a safety buffer per supplier or SKU is never promised.
//! - [`Fulfillment::place`] sends each sub-order under a reference derived from the
//!   merchant's reference and the supplier ([`sub_order_reference`]), the idempotency key of
//!   every retry and re-run, and looks an order up before re-sending after a lost answer.
//! - [`tracking`] merges status updates from polls and webhooks into one order state.

mod builder;
mod outcome;
mod place;
mod reserve;
mod route;
pub mod tracking;
mod validate;

pub use builder::{DEFAULT_RESERVATION_TTL, FulfillmentBuilder};
pub use outcome::{Accepted, FulfillmentEvent, Placement, SubOrderOutcome};
pub use place::Fulfillment;
pub use reserve::{Hold, HoldId, HoldState};
pub use route::{Candidate, Plan, PriceBook, RoutingPolicy, Shortage, SubOrder};
pub use validate::AddressField;

use crate::auth::crypto::{hex_lower, sha256};
use crate::model::{OrderRef, SupplierId};

/// The reference a supplier receives for its part of an order: `{reference}-{supplier}`, or,
/// when that would pass [`OrderRef::MAX_LEN`], the reference cut short plus a hash of both.
///
/// It depends on nothing but the two ids, so a retry, a crash-and-rerun or a second call
/// derives the same key, and two suppliers of one split order get distinct keys.
///
/// ```
/// use dropship::fulfillment::sub_order_reference;
/// use dropship::{OrderRef, SupplierId};
/// let r = OrderRef::new("SO-1001").unwrap();
/// let cj = sub_order_reference(&r, &SupplierId::new("cj").unwrap());
/// assert_eq!(cj.as_str(), "SO-1001-cj");
/// assert_eq!(cj, sub_order_reference(&r, &SupplierId::new("cj").unwrap()));
/// ```
pub fn sub_order_reference(reference: &OrderRef, supplier: &SupplierId) -> OrderRef {
    let plain = format!("{}-{}", reference.as_str(), supplier.as_str());
    if let Ok(r) = OrderRef::new(plain.as_str()) {
        return r;
    }
    let digest = hex_lower(&sha256(
        format!("{}\n{}", reference.as_str(), supplier.as_str()).as_bytes(),
    ));
    let hash = &digest[..16];
    let keep = OrderRef::MAX_LEN - hash.len() - 1;
    let head: String = reference.as_str().chars().take(keep).collect();
    // Both parts are printable ASCII by construction, so this never falls back.
    OrderRef::new(format!("{head}~{hash}")).unwrap_or_else(|_| reference.clone())
}
