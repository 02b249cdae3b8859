use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::order::{OrderHandle, OrderState};
use super::shipment::Shipment;
use super::stock::StockLevel;
use super::supplier::SupplierId;

/// Something a supplier told us on its own, in canonical types: what a verified webhook
/// delivery becomes after the supplier's mapping, and what the inventory sync and order
/// tracking ingest.
///
/// ```
/// use dropship::{Availability, Sku, StockLevel, SupplierEvent, SupplierId, SupplierSku};
/// let level = StockLevel::new(
///     SupplierId::new("acme").unwrap(),
///     Sku::new("MUG-1").unwrap(),
///     SupplierSku::new("mug-1").unwrap(),
///     Availability::Exact(4),
/// );
/// let event = SupplierEvent::StockChanged(level);
/// assert_eq!(event.supplier().as_str(), "acme");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
#[non_exhaustive]
pub enum SupplierEvent {
    /// A SKU's stock changed (one warehouse, when the supplier reports per warehouse).
    StockChanged(StockLevel),
    /// An order moved to a new status; shipments it lists are included.
    OrderStatusChanged(OrderState),
    /// A parcel left for an order.
    ShipmentCreated {
        /// Which supplier.
        supplier: SupplierId,
        /// Which order.
        handle: OrderHandle,
        /// The parcel.
        shipment: Shipment,
        /// When the supplier says it happened, else when we received it.
        at: DateTime<Utc>,
    },
}

impl SupplierEvent {
    /// The supplier the event came from.
    pub fn supplier(&self) -> &SupplierId {
        match self {
            SupplierEvent::StockChanged(level) => &level.supplier,
            SupplierEvent::OrderStatusChanged(state) => &state.supplier,
            SupplierEvent::ShipmentCreated { supplier, .. } => supplier,
        }
    }
}
