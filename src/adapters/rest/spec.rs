//! The REST adapter's configuration: the supplier's `"rest"` object and its `operations`.
//!
//! Every pointer is a JSON Pointer (RFC 6901): into the response document for list locations
//! and envelope fields, into one item for item fields. Every string in `path`, `query` and
//! `body` is a template (see [`template`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::adapters::json::is_pointer;
use crate::adapters::template;
use crate::error::{ErrorKind, Problem};

/// The supplier-wide `"rest"` object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestOptions {
    /// Tests that tell a successful answer from a business error in a 2xx (`{"result": false,
    /// "code": 1600100}`); the answer is a success when any test passes. Empty: every 2xx is a
    /// success.
    pub success: Vec<SuccessTest>,
    /// Where the supplier's error code is (`/code`).
    pub error_code: Option<String>,
    /// Where the supplier's error message is (`/message`).
    pub error_message: Option<String>,
    /// Supplier error code -> error kind (`auth`, `throttled`, `invalid`, `not_found`,
    /// `transient`, `unavailable`). Codes not listed are `invalid`. Applies to non-2xx answers
    /// too, so one code means one kind whatever the HTTP status.
    pub error_codes: BTreeMap<String, ErrorKind>,
    /// Header that carries the idempotency key of writes (`Idempotency-Key`). Without it, an
    /// order placement is never retried.
    pub idempotency_header: Option<String>,
}

/// One success test: the value at `pointer` equals `equals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessTest {
    /// Where to look.
    pub pointer: String,
    /// The value that means success.
    pub equals: Value,
}

/// An HTTP request description shared by every operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(default = "default_get")]
    pub method: String,
    /// Path template, joined to `base_url` (`/orders/{{order.supplier_order_id}}`).
    pub path: String,
    /// Query parameter templates.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSON body template, for writes.
    #[serde(default)]
    pub body: Option<Value>,
    /// Form body templates (`application/x-www-form-urlencoded`), for APIs that take form
    /// posts; not together with `body`.
    #[serde(default)]
    pub form: BTreeMap<String, String>,
    /// Header templates for this operation only (`"X-Request-Id": "{{order.reference}}"`).
    /// Not for secrets: use `auth`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_get() -> String {
    "GET".into()
}

/// Where stock items and their fields are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemMapping {
    /// The item list in the response (`/data/list`; `""` for a top-level array). In the answer
    /// to a one-SKU stock request, an object there is read as that SKU's single item.
    pub items: String,
    /// The SKU, in an item; `"$request"` for one-SKU-per-request answers that do not repeat it.
    pub sku: String,
    /// The quantity, in an item; several pointers are summed (`["/cjInventoryNum",
    /// "/factoryInventoryNum"]`).
    #[serde(default)]
    pub quantity: Quantity,
    /// A per-warehouse list inside the item.
    #[serde(default)]
    pub warehouses: Option<WarehouseMapping>,
    /// The warehouse code, in an item (when each item is one warehouse's row).
    #[serde(default)]
    pub warehouse: Option<String>,
    /// The supplier's update time, in an item.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The supplier's version number, in an item.
    #[serde(default)]
    pub version: Option<String>,
    /// Incoming stock quantity, in an item.
    #[serde(default)]
    pub incoming: Option<String>,
    /// Expected arrival of incoming stock, in an item.
    #[serde(default)]
    pub incoming_at: Option<String>,
}

/// One pointer or several to sum.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    /// One field.
    One(String),
    /// Fields to add up.
    Sum(Vec<String>),
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity::One(String::new())
    }
}

impl Quantity {
    /// The pointers.
    pub fn pointers(&self) -> Vec<&str> {
        match self {
            Quantity::One(p) => vec![p.as_str()],
            Quantity::Sum(ps) => ps.iter().map(String::as_str).collect(),
        }
    }
}

/// Stock reported per warehouse inside each item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseMapping {
    /// The list, in an item (`/inventories`).
    pub list: String,
    /// The quantity, in one warehouse entry.
    pub quantity: Quantity,
    /// The warehouse code, in one warehouse entry.
    #[serde(default)]
    pub code: Option<String>,
    /// `true`: one stock level per warehouse; `false` (default): one level with the sum.
    #[serde(default)]
    pub split: bool,
}

/// `operations.stock`: stock for given SKUs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockOp {
    /// The request; `{{skus}}` (list), `{{skus_csv}}` (comma-joined) and `{{sku}}` (the first)
    /// name the batch's SKUs in the supplier's spelling.
    #[serde(flatten)]
    pub call: Call,
    /// SKUs per request (1 = one request per SKU).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Where the items are.
    #[serde(flatten)]
    pub mapping: ItemMapping,
}

fn one() -> usize {
    1
}

/// How a crawl pages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// Page numbers: `{{page}}` and `{{page_size}}` in the query.
    Page {
        /// Items per page.
        page_size: u64,
        /// Number of the first page (1 unless the supplier counts from 0).
        #[serde(default = "first_page")]
        first_page: u64,
        /// Where the total item count is, if given.
        #[serde(default)]
        total: Option<String>,
    },
    /// Offsets: `{{offset}}` and `{{limit}}` in the query.
    Offset {
        /// Items per request.
        limit: u64,
        /// Where the total item count is, if given.
        #[serde(default)]
        total: Option<String>,
    },
    /// An opaque cursor from the body: `{{cursor}}` in the query (empty on the first page).
    Cursor {
        /// Where the next cursor is; absent, `null` or empty means the last page.
        next: String,
    },
    /// The `Link: <...>; rel="next"` header, followed verbatim (same origin only).
    LinkHeader,
    /// One answer holds the whole catalog: no paging (the default when `pagination` is
    /// left out).
    #[default]
    None,
}

fn first_page() -> u64 {
    1
}

/// `operations.crawl_stock`: the full-catalog stock crawl.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlOp {
    /// The request.
    #[serde(flatten)]
    pub call: Call,
    /// How it pages; a single answer when left out.
    #[serde(default)]
    pub pagination: Pagination,
    /// Send `If-None-Match`/`If-Modified-Since` and reuse a page answered with 304.
    #[serde(default = "yes")]
    pub conditional: bool,
    /// Where the items are.
    #[serde(flatten)]
    pub mapping: ItemMapping,
}

fn yes() -> bool {
    true
}

/// Following a `202 Accepted`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncAccept {
    /// Where the job id is in the 202 body, when there is no `Location` header.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Path template to poll, with `{{job_id}}`.
    #[serde(default)]
    pub poll_path: Option<String>,
    /// Time between polls when the supplier gives no `Retry-After`.
    #[serde(
        default = "poll_every",
        deserialize_with = "crate::config::duration_deserialize"
    )]
    pub interval: std::time::Duration,
}

fn poll_every() -> std::time::Duration {
    std::time::Duration::from_secs(1)
}

/// Where order facts are in an answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderMapping {
    /// The supplier's order id.
    pub order_id: Option<String>,
    /// The status word.
    pub status: Option<String>,
    /// The word to use when the status is `null` or absent, for APIs where that is itself a
    /// state (Shopify's `fulfillment_status: null` means unfulfilled). Without it, a missing
    /// status is a protocol error.
    pub status_if_missing: Option<String>,
    /// A cancellation timestamp: when it holds a value, the order is cancelled whatever the
    /// status word says (Shopify keeps `fulfillment_status` and sets `cancelled_at`).
    pub cancelled_at: Option<String>,
    /// A reason that qualifies the status word (AliExpress `end_reason`).
    pub status_reason: Option<String>,
    /// The last update time.
    pub updated_at: Option<String>,
    /// The shipment list, or one object holding a single shipment's fields (suppliers that
    /// keep tracking on the order itself: point it at the order object). Entries with neither a
    /// tracking number nor a tracking URL are skipped.
    pub shipments: Option<String>,
    /// In a shipment: carrier.
    pub carrier: Option<String>,
    /// In a shipment: tracking number.
    pub tracking_number: Option<String>,
    /// In a shipment: tracking URL.
    pub tracking_url: Option<String>,
    /// In a shipment: ship time.
    pub shipped_at: Option<String>,
}

/// `operations.place_order`, `order_status` and `cancel_order`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderOp {
    /// The request. Placement bodies use the order's values (see
    /// [`Context::for_order`](crate::adapters::template::Context::for_order)); status and
    /// cancel requests have `{{order.reference}}` and `{{order.supplier_order_id}}`.
    #[serde(flatten)]
    pub call: Call,
    /// Where the answer's facts are.
    #[serde(flatten)]
    pub mapping: OrderMapping,
    /// How to follow a `202 Accepted`.
    #[serde(default, rename = "async")]
    pub accepted: Option<AsyncAccept>,
}

/// All of a REST supplier's operations.
#[derive(Debug, Clone, Default)]
pub struct RestSpec {
    /// Supplier-wide settings.
    pub options: RestOptions,
    /// Stock by SKUs.
    pub stock: Option<StockOp>,
    /// Catalog crawl.
    pub crawl_stock: Option<CrawlOp>,
    /// Place order.
    pub place_order: Option<OrderOp>,
    /// Order status.
    pub order_status: Option<OrderOp>,
    /// Cancel order.
    pub cancel_order: Option<OrderOp>,
}

fn read<T: serde::de::DeserializeOwned>(
    value: &Value,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    crate::config::deserialize_at(value, path)
        .map_err(|p| problems.push(p))
        .ok()
}

impl RestSpec {
    /// Reads and checks the `"rest"` object and the operations, collecting every problem with
    /// its path from the supplier object (`operations.stock.sku: ...`).
    pub fn parse(
        options: &Value,
        operations: &BTreeMap<String, Value>,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut spec = RestSpec::default();
        if !options.is_null()
            && let Some(o) = read::<RestOptions>(options, "rest", &mut problems)
        {
            spec.options = o;
        }
        for (name, value) in operations {
            let path = format!("operations.{name}");
            match name.as_str() {
                "stock" => spec.stock = read(value, &path, &mut problems),
                "crawl_stock" => spec.crawl_stock = read(value, &path, &mut problems),
                "place_order" => spec.place_order = read(value, &path, &mut problems),
                "order_status" => spec.order_status = read(value, &path, &mut problems),
                "cancel_order" => spec.cancel_order = read(value, &path, &mut problems),
                _ => problems.push(Problem::new(path, "is not an operation")),
            }
        }
        spec.check(&mut problems);
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(problems)
        }
    }

    fn check(&self, problems: &mut Vec<Problem>) {
        let mut bad_pointers = Vec::new();
        let mut pointer = |path: String, p: &str| {
            if !is_pointer(p) {
                bad_pointers.push(Problem::new(
                    path,
                    format!("{p:?} is not a JSON Pointer; write it as \"/data/list\""),
                ));
            }
        };
        let o = &self.options;
        for (i, t) in o.success.iter().enumerate() {
            pointer(format!("rest.success[{i}].pointer"), &t.pointer);
        }
        for (k, v) in [
            ("error_code", &o.error_code),
            ("error_message", &o.error_message),
        ] {
            if let Some(p) = v {
                pointer(format!("rest.{k}"), p);
            }
        }
        let mapping = |op: &str, m: &ItemMapping, pointer: &mut dyn FnMut(String, &str)| {
            pointer(format!("operations.{op}.items"), &m.items);
            if m.sku != super::stock::REQUEST_SKU {
                pointer(format!("operations.{op}.sku"), &m.sku);
            }
            for q in m.quantity.pointers() {
                pointer(format!("operations.{op}.quantity"), q);
            }
            for (k, v) in [
                ("warehouse", &m.warehouse),
                ("updated_at", &m.updated_at),
                ("version", &m.version),
                ("incoming", &m.incoming),
                ("incoming_at", &m.incoming_at),
            ] {
                if let Some(p) = v {
                    pointer(format!("operations.{op}.{k}"), p);
                }
            }
            if let Some(w) = &m.warehouses {
                pointer(format!("operations.{op}.warehouses.list"), &w.list);
                for q in w.quantity.pointers() {
                    pointer(format!("operations.{op}.warehouses.quantity"), q);
                }
            }
        };
        if let Some(s) = &self.stock {
            mapping("stock", &s.mapping, &mut pointer);
        }
        if let Some(c) = &self.crawl_stock {
            mapping("crawl_stock", &c.mapping, &mut pointer);
        }
        problems.append(&mut bad_pointers);
        let mut calls: Vec<(&str, &Call)> = Vec::new();
        if let Some(s) = &self.stock {
            calls.push(("stock", &s.call));
            if s.batch_size == 0 {
                problems.push(Problem::new(
                    "operations.stock.batch_size",
                    "must be at least 1",
                ));
            }
            if s.mapping.quantity.pointers() == [""] && s.mapping.warehouses.is_none() {
                problems.push(Problem::new("operations.stock.quantity", "is required"));
            }
            if s.mapping.sku == super::stock::REQUEST_SKU && s.batch_size != 1 {
                problems.push(Problem::new(
                    "operations.stock.sku",
                    "\"$request\" names the one SKU of a request: it needs \"batch_size\": 1",
                ));
            }
        }
        if let Some(c) = &self.crawl_stock {
            calls.push(("crawl_stock", &c.call));
            if c.mapping.quantity.pointers() == [""] && c.mapping.warehouses.is_none() {
                problems.push(Problem::new(
                    "operations.crawl_stock.quantity",
                    "is required",
                ));
            }
            if c.mapping.sku == super::stock::REQUEST_SKU {
                problems.push(Problem::new(
                    "operations.crawl_stock.sku",
                    "\"$request\" only applies to stock by SKU",
                ));
            }
            match &c.pagination {
                Pagination::Page { page_size: 0, .. } | Pagination::Offset { limit: 0, .. } => {
                    problems.push(Problem::new(
                        "operations.crawl_stock.pagination",
                        "page size must be at least 1",
                    ))
                }
                _ => {}
            }
        }
        for (name, op) in [
            ("place_order", &self.place_order),
            ("order_status", &self.order_status),
            ("cancel_order", &self.cancel_order),
        ] {
            if let Some(op) = op {
                calls.push((name, &op.call));
            }
        }
        if let Some(p) = &self.place_order
            && p.mapping.order_id.is_none()
        {
            problems.push(Problem::new(
                "operations.place_order.order_id",
                "is required: where the supplier's order id is in the answer",
            ));
        }
        for (name, call) in calls {
            let base = format!("operations.{name}");
            if !matches!(
                call.method.to_ascii_uppercase().as_str(),
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
            ) {
                problems.push(Problem::new(
                    format!("{base}.method"),
                    "must be GET, POST, PUT, PATCH or DELETE",
                ));
            }
            if !call.path.starts_with('/') {
                problems.push(Problem::new(format!("{base}.path"), "must start with '/'"));
            }
            problems.extend(template::check(
                &Value::String(call.path.clone()),
                &format!("{base}.path"),
            ));
            for (k, v) in &call.query {
                problems.extend(template::check(
                    &Value::String(v.clone()),
                    &format!("{base}.query.{k}"),
                ));
            }
            if let Some(b) = &call.body {
                problems.extend(template::check(b, &format!("{base}.body")));
                if !call.form.is_empty() {
                    problems.push(Problem::new(
                        format!("{base}.form"),
                        "a request has one body: use body (JSON) or form, not both",
                    ));
                }
            }
            for (k, v) in &call.form {
                problems.extend(template::check(
                    &Value::String(v.clone()),
                    &format!("{base}.form.{k}"),
                ));
            }
            for (k, v) in &call.headers {
                if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    problems.push(Problem::new(
                        format!("{base}.headers.{k}"),
                        "is not a valid header name",
                    ));
                }
                problems.extend(template::check(
                    &Value::String(v.clone()),
                    &format!("{base}.headers.{k}"),
                ));
            }
        }
    }
}
