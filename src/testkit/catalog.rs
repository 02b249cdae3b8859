//! What the sandbox suppliers stock when they start: canonical SKUs with a count per
//! warehouse, per supplier.

use std::collections::BTreeMap;

use super::supplier::SandboxSupplier;

/// Stock per canonical SKU per warehouse, for each sandbox supplier. Seed a sandbox with it
/// ([`SandboxBuilder::catalog`](super::SandboxBuilder::catalog)); SKUs are canonical here and
/// each supplier spells them its own way on the wire.
///
/// ```
/// use dropship::testkit::{Catalog, SandboxSupplier};
/// let catalog = Catalog::empty()
///     .with_stock(SandboxSupplier::Rest, "MUG-BLUE", "CN", 12)
///     .with_stock(SandboxSupplier::Rest, "MUG-BLUE", "US", 3);
/// assert_eq!(catalog.total(SandboxSupplier::Rest, "MUG-BLUE"), Some(15));
/// assert_eq!(catalog.total(SandboxSupplier::Soap, "MUG-BLUE"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    stock: [BTreeMap<String, BTreeMap<String, u32>>; 3],
}

/// The default catalog's canonical SKUs.
pub const DEFAULT_SKUS: [&str; 20] = [
    "MUG-BLUE",
    "MUG-RED",
    "MUG-GREEN",
    "TSHIRT-RED-S",
    "TSHIRT-RED-M",
    "TSHIRT-RED-L",
    "TSHIRT-BLUE-M",
    "HOODIE-GREY-M",
    "HOODIE-GREY-L",
    "CAP-BLACK",
    "POSTER-A2",
    "POSTER-A3",
    "TOTE-NATURAL",
    "SOCKS-STRIPED",
    "PHONECASE-IP15",
    "STICKER-PACK",
    "NOTEBOOK-A5",
    "BOTTLE-STEEL",
    "APRON-DENIM",
    "BEANIE-NAVY",
];

impl Catalog {
    /// Nothing in stock anywhere.
    pub fn empty() -> Self {
        Catalog::default()
    }

    /// The default catalog: the 20 [`DEFAULT_SKUS`], each supplier carrying 14 of them (so
    /// most SKUs are sold by two or three suppliers) in two warehouses, with made-up but fixed
    /// counts, a few of them zero.
    pub fn standard() -> Self {
        let mut c = Catalog::empty();
        for (n, supplier) in SandboxSupplier::ALL.into_iter().enumerate() {
            // Each supplier starts at a different place in the list and wraps around.
            let start = n * 3;
            for k in 0..14 {
                let i = (start + k) % DEFAULT_SKUS.len();
                for (w, warehouse) in supplier.warehouses().iter().enumerate() {
                    let qty = ((i * 7 + w * 11 + n * 5) % 37) as u32;
                    c = c.with_stock(supplier, DEFAULT_SKUS[i], warehouse, qty);
                }
            }
        }
        c
    }

    /// Sets one count (replacing any earlier one).
    #[must_use]
    pub fn with_stock(
        mut self,
        supplier: SandboxSupplier,
        sku: &str,
        warehouse: &str,
        quantity: u32,
    ) -> Self {
        self.stock[supplier.index()]
            .entry(sku.to_string())
            .or_default()
            .insert(warehouse.to_string(), quantity);
        self
    }

    /// The canonical SKUs a supplier carries, sorted.
    pub fn skus(&self, supplier: SandboxSupplier) -> Vec<String> {
        self.stock[supplier.index()].keys().cloned().collect()
    }

    /// A supplier's total for a SKU over its warehouses; `None` when it does not carry it.
    pub fn total(&self, supplier: SandboxSupplier, sku: &str) -> Option<u32> {
        self.stock[supplier.index()]
            .get(sku)
            .map(|w| w.values().sum())
    }

    /// Counts per warehouse for one supplier: SKU -> warehouse -> count.
    pub fn levels(&self, supplier: SandboxSupplier) -> &BTreeMap<String, BTreeMap<String, u32>> {
        &self.stock[supplier.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_catalog_overlaps_across_suppliers() {
        let c = Catalog::standard();
        for s in SandboxSupplier::ALL {
            assert_eq!(c.skus(s).len(), 14, "{s}");
        }
        let everywhere = DEFAULT_SKUS
            .iter()
            .filter(|sku| {
                SandboxSupplier::ALL
                    .iter()
                    .all(|s| c.total(*s, sku).is_some())
            })
            .count();
        assert!(everywhere >= 5, "{everywhere}");
    }
}
