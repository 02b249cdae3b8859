//! Building a [`Fulfillment`]: settings in Rust or from a config file.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use super::place::{Fulfillment, Inner};
use super::reserve::Ledger;
use super::route::RoutingPolicy;
use super::tracking::OrderTracker;
use super::validate::AddressField;
use crate::error::{Error, Problem, Result};
use crate::model::{Sku, SupplierId};
use crate::sync::InventorySync;

/// Default time an accepted order's reservation lasts without a supplier acknowledgement.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);

/// Builds a [`Fulfillment`].
pub struct FulfillmentBuilder {
    pub(crate) sync: InventorySync,
    untracked: std::collections::HashSet<SupplierId>,
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
    pub(crate) fn new(sync: InventorySync) -> Self {
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
            untracked: std::collections::HashSet::new(),
        }
    }

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

    /// `supplier` makes to order (print-on-demand) and keeps no stock count: it can take any
    /// SKU it can spell, whatever the sync holds for it. Under `most_stock` routing it comes
    /// after suppliers that hold the units.
    pub fn untracked_stock(mut self, supplier: SupplierId) -> Self {
        self.untracked.insert(supplier);
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

    /// The fulfillment; a [`Config`](crate::ErrorKind::Config) error names settings for suppliers the
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
            .chain(self.untracked.iter())
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
                untracked: self.untracked,
            }),
        })
    }
}
