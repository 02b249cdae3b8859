//! The canonical model: the one vocabulary every adapter translates its supplier's dialect into.
//!
//! All types here are plain data, `serde`-serializable, and validated on construction, so a
//! value of one of these types is known to be well-formed wherever it travels.

mod address;
mod event;
mod money;
mod order;
mod shipment;
mod sku;
mod sku_rules;
mod status;
mod stock;
mod supplier;
mod time;

pub use address::Address;
pub use event::SupplierEvent;
pub use money::{Currency, Money, MoneyError};
pub use order::{Order, OrderAck, OrderHandle, OrderLine, OrderRef, OrderState};
pub use shipment::{Shipment, ShipmentLine};
pub use sku::{MAX_SKU_LEN, Sku, SkuError, SupplierSku};
pub use sku_rules::{CaseRule, NormalizedBatch, SkuRules, SkuRulesBuilder};
pub use status::{OrderStatus, StatusMap, StatusPreset};
pub use stock::{Availability, Incoming, MAX_STOCK_QUANTITY, StockError, StockLevel, StockWarning};
pub use supplier::SupplierId;
pub use time::{parse_timestamp, parse_timestamp_json};
