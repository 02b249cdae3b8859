use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sku::Sku;

/// A parcel the supplier sent for an order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Shipment {
    /// Carrier name as the supplier gives it (`USPS`, `DHL eCommerce`).
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Tracking page.
    pub tracking_url: Option<String>,
    /// When it left the warehouse.
    pub shipped_at: Option<DateTime<Utc>>,
    /// What is in it, when the supplier says; empty means "not reported", not "nothing".
    pub lines: Vec<ShipmentLine>,
}

/// Units of one SKU inside a [`Shipment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    /// The canonical SKU.
    pub sku: Sku,
    /// How many units.
    pub quantity: u32,
}
