//! One sandbox supplier's live business state: stock per SKU and warehouse, and orders with
//! their statuses and shipments. Every change is returned as a [`Change`], which the caller
//! turns into webhooks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::supplier::{SandboxStatus, SandboxSupplier};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Sku, SkuRules};

/// An order as the sandbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxOrder {
    /// The supplier's own order id.
    pub supplier_order_id: String,
    /// The merchant's reference, which the suppliers deduplicate on.
    pub reference: String,
    /// What was ordered.
    pub lines: Vec<SandboxLine>,
    /// Where it is.
    pub status: SandboxStatus,
    /// Parcels sent.
    pub shipments: Vec<SandboxShipment>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One ordered SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxLine {
    /// The canonical SKU.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// Which warehouses the units came from (given back on cancellation).
    pub taken: Vec<(String, u32)>,
}

/// A parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxShipment {
    /// The carrier.
    pub carrier: String,
    /// The tracking number.
    pub tracking_number: String,
    /// Where to follow it.
    pub tracking_url: String,
    /// When it left.
    pub shipped_at: DateTime<Utc>,
}

/// Something that changed, for webhooks.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Stock {
        sku: String,
        warehouse: String,
        available: u32,
        version: u64,
        at: DateTime<Utc>,
    },
    Status(SandboxOrder),
    Shipment(SandboxOrder, SandboxShipment),
}

/// Why a placement was refused, in terms each protocol turns into its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A line names a SKU the supplier does not carry (line index, the spelling sent).
    UnknownSku(usize, String),
    /// Not enough stock for a line (line index, spelling, available, wanted).
    OutOfStock(usize, String, u32, u32),
    /// The request itself is wrong.
    Invalid(String),
}

/// What a placement did.
#[derive(Debug, Clone)]
pub(crate) enum Placed {
    /// A new order.
    New(SandboxOrder),
    /// An order with this reference already existed; nothing changed.
    Existing(SandboxOrder),
}

impl Placed {
    pub(crate) fn order(&self) -> &SandboxOrder {
        match self {
            Placed::New(o) | Placed::Existing(o) => o,
        }
    }
}

/// The live state of one supplier.
#[derive(Debug)]
pub(crate) struct Ledger {
    supplier: SandboxSupplier,
    rules: SkuRules,
    stock: BTreeMap<String, BTreeMap<String, u32>>,
    versions: BTreeMap<String, u64>,
    changed_at: BTreeMap<String, DateTime<Utc>>,
    orders: Vec<SandboxOrder>,
    placed: u64,
    shipped: u64,
}

impl Ledger {
    pub(crate) fn new(
        supplier: SandboxSupplier,
        seed: &BTreeMap<String, BTreeMap<String, u32>>,
    ) -> Result<Self> {
        let rules = supplier.sku_rules()?;
        for sku in seed.keys() {
            // Refuse a seed the supplier could not spell, before any server starts.
            supplier.spell(sku)?;
        }
        let versions = seed.keys().map(|k| (k.clone(), 1)).collect();
        let now = Utc::now();
        let changed_at = seed.keys().map(|k| (k.clone(), now)).collect();
        Ok(Ledger {
            supplier,
            rules,
            stock: seed.clone(),
            versions,
            changed_at,
            orders: Vec::new(),
            placed: 0,
            shipped: 0,
        })
    }

    pub(crate) fn supplier(&self) -> SandboxSupplier {
        self.supplier
    }

    /// The canonical SKU behind a wire spelling, if the supplier carries it.
    pub(crate) fn canonical(&self, spelled: &str) -> Option<String> {
        let sku = self.rules.normalize(spelled).ok()?;
        let sku = sku.as_str();
        // Only the supplier's own spelling counts: "mug-blue" is not a CJ SKU.
        let own = self.spell(sku)?;
        (own == spelled.trim() && self.stock.contains_key(sku)).then(|| sku.to_string())
    }

    /// The wire spelling of a canonical SKU.
    pub(crate) fn spell(&self, sku: &str) -> Option<String> {
        let sku = Sku::new(sku).ok()?;
        let spelled = self.rules.denormalize(&sku).ok()?;
        Some(spelled.as_str().to_string())
    }

    /// SKU -> warehouse -> count.
    pub(crate) fn stock(&self) -> &BTreeMap<String, BTreeMap<String, u32>> {
        &self.stock
    }

    pub(crate) fn version(&self, sku: &str) -> u64 {
        self.versions.get(sku).copied().unwrap_or(0)
    }

    /// When a SKU's stock last changed.
    pub(crate) fn changed_at(&self, sku: &str) -> DateTime<Utc> {
        self.changed_at.get(sku).copied().unwrap_or_else(Utc::now)
    }

    pub(crate) fn orders(&self) -> &[SandboxOrder] {
        &self.orders
    }

    /// The order with this supplier id or, failing that, this reference.
    pub(crate) fn find(&self, id_or_reference: &str) -> Option<&SandboxOrder> {
        self.orders
            .iter()
            .find(|o| o.supplier_order_id == id_or_reference)
            .or_else(|| self.by_reference(id_or_reference))
    }

    pub(crate) fn by_reference(&self, reference: &str) -> Option<&SandboxOrder> {
        self.orders.iter().find(|o| o.reference == reference)
    }

    fn set_level(&mut self, sku: &str, warehouse: &str, available: u32, out: &mut Vec<Change>) {
        self.stock
            .entry(sku.to_string())
            .or_default()
            .insert(warehouse.to_string(), available);
        let version = self.versions.entry(sku.to_string()).or_insert(0);
        *version += 1;
        let at = Utc::now();
        self.changed_at.insert(sku.to_string(), at);
        out.push(Change::Stock {
            sku: sku.to_string(),
            warehouse: warehouse.to_string(),
            available,
            version: *version,
            at,
        });
    }

    /// Sets one count (adding the SKU or warehouse when new).
    pub(crate) fn set_stock(
        &mut self,
        sku: &str,
        warehouse: &str,
        quantity: u32,
    ) -> Result<Vec<Change>> {
        self.supplier.spell(sku)?;
        if warehouse.trim().is_empty() {
            return Err(Error::new(ErrorKind::Invalid, "a warehouse needs a name"));
        }
        let mut out = Vec::new();
        self.set_level(sku, warehouse, quantity, &mut out);
        Ok(out)
    }

    /// Places an order for `lines` (wire spelling, quantity), deduplicated by `reference`.
    pub(crate) fn place(
        &mut self,
        reference: &str,
        lines: &[(String, u32)],
    ) -> std::result::Result<(Placed, Vec<Change>), Refusal> {
        if reference.trim().is_empty() {
            return Err(Refusal::Invalid("the order reference is empty".into()));
        }
        if let Some(existing) = self.by_reference(reference) {
            return Ok((Placed::Existing(existing.clone()), Vec::new()));
        }
        if lines.is_empty() {
            return Err(Refusal::Invalid("the order has no lines".into()));
        }
        let mut wanted: Vec<(String, u32)> = Vec::with_capacity(lines.len());
        for (i, (spelled, qty)) in lines.iter().enumerate() {
            if *qty == 0 {
                return Err(Refusal::Invalid(format!(
                    "line {i}: quantity must be at least 1"
                )));
            }
            let Some(sku) = self.canonical(spelled) else {
                return Err(Refusal::UnknownSku(i, spelled.clone()));
            };
            wanted.push((sku, *qty));
        }
        // Check every line against what is left after the lines before it, so nothing is
        // taken unless the whole order fits.
        let mut demand: BTreeMap<&str, u64> = BTreeMap::new();
        for (i, (sku, qty)) in wanted.iter().enumerate() {
            let total = demand.entry(sku.as_str()).or_insert(0);
            *total += u64::from(*qty);
            let available: u64 = self
                .stock
                .get(sku)
                .map_or(0, |w| w.values().map(|n| u64::from(*n)).sum());
            if *total > available {
                let spelled = lines.get(i).map(|l| l.0.clone()).unwrap_or_default();
                let left = u32::try_from(available + u64::from(*qty) - *total).unwrap_or(0);
                return Err(Refusal::OutOfStock(i, spelled, left, *qty));
            }
        }
        let mut changes = Vec::new();
        let mut order_lines = Vec::with_capacity(wanted.len());
        for (sku, qty) in wanted {
            let mut missing = qty;
            let mut taken = Vec::new();
            let levels: Vec<(String, u32)> = self
                .stock
                .get(&sku)
                .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default();
            for (warehouse, have) in levels {
                if missing == 0 {
                    break;
                }
                let take = have.min(missing);
                if take > 0 {
                    self.set_level(&sku, &warehouse, have - take, &mut changes);
                    taken.push((warehouse, take));
                    missing -= take;
                }
            }
            order_lines.push(SandboxLine {
                sku,
                quantity: qty,
                taken,
            });
        }
        self.placed += 1;
        let now = Utc::now();
        let order = SandboxOrder {
            supplier_order_id: self.supplier.order_id(self.placed),
            reference: reference.to_string(),
            lines: order_lines,
            status: SandboxStatus::Created,
            shipments: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.orders.push(order.clone());
        Ok((Placed::New(order), changes))
    }

    fn order_mut(&mut self, id_or_reference: &str) -> Result<&mut SandboxOrder> {
        let supplier = self.supplier;
        let index = self
            .orders
            .iter()
            .position(|o| o.supplier_order_id == id_or_reference)
            .or_else(|| {
                self.orders
                    .iter()
                    .position(|o| o.reference == id_or_reference)
            });
        index.and_then(|i| self.orders.get_mut(i)).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("{supplier} has no order {id_or_reference:?}"),
            )
        })
    }

    /// Moves an order to `to`, adding a shipment when it ships.
    fn move_to(&mut self, id_or_reference: &str, to: SandboxStatus) -> Result<Vec<Change>> {
        let needs_parcel = matches!(to, SandboxStatus::Shipped | SandboxStatus::Delivered)
            && self.order_mut(id_or_reference)?.shipments.is_empty();
        let now = Utc::now();
        let shipment = needs_parcel.then(|| {
            self.shipped += 1;
            let (tracking_number, tracking_url) = self.supplier.tracking(self.shipped);
            SandboxShipment {
                carrier: self.supplier.carrier().to_string(),
                tracking_number,
                tracking_url,
                shipped_at: now,
            }
        });
        let order = self.order_mut(id_or_reference)?;
        let mut changes = Vec::new();
        if let Some(s) = &shipment {
            order.shipments.push(s.clone());
        }
        order.status = to;
        order.updated_at = now;
        let snapshot = order.clone();
        changes.push(Change::Status(snapshot.clone()));
        if let Some(s) = shipment {
            changes.push(Change::Shipment(snapshot, s));
        }
        Ok(changes)
    }

    /// One step along Created → Accepted → Processing → Shipped → Delivered.
    pub(crate) fn advance(&mut self, id_or_reference: &str) -> Result<Vec<Change>> {
        let status = self.order_mut(id_or_reference)?.status;
        let next = status.next().ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                format!("order {id_or_reference:?} is {status:?}, a final status"),
            )
        })?;
        self.move_to(id_or_reference, next)
    }

    /// Ships an order not yet shipped.
    pub(crate) fn ship(&mut self, id_or_reference: &str) -> Result<Vec<Change>> {
        let status = self.order_mut(id_or_reference)?.status;
        if !status.cancellable() {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("order {id_or_reference:?} is {status:?}; only open orders ship"),
            ));
        }
        self.move_to(id_or_reference, SandboxStatus::Shipped)
    }

    /// Marks an order delivered, shipping it first when it had not shipped.
    pub(crate) fn deliver(&mut self, id_or_reference: &str) -> Result<Vec<Change>> {
        let status = self.order_mut(id_or_reference)?.status;
        if matches!(status, SandboxStatus::Cancelled | SandboxStatus::Delivered) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("order {id_or_reference:?} is {status:?}, a final status"),
            ));
        }
        self.move_to(id_or_reference, SandboxStatus::Delivered)
    }

    /// Cancels an open order and puts its stock back where it came from. Cancelling a
    /// cancelled order changes nothing.
    pub(crate) fn cancel(&mut self, id_or_reference: &str) -> Result<Vec<Change>> {
        let order = self.order_mut(id_or_reference)?;
        if order.status == SandboxStatus::Cancelled {
            return Ok(Vec::new());
        }
        if !order.status.cancellable() {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "order {id_or_reference:?} is {:?} and can no longer be cancelled",
                    order.status
                ),
            ));
        }
        let returned: Vec<(String, String, u32)> = order
            .lines
            .iter()
            .flat_map(|l| l.taken.iter().map(|(w, n)| (l.sku.clone(), w.clone(), *n)))
            .collect();
        let mut changes = self.move_to(id_or_reference, SandboxStatus::Cancelled)?;
        for (sku, warehouse, n) in returned {
            let have = self
                .stock
                .get(&sku)
                .and_then(|w| w.get(&warehouse))
                .copied()
                .unwrap_or(0);
            self.set_level(&sku, &warehouse, have.saturating_add(n), &mut changes);
        }
        Ok(changes)
    }

    /// References of orders that can still move (for the auto-advance timer).
    pub(crate) fn open_references(&self) -> Vec<String> {
        self.orders
            .iter()
            .filter(|o| o.status.next().is_some() && o.status != SandboxStatus::Cancelled)
            .map(|o| o.reference.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        let mut seed = BTreeMap::new();
        seed.insert(
            "MUG-BLUE".to_string(),
            [("CN".to_string(), 2), ("US".to_string(), 3)]
                .into_iter()
                .collect(),
        );
        Ledger::new(SandboxSupplier::Rest, &seed).unwrap()
    }

    #[test]
    fn placing_takes_stock_across_warehouses_and_cancel_gives_it_back() {
        let mut l = ledger();
        let (placed, changes) = l.place("SO-1", &[("CJ-mug-blue".into(), 4)]).unwrap();
        assert!(matches!(placed, Placed::New(_)));
        assert_eq!(changes.len(), 2);
        assert_eq!(l.stock()["MUG-BLUE"]["CN"], 0);
        assert_eq!(l.stock()["MUG-BLUE"]["US"], 1);
        let (again, none) = l.place("SO-1", &[("CJ-mug-blue".into(), 4)]).unwrap();
        assert!(matches!(again, Placed::Existing(_)));
        assert!(none.is_empty());
        assert_eq!(l.orders().len(), 1);
        l.cancel("SO-1").unwrap();
        assert_eq!(l.stock()["MUG-BLUE"]["CN"], 2);
        assert_eq!(l.stock()["MUG-BLUE"]["US"], 3);
    }

    #[test]
    fn refusals_name_the_line() {
        let mut l = ledger();
        assert_eq!(
            l.place("SO-2", &[("CJ-mug-blue".into(), 6)]).unwrap_err(),
            Refusal::OutOfStock(0, "CJ-mug-blue".into(), 5, 6)
        );
        assert_eq!(
            l.place("SO-2", &[("mug-blue".into(), 1)]).unwrap_err(),
            Refusal::UnknownSku(0, "mug-blue".into())
        );
        assert!(l.orders().is_empty());
    }

    #[test]
    fn statuses_move_in_order_and_shipping_adds_tracking() {
        let mut l = ledger();
        l.place("SO-3", &[("CJ-mug-blue".into(), 1)]).unwrap();
        l.advance("SO-3").unwrap();
        l.advance("SO-3").unwrap();
        let changes = l.advance("SO-3").unwrap();
        assert_eq!(changes.len(), 2, "status and shipment");
        let o = l.by_reference("SO-3").unwrap();
        assert_eq!(o.status, SandboxStatus::Shipped);
        assert_eq!(o.shipments.len(), 1);
        assert!(l.cancel("SO-3").is_err());
        l.advance("SO-3").unwrap();
        assert!(l.advance("SO-3").is_err());
    }
}
