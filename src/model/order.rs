use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::money::{Currency, Money};
use super::shipment::Shipment;
use super::sku::Sku;
use super::status::OrderStatus;
use super::supplier::SupplierId;
use crate::error::{Error, ErrorKind, Problem};

/// The merchant's own order reference (`#1001`, `SO-2026-000042`).
///
/// It is the idempotency key of a placement: every retry of the same order carries it, so a
/// supplier never receives two different orders for one reference. 1 to 64 printable ASCII
/// characters without spaces, a set every supplier seen accepts.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderRef(String);

impl OrderRef {
    /// Longest accepted reference.
    pub const MAX_LEN: usize = 64;

    /// Validates a reference.
    ///
    /// ```
    /// use dropship::OrderRef;
    /// assert!(OrderRef::new("SO-1001").is_ok());
    /// assert!(OrderRef::new("SO 1001").is_err());
    /// ```
    pub fn new(r: impl Into<String>) -> Result<Self, Error> {
        let r = r.into();
        if r.is_empty() || r.len() > Self::MAX_LEN {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("order reference must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !r.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                ErrorKind::Invalid,
                "order reference may hold only printable ASCII without spaces",
            ));
        }
        Ok(OrderRef(r))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrderRef {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        OrderRef::new(s)
    }
}

impl From<OrderRef> for String {
    fn from(r: OrderRef) -> String {
        r.0
    }
}

impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderRef({:?})", self.0)
    }
}

/// One line of an order: a canonical SKU and a quantity. The adapter turns the SKU into the
/// supplier's spelling with its [`SkuRules`](crate::SkuRules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// What to ship.
    pub sku: Sku,
    /// How many; at least 1.
    pub quantity: u32,
    /// The price the merchant expects to pay per unit, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
    /// The merchant's own line identifier, echoed back in shipments where suppliers allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_ref: Option<String>,
}

impl OrderLine {
    /// A line of `quantity` units of `sku`.
    pub fn new(sku: Sku, quantity: u32) -> Self {
        OrderLine {
            sku,
            quantity,
            unit_price: None,
            line_ref: None,
        }
    }
}

/// An order to place with a supplier.
///
/// `Debug` shows the lines but not the address (see [`Address`]) nor the free-text note, which
/// often carries names and phone numbers.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The merchant's reference; the idempotency key.
    pub reference: OrderRef,
    /// What to ship.
    pub lines: Vec<OrderLine>,
    /// Where to ship it.
    pub ship_to: Address,
    /// The supplier's shipping method code, when the merchant chooses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    /// A note for the supplier (gift message, packing instructions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the merchant received the order (now, when an order file leaves it out).
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Order")
            .field("reference", &self.reference)
            .field("lines", &self.lines)
            .field("ship_to", &self.ship_to)
            .field("shipping_method", &self.shipping_method)
            .field("note", &self.note.as_ref().map(|_| "[redacted]"))
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Order {
    /// An order created now.
    pub fn new(reference: OrderRef, lines: Vec<OrderLine>, ship_to: Address) -> Self {
        Order {
            reference,
            lines,
            ship_to,
            shipping_method: None,
            note: None,
            created_at: Utc::now(),
        }
    }

    /// Checks what any supplier needs before anything leaves the process: at least one line,
    /// positive quantities, no SKU twice, prices in one currency, a complete address. Every
    /// problem is reported with its path (`lines[1].quantity`, `ship_to.city`).
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if self.lines.is_empty() {
            problems.push(Problem::new("lines", "an order needs at least one line"));
        }
        let mut currency: Option<Currency> = None;
        for (i, line) in self.lines.iter().enumerate() {
            if line.quantity == 0 {
                problems.push(Problem::new(
                    format!("lines[{i}].quantity"),
                    "must be at least 1",
                ));
            }
            if self.lines[..i].iter().any(|l| l.sku == line.sku) {
                problems.push(Problem::new(
                    format!("lines[{i}].sku"),
                    format!(
                        "{} appears on an earlier line; merge the quantities",
                        line.sku
                    ),
                ));
            }
            if let Some(price) = line.unit_price {
                if price.minor < 0 {
                    problems.push(Problem::new(
                        format!("lines[{i}].unit_price"),
                        "must not be negative",
                    ));
                }
                match currency {
                    Some(c) if c != price.currency => problems.push(Problem::new(
                        format!("lines[{i}].unit_price.currency"),
                        format!("is {}, but an earlier line is in {c}", price.currency),
                    )),
                    _ => currency = Some(price.currency),
                }
            }
        }
        for p in self.ship_to.problems() {
            problems.push(Problem::new(format!("ship_to.{}", p.path), p.message));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(problems))
        }
    }
}

/// A supplier's acknowledgement of a placed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAck {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The merchant's reference it was placed under.
    pub reference: OrderRef,
    /// The supplier's own order id.
    pub supplier_order_id: String,
    /// The status right after placement.
    pub status: OrderStatus,
    /// When the supplier accepted it (its time if given, else ours).
    pub accepted_at: DateTime<Utc>,
    /// `true` when the supplier reported that it already had this reference, so this call
    /// created nothing new (an idempotent replay).
    pub already_existed: bool,
}

impl OrderAck {
    /// The handle to look the order up or cancel it later.
    pub fn handle(&self) -> OrderHandle {
        OrderHandle {
            reference: self.reference.clone(),
            supplier_order_id: Some(self.supplier_order_id.clone()),
        }
    }
}

/// How to find an order at a supplier: the merchant reference, plus the supplier's id once
/// known. Suppliers that can look orders up by reference accept a handle without the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderHandle {
    /// The merchant's reference.
    pub reference: OrderRef,
    /// The supplier's order id, when known.
    pub supplier_order_id: Option<String>,
}

impl OrderHandle {
    /// A handle by reference alone.
    pub fn by_reference(reference: OrderRef) -> Self {
        OrderHandle {
            reference,
            supplier_order_id: None,
        }
    }
}

/// An order's state at a supplier, as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// Which supplier.
    pub supplier: SupplierId,
    /// How to find it.
    pub handle: OrderHandle,
    /// The canonical status.
    pub status: OrderStatus,
    /// The word the supplier used, as it wrote it.
    pub raw_status: String,
    /// Parcels sent so far.
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    /// When the supplier last changed it, if it says.
    pub updated_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Address {
        Address {
            name: "A".into(),
            line1: "1 Road".into(),
            city: "Town".into(),
            country_code: "US".into(),
            ..Address::default()
        }
    }

    fn line(sku: &str, q: u32) -> OrderLine {
        OrderLine::new(Sku::new(sku).unwrap(), q)
    }

    #[test]
    fn references_are_validated() {
        assert!(OrderRef::new("#1001").is_ok());
        assert!(OrderRef::new("").is_err());
        assert!(OrderRef::new("x".repeat(65)).is_err());
        assert!(OrderRef::new("é").is_err());
        assert!(serde_json::from_str::<OrderRef>("\"a b\"").is_err());
    }

    #[test]
    fn a_good_order_validates() {
        let o = Order::new(OrderRef::new("1").unwrap(), vec![line("A", 1)], address());
        assert!(o.validate().is_ok());
    }

    #[test]
    fn every_problem_is_named_by_path() {
        let mut l2 = line("B", 1);
        l2.unit_price = Some(Money::parse("1", "USD").unwrap());
        let mut l3 = line("C", 2);
        l3.unit_price = Some(Money::parse("-1", "EUR").unwrap());
        let mut o = Order::new(
            OrderRef::new("1").unwrap(),
            vec![line("A", 0), l2, l3, line("A", 1)],
            address(),
        );
        o.ship_to.city.clear();
        let err = o.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "lines[0].quantity",
                "lines[2].unit_price",
                "lines[2].unit_price.currency",
                "lines[3].sku",
                "ship_to.city"
            ]
        );
        let empty = Order::new(OrderRef::new("2").unwrap(), vec![], address());
        assert_eq!(empty.validate().unwrap_err().problems()[0].path, "lines");
    }

    #[test]
    fn order_debug_hides_the_address() {
        let mut a = address();
        a.line1 = "742 Evergreen Terrace".into();
        let o = Order::new(OrderRef::new("1").unwrap(), vec![line("A", 1)], a);
        let dbg = format!("{o:?}");
        assert!(!dbg.contains("Evergreen"), "{dbg}");
        assert!(dbg.contains("OrderRef(\"1\")"));
    }
}
