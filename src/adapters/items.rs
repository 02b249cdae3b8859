//! Turning the items an adapter read off the wire into canonical [`StockLevel`]s, the same way
//! for every protocol: SKUs through the supplier's [`SkuRules`] (collisions across the page
//! detected), quantities already read into [`Availability`], and every item that cannot be
//! mapped reported as an [`ItemProblem`], never dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};

use crate::dropshipper::ItemProblem;
use crate::error::{Error, ErrorKind, Operation};
use crate::model::{
    Availability, Incoming, Sku, SkuError, SkuRules, StockError, StockLevel, StockWarning,
    SupplierId, SupplierSku,
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

/// A [`RawStockItem`] borrowing its text from the answer being read, so a codec that streams
/// items hands them over without copying the SKU first.
pub(crate) struct ItemRef<'a> {
    pub sku: Option<&'a str>,
    pub quantity: Result<(Availability, Vec<StockWarning>), Error>,
    pub warehouse: Option<Cow<'a, str>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: Option<u64>,
    pub incoming: Option<Incoming>,
}

impl ItemRef<'_> {
    /// The item with its text copied out.
    pub(crate) fn into_owned(self) -> RawStockItem {
        RawStockItem {
            sku: self.sku.map(str::to_string),
            quantity: self.quantity,
            warehouse: self.warehouse.map(Cow::into_owned),
            updated_at: self.updated_at,
            version: self.version,
            incoming: self.incoming,
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
    let mut mapper = StockMapper::new(supplier, operation, rules, observed_at, items.len());
    for item in items {
        mapper.push(item);
    }
    mapper.finish()
}

/// Where the first spelling of a canonical SKU is kept.
#[derive(Debug, Clone, Copy)]
enum Spelling {
    Level(usize),
    Unusable(usize),
}

/// The hasher of a table whose keys are already keyed hashes: it passes them through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// [`map_stock_items`] one item at a time, so a codec that reads items as a stream never
/// holds the raw items of a whole page: each becomes a [`StockLevel`] (or an [`ItemProblem`])
/// as it arrives. Collisions (two spellings of one canonical SKU) are spotted on the way by
/// keyed hashes and settled in [`finish`](StockMapper::finish), which reports every colliding
/// item and keeps none of them.
pub struct StockMapper<'a> {
    supplier: &'a SupplierId,
    operation: Operation,
    rules: &'a SkuRules,
    observed_at: DateTime<Utc>,
    levels: Vec<StockLevel>,
    /// The item index of each level.
    level_items: Vec<usize>,
    /// (item index, problem), in item order.
    problems: Vec<(usize, ItemProblem)>,
    /// Items with a canonical SKU but no usable quantity: (item index, canonical, spelling),
    /// kept in case their spelling collides with another item's.
    unusable: Vec<(usize, Sku, String)>,
    /// Keyed hash of a canonical SKU -> where its first spelling is.
    first_spelling: HashMap<u64, Spelling, BuildHasherDefault<PassThrough>>,
    keyed: RandomState,
    collided: bool,
    next: usize,
}

impl<'a> StockMapper<'a> {
    /// A mapper for one answer of about `expected` items.
    pub fn new(
        supplier: &'a SupplierId,
        operation: Operation,
        rules: &'a SkuRules,
        observed_at: DateTime<Utc>,
        expected: usize,
    ) -> Self {
        StockMapper {
            supplier,
            operation,
            rules,
            observed_at,
            levels: Vec::with_capacity(expected),
            level_items: Vec::with_capacity(expected),
            problems: Vec::new(),
            unusable: Vec::new(),
            first_spelling: HashMap::default(),
            keyed: RandomState::new(),
            collided: false,
            next: 0,
        }
    }

    /// Makes room for `additional` more levels, when the caller learns how many to expect
    /// after the mapper was made.
    pub fn reserve(&mut self, additional: usize) {
        self.levels.reserve(additional);
        self.level_items.reserve(additional);
        if !self.rules.one_to_one() {
            self.first_spelling.reserve(additional);
        }
    }

    /// Whether no item has been pushed yet.
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    fn problem(&self, raw_id: Option<String>, error: Error) -> ItemProblem {
        ItemProblem {
            raw_id,
            error: error
                .with_supplier(self.supplier.clone())
                .with_operation(self.operation),
        }
    }

    /// Notes where a canonical SKU's spelling is; a second, different spelling means a
    /// collision. The canonical text is hashed with SipHash under a random key, so a hostile
    /// answer cannot aim every SKU at one slot; the exact check in `finish` runs only when
    /// this one says so.
    fn note_spelling(&mut self, canonical: Option<u64>, at: Spelling) {
        let Some(c) = canonical else {
            return;
        };
        let first = match self.first_spelling.entry(c) {
            Entry::Vacant(v) => {
                v.insert(at);
                return;
            }
            Entry::Occupied(o) => *o.get(),
        };
        // The same spelling again (one row per warehouse) is no collision; two SKUs whose
        // hashes meet are told apart by the exact check.
        if self.spelling(first) != self.spelling(at) {
            self.collided = true;
        }
    }

    /// The keyed hash of a canonical SKU, when the rules can make two spellings collide.
    fn canonical_hash(&self, canonical: &Sku) -> Option<u64> {
        (!self.rules.one_to_one()).then(|| self.keyed.hash_one(canonical.as_str()))
    }

    fn spelling(&self, at: Spelling) -> Option<&str> {
        match at {
            Spelling::Level(i) => self.levels.get(i).map(|l| l.supplier_sku.as_str()),
            Spelling::Unusable(i) => self.unusable.get(i).map(|u| u.2.as_str()),
        }
    }

    /// Maps one item.
    pub fn push(&mut self, item: RawStockItem) {
        self.push_ref(ItemRef {
            sku: item.sku.as_deref(),
            quantity: item.quantity,
            warehouse: item.warehouse.map(Cow::Owned),
            updated_at: item.updated_at,
            version: item.version,
            incoming: item.incoming,
        });
    }

    /// Maps one item whose text is borrowed.
    pub(crate) fn push_ref(&mut self, item: ItemRef<'_>) {
        let index = self.next;
        self.next += 1;
        let Some(raw) = item.sku else {
            // A codec that could not read the SKU says why in `quantity`'s error.
            let error = match item.quantity {
                Err(e) => e,
                Ok(_) => Error::new(ErrorKind::Protocol, "item has no SKU"),
            };
            let p = self.problem(None, error);
            self.problems.push((index, p));
            return;
        };
        let trimmed = crate::text::trim(raw);
        let spelled = self.rules.spelled_from(raw, trimmed);
        let (sku, spelling_checked) = match self.rules.normalize_checking(spelled) {
            Ok(found) => found,
            Err(e) => {
                let p = self.problem(
                    Some(raw.to_string()),
                    Error::new(ErrorKind::Protocol, e.to_string()),
                );
                self.problems.push((index, p));
                return;
            }
        };
        let canonical = self.canonical_hash(&sku);
        let (available, warnings) = match item.quantity {
            Ok(q) => q,
            Err(e) => {
                let at = Spelling::Unusable(self.unusable.len());
                self.unusable.push((index, sku, trimmed.to_string()));
                self.note_spelling(canonical, at);
                let p = self.problem(Some(raw.to_string()), e);
                self.problems.push((index, p));
                return;
            }
        };
        // The spelling the rules checked is this text unless they were told not to trim.
        let supplier_sku = if spelling_checked && spelled.len() == trimmed.len() {
            SupplierSku::from_checked(trimmed)
        } else {
            match SupplierSku::new(trimmed) {
                Ok(s) => s,
                Err(e) => {
                    let p = self.problem(None, Error::new(ErrorKind::Protocol, e.to_string()));
                    self.problems.push((index, p));
                    return;
                }
            }
        };
        let at = Spelling::Level(self.levels.len());
        self.levels.push(StockLevel {
            supplier: self.supplier.clone(),
            sku,
            supplier_sku,
            available,
            warehouse: item.warehouse.map(Cow::into_owned),
            incoming: item.incoming,
            observed_at: item.updated_at.unwrap_or(self.observed_at),
            version: item.version,
            warnings,
        });
        self.level_items.push(index);
        self.note_spelling(canonical, at);
    }

    /// The levels, in item order, and every item that could not be mapped, in item order.
    pub fn finish(mut self) -> (Vec<StockLevel>, Vec<ItemProblem>) {
        if self.collided {
            self.settle_collisions();
        }
        self.problems.sort_by_key(|(i, _)| *i);
        let problems = self.problems.into_iter().map(|(_, p)| p).collect();
        (self.levels, problems)
    }

    /// Rejects every item of a canonical SKU that two or more spellings share (rare: runs only
    /// after `note_spelling` saw one).
    fn settle_collisions(&mut self) {
        // (item index, canonical, spelling), in item order.
        let mut seen: Vec<(usize, &str, &str)> = self
            .level_items
            .iter()
            .zip(&self.levels)
            .map(|(i, l)| (*i, l.sku.as_str(), l.supplier_sku.as_str()))
            .chain(
                self.unusable
                    .iter()
                    .map(|(i, c, s)| (*i, c.as_str(), s.as_str())),
            )
            .collect();
        seen.sort_by_key(|(i, _, _)| *i);
        let mut spellings: HashMap<&str, Vec<&str>> = HashMap::new();
        for (_, c, s) in &seen {
            let list = spellings.entry(c).or_default();
            if !list.contains(s) {
                list.push(s);
            }
        }
        let colliding: HashMap<String, String> = spellings
            .into_iter()
            .filter(|(_, list)| list.len() > 1)
            .filter_map(|(c, list)| {
                let sku = Sku::new(c).ok()?;
                let error = SkuError::Collision {
                    canonical: sku.as_str().to_string(),
                    spellings: list.iter().map(|s| s.to_string()).collect(),
                };
                Some((c.to_string(), error.to_string()))
            })
            .collect();
        if colliding.is_empty() {
            return;
        }
        let levels = std::mem::take(&mut self.levels);
        let items = std::mem::take(&mut self.level_items);
        for (level, index) in levels.into_iter().zip(items) {
            match colliding.get(level.sku.as_str()) {
                Some(message) => {
                    let p = self.problem(
                        Some(level.supplier_sku.as_str().to_string()),
                        Error::new(ErrorKind::Protocol, message),
                    );
                    self.problems.push((index, p));
                }
                None => {
                    self.levels.push(level);
                    self.level_items.push(index);
                }
            }
        }
        let unusable = std::mem::take(&mut self.unusable);
        for (index, c, _) in unusable {
            if let Some(message) = colliding.get(c.as_str())
                && let Some(slot) = self.problems.iter_mut().find(|(i, _)| *i == index)
            {
                slot.1.error = Error::new(ErrorKind::Protocol, message)
                    .with_supplier(self.supplier.clone())
                    .with_operation(self.operation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CaseRule, SkuError};

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
    fn the_streaming_mapper_agrees_with_the_reference_on_collisions() {
        let rules = SkuRules::builder()
            .case(CaseRule::Upper)
            .strip_separators("-")
            .build()
            .unwrap();
        let id = SupplierId::new("s").unwrap();
        let words = [
            "a-1", "A1", "a1", "b-2", "B-2", "c", " c ", "d-4", "D4", "e",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for case in 0..500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 1 + (x % 9) as usize;
            let picks: Vec<(&str, bool)> = (0..n)
                .map(|k| {
                    let r = x.rotate_left(7 * k as u32);
                    (
                        words[(r % words.len() as u64) as usize],
                        !r.is_multiple_of(5),
                    )
                })
                .collect();
            let reference = rules.normalize_each(picks.iter().map(|(w, _)| *w));
            let items: Vec<RawStockItem> = picks
                .iter()
                .map(|(w, good)| {
                    let q = if *good {
                        ok(1)
                    } else {
                        Err(Error::new(ErrorKind::Protocol, "/qty: not a number"))
                    };
                    RawStockItem::new(*w, q)
                })
                .collect();
            let (levels, problems) =
                map_stock_items(&id, Operation::CrawlStock, &rules, items, Utc::now());
            // Mapped: exactly the items the reference maps and whose quantity reads.
            let want: Vec<&str> = reference
                .iter()
                .zip(&picks)
                .filter(|(r, (_, good))| r.is_ok() && *good)
                .map(|(_, (w, _))| w.trim())
                .collect();
            let got: Vec<&str> = levels.iter().map(|l| l.supplier_sku.as_str()).collect();
            assert_eq!(got, want, "case {case}: {picks:?}");
            assert_eq!(levels.len() + problems.len(), picks.len(), "case {case}");
            // Every item the reference rejects as a collision is reported as one.
            let collisions = reference
                .iter()
                .filter(|r| matches!(r, Err(SkuError::Collision { .. })))
                .count();
            let reported = problems
                .iter()
                .filter(|p| p.error.to_string().contains("normalize to"))
                .count();
            assert_eq!(reported, collisions, "case {case}: {picks:?}");
        }
    }

    #[test]
    fn sums_over_warehouses() {
        let (a, w) = sum_quantities([5i64, -2, 7], Availability::from_count).unwrap();
        assert_eq!(a, Availability::Exact(12));
        assert_eq!(w, [StockWarning::NegativeClamped { raw: -2 }]);
        assert!(sum_quantities(Vec::<i64>::new(), Availability::from_count).is_err());
    }
}
