//! Turning a verified webhook delivery into [`SupplierEvent`]s, as the supplier's
//! `webhook.events` config describes.
//!
//! The same mapping machinery as the adapters reads the payload: JSON Pointers
//! ([`adapters::json`](crate::adapters::json)), SKUs through the supplier's [`SkuRules`] and
//! [`map_stock_items`] (an SKU that cannot be mapped is reported, never dropped), stock values
//! through [`Availability::from_json`], status words through the supplier's [`StatusMap`],
//! times through [`parse_timestamp_json`].
//!
//! What becomes an error and what becomes a problem:
//!
//! - The whole delivery fails ([`Protocol`](ErrorKind::Protocol)) when it cannot be read at all:
//!   a body that is not UTF-8 or not JSON (truncated bodies are told apart), no topic, a
//!   configured `items` list that is missing, or, when the payload is the one item, a required
//!   field (`sku`, `quantity`, `reference`, `status`) that is missing or not text. An unmapped
//!   topic is ignored, or refused as [`Unsupported`](ErrorKind::Unsupported) with
//!   `"unknown_topics": "refuse"`.
//! - One item fails, as an [`ItemProblem`] beside the events of the others, when its values do
//!   not fit: an SKU the rules refuse (or one colliding with another item's), a stock count over
//!   [`MAX_STOCK_QUANTITY`](crate::MAX_STOCK_QUANTITY) or not a number or a known word, an
//!   order reference that is not a valid [`OrderRef`], or, inside an `items` list, a missing
//!   required field.
//! - Nothing fails for a status word no map knows (it becomes [`OrderStatus::Unknown`]), a
//!   negative count (stored as 0 with a [`StockWarning`](crate::StockWarning)), or an optional
//!   field that is absent or does not fit (left out).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName};
use serde_json::Value;

use super::{Refused, Verifier};
use crate::adapters::items::{RawStockItem, map_stock_items};
use crate::adapters::json::{list_at, parse_body, text_at, u64_at};
use crate::config::{
    EventKind, EventsConfig, SupplierConfig, TopicMapping, TopicSource, UnknownTopics,
};
use crate::dropshipper::ItemProblem;
use crate::error::{Error, ErrorKind, Operation, Problem};
use crate::model::{
    Availability, OrderHandle, OrderRef, OrderState, OrderStatus, Shipment, SkuRules, StatusMap,
    SupplierEvent, SupplierId, parse_timestamp_json,
};

/// One delivery, read: its events and the items that could not be mapped.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The supplier it came from.
    pub supplier: SupplierId,
    /// The topic, as the supplier spelled it.
    pub topic: String,
    /// The delivery id, when the verifier reads one (`delivery_id_header`).
    pub delivery_id: Option<String>,
    /// Which active secret signed it, when it went through a [`Verifier`].
    pub secret_index: Option<usize>,
    /// When it was read; stands in for times the payload does not give.
    pub received_at: DateTime<Utc>,
    /// `true` when the topic has no mapping and `unknown_topics` is `ignore`: accepted, no
    /// events.
    pub ignored: bool,
    /// The events, in payload order.
    pub events: Vec<SupplierEvent>,
    /// Items that could not become events, and why.
    pub problems: Vec<ItemProblem>,
}

/// Why [`Receiver::receive`] did not accept a delivery.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The delivery failed verification; nothing in it was read. Answer 401 (413 for
    /// [`Refused::BodyTooLarge`]), or 200 for [`Refused::Replayed`] if duplicates should not be
    /// retried.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The delivery verified, but its payload cannot be read
    /// ([`Protocol`](ErrorKind::Protocol)) or its topic is refused
    /// ([`Unsupported`](ErrorKind::Unsupported)). The delivery is already recorded as seen: a
    /// retry carries the same bytes, so it would fail the same way.
    #[error(transparent)]
    Payload(Error),
}

impl From<ReceiveError> for Error {
    fn from(e: ReceiveError) -> Self {
        match e {
            ReceiveError::Refused(r) => r.into(),
            ReceiveError::Payload(e) => e,
        }
    }
}

/// Where the topic is read, resolved once.
#[derive(Debug, Clone)]
enum Topic {
    Header(HeaderName),
    Pointer(String),
}

/// Reads deliveries for one supplier into [`SupplierEvent`]s. Build it from config with
/// [`from_config`](EventParser::from_config), or in Rust with [`builder`](EventParser::builder):
///
/// ```
/// use dropship::config::TopicMapping;
/// use dropship::webhook::EventParser;
/// use dropship::{Availability, SupplierEvent, SupplierId};
/// use reqwest::header::HeaderMap;
///
/// let parser = EventParser::builder(SupplierId::new("acme").unwrap())
///     .topic_pointer("/type")
///     .topic("stock", TopicMapping::stock("/sku", "/qty"))
///     .build()
///     .unwrap();
/// let body = br#"{"type": "stock", "sku": "MUG-1", "qty": -2}"#;
/// let delivery = parser.parse(&HeaderMap::new(), body).unwrap();
/// // A negative count is stored as 0, with a warning kept on the level.
/// assert!(matches!(
///     &delivery.events[0],
///     SupplierEvent::StockChanged(level) if level.available == Availability::Exact(0)
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct EventParser {
    supplier: SupplierId,
    sku_rules: SkuRules,
    statuses: StatusMap,
    topic: Topic,
    topics: BTreeMap<String, TopicMapping>,
    unknown: UnknownTopics,
}

/// Builds an [`EventParser`] in Rust; [`build`](EventParserBuilder::build) checks it as the
/// config loader would.
#[derive(Debug, Clone)]
pub struct EventParserBuilder {
    supplier: SupplierId,
    sku_rules: SkuRules,
    statuses: StatusMap,
    topic: Option<TopicSource>,
    topics: BTreeMap<String, TopicMapping>,
    unknown: UnknownTopics,
}

impl EventParserBuilder {
    /// The supplier's SKU rules (default: trim only).
    pub fn sku_rules(mut self, rules: SkuRules) -> Self {
        self.sku_rules = rules;
        self
    }

    /// The supplier's status vocabulary (default: empty, every word `Unknown`).
    pub fn status_map(mut self, map: StatusMap) -> Self {
        self.statuses = map;
        self
    }

    /// Reads the topic from this header.
    pub fn topic_header(mut self, header: impl Into<String>) -> Self {
        self.topic = Some(TopicSource::Header(header.into()));
        self
    }

    /// Reads the topic at this JSON Pointer in the body.
    pub fn topic_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.topic = Some(TopicSource::Pointer(pointer.into()));
        self
    }

    /// Maps one topic.
    pub fn topic(mut self, name: impl Into<String>, mapping: TopicMapping) -> Self {
        self.topics.insert(name.into(), mapping);
        self
    }

    /// What to do with unmapped topics (default: ignore).
    pub fn unknown_topics(mut self, what: UnknownTopics) -> Self {
        self.unknown = what;
        self
    }

    /// Replaces the topic source, topics and unknown-topic rule with a config block.
    pub fn events(mut self, events: EventsConfig) -> Self {
        self.topic = Some(events.topic);
        self.topics = events.topics;
        self.unknown = events.unknown_topics;
        self
    }

    /// Checks the mapping: a [`Config`](ErrorKind::Config) error lists every problem, with
    /// paths as in an `events` block (`topics.stock.quantity`).
    pub fn build(self) -> Result<EventParser, Error> {
        let Some(source) = self.topic else {
            return Err(Error::config(vec![Problem::new("topic", "is required")]));
        };
        let mut events = EventsConfig::new(source);
        events.topics = self.topics;
        events.unknown_topics = self.unknown;
        let problems = events.problems();
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        let topic = match events.topic {
            TopicSource::Header(h) => Topic::Header(
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| Error::new(ErrorKind::Config, "topic.header is not a header"))?,
            ),
            TopicSource::Pointer(p) => Topic::Pointer(p),
        };
        Ok(EventParser {
            supplier: self.supplier,
            sku_rules: self.sku_rules,
            statuses: self.statuses,
            topic,
            topics: events.topics,
            unknown: events.unknown_topics,
        })
    }
}

/// How a field that an item cannot do without is handled: the whole delivery fails when the
/// payload is the one item, only that item when it is one of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Items {
    Single,
    Listed,
}

impl EventParser {
    /// A builder for `supplier`, with default SKU rules and an empty status map.
    pub fn builder(supplier: SupplierId) -> EventParserBuilder {
        EventParserBuilder {
            supplier,
            sku_rules: SkuRules::default(),
            statuses: StatusMap::default(),
            topic: None,
            topics: BTreeMap::new(),
            unknown: UnknownTopics::default(),
        }
    }

    /// The parser a supplier's config describes: its id, `sku_rules`, `status_map` and
    /// `webhook.events`. A [`Config`](ErrorKind::Config) error when it has no `webhook.events`.
    pub fn from_config(config: &SupplierConfig) -> Result<Self, Error> {
        let events = config
            .webhook
            .as_ref()
            .and_then(|w| w.events.clone())
            .ok_or_else(|| {
                Error::config(vec![Problem::new(
                    "webhook.events",
                    "is required to read webhook events",
                )])
                .with_supplier(config.id.clone())
            })?;
        EventParser::builder(config.id.clone())
            .sku_rules(config.sku_rules.clone())
            .status_map(config.status_map.clone())
            .events(events)
            .build()
            .map_err(|e| e.within("webhook.events").with_supplier(config.id.clone()))
    }

    /// The supplier this parser reads for.
    pub fn supplier(&self) -> &SupplierId {
        &self.supplier
    }

    /// Reads a delivery received now. Call it only on a body that passed verification (or use
    /// a [`Receiver`], which does both).
    pub fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Error> {
        self.parse_at(headers, body, Utc::now())
    }

    /// Like [`parse`](EventParser::parse), with the time of receipt given.
    pub fn parse_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Delivery, Error> {
        self.read(headers, body, received_at).map_err(|e| {
            e.with_supplier(self.supplier.clone())
                .with_operation(Operation::Webhook)
        })
    }

    fn read(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Delivery, Error> {
        // Told apart from malformed JSON so the message says what is wrong with the bytes.
        if let Err(e) = std::str::from_utf8(body) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "webhook body is not UTF-8 text (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            ));
        }
        let doc = parse_body(body, "webhook body")?;
        let topic = self.topic_of(headers, &doc)?;
        let mut delivery = Delivery {
            supplier: self.supplier.clone(),
            topic,
            delivery_id: None,
            secret_index: None,
            received_at,
            ignored: false,
            events: Vec::new(),
            problems: Vec::new(),
        };
        let Some(mapping) = self.topics.get(&delivery.topic) else {
            return match self.unknown {
                UnknownTopics::Refuse => Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("webhook topic {:?} has no mapping", delivery.topic),
                )),
                _ => {
                    delivery.ignored = true;
                    Ok(delivery)
                }
            };
        };
        let (items, how): (Vec<(String, &Value)>, Items) = match &mapping.items {
            Some(p) => (
                list_at(&doc, p)?
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{p}/{i}"), v))
                    .collect(),
                Items::Listed,
            ),
            None => (vec![(String::new(), &doc)], Items::Single),
        };
        match mapping.kind {
            EventKind::StockChanged => self.stock(mapping, &items, how, &mut delivery)?,
            EventKind::OrderStatusChanged => {
                for (at, item) in &items {
                    match self.order(mapping, at, item, &mut delivery) {
                        Ok(Some(event)) => delivery.events.push(event),
                        Ok(None) => {}
                        Err(e) if how == Items::Single => return Err(e),
                        Err(e) => delivery.problems.push(self.problem(None, e)),
                    }
                }
            }
            EventKind::ShipmentCreated => {
                for (at, item) in &items {
                    match self.shipment(mapping, at, item, &mut delivery) {
                        Ok(Some(event)) => delivery.events.push(event),
                        Ok(None) => {}
                        Err(e) if how == Items::Single => return Err(e),
                        Err(e) => delivery.problems.push(self.problem(None, e)),
                    }
                }
            }
        }
        Ok(delivery)
    }

    fn topic_of(&self, headers: &HeaderMap, doc: &Value) -> Result<String, Error> {
        let found = match &self.topic {
            Topic::Header(h) => headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string()),
            Topic::Pointer(p) => text_at(doc, p, "")?.map(|t| t.trim().to_string()),
        };
        found.filter(|t| !t.is_empty()).ok_or_else(|| {
            let place = match &self.topic {
                Topic::Header(h) => format!("in header {h}"),
                Topic::Pointer(p) => format!("at {p}"),
            };
            Error::new(ErrorKind::Protocol, format!("webhook has no topic {place}"))
        })
    }

    fn problem(&self, raw_id: Option<String>, error: Error) -> ItemProblem {
        ItemProblem {
            raw_id,
            error: error
                .with_supplier(self.supplier.clone())
                .with_operation(Operation::Webhook),
        }
    }

    fn stock(
        &self,
        m: &TopicMapping,
        items: &[(String, &Value)],
        how: Items,
        delivery: &mut Delivery,
    ) -> Result<(), Error> {
        let (Some(sku_ptr), Some(qty_ptr)) = (&m.sku, &m.quantity) else {
            return Err(unconfigured("sku and quantity"));
        };
        let mut raws = Vec::with_capacity(items.len());
        for (at, item) in items {
            let sku = required_text(item, sku_ptr, at);
            let value = item.pointer(qty_ptr).filter(|v| !v.is_null());
            if how == Items::Single {
                sku.as_ref().map_err(Clone::clone)?;
                if value.is_none() {
                    return Err(missing(at, qty_ptr));
                }
            }
            let quantity = match value {
                None => Err(missing(at, qty_ptr)),
                Some(v) => Availability::from_json(v)
                    .map(|(a, w)| (a, w.into_iter().collect()))
                    .map_err(|e| {
                        Error::new(ErrorKind::Protocol, format!("{}: {e}", place(at, qty_ptr)))
                    }),
            };
            // map_stock_items reports an item without SKU with its quantity's error.
            let (sku, quantity) = match sku {
                Ok(s) => (Some(s), quantity),
                Err(e) => (None, Err(e)),
            };
            raws.push(RawStockItem {
                sku,
                quantity,
                warehouse: optional_text(item, m.warehouse.as_deref()),
                updated_at: optional_time(item, m.observed_at.as_deref()),
                version: m
                    .version
                    .as_deref()
                    .and_then(|p| u64_at(item, p, "").ok().flatten()),
                incoming: None,
            });
        }
        let (levels, problems) = map_stock_items(
            &self.supplier,
            Operation::Webhook,
            &self.sku_rules,
            raws,
            delivery.received_at,
        );
        delivery
            .events
            .extend(levels.into_iter().map(SupplierEvent::StockChanged));
        delivery.problems.extend(problems);
        Ok(())
    }

    /// The order handle of an item; `Ok(None)` when its reference is not a valid [`OrderRef`]
    /// (reported as a problem).
    fn handle(
        &self,
        m: &TopicMapping,
        at: &str,
        item: &Value,
        delivery: &mut Delivery,
    ) -> Result<Option<OrderHandle>, Error> {
        let Some(ref_ptr) = &m.reference else {
            return Err(unconfigured("reference"));
        };
        let raw = required_text(item, ref_ptr, at)?;
        let supplier_order_id = optional_text(item, m.supplier_order_id.as_deref());
        match OrderRef::new(raw.trim()) {
            Ok(reference) => Ok(Some(OrderHandle {
                reference,
                supplier_order_id,
            })),
            Err(e) => {
                let error = Error::new(
                    ErrorKind::Protocol,
                    format!("{}: {}", place(at, ref_ptr), e.message()),
                );
                delivery.problems.push(self.problem(Some(raw), error));
                Ok(None)
            }
        }
    }

    fn order(
        &self,
        m: &TopicMapping,
        at: &str,
        item: &Value,
        delivery: &mut Delivery,
    ) -> Result<Option<SupplierEvent>, Error> {
        let Some(status_ptr) = &m.status else {
            return Err(unconfigured("status"));
        };
        // Read before the handle so a missing status fails the item even when its reference
        // is also unusable.
        let raw_status = match text_at(item, status_ptr, at)? {
            Some(word) => word,
            None => m
                .status_if_missing
                .clone()
                .ok_or_else(|| missing(at, status_ptr))?,
        };
        let Some(handle) = self.handle(m, at, item, delivery)? else {
            return Ok(None);
        };
        let cancelled = m
            .cancelled_at
            .as_deref()
            .and_then(|p| item.pointer(p))
            .is_some_and(|v| !v.is_null());
        let status = if cancelled {
            OrderStatus::Cancelled
        } else {
            let reason = optional_text(item, m.status_reason.as_deref());
            self.statuses
                .map_with_reason(&raw_status, reason.as_deref())
        };
        Ok(Some(SupplierEvent::OrderStatusChanged(OrderState {
            supplier: self.supplier.clone(),
            handle,
            status,
            raw_status,
            shipments: order_shipments(m, item),
            updated_at: optional_time(item, m.updated_at.as_deref()),
        })))
    }

    fn shipment(
        &self,
        m: &TopicMapping,
        at: &str,
        item: &Value,
        delivery: &mut Delivery,
    ) -> Result<Option<SupplierEvent>, Error> {
        let Some(handle) = self.handle(m, at, item, delivery)? else {
            return Ok(None);
        };
        let shipment = read_shipment(m, item);
        Ok(Some(SupplierEvent::ShipmentCreated {
            supplier: self.supplier.clone(),
            handle,
            at: shipment.shipped_at.unwrap_or(delivery.received_at),
            shipment,
        }))
    }
}

/// Where a field is, for messages: the item's place and the field's pointer.
fn place(at: &str, pointer: &str) -> String {
    match format!("{at}{pointer}") {
        p if p.is_empty() => "the payload root".to_string(),
        p => p,
    }
}

fn missing(at: &str, pointer: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("{}: required field is missing", place(at, pointer)),
    )
}

/// A mapping that `build` should have refused; kept as an error rather than a panic.
fn unconfigured(what: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("the topic mapping has no {what} pointer"),
    )
}

/// Text the item cannot do without: absent, `null`, or not text (nor a number) is an error
/// naming the place.
fn required_text(item: &Value, pointer: &str, at: &str) -> Result<String, Error> {
    text_at(item, pointer, at)?.ok_or_else(|| missing(at, pointer))
}

/// Optional facts that do not fit are left out, as the adapters do.
fn optional_text(item: &Value, pointer: Option<&str>) -> Option<String> {
    pointer.and_then(|p| text_at(item, p, "").ok().flatten())
}

fn optional_time(item: &Value, pointer: Option<&str>) -> Option<DateTime<Utc>> {
    pointer
        .and_then(|p| item.pointer(p))
        .and_then(parse_timestamp_json)
}

fn read_shipment(m: &TopicMapping, v: &Value) -> Shipment {
    Shipment {
        carrier: optional_text(v, m.carrier.as_deref()),
        tracking_number: optional_text(v, m.tracking_number.as_deref()),
        tracking_url: optional_text(v, m.tracking_url.as_deref()),
        shipped_at: optional_time(v, m.shipped_at.as_deref()),
        lines: Vec::new(),
    }
}

/// The shipments listed inside an order (a list, or one object).
fn order_shipments(m: &TopicMapping, order: &Value) -> Vec<Shipment> {
    let Some(list) = m.shipments.as_deref().and_then(|p| order.pointer(p)) else {
        return Vec::new();
    };
    let entries: Vec<&Value> = match list {
        Value::Array(list) => list.iter().collect(),
        one @ Value::Object(_) => vec![one],
        _ => Vec::new(),
    };
    entries
        .into_iter()
        .map(|s| read_shipment(m, s))
        // A carrier alone is the shipping method chosen, not a parcel on its way.
        .filter(|s| s.tracking_number.is_some() || s.tracking_url.is_some())
        .collect()
}

/// Verifies deliveries and reads them into events: a [`Verifier`] and an [`EventParser`] for
/// one supplier. Nothing in a body is read before its signature passed.
#[derive(Debug)]
pub struct Receiver {
    verifier: Verifier,
    parser: EventParser,
}

impl Receiver {
    /// Combines a verifier and a parser built in Rust.
    pub fn new(verifier: Verifier, parser: EventParser) -> Self {
        Receiver { verifier, parser }
    }

    /// The receiver a supplier's config describes: its `webhook` block (with `events`), SKU
    /// rules and status map.
    pub fn from_config(config: &SupplierConfig) -> Result<Self, Error> {
        let webhook = config.webhook.as_ref().ok_or_else(|| {
            Error::config(vec![Problem::new(
                "webhook",
                "is required to receive webhooks",
            )])
            .with_supplier(config.id.clone())
        })?;
        let verifier = Verifier::from_config(webhook)?;
        Ok(Receiver::new(verifier, EventParser::from_config(config)?))
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The parser.
    pub fn parser(&self) -> &EventParser {
        &self.parser
    }

    /// Verifies the delivery, then reads it. See [`ReceiveError`] for what to answer.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, ReceiveError> {
        let verified = self.verifier.verify(headers, body)?;
        let mut delivery = self
            .parser
            .parse(headers, body)
            .map_err(ReceiveError::Payload)?;
        delivery.delivery_id = verified.delivery_id;
        delivery.secret_index = Some(verified.secret_index);
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_read_well() {
        assert_eq!(place("", ""), "the payload root");
        assert_eq!(place("/items/2", "/sku"), "/items/2/sku");
    }
}
