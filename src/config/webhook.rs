//! A supplier's webhook signing and event mapping, as configuration data;
//! [`Verifier::from_config`](crate::webhook::Verifier::from_config) builds the checker and
//! [`EventParser::from_config`](crate::webhook::EventParser::from_config) the reader.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::duration;
use super::secret::Secret;
use crate::error::Problem;

/// How a supplier signs its webhooks:
///
/// ```json
/// { "scheme": "body_hmac", "header": "X-Shopify-Hmac-Sha256", "encoding": "base64",
///   "secrets": ["env:SHOPIFY_WEBHOOK_SECRET", "env:SHOPIFY_WEBHOOK_SECRET_OLD"],
///   "delivery_id_header": "X-Shopify-Webhook-Id" }
/// { "scheme": "timestamped", "header": "Stripe-Signature", "tolerance": "5m",
///   "secrets": ["env:WHSEC"] }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `body_hmac` or `timestamped`.
    pub scheme: WebhookScheme,
    /// The signature header.
    pub header: String,
    /// For `body_hmac`: `base64` (default) or `hex`.
    #[serde(default)]
    pub encoding: WebhookEncoding,
    /// For `timestamped`: how far the signed time may be from now (default 5 minutes).
    #[serde(
        default = "default_tolerance",
        deserialize_with = "duration::deserialize"
    )]
    pub tolerance: Duration,
    /// Active secrets, newest first; more than one during a rotation.
    pub secrets: Vec<Secret>,
    /// A header carrying a delivery id to deduplicate on.
    #[serde(default)]
    pub delivery_id_header: Option<String>,
    /// Largest body accepted.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// How verified deliveries become events; without it deliveries are only verified.
    #[serde(default)]
    pub events: Option<EventsConfig>,
}

/// Webhook signature schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookScheme {
    /// HMAC-SHA256 of the raw body.
    BodyHmac,
    /// `t=...,v1=...` over `"{t}.{body}"`.
    Timestamped,
}

/// Encoding of a body HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEncoding {
    /// Standard base64.
    #[default]
    Base64,
    /// Hexadecimal.
    Hex,
}

fn default_tolerance() -> Duration {
    crate::webhook::DEFAULT_TOLERANCE
}

fn default_max_body() -> usize {
    crate::webhook::DEFAULT_MAX_BODY_BYTES
}

impl WebhookConfig {
    /// Every problem, with paths relative to the webhook object.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let valid_header = |h: &str| reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_ok();
        if !valid_header(&self.header) {
            out.push(Problem::new("header", "is not a valid header name"));
        }
        if let Some(h) = &self.delivery_id_header
            && !valid_header(h)
        {
            out.push(Problem::new(
                "delivery_id_header",
                "is not a valid header name",
            ));
        }
        if self.secrets.is_empty() {
            out.push(Problem::new("secrets", "needs at least one secret"));
        }
        if self.max_body_bytes == 0 {
            out.push(Problem::new("max_body_bytes", "must be at least 1"));
        }
        if self.scheme == WebhookScheme::Timestamped && self.tolerance.is_zero() {
            out.push(Problem::new("tolerance", "must be longer than zero"));
        }
        if let Some(events) = &self.events {
            out.extend(
                events
                    .problems()
                    .into_iter()
                    .map(|p| Problem::new(crate::error::join_path("events", &p.path), p.message)),
            );
        }
        out
    }
}

/// How a supplier's verified webhook deliveries become
/// [`SupplierEvent`](crate::SupplierEvent)s: where the topic is, and one mapping per topic.
///
/// ```json
/// "events": {
///   "topic": { "header": "X-Shopify-Topic" },
///   "topics": {
///     "inventory_levels/update": { "kind": "stock_changed", "sku": "/inventory_item_id",
///                                  "quantity": "/available", "warehouse": "/location_id",
///                                  "observed_at": "/updated_at" },
///     "orders/updated": { "kind": "order_status_changed", "reference": "/name",
///                         "supplier_order_id": "/id", "status": "/fulfillment_status",
///                         "status_if_missing": "unfulfilled", "cancelled_at": "/cancelled_at",
///                         "shipments": "/fulfillments", "tracking_number": "/tracking_number" },
///     "fulfillments/create": { "kind": "shipment_created", "reference": "/order_id",
///                              "tracking_number": "/tracking_number" }
///   },
///   "unknown_topics": "ignore"
/// }
/// ```
///
/// Every value but `kind`, `status_if_missing` and the topic names is a JSON Pointer. `items`
/// points at a list whose elements the other pointers read; without it the payload itself is
/// the one item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EventsConfig {
    /// Where the delivery's topic is.
    pub topic: TopicSource,
    /// One mapping per topic, keyed by the topic as the supplier spells it.
    pub topics: BTreeMap<String, TopicMapping>,
    /// What to do with a topic that has no mapping (default: ignore).
    #[serde(default)]
    pub unknown_topics: UnknownTopics,
}

impl EventsConfig {
    /// An events block reading the topic from `topic`, with no topics yet.
    pub fn new(topic: TopicSource) -> Self {
        EventsConfig {
            topic,
            topics: BTreeMap::new(),
            unknown_topics: UnknownTopics::default(),
        }
    }

    /// Every problem, with paths relative to the events object (`topics.orders/updated.status`).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        match &self.topic {
            TopicSource::Header(h) => {
                if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    out.push(Problem::new("topic.header", "is not a valid header name"));
                }
            }
            TopicSource::Pointer(p) => {
                if !crate::adapters::json::is_pointer(p) || p.is_empty() {
                    out.push(Problem::new(
                        "topic.pointer",
                        "must be a JSON Pointer starting with '/', such as /type",
                    ));
                }
            }
        }
        if self.topics.is_empty() {
            out.push(Problem::new("topics", "needs at least one topic"));
        }
        for (name, mapping) in &self.topics {
            if name.trim().is_empty() {
                out.push(Problem::new("topics", "a topic name must not be empty"));
                continue;
            }
            let base = format!("topics.{name}");
            out.extend(
                mapping
                    .problems()
                    .into_iter()
                    .map(|p| Problem::new(format!("{base}.{}", p.path), p.message)),
            );
        }
        out
    }
}

/// Where a delivery names its topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TopicSource {
    /// A request header (`X-Shopify-Topic`, `X-WC-Webhook-Topic`).
    Header(String),
    /// A JSON Pointer into the body (`/type`).
    Pointer(String),
}

/// What to do with a delivery whose topic has no mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnknownTopics {
    /// Accept it with no events (suppliers send topics nobody subscribed to, and a refusal
    /// only makes them retry).
    #[default]
    Ignore,
    /// Refuse it with an [`Unsupported`](crate::ErrorKind::Unsupported) error.
    Refuse,
}

/// Which event a topic becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// [`SupplierEvent::StockChanged`](crate::SupplierEvent::StockChanged): needs `sku` and
    /// `quantity`; reads `warehouse`, `observed_at`, `version`.
    StockChanged,
    /// [`SupplierEvent::OrderStatusChanged`](crate::SupplierEvent::OrderStatusChanged): needs
    /// `reference` and `status`; reads `supplier_order_id`, `status_reason`,
    /// `status_if_missing`, `cancelled_at`, `updated_at`, and `shipments` with `carrier`,
    /// `tracking_number`, `tracking_url`, `shipped_at` relative to each shipment.
    OrderStatusChanged,
    /// [`SupplierEvent::ShipmentCreated`](crate::SupplierEvent::ShipmentCreated): needs
    /// `reference`; reads `supplier_order_id`, `carrier`, `tracking_number`, `tracking_url`,
    /// `shipped_at`.
    ShipmentCreated,
}

impl EventKind {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::StockChanged => "stock_changed",
            EventKind::OrderStatusChanged => "order_status_changed",
            EventKind::ShipmentCreated => "shipment_created",
        }
    }

    /// Fields this kind reads (beyond `kind` and `items`), and whether each is required.
    fn fields(self) -> &'static [(&'static str, bool)] {
        match self {
            EventKind::StockChanged => &[
                ("sku", true),
                ("quantity", true),
                ("warehouse", false),
                ("observed_at", false),
                ("version", false),
            ],
            EventKind::OrderStatusChanged => &[
                ("reference", true),
                ("status", true),
                ("supplier_order_id", false),
                ("status_reason", false),
                ("status_if_missing", false),
                ("cancelled_at", false),
                ("updated_at", false),
                ("shipments", false),
                ("carrier", false),
                ("tracking_number", false),
                ("tracking_url", false),
                ("shipped_at", false),
            ],
            EventKind::ShipmentCreated => &[
                ("reference", true),
                ("supplier_order_id", false),
                ("carrier", false),
                ("tracking_number", false),
                ("tracking_url", false),
                ("shipped_at", false),
            ],
        }
    }
}

/// How one topic's payload maps to an event: JSON Pointers to each field. Which fields a kind
/// needs and reads is listed on [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TopicMapping {
    /// The event it becomes.
    pub kind: EventKind,
    /// A list of items in the payload; the other pointers are relative to each. Absent: the
    /// payload is the one item.
    #[serde(default)]
    pub items: Option<String>,
    /// The supplier's SKU (through the supplier's `sku_rules`).
    #[serde(default)]
    pub sku: Option<String>,
    /// The stock value (a count, a bucket such as `">10"`, or a word such as `"in stock"`).
    #[serde(default)]
    pub quantity: Option<String>,
    /// The warehouse or location code.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// When the stock level was true.
    #[serde(default)]
    pub observed_at: Option<String>,
    /// The supplier's version or sequence number.
    #[serde(default)]
    pub version: Option<String>,
    /// The merchant's order reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// The supplier's order id.
    #[serde(default)]
    pub supplier_order_id: Option<String>,
    /// The supplier's status word (through the supplier's `status_map`).
    #[serde(default)]
    pub status: Option<String>,
    /// A field qualifying the status word (see `status_map.reasons`).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// The status word a missing or `null` status stands for (Shopify's `fulfillment_status`
    /// is `null` until something ships). Not a pointer.
    #[serde(default)]
    pub status_if_missing: Option<String>,
    /// A field whose presence (not `null`) means the order is cancelled.
    #[serde(default)]
    pub cancelled_at: Option<String>,
    /// When the order last changed.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// A list (or one object) of shipments inside an order.
    #[serde(default)]
    pub shipments: Option<String>,
    /// Carrier name.
    #[serde(default)]
    pub carrier: Option<String>,
    /// Tracking number.
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// Tracking page.
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// When the parcel left.
    #[serde(default)]
    pub shipped_at: Option<String>,
}

impl TopicMapping {
    /// A mapping of `kind` with no fields yet; set them on the public fields.
    pub fn new(kind: EventKind) -> Self {
        TopicMapping {
            kind,
            items: None,
            sku: None,
            quantity: None,
            warehouse: None,
            observed_at: None,
            version: None,
            reference: None,
            supplier_order_id: None,
            status: None,
            status_reason: None,
            status_if_missing: None,
            cancelled_at: None,
            updated_at: None,
            shipments: None,
            carrier: None,
            tracking_number: None,
            tracking_url: None,
            shipped_at: None,
        }
    }

    /// A stock mapping reading the SKU and the quantity at these pointers.
    pub fn stock(sku: impl Into<String>, quantity: impl Into<String>) -> Self {
        let mut m = Self::new(EventKind::StockChanged);
        m.sku = Some(sku.into());
        m.quantity = Some(quantity.into());
        m
    }

    /// An order-status mapping reading the reference and the status word at these pointers.
    pub fn order_status(reference: impl Into<String>, status: impl Into<String>) -> Self {
        let mut m = Self::new(EventKind::OrderStatusChanged);
        m.reference = Some(reference.into());
        m.status = Some(status.into());
        m
    }

    /// A shipment mapping reading the order reference at this pointer.
    pub fn shipment(reference: impl Into<String>) -> Self {
        let mut m = Self::new(EventKind::ShipmentCreated);
        m.reference = Some(reference.into());
        m
    }

    /// Every field by its config name, `items` first.
    fn named(&self) -> [(&'static str, Option<&str>); 18] {
        [
            ("items", self.items.as_deref()),
            ("sku", self.sku.as_deref()),
            ("quantity", self.quantity.as_deref()),
            ("warehouse", self.warehouse.as_deref()),
            ("observed_at", self.observed_at.as_deref()),
            ("version", self.version.as_deref()),
            ("reference", self.reference.as_deref()),
            ("supplier_order_id", self.supplier_order_id.as_deref()),
            ("status", self.status.as_deref()),
            ("status_reason", self.status_reason.as_deref()),
            ("status_if_missing", self.status_if_missing.as_deref()),
            ("cancelled_at", self.cancelled_at.as_deref()),
            ("updated_at", self.updated_at.as_deref()),
            ("shipments", self.shipments.as_deref()),
            ("carrier", self.carrier.as_deref()),
            ("tracking_number", self.tracking_number.as_deref()),
            ("tracking_url", self.tracking_url.as_deref()),
            ("shipped_at", self.shipped_at.as_deref()),
        ]
    }

    /// Every problem, with paths relative to the mapping (`status`).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let kind = self.kind.as_str();
        let allowed = self.kind.fields();
        for (name, value) in self.named() {
            let spec = allowed.iter().find(|(n, _)| *n == name);
            match (value, spec) {
                (None, Some((_, true))) => {
                    out.push(Problem::new(name, format!("is required for kind {kind:?}")));
                }
                (Some(_), None) if name != "items" => {
                    out.push(Problem::new(name, format!("is not read for kind {kind:?}")));
                }
                // `status_if_missing` is a word, not a place. "" reads the item itself: for
                // lists of bare values.
                (Some(p), _)
                    if name != "status_if_missing" && !crate::adapters::json::is_pointer(p) =>
                {
                    out.push(Problem::new(
                        name,
                        "must be a JSON Pointer starting with '/' (\"\" is the item itself)",
                    ));
                }
                _ => {}
            }
        }
        if self.kind == EventKind::OrderStatusChanged && self.shipments.is_none() {
            for (name, value) in [
                ("carrier", &self.carrier),
                ("tracking_number", &self.tracking_number),
                ("tracking_url", &self.tracking_url),
                ("shipped_at", &self.shipped_at),
            ] {
                if value.is_some() {
                    out.push(Problem::new(
                        name,
                        "is read inside each shipment; set \"shipments\" to the list too",
                    ));
                }
            }
        }
        out
    }
}
