//! [`OrderTracker`]: polls, webhooks and acknowledgements merged into one state per order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::record::{Effects, TrackedOrder, line_problems};
use super::report::{OrderChange, OrderChangeKind, OrderFeed, TrackReport, UpdateSource};
use super::snapshot::{ImportReport, TRACKING_SNAPSHOT_FORMAT, TrackingSnapshot};
use crate::dropshipper::Dropshipper;
use crate::error::{Error, ErrorKind, Operation, Problem, Result};
use crate::model::{
    OrderAck, OrderHandle, OrderLine, OrderRef, OrderState, Sku, SupplierEvent, SupplierId,
};
use crate::sync::Clock;

/// Default time a supplier has to acknowledge an order before
/// [`OrderTracker::unacknowledged`] reports it.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default queue length of each change-feed subscriber.
pub const DEFAULT_FEED_CAPACITY: usize = 1024;

type Key = (SupplierId, OrderRef);

/// Builds an [`OrderTracker`].
pub struct OrderTrackerBuilder {
    ack_timeout: Duration,
    feed_capacity: usize,
    clock: Clock,
}

impl fmt::Debug for OrderTrackerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderTrackerBuilder")
            .field("ack_timeout", &self.ack_timeout)
            .field("feed_capacity", &self.feed_capacity)
            .finish_non_exhaustive()
    }
}

impl OrderTrackerBuilder {
    /// How long a supplier has to acknowledge an order (default [`DEFAULT_ACK_TIMEOUT`]).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Queue length of each change-feed subscriber (default [`DEFAULT_FEED_CAPACITY`]).
    pub fn feed_capacity(mut self, capacity: usize) -> Self {
        self.feed_capacity = capacity;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The tracker; a [`Config`](ErrorKind::Config) error lists every problem.
    pub fn build(self) -> Result<OrderTracker> {
        let mut problems = Vec::new();
        if self.ack_timeout.is_zero() {
            problems.push(Problem::new("ack_timeout", "must be longer than zero"));
        }
        if self.feed_capacity == 0 {
            problems.push(Problem::new("feed_capacity", "must be at least 1"));
        }
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        Ok(OrderTracker::from_parts(
            self.ack_timeout,
            self.feed_capacity,
            self.clock,
        ))
    }
}

#[derive(Default)]
struct State {
    orders: BTreeMap<Key, TrackedOrder>,
    seq: u64,
}

struct Shared {
    state: Mutex<State>,
    feed: broadcast::Sender<OrderChange>,
    ack_timeout: Duration,
    clock: Clock,
}

/// Where every order sent to a supplier stands, merged from the placement's answer, status
/// polls and webhooks into one state per (supplier, reference).
///
/// Statuses only move forward through the lifecycle (see the [module docs](super)); a stale
/// poll, a late webhook or an unknown word never moves an order back, and each update says
/// what became of it in a [`TrackReport`]. Cheap to clone (one `Arc`), and every method
/// takes `&self`.
///
/// ```
/// # fn main() -> dropship::Result<()> {
/// use chrono::Utc;
/// use dropship::fulfillment::tracking::{OrderTracker, TrackOutcome};
/// use dropship::{OrderHandle, OrderLine, OrderRef, OrderState, OrderStatus, Sku, SupplierId};
///
/// let tracker = OrderTracker::new();
/// let acme = SupplierId::new("acme")?;
/// let handle = OrderHandle::by_reference(OrderRef::new("SO-1")?);
/// let lines = vec![OrderLine::new(Sku::new("MUG-1")?, 2)];
/// tracker.track(acme.clone(), handle.clone(), lines, Utc::now())?;
///
/// let state = |status: OrderStatus, word: &str| OrderState {
///     supplier: acme.clone(),
///     handle: handle.clone(),
///     status,
///     raw_status: word.into(),
///     shipments: Vec::new(),
///     updated_at: None,
/// };
/// let shipped = tracker.apply_polled(&state(OrderStatus::Shipped, "SHIPPED"));
/// assert!(matches!(shipped.outcome, TrackOutcome::Applied { .. }));
/// // A stale answer is reported, never applied.
/// let stale = tracker.apply_polled(&state(OrderStatus::Processing, "PROCESSING"));
/// assert!(stale.ignored().is_some());
/// let order = tracker.get(&acme, &handle.reference).expect("tracked");
/// assert_eq!(order.status, OrderStatus::Shipped);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OrderTracker {
    shared: Arc<Shared>,
}

impl fmt::Debug for OrderTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("OrderTracker")
            .field("orders", &state.orders.len())
            .field("ack_timeout", &self.shared.ack_timeout)
            .finish()
    }
}

impl Default for OrderTracker {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether [`OrderTracker::track`] registered a new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registered {
    /// Tracked from now on.
    New,
    /// Already tracked with the same lines (a placement retried); its state is kept.
    AlreadyTracked,
}

/// An order the supplier has not acknowledged in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unacknowledged {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Which order.
    pub reference: OrderRef,
    /// When it was sent.
    pub placed_at: DateTime<Utc>,
    /// How long it has waited.
    pub waiting: Duration,
}

/// What [`OrderTracker::poll`] did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// One report per order read.
    pub reports: Vec<TrackReport>,
    /// Orders whose read failed, with the error.
    pub failures: Vec<(OrderRef, Error)>,
    /// Orders not read: the supplier finds orders only by its own id, not yet known.
    pub skipped: Vec<OrderRef>,
}

impl OrderTracker {
    /// A tracker with the defaults.
    pub fn new() -> Self {
        OrderTracker::from_parts(
            DEFAULT_ACK_TIMEOUT,
            DEFAULT_FEED_CAPACITY,
            Arc::new(Utc::now),
        )
    }

    fn from_parts(ack_timeout: Duration, feed_capacity: usize, clock: Clock) -> Self {
        let (feed, _) = broadcast::channel(feed_capacity);
        OrderTracker {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                feed,
                ack_timeout,
                clock,
            }),
        }
    }

    /// A builder with the defaults.
    pub fn builder() -> OrderTrackerBuilder {
        OrderTrackerBuilder {
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            feed_capacity: DEFAULT_FEED_CAPACITY,
            clock: Arc::new(Utc::now),
        }
    }

    /// A new subscription to the change feed; it sees changes made from now on.
    pub fn subscribe(&self) -> OrderFeed {
        OrderFeed::new(self.shared.feed.subscribe())
    }

    fn now(&self) -> DateTime<Utc> {
        (self.shared.clock)()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Updates are made on a copy of the order and stored in one assignment, so a panic
        // while the lock is held cannot leave a half-updated order behind.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends feed entries; called with the lock held, so feed order is update order.
    fn publish(
        &self,
        state: &mut State,
        key: &Key,
        at: DateTime<Utc>,
        kinds: Vec<OrderChangeKind>,
    ) {
        for kind in kinds {
            state.seq += 1;
            // No subscriber is not an error: the feed is optional.
            let _ = self.shared.feed.send(OrderChange {
                seq: state.seq,
                supplier: key.0.clone(),
                reference: key.1.clone(),
                at,
                kind,
            });
        }
    }

    /// Applies `update` to a copy of the order, stores it, publishes what changed.
    fn update(
        &self,
        supplier: &SupplierId,
        reference: &OrderRef,
        update: impl FnOnce(&mut TrackedOrder, DateTime<Utc>) -> Effects,
    ) -> TrackReport {
        let now = self.now();
        let key = (supplier.clone(), reference.clone());
        let mut state = self.state();
        let Some(mut order) = state.orders.get(&key).cloned() else {
            tracing::debug!(supplier = %supplier, reference = %reference, "update for an untracked order");
            return TrackReport::unknown_order(supplier.clone(), reference.clone());
        };
        let fx = update(&mut order, now);
        let report = TrackReport {
            supplier: supplier.clone(),
            reference: reference.clone(),
            outcome: fx.outcome,
            derived: fx.derived,
            shipments: fx.shipments,
            status: Some(order.status.clone()),
        };
        state.orders.insert(key.clone(), order);
        self.publish(&mut state, &key, now, fx.changes);
        drop(state);
        log(&report);
        report
    }

    /// Starts tracking an order as it is sent, before the supplier answers.
    ///
    /// Only the lines are kept, never the address. Tracking the same reference again with
    /// the same lines (a retried placement) keeps the state; with other lines it is an
    /// [`Invalid`](ErrorKind::Invalid) error, as are empty lines, zero quantities and a SKU
    /// on two lines.
    pub fn track(
        &self,
        supplier: SupplierId,
        handle: OrderHandle,
        lines: Vec<OrderLine>,
        placed_at: DateTime<Utc>,
    ) -> Result<Registered> {
        let problems = line_problems("lines", lines.iter().map(|l| (&l.sku, l.quantity)));
        if !problems.is_empty() {
            return Err(Error::invalid(problems).with_supplier(supplier));
        }
        let key = (supplier.clone(), handle.reference.clone());
        let mut state = self.state();
        if let Some(known) = state.orders.get(&key) {
            let same = known.lines.len() == lines.len()
                && known
                    .lines
                    .iter()
                    .zip(&lines)
                    .all(|(k, l)| k.sku == l.sku && k.ordered == l.quantity);
            return if same {
                Ok(Registered::AlreadyTracked)
            } else {
                Err(Error::new(
                    ErrorKind::Invalid,
                    format!(
                        "order {} is already tracked with other lines",
                        handle.reference
                    ),
                )
                .with_supplier(supplier))
            };
        }
        let order = TrackedOrder::new(supplier, handle, &lines, placed_at);
        state.orders.insert(key.clone(), order);
        let now = self.now();
        self.publish(&mut state, &key, now, vec![OrderChangeKind::Tracked]);
        tracing::debug!(supplier = %key.0, reference = %key.1, "order tracked");
        Ok(Registered::New)
    }

    /// Records the supplier's answer to the placement: its order id, and its status.
    pub fn acknowledged(&self, ack: &OrderAck) -> TrackReport {
        self.update(&ack.supplier, &ack.reference, |order, now| {
            order.acknowledge(ack, now)
        })
    }

    /// Merges a status the host read itself with
    /// [`Dropshipper::order_status`](crate::Dropshipper::order_status).
    pub fn apply_polled(&self, state: &OrderState) -> TrackReport {
        self.apply_state(state, UpdateSource::Poll)
    }

    fn apply_state(&self, state: &OrderState, source: UpdateSource) -> TrackReport {
        self.update(&state.supplier, &state.handle.reference, |order, now| {
            order.apply_state(state, source, now)
        })
    }

    /// Merges a webhook event. `None` for events that are not about orders (stock events
    /// belong to the [inventory sync](crate::sync::InventorySync)).
    pub fn ingest(&self, event: &SupplierEvent) -> Option<TrackReport> {
        match event {
            SupplierEvent::OrderStatusChanged(state) => {
                Some(self.apply_state(state, UpdateSource::Webhook))
            }
            SupplierEvent::ShipmentCreated {
                supplier,
                handle,
                shipment,
                at,
            } => Some(self.update(supplier, &handle.reference, |order, now| {
                let mut shipment = shipment.clone();
                shipment.shipped_at = shipment.shipped_at.or(Some(*at));
                order.apply_shipment(&shipment, handle.supplier_order_id.as_deref(), now)
            })),
            _ => None,
        }
    }

    /// Records the supplier's cancelled quantity per SKU, as totals (for suppliers that
    /// report partial cancels). Calling it again with the same totals changes nothing;
    /// once every line is shipped or cancelled the status follows (`shipped`, or
    /// `cancelled` when nothing shipped).
    ///
    /// [`NotFound`](ErrorKind::NotFound) for an untracked order; [`Invalid`](ErrorKind::Invalid)
    /// (and nothing changed) for a SKU not on the order, or more units cancelled than
    /// ordered and not shipped.
    pub fn cancel_lines(
        &self,
        supplier: &SupplierId,
        reference: &OrderRef,
        cancelled: &[(Sku, u32)],
    ) -> Result<TrackReport> {
        let mut refused = None;
        let report = self.update(supplier, reference, |order, now| {
            match order.cancel_lines(cancelled, now) {
                Ok(fx) => fx,
                Err(problems) => {
                    refused = Some(problems);
                    // Nothing was changed, so storing the copy back is a no-op.
                    Effects::new()
                }
            }
        });
        if let Some(problems) = refused {
            return Err(Error::invalid(problems).with_supplier(supplier.clone()));
        }
        if report.status.is_none() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("order {reference} is not tracked"),
            )
            .with_supplier(supplier.clone()));
        }
        Ok(report)
    }

    /// Reads every open order of `supplier` once (one request at a time; the supplier's
    /// transport paces them) and merges the answers as polls.
    pub async fn poll(&self, supplier: &dyn Dropshipper) -> PollReport {
        let by_reference = supplier.capabilities().order_lookup_by_reference;
        let handles: Vec<OrderHandle> = self
            .state()
            .orders
            .values()
            .filter(|o| &o.supplier == supplier.id() && !o.is_terminal())
            .map(|o| o.handle.clone())
            .collect();
        let mut report = PollReport::default();
        for handle in handles {
            if handle.supplier_order_id.is_none() && !by_reference {
                report.skipped.push(handle.reference);
                continue;
            }
            match supplier.order_status(&handle).await {
                // A hand-written adapter could answer for another order; never let that
                // answer move this one (or that one).
                Ok(state)
                    if &state.supplier == supplier.id()
                        && state.handle.reference == handle.reference =>
                {
                    report.reports.push(self.apply_polled(&state));
                }
                Ok(_) => report.failures.push((
                    handle.reference,
                    Error::new(
                        ErrorKind::Protocol,
                        "the answer names another supplier or order than the one asked",
                    )
                    .with_supplier(supplier.id().clone())
                    .with_operation(Operation::OrderStatus),
                )),
                Err(e) => {
                    tracing::debug!(supplier = %supplier.id(), reference = %handle.reference, kind = %e.kind(), "order status read failed");
                    report.failures.push((handle.reference, e));
                }
            }
        }
        report
    }

    /// One order, as now held.
    pub fn get(&self, supplier: &SupplierId, reference: &OrderRef) -> Option<TrackedOrder> {
        self.state()
            .orders
            .get(&(supplier.clone(), reference.clone()))
            .cloned()
    }

    /// Every order, sorted by supplier and reference.
    pub fn all(&self) -> Vec<TrackedOrder> {
        self.state().orders.values().cloned().collect()
    }

    /// Every order not yet in a terminal state, sorted by supplier and reference.
    pub fn open(&self) -> Vec<TrackedOrder> {
        self.state()
            .orders
            .values()
            .filter(|o| !o.is_terminal())
            .cloned()
            .collect()
    }

    /// The tracking numbers of one order's parcels (empty for an untracked order).
    pub fn tracking_numbers(&self, supplier: &SupplierId, reference: &OrderRef) -> Vec<String> {
        self.get(supplier, reference)
            .map(|o| {
                o.tracking_numbers()
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Orders sent longer than the acknowledgement timeout ago that the supplier has neither
    /// acknowledged nor reported on, as of the tracker's clock. They stay tracked: the
    /// supplier may still have them (look them up before placing them again).
    pub fn unacknowledged(&self) -> Vec<Unacknowledged> {
        self.unacknowledged_at(self.now())
    }

    /// [`unacknowledged`](Self::unacknowledged) as of `now`.
    pub fn unacknowledged_at(&self, now: DateTime<Utc>) -> Vec<Unacknowledged> {
        let timeout = self.shared.ack_timeout;
        self.state()
            .orders
            .values()
            .filter(|o| o.acknowledged_at.is_none() && !o.is_terminal())
            .filter_map(|o| {
                let waiting = (now - o.placed_at).to_std().ok()?;
                (waiting >= timeout).then(|| Unacknowledged {
                    supplier: o.supplier.clone(),
                    reference: o.handle.reference.clone(),
                    placed_at: o.placed_at,
                    waiting,
                })
            })
            .collect()
    }

    /// Stops tracking one order; returns it as it was.
    pub fn forget(&self, supplier: &SupplierId, reference: &OrderRef) -> Option<TrackedOrder> {
        let key = (supplier.clone(), reference.clone());
        let mut state = self.state();
        let order = state.orders.remove(&key)?;
        let now = self.now();
        self.publish(&mut state, &key, now, vec![OrderChangeKind::Forgotten]);
        Some(order)
    }

    /// Stops tracking terminal orders whose status last moved before `before`; returns how
    /// many. Open orders are never pruned.
    pub fn prune_terminal(&self, before: DateTime<Utc>) -> usize {
        let mut state = self.state();
        let gone: Vec<Key> = state
            .orders
            .iter()
            .filter(|(_, o)| o.is_terminal() && o.status_changed_at < before)
            .map(|(k, _)| k.clone())
            .collect();
        let now = self.now();
        for key in &gone {
            state.orders.remove(key);
            self.publish(&mut state, key, now, vec![OrderChangeKind::Forgotten]);
        }
        gone.len()
    }

    /// Everything the tracker holds, as plain data.
    pub fn export(&self) -> TrackingSnapshot {
        TrackingSnapshot {
            format: TRACKING_SNAPSHOT_FORMAT,
            taken_at: self.now(),
            orders: self.all(),
        }
    }

    /// Restores a snapshot. Orders already tracked keep their live state; unusable records
    /// are refused one by one, each reported with its path. A snapshot of another format is
    /// a [`Config`](ErrorKind::Config) error.
    pub fn import(&self, snapshot: &TrackingSnapshot) -> Result<ImportReport> {
        if snapshot.format != TRACKING_SNAPSHOT_FORMAT {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "tracking snapshot format {} is not supported (this version reads format {TRACKING_SNAPSHOT_FORMAT})",
                    snapshot.format
                ),
            ));
        }
        let mut report = ImportReport::default();
        let mut state = self.state();
        for (i, order) in snapshot.orders.iter().enumerate() {
            let problems = order.problems(&format!("orders[{i}]"));
            if !problems.is_empty() {
                report.refused.extend(problems);
                continue;
            }
            let key = (order.supplier.clone(), order.handle.reference.clone());
            if state.orders.contains_key(&key) {
                report.kept += 1;
                continue;
            }
            let mut order = order.clone();
            order.normalize();
            state.orders.insert(key, order);
            report.restored += 1;
        }
        Ok(report)
    }
}

fn log(report: &TrackReport) {
    use super::report::TrackOutcome;
    // References and supplier ids only: never words, numbers or anything a supplier echoed.
    match &report.outcome {
        TrackOutcome::Applied { from, to } => tracing::debug!(
            supplier = %report.supplier, reference = %report.reference,
            from = from.name(), to = to.name(), "order status applied"
        ),
        TrackOutcome::Ignored(reason) => tracing::debug!(
            supplier = %report.supplier, reference = %report.reference,
            reason = reason_name(reason), "order status not applied"
        ),
        _ => {}
    }
}

fn reason_name(reason: &super::report::IgnoreReason) -> &'static str {
    use super::report::IgnoreReason as R;
    match reason {
        R::UnknownOrder => "unknown_order",
        R::Older { .. } => "older",
        R::Regression { .. } => "regression",
        R::Terminal { .. } => "terminal",
        R::NotAllowed { .. } => "not_allowed",
        R::UnknownWord(_) => "unknown_word",
        R::Duplicate => "duplicate",
        R::ConflictingAck { .. } => "conflicting_ack",
    }
}
