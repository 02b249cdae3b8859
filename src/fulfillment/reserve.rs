//! Reservations: stock promised to accepted orders, held back from what later orders see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{OrderRef, Sku, SupplierId};

/// Identifies one hold in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HoldId(pub(crate) u64);

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum HoldState {
    /// Promised to an accepted order not yet acknowledged by the supplier; lapses at
    /// `expires_at` if nothing confirms it.
    Held {
        /// When it lapses.
        expires_at: DateTime<Utc>,
    },
    /// The supplier acknowledged the order (or may have: an ambiguous placement is held the
    /// same way). It keeps counting until the inventory sync reads that supplier's stock of
    /// the SKU after `since`, which already reflects the order.
    Committed {
        /// When the acknowledgement came.
        since: DateTime<Utc>,
    },
}

/// One hold: units of a SKU at a supplier for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Its id.
    pub id: HoldId,
    /// The supplier.
    pub supplier: SupplierId,
    /// The SKU.
    pub sku: Sku,
    /// Units held.
    pub units: u64,
    /// The sub-order reference it belongs to.
    pub reference: OrderRef,
    /// Its state.
    pub state: HoldState,
}

impl Hold {
    /// Whether it still counts against available-to-sell, given when the sync last read this
    /// supplier's stock of the SKU.
    fn counts(&self, now: DateTime<Utc>, last_read: Option<DateTime<Utc>>) -> bool {
        match self.state {
            HoldState::Held { expires_at } => expires_at > now,
            HoldState::Committed { since } => last_read.is_none_or(|read| read <= since),
        }
    }
}

/// Every hold, by (supplier, SKU). Callers serialize access (one lock around the ledger and
/// the availability read), which is what makes "check then reserve" atomic.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    next: u64,
    holds: HashMap<(SupplierId, Sku), Vec<Hold>>,
}

impl Ledger {
    /// Units of `sku` at `supplier` still held; lapsed and absorbed holds are dropped on the
    /// way, so the ledger does not grow with history.
    pub(crate) fn held(
        &mut self,
        supplier: &SupplierId,
        sku: &Sku,
        now: DateTime<Utc>,
        last_read: Option<DateTime<Utc>>,
    ) -> u64 {
        let Some(holds) = self.holds.get_mut(&(supplier.clone(), sku.clone())) else {
            return 0;
        };
        holds.retain(|h| h.counts(now, last_read));
        holds.iter().map(|h| h.units).sum()
    }

    pub(crate) fn hold(
        &mut self,
        supplier: &SupplierId,
        sku: &Sku,
        units: u64,
        reference: &OrderRef,
        expires_at: DateTime<Utc>,
    ) -> HoldId {
        self.next += 1;
        let id = HoldId(self.next);
        self.holds
            .entry((supplier.clone(), sku.clone()))
            .or_default()
            .push(Hold {
                id,
                supplier: supplier.clone(),
                sku: sku.clone(),
                units,
                reference: reference.clone(),
                state: HoldState::Held { expires_at },
            });
        id
    }

    /// Commits every hold of `reference` (a sub-order), returning how many were found.
    pub(crate) fn commit(&mut self, reference: &OrderRef, since: DateTime<Utc>) -> usize {
        let mut n = 0;
        for h in self.holds.values_mut().flatten() {
            if &h.reference == reference {
                h.state = HoldState::Committed { since };
                n += 1;
            }
        }
        n
    }

    /// Removes every hold of `reference`, returning the units released per (supplier, SKU).
    pub(crate) fn release(&mut self, reference: &OrderRef) -> Vec<(SupplierId, Sku, u64)> {
        let mut out = Vec::new();
        for holds in self.holds.values_mut() {
            holds.retain(|h| {
                if &h.reference == reference {
                    out.push((h.supplier.clone(), h.sku.clone(), h.units));
                    false
                } else {
                    true
                }
            });
        }
        self.holds.retain(|_, v| !v.is_empty());
        out
    }

    /// Every hold, for inspection.
    pub(crate) fn all(&self) -> Vec<Hold> {
        let mut out: Vec<Hold> = self.holds.values().flatten().cloned().collect();
        out.sort_by_key(|h| h.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_lapse_commit_and_release() {
        let mut ledger = Ledger::default();
        let s = SupplierId::new("x").unwrap();
        let sku = Sku::new("A").unwrap();
        let r1 = OrderRef::new("R1-x").unwrap();
        let r2 = OrderRef::new("R2-x").unwrap();
        let t0 = Utc::now();
        let later = t0 + chrono::Duration::minutes(10);
        ledger.hold(&s, &sku, 2, &r1, later);
        ledger.hold(&s, &sku, 3, &r2, later);
        assert_eq!(ledger.held(&s, &sku, t0, None), 5);
        assert_eq!(ledger.commit(&r1, t0), 1);
        // Past the expiry only the committed hold counts ...
        assert_eq!(ledger.held(&s, &sku, later, None), 2);
        // ... until the sync reads the supplier's stock after the commit.
        assert_eq!(ledger.held(&s, &sku, later, Some(t0)), 2);
        assert_eq!(
            ledger.held(&s, &sku, later, Some(t0 + chrono::Duration::seconds(1))),
            0
        );
        assert!(ledger.all().is_empty());
        ledger.hold(&s, &sku, 4, &r2, later);
        assert_eq!(ledger.release(&r2), [(s.clone(), sku.clone(), 4)]);
        assert_eq!(ledger.held(&s, &sku, t0, None), 0);
    }
}
