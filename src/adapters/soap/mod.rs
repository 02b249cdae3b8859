//! The SOAP adapter: [`SoapSupplier`] implements [`Dropshipper`] for XML suppliers (SOAP 1.1
//! and 1.2) from configuration, through the shared [`Transport`].
//!
//! It is split in two:
//! - [`SoapCodec`] is pure: it writes request envelopes from the operation templates in the
//!   config (quick-xml's writer, so values are always escaped), reads responses as a stream of
//!   events (namespace-aware, no DOM: memory bounded by one item), maps stock items through the
//!   shared [`items`](crate::adapters::items) mapping, and turns SOAP faults into typed errors.
//! - [`SoapSupplier`] adds the transport, WS-Security and session login.
//!
//! # Configuration
//!
//! A SOAP supplier has `"protocol": "soap"`, a `"soap"` object with protocol-wide settings, and
//! one entry per operation in `"operations"`. A complete example (Magento 1 SOAP v2 with session
//! login; `fixtures/profiles/magento1_soap.json` is the same profile as a file). Comments are for
//! this page only; JSON has none:
//!
//! ```json
//! { "id": "magento1", "protocol": "soap",
//!   "base_url": "https://shop.example.com/api/v2_soap/index/",
//!   "status_map": { "preset": "magento" },
//!   "soap": {
//!     "version": "1.1",                    // "1.1" (text/xml + SOAPAction) or "1.2" (action= in content type)
//!     "namespace": "urn:Magento",          // target namespace of the operation elements
//!     "prefix": "ns1",                     // its prefix in our envelopes (default "m")
//!     "action": "urn:Mage_Api_Model_Server_V2_HandlerAction", // default SOAPAction / action
//!     "path": "",                          // endpoint path joined to base_url ("" = base_url itself)
//!     "qualified_params": false,           // parameters unqualified (RPC style) or in the target namespace
//!     "faults": {
//!       "codes": { "2": "auth", "100": "not_found", "101": "not_found" }, // supplier code -> kind
//!       "detail_code": "code",             // a detail element whose text is the supplier's code
//!       "unknown": "invalid"               // kind of a fault no rule classifies (default invalid)
//!     },
//!     "session": {                         // optional: log in, send the session id, re-login on expiry
//!       "operation": "login",
//!       "params": [ { "name": "username", "value": "api-user" },
//!                   { "name": "apiKey", "secret": "env:MAGENTO_API_KEY" } ], // env:, file: or inline
//!       "result": "loginResponse/loginReturn", // where the session id is, below Body
//!       "expired_codes": ["5"]             // fault codes meaning "session expired"
//!     }
//!   },
//!   "operations": {
//!     "stock": {
//!       "operation": "catalogInventoryStockItemList",
//!       "batch_size": 50,                  // SKUs per request (default 50)
//!       "params": [ { "name": "sessionId", "from": "session" },
//!                   { "name": "products", "from": "skus", "item": "item" } ],
//!       "items": {                         // paths below Body: local names, `{uri}local`, `*`, `@attr`
//!         "path": "catalogInventoryStockItemListResponse/result/item",
//!         "sku": "sku",                    // child element (or "@attr", "a/b", "a/@b") of each item
//!         "quantity": "qty",               // or a list, summed (per-warehouse fields)
//!         "in_stock": "is_in_stock",       // optional yes/no flag: "no" means out of stock
//!         "warehouse": null, "updated_at": null, "version": null } },
//!     "crawl_stock": {                     // paged by page number; next page while a page is full
//!       "operation": "stockList", "page_size": 100, "first_page": 1,
//!       "params": [ { "name": "page", "from": "page" }, { "name": "limit", "from": "page_size" } ],
//!       "items": { "path": "stockListResponse/items/item", "sku": "@sku", "quantity": "qty" } },
//!     "place_order": {
//!       "operation": "createOrder",
//!       "idempotency_header": "Idempotency-Key", // reference also sent as a header (retries allowed)
//!       "supplier_deduplicates": false,    // or: the supplier dedupes on the reference in the body
//!       "params": [
//!         { "name": "reference", "from": "reference" },
//!         { "name": "lines", "from": "lines", "item": "line", "children": [
//!             { "name": "sku", "from": "line.sku" },         // SkuRules::denormalize'd
//!             { "name": "qty", "from": "line.quantity" } ] },
//!         { "name": "address", "children": [
//!             { "name": "name", "from": "ship_to.name" },
//!             { "name": "street", "from": "ship_to.line1" },
//!             { "name": "city", "from": "ship_to.city" },
//!             { "name": "country", "from": "ship_to.country_code" } ] },
//!         { "name": "shipping", "from": "shipping_method" },
//!         { "name": "channel", "value": "dropship", "attributes": { "xsi:type": "xsd:string" } } ],
//!       "result": { "order_id": "createOrderResponse/orderId",
//!                   "status": "createOrderResponse/status",
//!                   "already_existed": "createOrderResponse/duplicate" } },
//!     "order_status": {
//!       "operation": "salesOrderInfo",
//!       "params": [ { "name": "sessionId", "from": "session" },
//!                   { "name": "orderIncrementId", "from": "supplier_order_id" } ],
//!       "result": { "order_id": "salesOrderInfoResponse/result/increment_id",
//!                   "status": "salesOrderInfoResponse/result/status",
//!                   "updated_at": "salesOrderInfoResponse/result/updated_at",
//!                   "shipments": { "path": "salesOrderInfoResponse/result/tracks/item",
//!                                  "carrier": "carrier_code", "tracking_number": "number" } } },
//!     "cancel_order": {
//!       "operation": "salesOrderCancel",   // without result.status, the state is re-read
//!       "params": [ { "name": "sessionId", "from": "session" },
//!                   { "name": "orderIncrementId", "from": "supplier_order_id" } ] } } }
//! ```
//!
//! Each operation may also set `namespace`, `action` and `path` (overriding the `soap` ones) and
//! `idempotent` (reads and cancellations default to `true`). Parameter sources (`"from"`):
//! `session`, `skus` (stock; repeated, or wrapped when `item` is set), `reference`,
//! `supplier_order_id`, `lines` with children `line.sku`, `line.quantity`, `line.unit_price`,
//! `line.currency`, `line.line_ref`, `ship_to.<name|company|line1|line2|city|region|
//! postal_code|country_code|phone|email>`, `shipping_method`, `note`, `created_at`, `page`,
//! `page_size`; `"value"` is a constant, `"children"` alone a nested element. An optional
//! canonical field that is absent is left out of the envelope. Secrets (`"secret"`) are
//! accepted only in `soap.session.params`; WS-Security comes from `auth`
//! (`{"kind": "wsse", "username", "password", "digest": true}`).
//!
//! # Behaviour worth knowing
//! - **Faults** (see [`SoapFault`]): found in any HTTP status by the response classifier, so
//!   the transport retries only `Server`/`Receiver` faults (and only idempotent requests).
//! - **Fresh credentials per send**: the envelope, with its WS-Security nonce and `Created`, is
//!   built for every [`Transport::send`]. The transport's own retries resend the same bytes (its
//!   auth hook cannot rewrite a body); if such a replay is then refused as an auth fault (a
//!   server that remembers nonces), the adapter builds a fresh envelope and sends once more.
//!   The same one-shot replay follows a session-expired fault, after logging in again.
//! - **Safety**: DOCTYPE, entity declarations and undeclared entities are refused before
//!   anything is expanded; depth ([`MAX_DEPTH`]), element count ([`MAX_ELEMENTS`]) and value
//!   length ([`MAX_VALUE_BYTES`]) are capped; the body is capped by the transport.

mod envelope;
mod fault;
mod read;
mod spec;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

pub use fault::{FaultClass, FaultCode, FaultEntry, MAX_DETAIL_ENTRIES, SoapFault};
pub use read::{MAX_DEPTH, MAX_ELEMENTS, MAX_HEADER_ENTRIES, MAX_VALUE_BYTES};
pub use spec::{
    DEFAULT_BATCH_SIZE, DEFAULT_PAGE_SIZE, DEFAULT_PREFIX, SOAP11_NS, SOAP12_NS, SoapVersion,
};

use self::envelope::{EnvelopeInput, EnvelopeStyle, write_envelope};
use self::fault::FaultPolicy;
use self::read::{Capture, Mode, Scanned, Values, is_refusal, scan};
use self::spec::{ItemsSpec, OpSpec, Replay, SoapSpec};
use crate::adapters::items::{ItemRef, RawStockItem, StockMapper, sum_quantities};
use crate::auth::wsse::UsernameToken;
use crate::config::SupplierConfig;
use crate::dropshipper::{Capabilities, Cursor, Dropshipper, ItemProblem, Page, StockAnswer};
use crate::error::{Error, ErrorKind, Operation, Problem, Result};
use crate::model::{
    Availability, Order, OrderAck, OrderHandle, OrderState, OrderStatus, Shipment, Sku, SkuRules,
    StatusMap, StockError, StockLevel, StockWarning, SupplierId, SupplierSku, parse_timestamp,
};
use crate::transport::{JitterSource, Request, RequestClass, Response, Transport};

type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The pure half of the adapter: envelopes out, canonical values in, no I/O.
///
/// Useful on its own to test a profile against recorded responses, or to map a response that
/// arrived some other way:
///
/// ```
/// use dropship::adapters::soap::SoapCodec;
/// use dropship::config::SupplierConfig;
/// use dropship::Operation;
///
/// let config = SupplierConfig::from_json(r#"{
///   "id": "acme", "protocol": "soap", "base_url": "https://acme.example/ws",
///   "soap": { "version": "1.1", "namespace": "urn:acme" },
///   "operations": { "stock": {
///     "operation": "GetStock",
///     "params": [ { "name": "sku", "from": "skus" } ],
///     "items": { "path": "GetStockResponse/item", "sku": "@sku", "quantity": "qty" } } } }"#)?;
/// let codec = SoapCodec::from_config(&config)?;
/// let body = br#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
///   <a:GetStockResponse xmlns:a="urn:acme"><a:item sku="A-1"><a:qty>7</a:qty></a:item>
///   </a:GetStockResponse></S:Body></S:Envelope>"#;
/// let (levels, problems) = codec.stock_levels(Operation::Stock, body, chrono::Utc::now())?;
/// assert_eq!(levels[0].available, dropship::Availability::Exact(7));
/// assert!(problems.is_empty());
/// # Ok::<(), dropship::Error>(())
/// ```
pub struct SoapCodec {
    supplier: SupplierId,
    spec: SoapSpec,
    sku_rules: SkuRules,
    status_map: StatusMap,
    faults: FaultPolicy,
}

impl fmt::Debug for SoapCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoapCodec")
            .field("supplier", &self.supplier)
            .field("version", &self.spec.version)
            .field("session_login", &self.spec.session.is_some())
            .finish_non_exhaustive()
    }
}

/// An order answer's values.
#[derive(Debug, Default)]
struct OrderAnswer {
    order_id: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    updated_at: Option<DateTime<Utc>>,
    already_existed: bool,
    shipments: Vec<Shipment>,
}

/// Reads a yes/no flag as suppliers write them (`1`/`0`, `true`/`false`, stock words).
fn parse_flag(text: &str) -> Option<bool> {
    let t = crate::text::trim(text);
    let is = |words: &[&str]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(&["1", "true", "yes", "y"]) {
        return Some(true);
    }
    if is(&["0", "false", "no", "n", ""]) {
        return Some(false);
    }
    match Availability::parse_text(t) {
        Ok((Availability::InStock, _)) => Some(true),
        Ok((Availability::OutOfStock, _)) => Some(false),
        _ => None,
    }
}

/// Reads one quantity: counts, decimal counts such as Magento's `"12.0000"` when their fraction
/// is zero, and stock text as [`Availability::parse_text`] reads it. Numbers are tried first:
/// they are what large lists hold, and they need no allocation.
fn parse_quantity(text: &str) -> Result<(Availability, Option<StockWarning>), StockError> {
    let t = crate::text::trim(text);
    if let Ok(n) = t.parse::<i64>() {
        return Availability::from_count(n);
    }
    // Decimal-typed quantities (`12.0000`, as `xsd:decimal` services send them) are whole
    // numbers read without a float.
    if let Some((whole, fraction)) = t.split_once('.')
        && fraction.bytes().all(|b| b == b'0')
        && let Ok(n) = whole.parse::<i64>()
    {
        return Availability::from_count(n);
    }
    if !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
        && let Ok(x) = t.parse::<f64>()
    {
        return Availability::from_f64(x);
    }
    Availability::parse_text(t)
}

impl SoapCodec {
    /// Validates the supplier's SOAP configuration; `env:` secrets in session parameters are
    /// the values read when the config was loaded, through the same environment lookup as its
    /// `auth` secrets.
    pub fn from_config(config: &SupplierConfig) -> Result<Self> {
        Self::from_config_with_env(config, &|name| config.option_secret(name))
    }

    /// Like [`from_config`](SoapCodec::from_config), reading `env:` secrets through `env`.
    pub fn from_config_with_env(
        config: &SupplierConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let spec = spec::read_spec(config, env)?;
        let expired = spec
            .session
            .as_ref()
            .map(|s| s.expired_codes.clone())
            .unwrap_or_default();
        let faults = FaultPolicy::new(&spec.faults, expired);
        Ok(SoapCodec {
            supplier: config.id.clone(),
            spec,
            sku_rules: config.sku_rules.clone(),
            status_map: config.status_map.clone(),
            faults,
        })
    }

    /// The SOAP version this supplier speaks.
    pub fn version(&self) -> SoapVersion {
        self.spec.version
    }

    fn enrich(&self, e: Error, operation: Operation) -> Error {
        e.with_supplier(self.supplier.clone())
            .with_operation(operation)
    }

    fn op(&self, operation: Operation) -> Result<&OpSpec> {
        let op = match operation {
            Operation::Stock => self.spec.stock.as_ref(),
            Operation::CrawlStock => self.spec.crawl_stock.as_ref(),
            Operation::PlaceOrder => self.spec.place_order.as_ref(),
            Operation::OrderStatus => self.spec.order_status.as_ref(),
            Operation::CancelOrder => self.spec.cancel_order.as_ref(),
            _ => None,
        };
        op.ok_or_else(|| Error::unsupported(operation).with_supplier(self.supplier.clone()))
    }

    /// The fault in a response body, if the `Body` starts with one; reads no further than that.
    /// A refused document (DOCTYPE, undeclared entity, too deep) is an error.
    pub fn fault(&self, body: &[u8]) -> Result<Option<SoapFault>> {
        self.read_fault(body, Mode::Sniff)
    }

    fn read_fault(&self, body: &[u8], mode: Mode) -> Result<Option<SoapFault>> {
        let mut none = Values::new(0);
        let capture = Capture {
            scalars: &[],
            items: None,
        };
        match scan(body, capture, &mut none, &mut |_| Ok(()), mode)? {
            Scanned::Fault(f) => Ok(Some(*f)),
            Scanned::Answer => Ok(None),
        }
    }

    /// The transport's classifier for this supplier: a fault in any HTTP status becomes its
    /// typed error (the fault kept as the error's source); a refused document is a `Protocol`
    /// error whatever the status (so it is never retried); an unreadable body in a success is
    /// a `Protocol` error; anything else is left to the status rules.
    pub fn classify(&self, response: &Response) -> Option<Error> {
        // A success may be a 100 MB stock list: read only up to the Body's first child. An
        // error answer is small and read whole, so a hostile one is refused wherever it hides.
        let success = response.status().is_success();
        if !success && is_html(response) {
            // A proxy's error page (`<!DOCTYPE html>`), not a supplier's answer: the status
            // decides, so a 502 page stays retryable.
            return None;
        }
        let mode = if success { Mode::Sniff } else { Mode::Full };
        match self.read_fault(response.body(), mode) {
            Ok(Some(fault)) => Some(self.faults.error(fault)),
            Ok(None) => None,
            Err(e) if is_refusal(&e) || response.status().is_success() => Some(e),
            Err(_) => None,
        }
    }

    fn items_spec(&self, operation: Operation) -> Result<&ItemsSpec> {
        self.op(operation)?
            .items
            .as_ref()
            .ok_or_else(|| Error::unsupported(operation).with_supplier(self.supplier.clone()))
    }

    /// Streams the stock items of a `stock` or `crawl_stock` response to `each`, one at a time,
    /// without building the document or the item list; returns how many there were. Memory
    /// stays bounded by one item.
    pub fn for_each_stock_item(
        &self,
        operation: Operation,
        body: &[u8],
        mut each: impl FnMut(RawStockItem),
    ) -> Result<usize> {
        self.stream_stock_items(operation, body, |item, _| each(item.into_owned()))
    }

    /// [`for_each_stock_item`](Self::for_each_stock_item), also handing over each item's byte
    /// span in the body.
    fn stream_stock_items(
        &self,
        operation: Operation,
        body: &[u8],
        mut each: impl FnMut(ItemRef<'_>, (u64, u64)),
    ) -> Result<usize> {
        let items = self.items_spec(operation)?;
        let mut count = 0usize;
        let mut none = Values::new(0);
        let capture = Capture {
            scalars: &[],
            items: Some((&items.path, &items.fields)),
        };
        let scanned = scan(
            body,
            capture,
            &mut none,
            &mut |v| {
                count += 1;
                each(item_ref(items, v), v.span());
                Ok(())
            },
            Mode::Full,
        )
        .map_err(|e| self.enrich(e, operation))?;
        match scanned {
            Scanned::Fault(f) => Err(self.enrich(self.faults.error(*f), operation)),
            Scanned::Answer => Ok(count),
        }
    }

    /// Maps a `stock` or `crawl_stock` response to [`StockLevel`]s through the supplier's
    /// [`SkuRules`], keeping every item that did not map as an [`ItemProblem`].
    pub fn stock_levels(
        &self,
        operation: Operation,
        body: &[u8],
        observed_at: DateTime<Utc>,
    ) -> Result<(Vec<StockLevel>, Vec<ItemProblem>)> {
        // Each item is mapped as it is read: no list of raw items for the whole answer. The
        // first item's size estimates how many follow, so the levels are sized once, neither
        // regrown (a copy of every level so far) nor reserved for items that never come.
        let mut mapper =
            StockMapper::new(&self.supplier, operation, &self.sku_rules, observed_at, 1);
        let len = body.len() as u64;
        self.stream_stock_items(operation, body, |item, (start, end)| {
            if mapper.is_empty() {
                let size = end.saturating_sub(start).max(1);
                let rest = len.saturating_sub(end) / size;
                let more = usize::try_from(rest + rest / 8).unwrap_or(usize::MAX);
                mapper.reserve(more.min(MAX_LEVELS_RESERVED));
            }
            mapper.push_ref(item);
        })?;
        Ok(mapper.finish())
    }

    fn envelope(&self, op: &OpSpec, input: &EnvelopeInput<'_>) -> Result<Vec<u8>> {
        let style = EnvelopeStyle {
            version: self.spec.version,
            prefix: &self.spec.prefix,
            qualified_params: self.spec.qualified_params,
        };
        write_envelope(style, op, input)
    }

    fn order_answer(&self, operation: Operation, op: &OpSpec, body: &[u8]) -> Result<OrderAnswer> {
        let r = &op.result;
        let mut scalars = Values::new(r.scalars.len());
        let mut shipments = Vec::new();
        let (steps, fields): (&[_], &[_]) = match &r.shipments {
            Some(s) => (&s.path, &s.fields),
            None => (&[], &[]),
        };
        let capture = Capture {
            scalars: &r.scalars,
            items: r.shipments.as_ref().map(|_| (steps, fields)),
        };
        let scanned = scan(
            body,
            capture,
            &mut scalars,
            &mut |v| {
                if let Some(s) = &r.shipments {
                    shipments.push(Shipment {
                        carrier: v.opt(s.carrier).map(str::to_string),
                        tracking_number: v.opt(s.tracking_number).map(str::to_string),
                        tracking_url: v.opt(s.tracking_url).map(str::to_string),
                        shipped_at: v.opt(s.shipped_at).and_then(parse_timestamp),
                        lines: Vec::new(),
                    });
                }
                Ok(())
            },
            Mode::Full,
        )
        .map_err(|e| self.enrich(e, operation))?;
        if let Scanned::Fault(f) = scanned {
            return Err(self.enrich(self.faults.error(*f), operation));
        }
        Ok(OrderAnswer {
            order_id: scalars.opt(r.order_id).map(str::to_string),
            status: scalars.opt(r.status).map(str::to_string),
            reason: scalars.opt(r.reason).map(str::to_string),
            updated_at: scalars.opt(r.updated_at).and_then(parse_timestamp),
            already_existed: scalars
                .opt(r.already_existed)
                .and_then(parse_flag)
                .unwrap_or(false),
            shipments,
        })
    }
}

/// Whether an answer is an HTML page, by its content type or its first bytes.
fn is_html(response: &Response) -> bool {
    let by_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    let head = response.body().get(..64).unwrap_or(response.body());
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let head = head.trim_start();
    by_type || head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// One item's values, borrowed, for the shared mapping.
fn item_ref<'v>(spec: &ItemsSpec, v: &'v Values) -> ItemRef<'v> {
    ItemRef {
        sku: v.opt(Some(spec.sku)),
        quantity: item_quantity(spec, v),
        warehouse: v.opt(spec.warehouse).map(Cow::Borrowed),
        updated_at: v.opt(spec.updated_at).and_then(parse_timestamp),
        version: v.opt(spec.version).and_then(|s| s.parse().ok()),
        incoming: None,
    }
}

fn item_quantity(spec: &ItemsSpec, v: &Values) -> Result<(Availability, Vec<StockWarning>)> {
    if let Some(i) = spec.in_stock
        && let Some(flag) = v.get(i)
    {
        match parse_flag(flag) {
            Some(false) => return Ok((Availability::OutOfStock, Vec::new())),
            Some(true) if spec.quantity.is_empty() => {
                return Ok((Availability::InStock, Vec::new()));
            }
            Some(true) => {}
            None => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "in-stock flag {:?} is neither yes nor no",
                        flag.chars().take(32).collect::<String>()
                    ),
                ));
            }
        }
    }
    let mut present = spec.quantity.iter().filter_map(|i| v.get(*i)).peekable();
    if present.peek().is_none() {
        return Err(Error::new(
            ErrorKind::Protocol,
            "item has no stock quantity at the mapped place",
        ));
    }
    sum_quantities(present, parse_quantity).map_err(Error::from)
}

/// The current session id and the login generation it came from.
struct Session {
    state: tokio::sync::Mutex<Option<(u64, SecretString)>>,
    generations: AtomicU64,
}

/// Builds a [`SoapSupplier`] with replaced hooks.
#[must_use]
pub struct SoapSupplierBuilder {
    config: SupplierConfig,
    env: Option<Box<EnvLookup>>,
    jitter: Option<Arc<dyn JitterSource>>,
}

impl fmt::Debug for SoapSupplierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoapSupplierBuilder")
            .field("supplier", &self.config.id)
            .finish_non_exhaustive()
    }
}

impl SoapSupplierBuilder {
    /// Reads `env:` secrets in session parameters through `env` instead of taking the values
    /// the config's loader read (with the lookup it was loaded with).
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Some(Box::new(env));
        self
    }

    /// Draws the transport's retry jitter from `jitter` (tests pass a fixed one).
    pub fn jitter(mut self, jitter: Arc<dyn JitterSource>) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// Validates the configuration (every problem, with its path) and builds the supplier.
    pub fn build(self) -> Result<SoapSupplier> {
        let codec = match &self.env {
            Some(env) => SoapCodec::from_config_with_env(&self.config, env.as_ref())?,
            None => SoapCodec::from_config(&self.config)?,
        };
        let codec = Arc::new(codec);
        let wsse = crate::auth::wsse_token(&self.config.auth)
            .map_err(|e| e.with_supplier(self.config.id.clone()))?;
        let classifier = {
            let codec = Arc::clone(&codec);
            move |r: &Response| codec.classify(r)
        };
        let mut builder = Transport::builder(&self.config).classifier(classifier);
        if let Some(j) = self.jitter {
            builder = builder.jitter(j);
        }
        let transport = builder.build()?;
        let session = codec.spec.session.as_ref().map(|_| Session {
            state: tokio::sync::Mutex::new(None),
            generations: AtomicU64::new(0),
        });
        Ok(SoapSupplier {
            codec,
            transport,
            base_url: self.config.base_url.clone(),
            wsse,
            session,
        })
    }
}

/// A SOAP supplier, configured by its [`SupplierConfig`] (see the [module docs](self) for the
/// shape).
///
/// ```no_run
/// # async fn demo() -> dropship::Result<()> {
/// use dropship::adapters::soap::SoapSupplier;
/// use dropship::config::SupplierConfig;
/// use dropship::{Dropshipper, Sku};
///
/// let text = std::fs::read_to_string("fixtures/profiles/magento1_soap.json")
///     .map_err(|e| dropship::Error::new(dropship::ErrorKind::Config, e.to_string()))?;
/// let magento = SoapSupplier::new(&SupplierConfig::from_json(&text)?)?;
/// let answer = magento.stock(&[Sku::new("MUG-BLUE")?]).await?;
/// println!("{:?}", answer.levels);
/// # Ok(()) }
/// ```
pub struct SoapSupplier {
    codec: Arc<SoapCodec>,
    transport: Transport,
    base_url: reqwest::Url,
    wsse: Option<UsernameToken>,
    session: Option<Session>,
}

impl fmt::Debug for SoapSupplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoapSupplier")
            .field("supplier", &self.codec.supplier)
            .field("version", &self.codec.spec.version)
            .field("wsse", &self.wsse.is_some())
            .field("session_login", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

/// The envelope of a resend: the same bytes with a fresh `<wsse:Security>` element (new nonce,
/// new `Created`) in place of the first one, so a supplier that remembers nonces accepts it.
fn resigned(
    token: UsernameToken,
    envelope: Vec<u8>,
    first: &str,
) -> impl Fn() -> Result<bytes::Bytes> + Send + Sync + 'static {
    // The first header holds a random nonce, so it occurs once in the envelope.
    let at = envelope
        .windows(first.len().max(1))
        .position(|w| w == first.as_bytes());
    let len = first.len();
    move || {
        let Some(at) = at else {
            return Ok(bytes::Bytes::from(envelope.clone()));
        };
        let nonce = crate::auth::crypto::random_bytes(16)?;
        let fresh = token.security_header(&nonce, Utc::now())?;
        let mut out = Vec::with_capacity(envelope.len() + fresh.len().saturating_sub(len));
        out.extend_from_slice(&envelope[..at]);
        out.extend_from_slice(fresh.as_bytes());
        out.extend_from_slice(&envelope[at + len..]);
        Ok(bytes::Bytes::from(out))
    }
}

/// Most stock levels reserved up front for one answer.
const MAX_LEVELS_RESERVED: usize = 65_536;

impl SoapSupplier {
    /// Builds the supplier from its config, with the default transport hooks.
    pub fn new(config: &SupplierConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// A builder, to replace the secret lookup or the retry jitter.
    pub fn builder(config: &SupplierConfig) -> SoapSupplierBuilder {
        SoapSupplierBuilder {
            config: config.clone(),
            env: None,
            jitter: None,
        }
    }

    /// The pure codec (envelopes, parsing, fault mapping).
    pub fn codec(&self) -> &SoapCodec {
        &self.codec
    }

    /// The transport (for its [`stats`](Transport::stats) and breaker state).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn supplier(&self) -> &SupplierId {
        &self.codec.supplier
    }

    /// A fresh `<wsse:Security>` element (new nonce, new `Created`) when auth is `wsse`.
    fn security_header(&self) -> Result<Option<String>> {
        match &self.wsse {
            None => Ok(None),
            Some(t) => {
                let nonce = crate::auth::crypto::random_bytes(16)?;
                t.security_header(&nonce, Utc::now()).map(Some)
            }
        }
    }

    fn request(&self, operation: Operation, op: &OpSpec, body: Vec<u8>) -> Request {
        let mut r = if op.path.is_empty() {
            Request::new(operation, Method::POST, self.base_url.clone())
        } else {
            self.transport.post(operation, &op.path)
        };
        let action = op.action.as_deref().unwrap_or("");
        r = match self.codec.spec.version {
            SoapVersion::V11 => r
                .header("content-type", "text/xml; charset=utf-8")
                .header("soapaction", &format!("\"{action}\"")),
            SoapVersion::V12 if action.is_empty() => {
                r.header("content-type", "application/soap+xml; charset=utf-8")
            }
            SoapVersion::V12 => r.header(
                "content-type",
                &format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
            ),
        };
        r = match &op.replay {
            Replay::Idempotent => r.idempotent(),
            Replay::Once | Replay::KeyHeader(_) => r.not_idempotent(),
        };
        r.body(body)
    }

    /// Logs in and returns the new session id.
    async fn login(&self) -> Result<SecretString> {
        let Some(spec) = &self.codec.spec.session else {
            return Err(Error::new(ErrorKind::Config, "no session login configured"));
        };
        let security = self.security_header()?;
        let input = EnvelopeInput {
            security: security.as_deref(),
            ..EnvelopeInput::default()
        };
        let body = self
            .codec
            .envelope(&spec.op, &input)
            .map_err(|e| self.codec.enrich(e, Operation::Authenticate))?;
        let answer = self
            .transport
            .send(self.request(Operation::Authenticate, &spec.op, body))
            .await?;
        let mut values = Values::new(1);
        let scalars = std::slice::from_ref(&spec.result);
        let scanned = scan(
            answer.body(),
            Capture {
                scalars,
                items: None,
            },
            &mut values,
            &mut |_| Ok(()),
            Mode::Full,
        )
        .map_err(|e| self.codec.enrich(e, Operation::Authenticate))?;
        if let Scanned::Fault(f) = scanned {
            return Err(self
                .codec
                .enrich(self.codec.faults.error(*f), Operation::Authenticate));
        }
        match values.opt(Some(0)) {
            Some(id) => Ok(SecretString::from(id.to_string())),
            None => Err(self.codec.enrich(
                Error::new(ErrorKind::Auth, "the login answer carried no session id"),
                Operation::Authenticate,
            )),
        }
    }

    /// The current session (logging in first when there is none): one login at a time, shared
    /// by every caller.
    async fn session(&self) -> Result<Option<(u64, SecretString)>> {
        let Some(s) = &self.session else {
            return Ok(None);
        };
        let mut guard = s.state.lock().await;
        if let Some((generation, id)) = guard.as_ref() {
            return Ok(Some((*generation, id.clone())));
        }
        let id = self.login().await?;
        let generation = s.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *guard = Some((generation, id.clone()));
        Ok(Some((generation, id)))
    }

    /// Drops the session of `generation`, unless another caller already replaced it.
    async fn expire(&self, generation: u64) {
        if let Some(s) = &self.session {
            let mut guard = s.state.lock().await;
            if guard.as_ref().is_some_and(|(g, _)| *g == generation) {
                *guard = None;
            }
        }
    }

    /// Sends one operation: a fresh envelope per send, and one more send (with a fresh envelope,
    /// after logging in again if the session expired) when the supplier refuses the credentials.
    async fn call(
        &self,
        operation: Operation,
        op: &OpSpec,
        input: EnvelopeInput<'_>,
        finish: impl Fn(Request) -> Request,
    ) -> Result<Response> {
        let mut replayed = false;
        loop {
            let session = self.session().await?;
            let security = self.security_header()?;
            let mut this = input;
            this.session = session.as_ref().map(|(_, s)| s.expose_secret());
            this.security = security.as_deref();
            let body = self
                .codec
                .envelope(op, &this)
                .map_err(|e| self.codec.enrich(e, operation))?;
            let mut request = self.request(operation, op, body.clone());
            if let (Some(token), Some(first)) = (&self.wsse, security.as_deref()) {
                request = request.body_for_resends(resigned(token.clone(), body, first));
            }
            let error = match self.transport.send(finish(request)).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            if replayed || error.kind() != ErrorKind::Auth {
                return Err(error);
            }
            let fault = SoapFault::of(&error);
            if let Some((generation, _)) = &session
                && fault.is_some_and(|f| self.codec.faults.is_session_expired(f))
            {
                tracing::debug!("session expired; logging in again and resending once");
                self.expire(*generation).await;
                replayed = true;
                continue;
            }
            return Err(error);
        }
    }

    fn answered(&self, e: Error, operation: Operation, answer: &Response) -> Error {
        self.codec
            .enrich(e, operation)
            .with_http_status(answer.status().as_u16())
    }
}

#[async_trait]
impl Dropshipper for SoapSupplier {
    fn id(&self) -> &SupplierId {
        self.supplier()
    }

    fn transport_stats(&self) -> Option<crate::transport::TransportStats> {
        Some(self.transport().stats())
    }

    fn supplier_sku(&self, sku: &crate::model::Sku) -> Result<crate::model::SupplierSku> {
        self.codec
            .sku_rules
            .denormalize(sku)
            .map_err(|e| Error::from(e).with_supplier(self.supplier().clone()))
    }

    fn capabilities(&self) -> Capabilities {
        let s = &self.codec.spec;
        let mut c = Capabilities::default();
        if let Some(op) = &s.stock {
            c.stock_by_sku = true;
            c.max_skus_per_request = Some(op.batch_size);
        }
        c.stock_crawl = s.crawl_stock.is_some();
        if let Some(op) = &s.place_order {
            c.place_order = true;
            c.idempotent_orders = op.replay != Replay::Once;
        }
        if let Some(op) = &s.order_status {
            c.order_status = true;
            c.order_lookup_by_reference = !spec_uses_supplier_id(op);
        }
        c.cancel_order = s.cancel_order.is_some();
        c
    }

    async fn stock(&self, skus: &[Sku]) -> Result<StockAnswer> {
        let op = self.codec.op(Operation::Stock)?;
        let mut answer = StockAnswer::default();
        let mut wanted: Vec<(Sku, SupplierSku)> = Vec::with_capacity(skus.len());
        for sku in skus {
            if wanted.iter().any(|(s, _)| s == sku) {
                continue;
            }
            match self.codec.sku_rules.denormalize(sku) {
                Ok(s) => wanted.push((sku.clone(), s)),
                Err(e) => answer.problems.push(ItemProblem {
                    raw_id: Some(sku.as_str().to_string()),
                    error: self.codec.enrich(
                        Error::new(ErrorKind::Invalid, e.to_string()),
                        Operation::Stock,
                    ),
                }),
            }
        }
        for chunk in wanted.chunks(op.batch_size.max(1)) {
            let supplier_skus: Vec<SupplierSku> = chunk.iter().map(|(_, s)| s.clone()).collect();
            let input = EnvelopeInput {
                skus: &supplier_skus,
                ..EnvelopeInput::default()
            };
            let reply = self.call(Operation::Stock, op, input, |r| r).await?;
            let (levels, problems) = self
                .codec
                .stock_levels(Operation::Stock, reply.body(), Utc::now())
                .map_err(|e| self.answered(e, Operation::Stock, &reply))?;
            answer.levels.extend(levels);
            answer.problems.extend(problems);
        }
        answer.not_found = wanted
            .into_iter()
            .map(|(sku, _)| sku)
            .filter(|sku| !answer.levels.iter().any(|l| &l.sku == sku))
            .filter(|sku| {
                !answer.problems.iter().any(|p| {
                    p.raw_id.as_deref().is_some_and(|raw| {
                        self.codec.sku_rules.normalize(raw).ok().as_ref() == Some(sku)
                    })
                })
            })
            .collect();
        Ok(answer)
    }

    async fn stock_page(&self, cursor: Option<&Cursor>) -> Result<Page<StockLevel>> {
        let op = self.codec.op(Operation::CrawlStock)?;
        let page = match cursor {
            None => op.first_page,
            Some(c) => c.as_str().parse::<u64>().map_err(|_| {
                self.codec.enrich(
                    Error::new(ErrorKind::Invalid, "the cursor is not a page number"),
                    Operation::CrawlStock,
                )
            })?,
        };
        let input = EnvelopeInput {
            page: Some(page),
            page_size: Some(op.page_size),
            ..EnvelopeInput::default()
        };
        let reply = self
            .call(Operation::CrawlStock, op, input, |r| {
                r.class(RequestClass::Bulk)
            })
            .await?;
        let (levels, problems) = self
            .codec
            .stock_levels(Operation::CrawlStock, reply.body(), Utc::now())
            .map_err(|e| self.answered(e, Operation::CrawlStock, &reply))?;
        let seen = (levels.len() + problems.len()) as u64;
        let next = (seen >= op.page_size).then(|| Cursor::new((page + 1).to_string()));
        Ok(Page {
            items: levels,
            problems,
            next,
            total: None,
        })
    }

    async fn place_order(&self, order: &Order) -> Result<OrderAck> {
        let op = self.codec.op(Operation::PlaceOrder)?;
        order
            .validate()
            .map_err(|e| self.codec.enrich(e, Operation::PlaceOrder))?;
        let mut line_skus = Vec::with_capacity(order.lines.len());
        let mut problems = Vec::new();
        for (i, line) in order.lines.iter().enumerate() {
            match self.codec.sku_rules.denormalize(&line.sku) {
                Ok(s) => line_skus.push(s),
                Err(e) => problems.push(Problem::new(format!("lines[{i}].sku"), e.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(self
                .codec
                .enrich(Error::invalid(problems), Operation::PlaceOrder));
        }
        let input = EnvelopeInput {
            order: Some(order),
            line_skus: &line_skus,
            ..EnvelopeInput::default()
        };
        let reference = order.reference.as_str();
        let reply = self
            .call(Operation::PlaceOrder, op, input, |r| match &op.replay {
                Replay::KeyHeader(h) => r.idempotency_key(h, reference),
                _ => r,
            })
            .await?;
        let answer = self
            .codec
            .order_answer(Operation::PlaceOrder, op, reply.body())
            .map_err(|e| self.answered(e, Operation::PlaceOrder, &reply))?;
        let Some(order_id) = answer.order_id else {
            return Err(self.answered(
                Error::new(
                    ErrorKind::Protocol,
                    "the placement answer has no order id at the mapped place",
                ),
                Operation::PlaceOrder,
                &reply,
            ));
        };
        let status = answer
            .status
            .as_deref()
            .map(|s| {
                self.codec
                    .status_map
                    .map_with_reason(s, answer.reason.as_deref())
            })
            .unwrap_or(OrderStatus::Pending);
        Ok(OrderAck {
            supplier: self.supplier().clone(),
            reference: order.reference.clone(),
            supplier_order_id: order_id,
            status,
            accepted_at: answer.updated_at.unwrap_or_else(Utc::now),
            already_existed: answer.already_existed,
        })
    }

    async fn order_status(&self, order: &OrderHandle) -> Result<OrderState> {
        self.read_state(Operation::OrderStatus, order).await
    }

    async fn cancel_order(&self, order: &OrderHandle) -> Result<OrderState> {
        let op = self.codec.op(Operation::CancelOrder)?;
        if op.result.status.is_none() {
            let input = EnvelopeInput {
                handle: Some(order),
                ..EnvelopeInput::default()
            };
            let reply = self.call(Operation::CancelOrder, op, input, |r| r).await?;
            // A fault was already an error; the answer's body is only checked to be SOAP.
            self.codec
                .order_answer(Operation::CancelOrder, op, reply.body())
                .map_err(|e| self.answered(e, Operation::CancelOrder, &reply))?;
            return self.read_state(Operation::OrderStatus, order).await;
        }
        self.read_state(Operation::CancelOrder, order).await
    }
}

fn spec_uses_supplier_id(op: &OpSpec) -> bool {
    fn any(params: &[spec::Param]) -> bool {
        params.iter().any(|p| match &p.value {
            spec::ParamValue::SupplierOrderId => true,
            spec::ParamValue::Group(ch) => any(ch),
            _ => false,
        })
    }
    any(&op.params)
}

impl SoapSupplier {
    async fn read_state(&self, operation: Operation, order: &OrderHandle) -> Result<OrderState> {
        let op = self.codec.op(operation)?;
        let input = EnvelopeInput {
            handle: Some(order),
            ..EnvelopeInput::default()
        };
        let reply = self.call(operation, op, input, |r| r).await?;
        let answer = self
            .codec
            .order_answer(operation, op, reply.body())
            .map_err(|e| self.answered(e, operation, &reply))?;
        let Some(raw_status) = answer.status else {
            return Err(self.answered(
                Error::new(
                    ErrorKind::Protocol,
                    "the answer has no status word at the mapped place",
                ),
                operation,
                &reply,
            ));
        };
        let status = self
            .codec
            .status_map
            .map_with_reason(&raw_status, answer.reason.as_deref());
        Ok(OrderState {
            supplier: self.supplier().clone(),
            handle: OrderHandle {
                reference: order.reference.clone(),
                supplier_order_id: answer.order_id.or_else(|| order.supplier_order_id.clone()),
            },
            status,
            raw_status,
            shipments: answer.shipments,
            updated_at: answer.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_counts_buckets_and_decimals() {
        assert_eq!(
            parse_quantity("12.0000").unwrap().0,
            Availability::Exact(12)
        );
        assert_eq!(parse_quantity(">10").unwrap().0, Availability::AtLeast(11));
        assert!(parse_quantity("1.5").is_err());
        assert!(parse_quantity("lots").is_err());
        // The whole-number fast path agrees with the float path on every edge.
        assert_eq!(parse_quantity("7.").unwrap().0, Availability::Exact(7));
        assert_eq!(parse_quantity("+7.00").unwrap().0, Availability::Exact(7));
        assert_eq!(
            parse_quantity("-3.000").unwrap(),
            (
                Availability::Exact(0),
                Some(StockWarning::NegativeClamped { raw: -3 })
            )
        );
        assert!(parse_quantity("99999999999999999999.0").is_err());
        assert!(parse_quantity("1e3.0").is_err());
        assert_eq!(parse_quantity(".0").unwrap().0, Availability::Exact(0));
        assert_eq!(parse_flag("1"), Some(true));
        assert_eq!(parse_flag("out of stock"), Some(false));
        assert_eq!(parse_flag("maybe"), None);
    }
}
