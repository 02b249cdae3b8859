//! [`Fulfillment`]: accept (validate, route, reserve), place exactly once, cancel.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::reserve::{Hold, Ledger};
use super::route::{Candidate, Plan, RoutingPolicy, SubOrder, route};
use super::tracking::OrderTracker;
use super::validate::{AddressField, sub_order_problems};
use crate::dropshipper::Dropshipper;
use crate::error::{Dispatch, Error, ErrorKind, Problem, Result};
use crate::model::{
    Order, OrderAck, OrderHandle, OrderRef, OrderState, OrderStatus, Sku, SupplierId,
};
use crate::sync::InventorySync;

/// Default time an accepted order's reservation lasts without a supplier acknowledgement.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);

/// Builds a [`Fulfillment`].
pub struct FulfillmentBuilder {
    sync: InventorySync,
    policy: RoutingPolicy,
    buffers: HashMap<SupplierId, u64>,
    sku_buffers: HashMap<(SupplierId, Sku), u64>,
    required: HashMap<SupplierId, Vec<AddressField>>,
    ttl: Duration,
    sell_stale: bool,
    feed_capacity: usize,
    tracker: Option<OrderTracker>,
}

impl fmt::Debug for FulfillmentBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FulfillmentBuilder")
            .field("policy", &self.policy)
            .field("ttl", &self.ttl)
            .field("sell_stale", &self.sell_stale)
            .finish_non_exhaustive()
    }
}

impl FulfillmentBuilder {
    /// How lines are assigned to suppliers (default [`RoutingPolicy::MostStock`]).
    pub fn policy(mut self, policy: RoutingPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Units of every SKU at `supplier` held back from available-to-sell, to absorb the drift
    /// between syncs.
    pub fn safety_buffer(mut self, supplier: SupplierId, units: u64) -> Self {
        self.buffers.insert(supplier, units);
        self
    }

    /// Units of one SKU at `supplier` held back; overrides the supplier's buffer for it.
    pub fn safety_buffer_for(mut self, supplier: SupplierId, sku: Sku, units: u64) -> Self {
        self.sku_buffers.insert((supplier, sku), units);
        self
    }

    /// Address fields `supplier` needs beyond the ones every order has.
    pub fn require_address_fields(
        mut self,
        supplier: SupplierId,
        fields: impl IntoIterator<Item = AddressField>,
    ) -> Self {
        self.required.entry(supplier).or_default().extend(fields);
        self
    }

    /// How long a reservation lasts without an acknowledgement (default
    /// [`DEFAULT_RESERVATION_TTL`]).
    pub fn reservation_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether stock flagged stale may be promised (default `false`: a supplier that stopped
    /// answering gets no new orders until it answers again).
    pub fn sell_stale(mut self, allow: bool) -> Self {
        self.sell_stale = allow;
        self
    }

    /// The order tracker placements are registered with (default: a new one, ack timeout
    /// [`DEFAULT_ACK_TIMEOUT`](super::tracking::DEFAULT_ACK_TIMEOUT)).
    pub fn tracker(mut self, tracker: OrderTracker) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// Queue length of each event subscriber.
    pub fn feed_capacity(mut self, capacity: usize) -> Self {
        self.feed_capacity = capacity.max(1);
        self
    }

    /// The fulfillment; a [`Config`](ErrorKind::Config) error names settings for suppliers the
    /// sync does not hold and a zero reservation time.
    pub fn build(self) -> Result<Fulfillment> {
        let suppliers = self.sync.suppliers();
        let known = |id: &SupplierId| suppliers.iter().any(|s| s.id() == id);
        let mut problems = Vec::new();
        for id in self
            .buffers
            .keys()
            .chain(self.sku_buffers.keys().map(|(s, _)| s))
            .chain(self.required.keys())
        {
            if !known(id) {
                problems.push(Problem::new(
                    "suppliers",
                    format!("{id} has settings but is not part of the inventory sync"),
                ));
            }
        }
        if self.ttl.is_zero() {
            problems.push(Problem::new("reservation_ttl", "must be longer than zero"));
        }
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        let (feed, _) = broadcast::channel(self.feed_capacity);
        let tracker = match self.tracker {
            Some(t) => t,
            // Same clock as the sync, so reservation and acknowledgement times agree.
            None => {
                let sync = self.sync.clone();
                OrderTracker::builder().clock(move || sync.now()).build()?
            }
        };
        Ok(Fulfillment {
            inner: Arc::new(Inner {
                suppliers,
                sync: self.sync,
                policy: self.policy,
                buffers: self.buffers,
                sku_buffers: self.sku_buffers,
                required: self.required,
                ttl: self.ttl,
                sell_stale: self.sell_stale,
                ledger: Mutex::new(Ledger::default()),
                placements: Mutex::new(HashMap::new()),
                feed,
                tracker,
            }),
        })
    }
}

struct Inner {
    sync: InventorySync,
    suppliers: Vec<Arc<dyn Dropshipper>>,
    policy: RoutingPolicy,
    buffers: HashMap<SupplierId, u64>,
    sku_buffers: HashMap<(SupplierId, Sku), u64>,
    required: HashMap<SupplierId, Vec<AddressField>>,
    ttl: Duration,
    sell_stale: bool,
    ledger: Mutex<Ledger>,
    placements: Mutex<HashMap<OrderRef, Record>>,
    feed: broadcast::Sender<FulfillmentEvent>,
    tracker: OrderTracker,
}

#[derive(Debug, Clone)]
enum Record {
    InFlight,
    Placed(OrderAck),
}

/// An order that passed validation, was routed, and holds its stock. Serializable: persist it
/// before [`Fulfillment::place`] so a crash-and-rerun places the same sub-orders under the same
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
    /// stock stays held as if placed; resolve it with [`Fulfillment::place`] again once the
    /// supplier answers, which looks it up before placing.
    Ambiguous(Error),
    /// Another call is placing this sub-order right now.
    InProgress,
}

/// The outcome of [`Fulfillment::place`], per sub-order.
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
    inner: Arc<Inner>,
}

impl fmt::Debug for Fulfillment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fulfillment")
            .field("policy", &self.inner.policy)
            .field("holds", &lock(&self.inner.ledger).all().len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the maps consistent before anything can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Fulfillment {
    /// A builder over `sync`, whose suppliers orders are placed with.
    pub fn builder(sync: InventorySync) -> FulfillmentBuilder {
        FulfillmentBuilder {
            sync,
            policy: RoutingPolicy::default(),
            buffers: HashMap::new(),
            sku_buffers: HashMap::new(),
            required: HashMap::new(),
            ttl: DEFAULT_RESERVATION_TTL,
            sell_stale: false,
            feed_capacity: 1024,
            tracker: None,
        }
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

    /// Units of `sku` at each supplier that can take orders, after stale values (unless
    /// allowed), safety buffers and holds.
    fn candidates(&self, sku: &Sku, ledger: &mut Ledger, now: DateTime<Utc>) -> Vec<Candidate> {
        let mut per: Vec<(SupplierId, u64, Option<DateTime<Utc>>)> = Vec::new();
        for s in self.inner.sync.effective_stock(sku) {
            let usable = s.stale_for.is_none() || self.inner.sell_stale;
            let units = if usable { s.available.guaranteed() } else { 0 };
            match per.iter_mut().find(|(id, _, _)| *id == s.supplier) {
                Some(e) => {
                    e.1 = e.1.saturating_add(units);
                    e.2 = e.2.max(Some(s.observed_at));
                }
                None => per.push((s.supplier, units, Some(s.observed_at))),
            }
        }
        per.into_iter()
            .filter(|(id, _, _)| {
                self.supplier(id)
                    .is_some_and(|d| d.capabilities().place_order)
            })
            .map(|(supplier, units, last_read)| {
                let held = ledger.held(&supplier, sku, now, last_read);
                let available = units
                    .saturating_sub(self.buffer(&supplier, sku))
                    .saturating_sub(held);
                Candidate {
                    supplier,
                    available,
                }
            })
            .collect()
    }

    /// Units of `sku` that a new order could reserve now, across suppliers.
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
