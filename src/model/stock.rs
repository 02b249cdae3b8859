use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sku::{Sku, SupplierSku};
use super::supplier::SupplierId;
use crate::error::{Error, ErrorKind};

/// Largest stock count accepted from a supplier: one billion units. A larger number is a
/// placeholder ("99999999999" for "unlimited") or a parse accident, never real stock, and is
/// rejected rather than believed.
pub const MAX_STOCK_QUANTITY: u64 = 1_000_000_000;

/// How much of a SKU a supplier says it has.
///
/// Many suppliers report an exact count; some only say "in stock", "out of stock" or a bucket
/// such as `">10"`. Those map to the variant that says exactly what was said, never to an
/// invented number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "quantity")]
pub enum Availability {
    /// Exactly this many units.
    Exact(u64),
    /// At least this many (from a bucket such as `">10"`, which gives 11, or `"10+"`, which gives 10).
    AtLeast(u64),
    /// Some, count not given.
    InStock,
    /// None.
    OutOfStock,
}

impl Availability {
    /// The exact count, when the supplier gave one.
    pub fn exact(self) -> Option<u64> {
        match self {
            Availability::Exact(n) => Some(n),
            Availability::OutOfStock => Some(0),
            _ => None,
        }
    }

    /// The most that can be promised from what was said: `Exact(n)` and `AtLeast(n)` give
    /// `n`, `InStock` gives 1 (there is at least one), `OutOfStock` gives 0.
    pub fn guaranteed(self) -> u64 {
        match self {
            Availability::Exact(n) | Availability::AtLeast(n) => n,
            Availability::InStock => 1,
            Availability::OutOfStock => 0,
        }
    }

    /// Whether any unit is available.
    pub fn is_available(self) -> bool {
        self.guaranteed() > 0
    }

    /// Reads a signed count as suppliers send it. Negative counts (oversold, returns pending)
    /// clamp to zero with a [`StockWarning::NegativeClamped`]; counts over
    /// [`MAX_STOCK_QUANTITY`] are rejected.
    ///
    /// ```
    /// use dropship::{Availability, StockWarning};
    /// assert_eq!(Availability::from_count(7).unwrap(), (Availability::Exact(7), None));
    /// assert_eq!(
    ///     Availability::from_count(-3).unwrap(),
    ///     (Availability::Exact(0), Some(StockWarning::NegativeClamped { raw: -3 }))
    /// );
    /// assert!(Availability::from_count(5_000_000_000).is_err());
    /// ```
    pub fn from_count(n: i64) -> Result<(Availability, Option<StockWarning>), StockError> {
        if n < 0 {
            return Ok((
                Availability::Exact(0),
                Some(StockWarning::NegativeClamped { raw: n }),
            ));
        }
        let n = n.unsigned_abs();
        if n > MAX_STOCK_QUANTITY {
            return Err(StockError::Absurd {
                raw: n.to_string(),
                cap: MAX_STOCK_QUANTITY,
            });
        }
        Ok((Availability::Exact(n), None))
    }

    /// Reads a JSON number: integers as [`from_count`](Availability::from_count); a float with
    /// no fractional part (`12.0`) is accepted, any other fraction is a [`StockError::NotInteger`].
    pub fn from_f64(x: f64) -> Result<(Availability, Option<StockWarning>), StockError> {
        if !x.is_finite() || x.fract() != 0.0 {
            return Err(StockError::NotInteger { raw: x.to_string() });
        }
        if x.abs() > MAX_STOCK_QUANTITY as f64 {
            if x < 0.0 {
                return Ok((
                    Availability::Exact(0),
                    Some(StockWarning::NegativeClamped { raw: i64::MIN }),
                ));
            }
            return Err(StockError::Absurd {
                raw: x.to_string(),
                cap: MAX_STOCK_QUANTITY,
            });
        }
        Self::from_count(x as i64)
    }

    /// Reads stock given as text. Recognized, case-insensitively, after trimming:
    ///
    /// | text | value |
    /// |---|---|
    /// | `12`, `-3`, `+4` | as [`from_count`](Availability::from_count) |
    /// | `>10`, `> 10` | `AtLeast(11)` |
    /// | `>=10`, `10+` | `AtLeast(10)` |
    /// | `in stock`, `instock`, `in_stock`, `available`, `yes`, `true` | `InStock` |
    /// | `out of stock`, `outofstock`, `out_of_stock`, `sold out`, `soldout`, `unavailable`, `not available`, `not fulfillable`, `discontinued`, `no`, `false`, `none` | `OutOfStock` |
    ///
    /// Anything else (`"<5"`, `"low"`, `"1,000"`, which could be one thousand or one) is a
    /// [`StockError::Unrecognized`], never a guess.
    pub fn parse_text(text: &str) -> Result<(Availability, Option<StockWarning>), StockError> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i64>() {
            return Self::from_count(n);
        }
        let lower = t.to_ascii_lowercase();
        let folded: String = lower
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect();
        match folded.as_str() {
            "instock" | "available" | "yes" | "true" => return Ok((Availability::InStock, None)),
            "outofstock" | "soldout" | "unavailable" | "notavailable" | "notfulfillable"
            | "discontinued" | "no" | "false" | "none" => {
                return Ok((Availability::OutOfStock, None));
            }
            _ => {}
        }
        let bucket = |digits: &str, plus: u64| -> Option<Result<_, StockError>> {
            let n: u64 = digits.trim().parse().ok()?;
            Some(match n.checked_add(plus) {
                Some(v) if v <= MAX_STOCK_QUANTITY => Ok((Availability::AtLeast(v), None)),
                _ => Err(StockError::Absurd {
                    raw: t.to_string(),
                    cap: MAX_STOCK_QUANTITY,
                }),
            })
        };
        let parsed = if let Some(rest) = t.strip_prefix(">=") {
            bucket(rest, 0)
        } else if let Some(rest) = t.strip_prefix('>') {
            bucket(rest, 1)
        } else if let Some(rest) = t.strip_suffix('+') {
            bucket(rest, 0)
        } else {
            None
        };
        parsed.unwrap_or_else(|| {
            Err(StockError::Unrecognized {
                raw: t.chars().take(64).collect(),
            })
        })
    }
}

impl Availability {
    /// Reads a stock value from JSON: a number (as [`from_f64`](Availability::from_f64) /
    /// [`from_count`](Availability::from_count)), text (as
    /// [`parse_text`](Availability::parse_text)), or `true`/`false` (in stock / out of stock).
    /// `null`, arrays and objects are [`StockError::Unrecognized`].
    pub fn from_json(
        value: &serde_json::Value,
    ) -> Result<(Availability, Option<StockWarning>), StockError> {
        use serde_json::Value;
        match value {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::from_count(i),
                None => Self::from_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Self::parse_text(s),
            Value::Bool(true) => Ok((Availability::InStock, None)),
            Value::Bool(false) => Ok((Availability::OutOfStock, None)),
            other => Err(StockError::Unrecognized {
                raw: other.to_string().chars().take(64).collect(),
            }),
        }
    }

    /// The availability of two stocks together (two warehouses, two stock fields): exact
    /// counts add up; a bucket or a bare "in stock" makes the sum a lower bound; out of stock
    /// adds nothing. Sums stay under [`MAX_STOCK_QUANTITY`] or are refused.
    pub fn combine(self, other: Availability) -> Result<Availability, StockError> {
        use Availability::*;
        let total = |a: u64, b: u64| {
            // `ok_or_else`: the message is formatted only for a refused sum, not for every item
            // summed over its warehouses.
            a.checked_add(b)
                .filter(|t| *t <= MAX_STOCK_QUANTITY)
                .ok_or_else(|| StockError::Absurd {
                    raw: format!("{a} + {b}"),
                    cap: MAX_STOCK_QUANTITY,
                })
        };
        Ok(match (self, other) {
            (OutOfStock, x) | (x, OutOfStock) => x,
            (Exact(a), Exact(b)) => Exact(total(a, b)?),
            (a, b) => AtLeast(total(a.guaranteed(), b.guaranteed())?),
        })
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Exact(n) => write!(f, "{n}"),
            Availability::AtLeast(n) => write!(f, ">={n}"),
            Availability::InStock => f.write_str("in stock"),
            Availability::OutOfStock => f.write_str("out of stock"),
        }
    }
}

/// Why a supplier's stock value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StockError {
    /// Over [`MAX_STOCK_QUANTITY`].
    #[error("stock quantity {raw} is over the cap of {cap}")]
    Absurd {
        /// What the supplier sent.
        raw: String,
        /// The cap.
        cap: u64,
    },
    /// A number with a fractional part.
    #[error("stock quantity {raw} is not a whole number")]
    NotInteger {
        /// What the supplier sent.
        raw: String,
    },
    /// Text that is neither a number nor a known availability word or bucket.
    #[error("stock value {raw:?} is not a number or a known availability word")]
    Unrecognized {
        /// What the supplier sent (first 64 characters).
        raw: String,
    },
}

impl From<StockError> for Error {
    /// A bad stock value came from the supplier: a [`Protocol`](ErrorKind::Protocol) error.
    fn from(e: StockError) -> Self {
        Error::new(ErrorKind::Protocol, e.to_string())
    }
}

/// Something about a stock value that was accepted but adjusted; kept with the level so the
/// adjustment is visible, never silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "warning")]
#[non_exhaustive]
pub enum StockWarning {
    /// The supplier sent a negative count, stored as 0.
    NegativeClamped {
        /// The count it sent.
        raw: i64,
    },
}

/// Units on their way to the supplier's warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incoming {
    /// How many.
    pub quantity: u64,
    /// When they are expected, if the supplier said.
    pub expected_at: Option<DateTime<Utc>>,
}

/// The stock of one SKU at one supplier (and optionally one of its warehouses) at one moment.
///
/// Updates are ordered by (`version`, `observed_at`): a merge never lets an older level overwrite
/// a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The canonical SKU.
    pub sku: Sku,
    /// The supplier's own spelling, for orders back to it.
    pub supplier_sku: SupplierSku,
    /// How many are available.
    pub available: Availability,
    /// The supplier's warehouse code, when it reports per warehouse.
    pub warehouse: Option<String>,
    /// Stock on its way, when reported.
    pub incoming: Option<Incoming>,
    /// When this level was true: the supplier's timestamp if it gave one, else when we read it.
    pub observed_at: DateTime<Utc>,
    /// The supplier's version or sequence number for this record, if any.
    pub version: Option<u64>,
    /// Adjustments made while reading it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<StockWarning>,
}

impl StockLevel {
    /// A level with the given availability, observed now, no warehouse, incoming, version or
    /// warnings.
    pub fn new(
        supplier: SupplierId,
        sku: Sku,
        supplier_sku: SupplierSku,
        available: Availability,
    ) -> Self {
        StockLevel {
            supplier,
            sku,
            supplier_sku,
            available,
            warehouse: None,
            incoming: None,
            observed_at: Utc::now(),
            version: None,
            warnings: Vec::new(),
        }
    }

    /// The ordering key of merges: a level with a greater key is newer.
    /// A level without a version sorts before any versioned one of the same SKU.
    pub fn freshness(&self) -> (Option<u64>, DateTime<Utc>) {
        (self.version, self.observed_at)
    }

    /// Whether this level should replace `other` (same supplier, SKU and warehouse) in a store.
    pub fn supersedes(&self, other: &StockLevel) -> bool {
        self.freshness() > other.freshness()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_clamp_and_cap() {
        assert_eq!(
            Availability::from_count(0).unwrap().0,
            Availability::Exact(0)
        );
        assert_eq!(
            Availability::from_count(-1).unwrap().1,
            Some(StockWarning::NegativeClamped { raw: -1 })
        );
        assert_eq!(
            Availability::from_count(MAX_STOCK_QUANTITY as i64)
                .unwrap()
                .0,
            Availability::Exact(MAX_STOCK_QUANTITY)
        );
        assert!(matches!(
            Availability::from_count(MAX_STOCK_QUANTITY as i64 + 1),
            Err(StockError::Absurd { .. })
        ));
        assert!(matches!(
            Availability::from_count(i64::MAX),
            Err(StockError::Absurd { .. })
        ));
        assert_eq!(
            Availability::from_count(i64::MIN).unwrap().1,
            Some(StockWarning::NegativeClamped { raw: i64::MIN })
        );
    }

    #[test]
    fn floats_must_be_whole() {
        assert_eq!(
            Availability::from_f64(12.0).unwrap().0,
            Availability::Exact(12)
        );
        assert!(matches!(
            Availability::from_f64(1.5),
            Err(StockError::NotInteger { .. })
        ));
        assert!(matches!(
            Availability::from_f64(f64::NAN),
            Err(StockError::NotInteger { .. })
        ));
        assert!(matches!(
            Availability::from_f64(1e18),
            Err(StockError::Absurd { .. })
        ));
        assert_eq!(
            Availability::from_f64(-1e18).unwrap().0,
            Availability::Exact(0)
        );
    }

    #[test]
    fn text_words_and_buckets() {
        let cases = [
            ("12", Availability::Exact(12)),
            (" +4 ", Availability::Exact(4)),
            ("-2", Availability::Exact(0)),
            (">10", Availability::AtLeast(11)),
            ("> 10", Availability::AtLeast(11)),
            (">=10", Availability::AtLeast(10)),
            ("100+", Availability::AtLeast(100)),
            ("In Stock", Availability::InStock),
            ("in_stock", Availability::InStock),
            ("AVAILABLE", Availability::InStock),
            ("Out of stock", Availability::OutOfStock),
            ("out-of-stock", Availability::OutOfStock),
            ("Sold Out", Availability::OutOfStock),
            ("false", Availability::OutOfStock),
            ("not fulfillable", Availability::OutOfStock),
        ];
        for (text, want) in cases {
            assert_eq!(Availability::parse_text(text).unwrap().0, want, "{text:?}");
        }
        for bad in ["<5", "low", "1,000", "", ">", "12.5", ">99999999999"] {
            assert!(
                Availability::parse_text(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(matches!(
            Availability::parse_text("99999999999"),
            Err(StockError::Absurd { .. })
        ));
    }

    #[test]
    fn json_values_and_sums() {
        use serde_json::json;
        assert_eq!(
            Availability::from_json(&json!(5)).unwrap().0,
            Availability::Exact(5)
        );
        assert_eq!(
            Availability::from_json(&json!("5")).unwrap().0,
            Availability::Exact(5)
        );
        assert_eq!(
            Availability::from_json(&json!(3.0)).unwrap().0,
            Availability::Exact(3)
        );
        assert_eq!(
            Availability::from_json(&json!(true)).unwrap().0,
            Availability::InStock
        );
        assert!(Availability::from_json(&json!(null)).is_err());
        assert!(Availability::from_json(&json!([1])).is_err());
        use Availability::*;
        assert_eq!(Exact(2).combine(Exact(3)).unwrap(), Exact(5));
        assert_eq!(Exact(2).combine(OutOfStock).unwrap(), Exact(2));
        assert_eq!(OutOfStock.combine(OutOfStock).unwrap(), OutOfStock);
        assert_eq!(AtLeast(11).combine(Exact(3)).unwrap(), AtLeast(14));
        assert_eq!(InStock.combine(Exact(3)).unwrap(), AtLeast(4));
        assert!(Exact(MAX_STOCK_QUANTITY).combine(Exact(1)).is_err());
    }

    #[test]
    fn guaranteed_never_invents() {
        assert_eq!(Availability::InStock.guaranteed(), 1);
        assert_eq!(Availability::InStock.exact(), None);
        assert_eq!(Availability::AtLeast(11).guaranteed(), 11);
        assert_eq!(Availability::OutOfStock.exact(), Some(0));
        assert!(!Availability::OutOfStock.is_available());
    }

    #[test]
    fn freshness_orders_by_version_then_time() {
        let id = SupplierId::new("s").unwrap();
        let sku = Sku::new("A").unwrap();
        let ssku = SupplierSku::new("a").unwrap();
        let mut old = StockLevel::new(id, sku, ssku, Availability::Exact(1));
        let mut new = old.clone();
        new.observed_at = old.observed_at + chrono::Duration::seconds(1);
        assert!(new.supersedes(&old));
        assert!(!old.supersedes(&new));
        old.version = Some(2);
        new.version = Some(1);
        assert!(
            old.supersedes(&new),
            "a higher version wins over a later time"
        );
    }

    #[test]
    fn availability_serde_shape() {
        let json = serde_json::to_string(&Availability::AtLeast(11)).unwrap();
        assert_eq!(json, r#"{"kind":"at_least","quantity":11}"#);
        let json = serde_json::to_string(&Availability::InStock).unwrap();
        assert_eq!(json, r#"{"kind":"in_stock"}"#);
    }
}
