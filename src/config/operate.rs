//! How the suppliers are run together: the inventory sync and fulfillment settings, file-wide
//! (`"sync"`, `"fulfillment"` at the top) and per supplier (the same names inside a supplier).
//!
//! ```json
//! { "sync": { "crawl_interval": "5m", "max_age": "15m", "jitter": 0.1 },
//!   "fulfillment": { "routing": { "priority": ["cj", "printful"] }, "reservation_ttl": "15m" },
//!   "suppliers": [
//!     { "id": "cj", "...": "...",
//!       "sync": { "crawl_interval": "10m", "webhooks": true },
//!       "fulfillment": { "safety_buffer": 2, "safety_buffers": { "MUG-BLUE": 5 },
//!                        "required_address_fields": ["phone", "postal_code"],
//!                        "unit_costs": { "MUG-BLUE": "4.50 USD" } } } ] }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::duration;
use crate::error::Problem;
use crate::fulfillment::AddressField;
use crate::model::{Money, Sku, SupplierId};
use crate::sync::{DEFAULT_CRAWL_INTERVAL, DEFAULT_JITTER, DEFAULT_MAX_AGE};

/// The file-wide `"sync"` section: defaults for every supplier's crawls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Time between two crawls of a supplier (default 5 minutes).
    #[serde(default = "crawl_interval", deserialize_with = "duration::deserialize")]
    pub crawl_interval: Duration,
    /// Age after which unconfirmed stock is served flagged stale (default 15 minutes).
    #[serde(default = "max_age", deserialize_with = "duration::deserialize")]
    pub max_age: Duration,
    /// Spread of crawl intervals, 0 to 0.5 (default 0.1).
    #[serde(default = "jitter")]
    pub jitter: f64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            crawl_interval: DEFAULT_CRAWL_INTERVAL,
            max_age: DEFAULT_MAX_AGE,
            jitter: DEFAULT_JITTER,
        }
    }
}

fn crawl_interval() -> Duration {
    DEFAULT_CRAWL_INTERVAL
}
fn max_age() -> Duration {
    DEFAULT_MAX_AGE
}
fn jitter() -> f64 {
    DEFAULT_JITTER
}

impl SyncConfig {
    /// Every problem, with paths relative to the section.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.crawl_interval.is_zero() {
            out.push(Problem::new("crawl_interval", "must be longer than zero"));
        }
        if self.max_age.is_zero() {
            out.push(Problem::new("max_age", "must be longer than zero"));
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            out.push(Problem::new("jitter", "must be between 0 and 0.5"));
        }
        out
    }
}

/// How orders are routed, in a config file: `"most_stock"`, `"lowest_cost"` (with
/// `unit_costs` per supplier) or `{ "priority": ["cj", "printful"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingConfig {
    /// The supplier with the most stock first.
    #[default]
    MostStock,
    /// The cheapest known unit cost first.
    LowestCost,
    /// Suppliers in this order.
    Priority(Vec<String>),
}

/// The file-wide `"fulfillment"` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentConfig {
    /// How lines are assigned to suppliers (default `most_stock`).
    #[serde(default)]
    pub routing: RoutingConfig,
    /// How long a reservation lasts without a supplier acknowledgement (default 15 minutes).
    #[serde(default = "ttl", deserialize_with = "duration::deserialize")]
    pub reservation_ttl: Duration,
    /// Whether stock flagged stale may be promised (default `false`).
    #[serde(default)]
    pub sell_stale: bool,
    /// How long a sent order may go without a supplier acknowledgement before order tracking
    /// lists it as unacknowledged (default 15 minutes).
    #[serde(default = "ack_timeout", deserialize_with = "duration::deserialize")]
    pub ack_timeout: Duration,
}

fn ack_timeout() -> Duration {
    crate::fulfillment::tracking::DEFAULT_ACK_TIMEOUT
}

impl Default for FulfillmentConfig {
    fn default() -> Self {
        FulfillmentConfig {
            routing: RoutingConfig::default(),
            reservation_ttl: ttl(),
            sell_stale: false,
            ack_timeout: ack_timeout(),
        }
    }
}

fn ttl() -> Duration {
    crate::fulfillment::DEFAULT_RESERVATION_TTL
}

impl FulfillmentConfig {
    /// Every problem, with paths relative to the section; `ids` are the file's supplier ids.
    pub fn problems(&self, ids: &[SupplierId]) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.reservation_ttl.is_zero() {
            out.push(Problem::new("reservation_ttl", "must be longer than zero"));
        }
        if self.ack_timeout.is_zero() {
            out.push(Problem::new("ack_timeout", "must be longer than zero"));
        }
        if let RoutingConfig::Priority(list) = &self.routing {
            if list.is_empty() {
                out.push(Problem::new(
                    "routing.priority",
                    "must name at least one supplier",
                ));
            }
            for (i, id) in list.iter().enumerate() {
                if !ids.iter().any(|s| s.as_str() == id) {
                    out.push(Problem::new(
                        format!("routing.priority[{i}]"),
                        format!("{id:?} is not the id of any supplier in this file"),
                    ));
                }
            }
        }
        out
    }
}

/// A supplier's own `"sync"` settings; unset fields take the file-wide ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierSyncConfig {
    /// Time between two crawls of this supplier.
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    pub crawl_interval: Option<Duration>,
    /// Age after which its stock is flagged stale.
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    pub max_age: Option<Duration>,
    /// Whether it pushes stock webhooks (default: whether a `webhook` section is configured).
    #[serde(default)]
    pub webhooks: Option<bool>,
    /// Canonical SKUs to read by stock query when the supplier has no catalog crawl.
    #[serde(default)]
    pub watch: Vec<String>,
}

impl SupplierSyncConfig {
    /// Every problem, with paths relative to the section.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (name, d) in [
            ("crawl_interval", self.crawl_interval),
            ("max_age", self.max_age),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                out.push(Problem::new(name, "must be longer than zero"));
            }
        }
        for (i, s) in self.watch.iter().enumerate() {
            if let Err(e) = Sku::new(s.as_str()) {
                out.push(Problem::new(format!("watch[{i}]"), e.to_string()));
            }
        }
        out
    }

    /// The watched SKUs that are valid.
    pub fn watched(&self) -> Vec<Sku> {
        self.watch
            .iter()
            .filter_map(|s| Sku::new(s.as_str()).ok())
            .collect()
    }
}

/// A supplier's own `"fulfillment"` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierFulfillmentConfig {
    /// Units of every SKU held back from available-to-sell.
    #[serde(default)]
    pub safety_buffer: u64,
    /// Units held back per canonical SKU, overriding `safety_buffer`.
    #[serde(default)]
    pub safety_buffers: BTreeMap<String, u64>,
    /// Address fields this supplier needs (`company`, `line2`, `region`, `postal_code`,
    /// `phone`, `email`).
    #[serde(default)]
    pub required_address_fields: Vec<AddressField>,
    /// Unit cost per canonical SKU, as `"4.50 USD"`, for `"routing": "lowest_cost"`.
    #[serde(default)]
    pub unit_costs: BTreeMap<String, String>,
    /// The supplier makes to order (print-on-demand) and keeps no stock count: it takes any
    /// SKU it can spell.
    #[serde(default)]
    pub untracked_stock: bool,
}

impl SupplierFulfillmentConfig {
    /// Every problem, with paths relative to the section.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for sku in self.safety_buffers.keys() {
            if let Err(e) = Sku::new(sku.as_str()) {
                out.push(Problem::new(format!("safety_buffers.{sku}"), e.to_string()));
            }
        }
        for (sku, cost) in &self.unit_costs {
            if let Err(e) = Sku::new(sku.as_str()) {
                out.push(Problem::new(format!("unit_costs.{sku}"), e.to_string()));
            }
            if let Err(message) = parse_cost(cost) {
                out.push(Problem::new(format!("unit_costs.{sku}"), message));
            }
        }
        out
    }

    /// The per-SKU buffers with valid SKUs.
    pub fn sku_buffers(&self) -> Vec<(Sku, u64)> {
        self.safety_buffers
            .iter()
            .filter_map(|(s, n)| Sku::new(s.as_str()).ok().map(|s| (s, *n)))
            .collect()
    }

    /// The unit costs that parse.
    pub fn costs(&self) -> Vec<(Sku, Money)> {
        self.unit_costs
            .iter()
            .filter_map(|(s, c)| Some((Sku::new(s.as_str()).ok()?, parse_cost(c).ok()?)))
            .collect()
    }
}

/// `"4.50 USD"` as money.
fn parse_cost(text: &str) -> Result<Money, String> {
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(amount), Some(currency), None) => {
            Money::parse(amount, currency).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "{text:?} is not an amount and a currency such as \"4.50 USD\""
        )),
    }
}
