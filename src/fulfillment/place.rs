//! [`Fulfillment`]: accept (validate, route, reserve), place exactly once, cancel.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tokio::sync::broadcast;

use super::builder::FulfillmentBuilder;
use super::outcome::{Accepted, FulfillmentEvent, Placement, SubOrderOutcome};
use super::reserve::{Hold, Ledger};
use super::route::{Candidate, Plan, RoutingPolicy, SubOrder, route};
use super::tracking::OrderTracker;
use super::validate::{AddressField, sub_order_problems};
use crate::dropshipper::Dropshipper;
use crate::error::{Dispatch, Error, ErrorKind, Problem, Result};
use crate::model::{
    Order, OrderAck, OrderHandle, OrderRef, OrderState, OrderStatus, Sku, SupplierId,
};
use crate::sync::{InventorySync, lock};

pub(crate) struct Inner {
    pub(crate) sync: InventorySync,
    pub(crate) suppliers: Vec<Arc<dyn Dropshipper>>,
    pub(crate) policy: RoutingPolicy,
    pub(crate) buffers: HashMap<SupplierId, u64>,
    pub(crate) sku_buffers: HashMap<(SupplierId, Sku), u64>,
    pub(crate) required: HashMap<SupplierId, Vec<AddressField>>,
    pub(crate) ttl: Duration,
    pub(crate) sell_stale: bool,
    pub(crate) ledger: Mutex<Ledger>,
    pub(crate) placements: Mutex<HashMap<OrderRef, Record>>,
    pub(crate) feed: broadcast::Sender<FulfillmentEvent>,
    pub(crate) tracker: OrderTracker,
    pub(crate) untracked: std::collections::HashSet<SupplierId>,
}

/// What a supplier with untracked stock (made to order) can take of any SKU it spells.
const UNTRACKED_UNITS: u64 = crate::model::MAX_STOCK_QUANTITY;

#[derive(Debug, Clone)]
pub(crate) enum Record {
    InFlight,
    Placed(OrderAck),
}

/// Orders from acceptance to supplier acknowledgement: validation, routing, reservations and
/// exactly-once placement, over an [`InventorySync`].
///
/// ```no_run
/// # async fn demo(sync: dropship::sync::InventorySync, order: dropship::Order) -> dropship::Result<()> {
/// use dropship::fulfillment::{Fulfillment, RoutingPolicy};
///
/// let fulfillment = Fulfillment::builder(sync).policy(RoutingPolicy::MostStock).build()?;
/// let plan = fulfillment.plan(&order)?; // inspect before committing to anything
/// println!("{} sub-orders, split: {}", plan.sub_orders.len(), plan.is_split());
/// let accepted = fulfillment.accept(&order)?; // stock is now reserved
/// let placement = fulfillment.place(&accepted).await;
/// assert!(placement.is_complete());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Fulfillment {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Fulfillment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fulfillment")
            .field("policy", &self.inner.policy)
            .field("holds", &lock(&self.inner.ledger).all().len())
            .finish_non_exhaustive()
    }
}

impl Fulfillment {
    /// A builder over `sync`, whose suppliers orders are placed with.
    pub fn builder(sync: InventorySync) -> FulfillmentBuilder {
        FulfillmentBuilder::new(sync)
    }

    /// A fulfillment over `sync` with the file's `"fulfillment"` section and each supplier's
    /// own (buffers, required address fields, unit costs for `lowest_cost` routing).
    pub fn from_config(
        file: &crate::config::ConfigFile,
        sync: InventorySync,
    ) -> Result<Fulfillment> {
        use crate::config::RoutingConfig;
        let f = &file.fulfillment;
        let mut book = super::PriceBook::new();
        let mut builder = Fulfillment::builder(sync)
            .reservation_ttl(f.reservation_ttl)
            .sell_stale(f.sell_stale);
        for s in &file.suppliers {
            let cfg = &s.fulfillment;
            if cfg.safety_buffer > 0 {
                builder = builder.safety_buffer(s.id.clone(), cfg.safety_buffer);
            }
            for (sku, units) in cfg.sku_buffers() {
                builder = builder.safety_buffer_for(s.id.clone(), sku, units);
            }
            if !cfg.required_address_fields.is_empty() {
                builder = builder.require_address_fields(
                    s.id.clone(),
                    cfg.required_address_fields.iter().copied(),
                );
            }
            if cfg.untracked_stock {
                builder = builder.untracked_stock(s.id.clone());
            }
            for (sku, cost) in cfg.costs() {
                book = book.with(s.id.clone(), sku, cost);
            }
        }
        let policy = match &f.routing {
            RoutingConfig::MostStock => RoutingPolicy::MostStock,
            RoutingConfig::LowestCost => RoutingPolicy::LowestCost(Arc::new(book)),
            RoutingConfig::Priority(ids) => RoutingPolicy::Priority(
                ids.iter()
                    .filter_map(|id| SupplierId::new(id.as_str()).ok())
                    .collect(),
            ),
        };
        let clock_sync = builder.sync.clone();
        let tracker = OrderTracker::builder()
            .ack_timeout(f.ack_timeout)
            .clock(move || clock_sync.now())
            .build()?;
        builder.policy(policy).tracker(tracker).build()
    }

    /// The inventory sync underneath.
    pub fn sync(&self) -> &InventorySync {
        &self.inner.sync
    }

    /// The order tracker: every sub-order is registered before it is sent and acknowledged
    /// when the supplier answers, so an order never acknowledged is reported by
    /// [`OrderTracker::unacknowledged`], not forgotten. Feed it polls and webhook events.
    pub fn tracker(&self) -> &OrderTracker {
        &self.inner.tracker
    }

    /// A subscription to fulfillment events.
    pub fn subscribe(&self) -> broadcast::Receiver<FulfillmentEvent> {
        self.inner.feed.subscribe()
    }

    fn supplier(&self, id: &SupplierId) -> Option<&Arc<dyn Dropshipper>> {
        self.inner.suppliers.iter().find(|s| s.id() == id)
    }

    fn buffer(&self, supplier: &SupplierId, sku: &Sku) -> u64 {
        self.inner
            .sku_buffers
            .get(&(supplier.clone(), sku.clone()))
            .or_else(|| self.inner.buffers.get(supplier))
            .copied()
            .unwrap_or(0)
    }

    /// Units of `sku` at each supplier that can take orders (the sync's available-to-sell),
    /// after stale values (unless allowed), safety buffers and holds.
    fn candidates(&self, sku: &Sku, ledger: &mut Ledger, now: DateTime<Utc>) -> Vec<Candidate> {
        let ats = self.inner.sync.available_to_sell(sku);
        let mut out: Vec<Candidate> = ats
            .suppliers
            .into_iter()
            .filter(|a| !self.inner.untracked.contains(&a.supplier))
            .filter(|a| {
                self.supplier(&a.supplier)
                    .is_some_and(|d| d.capabilities().place_order)
            })
            .map(|a| {
                let units = if self.inner.sell_stale {
                    a.guaranteed
                } else {
                    a.fresh
                };
                (a.supplier, units, Some(a.observed_at))
            })
            .map(|(supplier, units, last_read)| {
                let held = ledger.held(&supplier, sku, now, last_read);
                let available = units
                    .saturating_sub(self.buffer(&supplier, sku))
                    .saturating_sub(held);
                Candidate {
                    supplier,
                    available,
                    untracked: false,
                }
            })
            .collect();
        // Makers to order: any SKU they can spell, with no count to check against.
        for d in &self.inner.suppliers {
            if self.inner.untracked.contains(d.id())
                && d.capabilities().place_order
                && d.supplier_sku(sku).is_ok()
            {
                out.push(Candidate {
                    supplier: d.id().clone(),
                    available: UNTRACKED_UNITS,
                    untracked: true,
                });
            }
        }
        out
    }

    /// Units of `sku` that a new order could reserve now, across suppliers (a supplier with
    /// untracked stock counts as [`MAX_STOCK_QUANTITY`](crate::MAX_STOCK_QUANTITY)).
    pub fn available_to_sell(&self, sku: &Sku) -> u64 {
        let now = self.inner.sync.now();
        let mut ledger = lock(&self.inner.ledger);
        self.candidates(sku, &mut ledger, now)
            .iter()
            .map(|c| c.available)
            .sum()
    }

    /// Every hold in the ledger (lapsed ones excluded once looked at).
    pub fn holds(&self) -> Vec<Hold> {
        lock(&self.inner.ledger).all()
    }

    fn routed(&self, order: &Order, ledger: &mut Ledger, now: DateTime<Utc>) -> Result<Plan> {
        order.validate()?;
        let candidates: Vec<Vec<Candidate>> = order
            .lines
            .iter()
            .map(|l| self.candidates(&l.sku, ledger, now))
            .collect();
        let plan = route(
            &order.reference,
            &order.lines,
            &candidates,
            &self.inner.policy,
        );
        let mut problems = Vec::new();
        for sub in &plan.sub_orders {
            let Some(supplier) = self.supplier(&sub.supplier) else {
                continue;
            };
            let lines: Vec<(usize, &crate::model::OrderLine)> = sub
                .lines
                .iter()
                .map(|l| {
                    let index = order.lines.iter().position(|o| o.sku == l.sku).unwrap_or(0);
                    (index, l)
                })
                .collect();
            let required = self
                .inner
                .required
                .get(&sub.supplier)
                .map_or(&[][..], Vec::as_slice);
            problems.extend(sub_order_problems(
                supplier.as_ref(),
                &lines,
                &order.ship_to,
                required,
            ));
        }
        if !problems.is_empty() {
            return Err(Error::invalid(problems));
        }
        Ok(plan)
    }

    /// Validates and routes `order` without reserving anything: the plan to inspect, with any
    /// shortage listed. Validation failures are one [`Invalid`](ErrorKind::Invalid) error
    /// naming every line and field.
    pub fn plan(&self, order: &Order) -> Result<Plan> {
        let now = self.inner.sync.now();
        let mut ledger = lock(&self.inner.ledger);
        self.routed(order, &mut ledger, now)
    }

    /// Validates, routes and reserves `order` in one step: concurrent calls for the last units
    /// never both succeed. An order that cannot be covered in full reserves nothing and fails
    /// with [`OutOfStock`](ErrorKind::OutOfStock), one problem per short line.
    pub fn accept(&self, order: &Order) -> Result<Accepted> {
        let now = self.inner.sync.now();
        let expires_at =
            now + chrono::Duration::from_std(self.inner.ttl).unwrap_or(chrono::Duration::MAX);
        let plan = {
            let mut ledger = lock(&self.inner.ledger);
            let plan = self.routed(order, &mut ledger, now)?;
            if !plan.is_complete() {
                let problems = plan
                    .shortages
                    .iter()
                    .map(|s| {
                        Problem::new(
                            format!("lines[{}].quantity", s.line),
                            format!(
                                "{} of {} ordered, {} available to sell",
                                s.sku, s.wanted, s.available
                            ),
                        )
                    })
                    .collect::<Vec<_>>();
                return Err(Error::out_of_stock(problems));
            }
            for sub in &plan.sub_orders {
                for line in &sub.lines {
                    ledger.hold(
                        &sub.supplier,
                        &line.sku,
                        u64::from(line.quantity),
                        &sub.reference,
                        expires_at,
                    );
                }
            }
            plan
        };
        let _ = self.inner.feed.send(FulfillmentEvent::Reserved {
            reference: order.reference.clone(),
            sub_orders: plan
                .sub_orders
                .iter()
                .map(|s| (s.supplier.clone(), s.reference.clone()))
                .collect(),
        });
        Ok(Accepted {
            order: order.clone(),
            plan,
            expires_at,
        })
    }

    /// Places every sub-order of `accepted`, concurrently, each exactly once.
    ///
    /// A sub-order already acknowledged (by an earlier call) is not sent again. For a supplier
    /// that can find orders by reference but does not deduplicate placements itself, the
    /// reference is looked up first, so a re-run in a new process finds the order instead of
    /// creating a second one (and nothing is sent when that check fails). A placement
    /// whose answer was lost after it may have reached the supplier is looked up by reference
    /// where the supplier supports it, and re-sent (under the same reference, the idempotency
    /// key) only when the supplier says it does not have it or deduplicates by itself;
    /// otherwise it is reported [`Ambiguous`](SubOrderOutcome::Ambiguous), never re-sent blind.
    pub async fn place(&self, accepted: &Accepted) -> Placement {
        let results =
            join_all(accepted.plan.sub_orders.iter().map(|sub| async move {
                (sub.clone(), self.place_one(&accepted.order, sub).await)
            }))
            .await;
        Placement {
            reference: accepted.order.reference.clone(),
            results,
        }
    }

    /// [`accept`](Fulfillment::accept) then [`place`](Fulfillment::place).
    pub async fn fulfill(&self, order: &Order) -> Result<Placement> {
        let accepted = self.accept(order)?;
        Ok(self.place(&accepted).await)
    }

    async fn place_one(&self, order: &Order, sub: &SubOrder) -> SubOrderOutcome {
        {
            let mut placements = lock(&self.inner.placements);
            match placements.get(&sub.reference) {
                Some(Record::Placed(ack)) => {
                    let mut ack = ack.clone();
                    ack.already_existed = true;
                    return SubOrderOutcome::Placed(ack);
                }
                Some(Record::InFlight) => return SubOrderOutcome::InProgress,
                None => {
                    placements.insert(sub.reference.clone(), Record::InFlight);
                }
            }
        }
        let outcome = match self.supplier(&sub.supplier) {
            Some(supplier) => {
                // Registered before sending: if this process dies mid-call, the tracker's
                // export still names the order as sent and unacknowledged.
                let _ = self.inner.tracker.track(
                    sub.supplier.clone(),
                    OrderHandle::by_reference(sub.reference.clone()),
                    sub.lines.clone(),
                    self.inner.sync.now(),
                );
                let sub_order = Order {
                    reference: sub.reference.clone(),
                    lines: sub.lines.clone(),
                    ship_to: order.ship_to.clone(),
                    shipping_method: order.shipping_method.clone(),
                    note: order.note.clone(),
                    created_at: order.created_at,
                };
                self.send(supplier.as_ref(), &sub_order).await
            }
            None => SubOrderOutcome::Rejected(
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "supplier {} is not part of the inventory sync",
                        sub.supplier
                    ),
                )
                .with_dispatch(Dispatch::NotSent),
            ),
        };
        self.settle(sub, &outcome);
        outcome
    }

    async fn send(&self, supplier: &dyn Dropshipper, order: &Order) -> SubOrderOutcome {
        let caps = supplier.capabilities();
        let can_look_up = caps.order_status && caps.order_lookup_by_reference;
        if can_look_up && !caps.idempotent_orders {
            // The supplier does not deduplicate by itself: a re-run after a crash (a new
            // process, no memory of the first run) must find the order, not send it again.
            match supplier
                .order_status(&OrderHandle::by_reference(order.reference.clone()))
                .await
            {
                Ok(state) => return SubOrderOutcome::Placed(ack_from_state(state)),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    let message = format!(
                        "could not check whether {} already exists, so it was not sent: {}",
                        order.reference,
                        e.message()
                    );
                    return SubOrderOutcome::Rejected(
                        Error::new(e.kind(), message)
                            .with_supplier(supplier.id().clone())
                            .with_operation(crate::error::Operation::PlaceOrder)
                            .with_dispatch(Dispatch::NotSent),
                    );
                }
            }
        }
        let first = match supplier.place_order(order).await {
            Ok(ack) => return SubOrderOutcome::Placed(ack),
            Err(e) if !maybe_processed(&e) => return SubOrderOutcome::Rejected(e),
            Err(e) => e,
        };
        tracing::warn!(supplier = %supplier.id(), reference = %order.reference, "placement answer lost; checking with the supplier");
        if can_look_up {
            match supplier
                .order_status(&OrderHandle::by_reference(order.reference.clone()))
                .await
            {
                Ok(state) => return SubOrderOutcome::Placed(ack_from_state(state)),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(_) => return SubOrderOutcome::Ambiguous(first),
            }
        } else if !caps.idempotent_orders {
            return SubOrderOutcome::Ambiguous(first);
        }
        // The supplier does not have it, or deduplicates this reference itself: one more send.
        match supplier.place_order(order).await {
            Ok(ack) => SubOrderOutcome::Placed(ack),
            Err(e) if maybe_processed(&e) => SubOrderOutcome::Ambiguous(e),
            Err(e) => SubOrderOutcome::Rejected(e),
        }
    }

    fn settle(&self, sub: &SubOrder, outcome: &SubOrderOutcome) {
        let now = self.inner.sync.now();
        let event = match outcome {
            SubOrderOutcome::Placed(ack) => {
                self.inner.tracker.acknowledged(ack);
                lock(&self.inner.ledger).commit(&sub.reference, now);
                lock(&self.inner.placements)
                    .insert(sub.reference.clone(), Record::Placed(ack.clone()));
                FulfillmentEvent::Placed(ack.clone())
            }
            SubOrderOutcome::Ambiguous(_) => {
                // Held as if placed: if it was, the stock is gone at the supplier.
                lock(&self.inner.ledger).commit(&sub.reference, now);
                lock(&self.inner.placements).remove(&sub.reference);
                FulfillmentEvent::Ambiguous {
                    reference: sub.reference.clone(),
                    supplier: sub.supplier.clone(),
                }
            }
            SubOrderOutcome::Rejected(e) => {
                // Never created at the supplier: nothing to track.
                self.inner.tracker.forget(&sub.supplier, &sub.reference);
                lock(&self.inner.placements).remove(&sub.reference);
                self.release_sub(&sub.reference);
                FulfillmentEvent::Rejected {
                    reference: sub.reference.clone(),
                    supplier: sub.supplier.clone(),
                    kind: e.kind(),
                }
            }
            SubOrderOutcome::InProgress => return,
        };
        let _ = self.inner.feed.send(event);
    }

    fn release_sub(&self, reference: &OrderRef) {
        let released = lock(&self.inner.ledger).release(reference);
        let units: u64 = released.iter().map(|r| r.2).sum();
        if units > 0 {
            let _ = self.inner.feed.send(FulfillmentEvent::Released {
                reference: reference.clone(),
                units,
            });
        }
    }

    /// Gives back the stock of an accepted order that will not be placed.
    pub fn release(&self, accepted: &Accepted) {
        for sub in &accepted.plan.sub_orders {
            self.release_sub(&sub.reference);
        }
    }

    /// Cancels an accepted order: sub-orders not placed yet release their stock at once;
    /// placed ones are cancelled at their supplier, and release their stock when the supplier
    /// confirms the cancellation. One result per placed sub-order.
    pub async fn cancel(&self, accepted: &Accepted) -> Vec<(SupplierId, Result<OrderState>)> {
        let mut out = Vec::new();
        for sub in &accepted.plan.sub_orders {
            let placed = match lock(&self.inner.placements).get(&sub.reference) {
                Some(Record::Placed(ack)) => Some(ack.handle()),
                _ => None,
            };
            let Some(handle) = placed else {
                self.release_sub(&sub.reference);
                continue;
            };
            let Some(supplier) = self.supplier(&sub.supplier) else {
                continue;
            };
            let result = supplier.cancel_order(&handle).await;
            if let Ok(state) = &result
                && state.status == OrderStatus::Cancelled
            {
                self.release_sub(&sub.reference);
                let _ = self.inner.feed.send(FulfillmentEvent::Cancelled {
                    reference: sub.reference.clone(),
                    supplier: sub.supplier.clone(),
                });
            }
            out.push((sub.supplier.clone(), result));
        }
        out
    }
}

/// Whether a failed placement may have created the order: the request left and no complete
/// answer came, or the supplier answered with a server error (which can follow a commit).
fn maybe_processed(e: &Error) -> bool {
    match e.dispatch() {
        Dispatch::MaybeProcessed => true,
        Dispatch::Answered => e.kind() == ErrorKind::Transient,
        _ => false,
    }
}

fn ack_from_state(state: OrderState) -> OrderAck {
    OrderAck {
        supplier: state.supplier,
        reference: state.handle.reference.clone(),
        supplier_order_id: state.handle.supplier_order_id.unwrap_or_default(),
        status: state.status,
        accepted_at: state.updated_at.unwrap_or_else(Utc::now),
        already_existed: true,
    }
}
