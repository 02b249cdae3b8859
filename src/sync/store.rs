//! The merge store: the newest known stock per (supplier, SKU, warehouse), whichever path each
//! update came by.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Availability, Sku, StockLevel, SupplierId};

/// Which path an update came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A crawl or a stock query: we asked.
    Poll,
    /// A webhook: the supplier told us.
    Webhook,
}

/// The ordering of two updates of one (supplier, SKU, warehouse): `Greater` when `a` is newer.
///
/// Versions decide when both updates carry one and they differ; otherwise `observed_at` does.
/// A version-less crawl can therefore still overtake a versioned webhook once it is later in
/// time, which is what catches a missed webhook. When both keys tie, the store keeps the lower
/// promise (`OutOfStock` < `Exact` < `AtLeast` < `InStock` at equal guaranteed units), so every
/// interleaving of the same updates ends in the same state.
pub fn compare_freshness(
    a: (Option<u64>, DateTime<Utc>),
    b: (Option<u64>, DateTime<Utc>),
) -> Ordering {
    match (a.0, b.0) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        _ => a.1.cmp(&b.1),
    }
}

/// The tie-break between two updates equally fresh: the smaller guarantee ranks lower and
/// wins, so a tie can never promise stock that one of the two sources denied.
fn conservative_rank(a: Availability) -> (u64, u8) {
    let kind = match a {
        Availability::OutOfStock => 0,
        Availability::Exact(_) => 1,
        Availability::AtLeast(_) => 2,
        Availability::InStock => 3,
    };
    (a.guaranteed(), kind)
}

/// One tracked (supplier, SKU, warehouse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) supplier: u16,
    pub(crate) source: Source,
    pub(crate) warehouse: Option<Box<str>>,
    pub(crate) available: Availability,
    pub(crate) version: Option<u64>,
    pub(crate) observed_at: DateTime<Utc>,
    /// When a supplier last confirmed this value (any update carrying it); what staleness
    /// is measured from.
    pub(crate) confirmed_at: DateTime<Utc>,
}

/// What [`StockStore::apply`] did with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// First value for this (supplier, SKU, warehouse).
    Inserted,
    /// Newer, with a different availability: it replaced `before`.
    Changed {
        /// The value it replaced.
        before: Availability,
        /// The path `before` came by.
        before_source: Source,
    },
    /// Same availability as the stored value: nothing changed but the confirmation time
    /// (and the version and time, when the update was newer).
    Confirmed,
    /// Older than the stored value, with a different availability: ignored.
    Stale {
        /// The stored, newer value.
        current: Availability,
        /// The path the stored value came by.
        current_source: Source,
    },
}

impl Merge {
    /// Whether the stored availability changed.
    pub fn changed(self) -> bool {
        matches!(self, Merge::Inserted | Merge::Changed { .. })
    }
}

/// The newest stock per (supplier, SKU, warehouse), merged by [`compare_freshness`].
///
/// A plain, synchronous data structure: [`InventorySync`](super::InventorySync) wraps one behind
/// a lock, and a host may use it directly for its own pipelines.
///
/// ```
/// use dropship::sync::{Merge, Source, StockStore};
/// use dropship::{Availability, Sku, StockLevel, SupplierId, SupplierSku};
///
/// let mut store = StockStore::new();
/// let mut level = StockLevel::new(
///     SupplierId::new("acme").unwrap(),
///     Sku::new("MUG").unwrap(),
///     SupplierSku::new("mug").unwrap(),
///     Availability::Exact(5),
/// );
/// level.version = Some(2);
/// let now = level.observed_at;
/// assert_eq!(store.apply(&level, Source::Webhook, now), Merge::Inserted);
///
/// let mut older = level.clone();
/// older.version = Some(1);
/// older.available = Availability::Exact(9);
/// assert!(matches!(store.apply(&older, Source::Poll, now), Merge::Stale { .. }));
/// assert_eq!(store.get(&level.supplier, &level.sku, None).unwrap().available, Availability::Exact(5));
/// ```
#[derive(Debug, Default, Clone)]
pub struct StockStore {
    suppliers: Vec<SupplierId>,
    skus: HashMap<Sku, Vec<Slot>>,
    slots: usize,
}

/// One stored value, as queries return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLevel {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The canonical SKU.
    pub sku: Sku,
    /// The supplier's warehouse, when it reports per warehouse.
    pub warehouse: Option<String>,
    /// The newest availability.
    pub available: Availability,
    /// The supplier's version of it, if any.
    pub version: Option<u64>,
    /// When it was true.
    pub observed_at: DateTime<Utc>,
    /// When a supplier last confirmed it.
    pub confirmed_at: DateTime<Utc>,
    /// The path it came by.
    pub source: Source,
}

impl StockStore {
    /// An empty store.
    pub fn new() -> Self {
        StockStore::default()
    }

    /// An empty store sized for `skus` SKUs.
    pub fn with_capacity(skus: usize) -> Self {
        StockStore {
            skus: HashMap::with_capacity(skus),
            ..StockStore::default()
        }
    }

    /// How many (supplier, SKU, warehouse) values are tracked.
    pub fn len(&self) -> usize {
        self.slots
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    /// How many distinct SKUs are tracked.
    pub fn sku_count(&self) -> usize {
        self.skus.len()
    }

    fn supplier_index(&mut self, id: &SupplierId) -> u16 {
        if let Some(i) = self.suppliers.iter().position(|s| s == id) {
            return i as u16;
        }
        // Supplier counts are configuration-sized; 65,536 suppliers in one store is not a
        // real deployment, so the last index is shared rather than failing a merge.
        let i = self.suppliers.len().min(u16::MAX as usize);
        if i == self.suppliers.len() {
            self.suppliers.push(id.clone());
        }
        i as u16
    }

    fn find_supplier(&self, id: &SupplierId) -> Option<u16> {
        self.suppliers
            .iter()
            .position(|s| s == id)
            .map(|i| i as u16)
    }

    /// Merges one update received at `now`; the stored value changes only if the update is
    /// newer (see [`compare_freshness`]).
    pub fn apply(&mut self, level: &StockLevel, source: Source, now: DateTime<Utc>) -> Merge {
        let supplier = self.supplier_index(&level.supplier);
        let fresh = || Slot {
            supplier,
            source,
            warehouse: level.warehouse.as_deref().map(Box::from),
            available: level.available,
            version: level.version,
            observed_at: level.observed_at,
            confirmed_at: now,
        };
        // Look up by reference first: most updates hit a tracked SKU, and cloning the key
        // for the entry API would allocate on every one of them.
        let Some(slots) = self.skus.get_mut(&level.sku) else {
            self.skus.insert(level.sku.clone(), vec![fresh()]);
            self.slots += 1;
            return Merge::Inserted;
        };
        let Some(slot) = slots.iter_mut().find(|s| {
            s.supplier == supplier && s.warehouse.as_deref() == level.warehouse.as_deref()
        }) else {
            slots.push(fresh());
            self.slots += 1;
            return Merge::Inserted;
        };
        merge_into(slot, level, source, now)
    }

    /// Restores a stored value exactly as exported, replacing what is there.
    pub fn restore(&mut self, level: &StoredLevel) {
        let supplier = self.supplier_index(&level.supplier);
        let slot = Slot {
            supplier,
            source: level.source,
            warehouse: level.warehouse.as_deref().map(Box::from),
            available: level.available,
            version: level.version,
            observed_at: level.observed_at,
            confirmed_at: level.confirmed_at,
        };
        let slots = self.skus.entry(level.sku.clone()).or_default();
        match slots
            .iter_mut()
            .find(|s| s.supplier == supplier && s.warehouse == slot.warehouse)
        {
            Some(existing) => *existing = slot,
            None => {
                slots.push(slot);
                self.slots += 1;
            }
        }
    }

    /// The stored value of one (supplier, SKU, warehouse).
    pub fn get(
        &self,
        supplier: &SupplierId,
        sku: &Sku,
        warehouse: Option<&str>,
    ) -> Option<StoredLevel> {
        let index = self.find_supplier(supplier)?;
        self.skus
            .get(sku)?
            .iter()
            .find(|s| s.supplier == index && s.warehouse.as_deref() == warehouse)
            .map(|s| self.stored(sku, s))
    }

    /// Every stored value of `sku`, across suppliers and warehouses, in insertion order.
    pub fn levels(&self, sku: &Sku) -> Vec<StoredLevel> {
        self.skus
            .get(sku)
            .map(|slots| slots.iter().map(|s| self.stored(sku, s)).collect())
            .unwrap_or_default()
    }

    /// Every stored value, sorted by SKU, supplier and warehouse (a stable order for exports
    /// and comparisons).
    pub fn all(&self) -> Vec<StoredLevel> {
        let mut out: Vec<StoredLevel> = self
            .skus
            .iter()
            .flat_map(|(sku, slots)| slots.iter().map(move |s| self.stored(sku, s)))
            .collect();
        out.sort_by(|a, b| {
            (&a.sku, &a.supplier, &a.warehouse).cmp(&(&b.sku, &b.supplier, &b.warehouse))
        });
        out
    }

    /// Every stored value of one supplier (unsorted).
    pub fn of_supplier(&self, supplier: &SupplierId) -> Vec<StoredLevel> {
        let Some(index) = self.find_supplier(supplier) else {
            return Vec::new();
        };
        self.skus
            .iter()
            .flat_map(|(sku, slots)| {
                slots
                    .iter()
                    .filter(move |s| s.supplier == index)
                    .map(move |s| self.stored(sku, s))
            })
            .collect()
    }

    /// The SKUs tracked.
    pub fn skus(&self) -> impl Iterator<Item = &Sku> {
        self.skus.keys()
    }

    fn stored(&self, sku: &Sku, s: &Slot) -> StoredLevel {
        StoredLevel {
            supplier: self.suppliers[usize::from(s.supplier)].clone(),
            sku: sku.clone(),
            warehouse: s.warehouse.as_deref().map(str::to_owned),
            available: s.available,
            version: s.version,
            observed_at: s.observed_at,
            confirmed_at: s.confirmed_at,
            source: s.source,
        }
    }
}

fn merge_into(slot: &mut Slot, level: &StockLevel, source: Source, now: DateTime<Utc>) -> Merge {
    let order = compare_freshness(
        (level.version, level.observed_at),
        (slot.version, slot.observed_at),
    );
    if level.available == slot.available {
        slot.confirmed_at = slot.confirmed_at.max(now);
        if order == Ordering::Greater {
            slot.version = level.version;
            slot.observed_at = level.observed_at;
            slot.source = source;
        }
        return Merge::Confirmed;
    }
    let wins = match order {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => conservative_rank(level.available) < conservative_rank(slot.available),
    };
    if !wins {
        return Merge::Stale {
            current: slot.available,
            current_source: slot.source,
        };
    }
    let before = slot.available;
    let before_source = slot.source;
    // The warehouse is part of the key, so it is already equal: no new allocation.
    slot.available = level.available;
    slot.version = level.version;
    slot.observed_at = level.observed_at;
    slot.source = source;
    slot.confirmed_at = slot.confirmed_at.max(now);
    Merge::Changed {
        before,
        before_source,
    }
}
