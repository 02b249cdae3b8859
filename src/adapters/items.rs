//! Turning the items an adapter read off the wire into canonical [`StockLevel`]s, the same way
//! for every protocol: SKUs through the supplier's [`SkuRules`] (collisions across the page
//! detected), quantities already read into [`Availability`], and every item that cannot be
//! mapped reported as an [`ItemProblem`], never dropped.

use chrono::{DateTime, Utc};

use crate::dropshipper::ItemProblem;
use crate::error::{Error, ErrorKind, Operation};
use crate::model::{
    Availability, Incoming, SkuRules, StockError, StockLevel, StockWarning, SupplierId, SupplierSku,
};

/// One stock item as an adapter read it, before SKU mapping.
#[derive(Debug, Clone)]
pub struct RawStockItem {
    /// The supplier's SKU text, or `None` when the item had none at the mapped place (then an
    /// error in `quantity` may say why it could not be read).
    pub sku: Option<String>,
    /// The quantity, read (and summed over fields or warehouses) by the codec; an error says
    /// why it could not be read, naming the path.
    pub quantity: Result<(Availability, Vec<StockWarning>), Error>,
    /// Warehouse code, when the supplier reports per warehouse.
    pub warehouse: Option<String>,
    /// The supplier's own timestamp for this record.
    pub updated_at: Option<DateTime<Utc>>,
    /// The supplier's version or sequence number.
    pub version: Option<u64>,
    /// Stock on its way.
    pub incoming: Option<Incoming>,
}

impl RawStockItem {
    /// An item with a SKU and a quantity, nothing else.
    pub fn new(
        sku: impl Into<String>,
        quantity: Result<(Availability, Vec<StockWarning>), Error>,
    ) -> Self {
        RawStockItem {
            sku: Some(sku.into()),
            quantity,
            warehouse: None,
            updated_at: None,
            version: None,
            incoming: None,
        }
    }
}

/// Reads and sums several raw stock values (several fields, or one per warehouse) with
/// `read`, keeping every negative-count warning.
pub fn sum_quantities<T>(
    values: impl IntoIterator<Item = T>,
    mut read: impl FnMut(T) -> Result<(Availability, Option<StockWarning>), StockError>,
) -> Result<(Availability, Vec<StockWarning>), StockError> {
    let mut total: Option<Availability> = None;
    let mut warnings = Vec::new();
    for v in values {
        let (a, w) = read(v)?;
        warnings.extend(w);
        total = Some(match total {
            None => a,
            Some(t) => t.combine(a)?,
        });
    }
    total
        .map(|t| (t, warnings))
        .ok_or(StockError::Unrecognized {
            raw: "no stock value".into(),
        })
}

/// Maps a page of raw items for one supplier. Levels keep the items' order; `observed_at`
/// stands in where an item has no timestamp of its own.
pub fn map_stock_items(
    supplier: &SupplierId,
    operation: Operation,
    rules: &SkuRules,
    items: Vec<RawStockItem>,
    observed_at: DateTime<Utc>,
) -> (Vec<StockLevel>, Vec<ItemProblem>) {
    // One answer per item that has a SKU, in order (collisions across the page included).
    let mut canonical = rules
        .normalize_all(items.iter().filter_map(|i| i.sku.as_deref()))
        .into_iter();
    let mut levels = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    let problem = |raw_id: Option<String>, error: Error| ItemProblem {
        raw_id,
        error: error
            .with_supplier(supplier.clone())
            .with_operation(operation),
    };
    for item in items {
        let Some(raw) = item.sku else {
            // A codec that could not read the SKU says why in `quantity`'s error.
            let error = match item.quantity {
                Err(e) => e,
                Ok(_) => Error::new(ErrorKind::Protocol, "item has no SKU"),
            };
            problems.push(problem(None, error));
            continue;
        };
        let sku = match canonical.next() {
            Some(Ok(sku)) => sku,
            Some(Err(e)) => {
                let error = Error::new(ErrorKind::Protocol, e.to_string());
                problems.push(problem(Some(raw), error));
                continue;
            }
            None => {
                let error = Error::new(ErrorKind::Protocol, "SKU could not be mapped");
                problems.push(problem(Some(raw), error));
                continue;
            }
        };
        let (available, warnings) = match item.quantity {
            Ok(q) => q,
            Err(e) => {
                problems.push(problem(Some(raw), e));
                continue;
            }
        };
        // The supplier's spelling, trimmed; the item's own String is kept when it needs no
        // trimming. `normalize_each` accepted this spelling, so it is a valid SKU.
        let text = match raw.trim() {
            t if t.len() == raw.len() => raw,
            t => t.to_string(),
        };
        let supplier_sku = match SupplierSku::new(text) {
            Ok(s) => s,
            Err(e) => {
                problems.push(problem(
                    None,
                    Error::new(ErrorKind::Protocol, e.to_string()),
                ));
                continue;
            }
        };
        levels.push(StockLevel {
            supplier: supplier.clone(),
            sku,
            supplier_sku,
            available,
            warehouse: item.warehouse,
            incoming: item.incoming,
            observed_at: item.updated_at.unwrap_or(observed_at),
            version: item.version,
            warnings,
        });
    }
    (levels, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CaseRule;

    fn ok(n: i64) -> Result<(Availability, Vec<StockWarning>), Error> {
        Availability::from_count(n)
            .map(|(a, w)| (a, w.into_iter().collect()))
            .map_err(Error::from)
    }

    #[test]
    fn items_map_and_problems_are_kept() {
        let rules = SkuRules::builder()
            .case(CaseRule::Upper)
            .strip_separators("-")
            .build()
            .unwrap();
        let id = SupplierId::new("s").unwrap();
        let mut wh = RawStockItem::new("a-1", ok(2));
        wh.warehouse = Some("US".into());
        let items = vec![
            RawStockItem::new("b", ok(-4)),
            wh,
            RawStockItem::new("a-1", ok(3)),
            RawStockItem::new("A1", ok(1)),
            RawStockItem {
                sku: None,
                ..RawStockItem::new("", ok(1))
            },
            RawStockItem::new(
                "c",
                Err(Error::new(ErrorKind::Protocol, "/qty: not a number")),
            ),
        ];
        let (levels, problems) =
            map_stock_items(&id, Operation::CrawlStock, &rules, items, Utc::now());
        let got: Vec<_> = levels
            .iter()
            .map(|l| (l.sku.as_str(), l.available, l.warehouse.as_deref()))
            .collect();
        assert_eq!(got, [("B", Availability::Exact(0), None)]);
        assert_eq!(
            levels[0].warnings,
            [StockWarning::NegativeClamped { raw: -4 }]
        );
        // "a-1" twice (two warehouses) is one spelling, but "A1" collides with it: all three
        // rows are reported, none merged.
        let raws: Vec<_> = problems.iter().map(|p| p.raw_id.as_deref()).collect();
        assert_eq!(
            raws,
            [Some("a-1"), Some("a-1"), Some("A1"), None, Some("c")]
        );
        assert!(problems[0].error.to_string().contains("normalize to"));
        assert_eq!(problems[4].error.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn sums_over_warehouses() {
        let (a, w) = sum_quantities([5i64, -2, 7], Availability::from_count).unwrap();
        assert_eq!(a, Availability::Exact(12));
        assert_eq!(w, [StockWarning::NegativeClamped { raw: -2 }]);
        assert!(sum_quantities(Vec::<i64>::new(), Availability::from_count).is_err());
    }
}
