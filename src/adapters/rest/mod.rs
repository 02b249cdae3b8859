//! The REST adapter: any JSON-over-HTTP supplier, described by configuration.
//!
//! A supplier's `"rest"` object holds its envelope conventions (success tests, error-code
//! table, idempotency header) and each entry of `operations` one operation's request template
//! and response pointers. See [`spec`] for every field and [`template`]
//! for the placeholder syntax. A complete example (CJ Dropshipping) is
//! `fixtures/profiles/cj.json`:
//!
//! ```json
//! { "id": "cj", "protocol": "rest",
//!   "base_url": "https://developers.cjdropshipping.com/api2.0/v1",
//!   "rest": {
//!     "success": [{"pointer": "/result", "equals": true}],
//!     "error_code": "/code", "error_message": "/message",
//!     "error_codes": {"1600001": "auth", "1600200": "throttled"} },
//!   "operations": {
//!     "stock": { "path": "/product/stock/queryBySku", "query": {"sku": "{{sku}}"},
//!                "items": "/data", "sku": "/sku", "quantity": "/storageNum" },
//!     "crawl_stock": { "path": "/product/list", "query": {"pageNum": "{{page}}", "pageSize": "{{page_size}}"},
//!                      "pagination": {"kind": "page", "page_size": 100, "total": "/data/total"},
//!                      "items": "/data/list", "sku": "/productSku", "quantity": "/inventory" },
//!     "place_order": { "method": "POST", "path": "/shopping/order/createOrderV2",
//!                      "body": {"orderNumber": "{{order.reference}}", "products":
//!                        {"$each": "lines", "as": "line", "template":
//!                          {"sku": "{{line.supplier_sku}}", "quantity": "{{line.quantity}}"}}},
//!                      "order_id": "/data/orderId", "status": "/data/orderStatus" } } }
//! ```

pub mod classify;
pub mod paging;
pub mod spec;
mod stock;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::adapters::items::map_stock_items;
use crate::adapters::json::{list_at, parse_body, parse_sparse, text_at, u64_at};
use crate::adapters::template::{self, Context};
use crate::config::SupplierConfig;
use crate::dropshipper::{Capabilities, Cursor, Dropshipper, ItemProblem, Page, StockAnswer};
use crate::error::{Error, ErrorKind, Operation, Result};
use crate::model::{
    Order, OrderAck, OrderHandle, OrderState, OrderStatus, Shipment, Sku, SkuRules, StatusMap,
    StockLevel, SupplierId, SupplierSku, parse_timestamp_json,
};
use crate::transport::{Request, RequestClass, Response, Transport, TransportBuilder};

use classify::BusinessErrors;
use paging::{Position, next_link, next_position};
use spec::{Call, OrderMapping, OrderOp, Pagination, RestSpec};

/// Stock requests for different batches run this many at a time (the throttle still rules).
const BATCH_CONCURRENCY: usize = 4;

/// What one crawl page decodes to.
struct Decoded {
    levels: Vec<StockLevel>,
    problems: Vec<ItemProblem>,
    list_len: usize,
    total: Option<u64>,
    token: Option<String>,
}

/// A page kept for conditional requests.
struct Conditional {
    etag: Option<String>,
    last_modified: Option<String>,
    page: Page<StockLevel>,
}

/// A JSON-over-HTTP supplier driven by its configuration.
pub struct RestSupplier {
    id: SupplierId,
    transport: Transport,
    spec: RestSpec,
    rules: SkuRules,
    statuses: StatusMap,
    deadline: Duration,
    /// Spellings learnt from the supplier's own answers, preferred over the rules when sending
    /// orders (rules cannot restore stripped separators).
    learned: RwLock<HashMap<Sku, SupplierSku>>,
    /// Conditional-request cache of crawl pages, by URL.
    pages: Mutex<HashMap<String, Conditional>>,
}

impl std::fmt::Debug for RestSupplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSupplier")
            .field("id", &self.id)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl RestSupplier {
    /// Builds the supplier from its configuration, checking every operation (all problems are
    /// reported at once, with paths).
    pub fn new(config: &SupplierConfig) -> Result<Self> {
        Self::with_transport(config, |b| b)
    }

    /// Like [`new`](RestSupplier::new), letting the caller adjust the transport (jitter source,
    /// rate store, refresh-token callback).
    pub fn with_transport(
        config: &SupplierConfig,
        adjust: impl FnOnce(TransportBuilder) -> TransportBuilder,
    ) -> Result<Self> {
        let spec = RestSpec::parse(&config.protocol_options, &config.operations).map_err(|p| {
            Error::config(p)
                .with_supplier(config.id.clone())
                .with_operation(Operation::LoadConfig)
        })?;
        let builder =
            Transport::builder(config).classifier(BusinessErrors::new(spec.options.clone()));
        let transport = adjust(builder).build()?;
        Ok(RestSupplier {
            id: config.id.clone(),
            transport,
            spec,
            rules: config.sku_rules.clone(),
            statuses: config.status_map.clone(),
            deadline: config.retry.deadline,
            learned: RwLock::new(HashMap::new()),
            pages: Mutex::new(HashMap::new()),
        })
    }

    /// Decodes a crawl answer's body into levels and item problems by the configured mapping,
    /// with no request: the decoding step alone, for benchmarks and for checking a mapping
    /// against a saved answer.
    pub fn decode_crawl_page(&self, body: &[u8]) -> Result<(Vec<StockLevel>, Vec<ItemProblem>)> {
        let op = self
            .spec
            .crawl_stock
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::CrawlStock))?;
        self.decode_crawl(op, body).map(|d| (d.levels, d.problems))
    }

    /// Decodes a crawl page: only the item list, the fields the mapping reads and the paging
    /// pointers are built (see [`parse_sparse`]).
    fn decode_crawl(&self, op: &spec::CrawlOp, body: &[u8]) -> Result<Decoded> {
        let (selection, fields) = stock::crawl_selection(op);
        let page = parse_sparse(body, "crawl page", &selection)?;
        let total = match &op.pagination {
            Pagination::Page { total: Some(p), .. } | Pagination::Offset { total: Some(p), .. } => {
                u64_at(page.doc(), p, "")?
            }
            _ => None,
        };
        let token = match &op.pagination {
            Pagination::Cursor { next } => text_at(page.doc(), next, "")?,
            _ => None,
        };
        let items = page.into_items()?;
        let list_len = items.len();
        let raw = stock::raw_items_with(&fields, items, &op.mapping.items, None);
        let (levels, problems) = map_stock_items(
            &self.id,
            Operation::CrawlStock,
            &self.rules,
            raw,
            chrono::Utc::now(),
        );
        self.learn(&levels);
        Ok(Decoded {
            levels,
            problems,
            list_len,
            total,
            token,
        })
    }

    /// The transport, for its statistics.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn fail(&self, e: Error, op: Operation) -> Error {
        e.with_supplier(self.id.clone()).with_operation(op)
    }

    fn request(&self, op: Operation, call: &Call, ctx: &Context) -> Result<Request> {
        let method = Method::from_bytes(call.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| Error::new(ErrorKind::Config, "invalid HTTP method"))?;
        let path = template::render_path(&call.path, ctx)?;
        let mut url = self.transport.url(&path)?;
        let query = template::render_query(&call.query, ctx)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = Request::new(op, method, url);
        if let Some(body) = &call.body {
            req = req.json(&template::render(body, ctx)?);
        } else if !call.form.is_empty() {
            let pairs = template::render_query(&call.form, ctx)?;
            // The URL type's query serializer is the x-www-form-urlencoded one; borrowing it
            // keeps one encoder for queries and forms.
            let mut encoder = reqwest::Url::parse("http://form.invalid/")
                .map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?;
            encoder.query_pairs_mut().extend_pairs(pairs);
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoder.query().unwrap_or_default().to_string());
        }
        for (name, value) in &call.headers {
            req = req.header(name, &template::render_text(value, ctx)?);
        }
        Ok(req)
    }

    fn supplier_sku(&self, sku: &Sku) -> Result<SupplierSku> {
        if let Ok(learned) = self.learned.read()
            && let Some(s) = learned.get(sku)
        {
            return Ok(s.clone());
        }
        self.rules.denormalize(sku).map_err(Error::from)
    }

    fn learn(&self, levels: &[StockLevel]) {
        if let Ok(mut learned) = self.learned.write() {
            for l in levels {
                // Re-crawls mostly confirm what is known: skip the copies then.
                if learned.get(&l.sku) != Some(&l.supplier_sku) {
                    learned.insert(l.sku.clone(), l.supplier_sku.clone());
                }
            }
        }
    }

    /// Maps one answer's items; a missing or mistyped list fails the whole answer. For a
    /// one-SKU request (`request_sku` given), a single object where the list should be is that
    /// SKU's one item: single-SKU endpoints answer that way.
    fn levels(
        &self,
        doc: &Value,
        mapping: &spec::ItemMapping,
        request_sku: Option<&str>,
    ) -> Result<(Vec<StockLevel>, Vec<ItemProblem>)> {
        let single;
        let list = match doc.pointer(&mapping.items) {
            Some(obj @ Value::Object(_)) if request_sku.is_some() => {
                single = [obj.clone()];
                &single[..]
            }
            _ => list_at(doc, &mapping.items)?.as_slice(),
        };
        let raw = stock::raw_items(mapping, list, &mapping.items, request_sku);
        let (levels, problems) = map_stock_items(
            &self.id,
            Operation::Stock,
            &self.rules,
            raw,
            chrono::Utc::now(),
        );
        self.learn(&levels);
        Ok((levels, problems))
    }

    /// Follows a `202 Accepted` to the final answer, polling its `Location` (or a job path built
    /// from the body) until something other than 202 comes back or the deadline passes.
    async fn settle(
        &self,
        mut resp: Response,
        op: &OrderOp,
        operation: Operation,
    ) -> Result<Response> {
        let started = Instant::now();
        let mut poll: Option<Url> = None;
        while resp.status() == StatusCode::ACCEPTED {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            // Later 202s from the poll URL usually repeat no Location: keep polling the same place.
            poll = match (location, poll.take()) {
                (Some(loc), _) => Some(self.same_origin(&loc)?),
                (None, Some(url)) => Some(url),
                (None, None) => Some(self.job_url(&resp, op)?),
            };
            let wait = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(300.0)))
                .or(op.accepted.as_ref().map(|a| a.interval))
                .unwrap_or(Duration::from_secs(1));
            if started.elapsed() + wait > self.deadline {
                return Err(Error::new(
                    ErrorKind::Transient,
                    "the supplier accepted the request but gave no final answer within the deadline",
                )
                .with_dispatch(crate::Dispatch::MaybeProcessed));
            }
            tokio::time::sleep(wait).await;
            let Some(url) = poll.clone() else { break };
            resp = self
                .transport
                .send(Request::new(operation, Method::GET, url).idempotent())
                .await?;
        }
        Ok(resp)
    }

    /// The URL to poll for a `202` that names a job in its body instead of a `Location`.
    fn job_url(&self, resp: &Response, op: &OrderOp) -> Result<Url> {
        let accepted_without = |what: &str| {
            Error::new(ErrorKind::Protocol, format!("202 Accepted without {what}"))
                .with_dispatch(crate::Dispatch::Answered)
        };
        let Some(a) = &op.accepted else {
            return Err(accepted_without(
                "a Location header; configure \"async\" to poll a job",
            ));
        };
        let (Some(job_ptr), Some(path)) = (&a.job_id, &a.poll_path) else {
            return Err(accepted_without(
                "a Location header, and no job_id/poll_path is configured",
            ));
        };
        let doc = parse_body(resp.body(), "accepted answer")?;
        let job = text_at(&doc, job_ptr, "")?
            .ok_or_else(|| accepted_without(&format!("a job id at {job_ptr}")))?;
        let ctx = Context::new().set("job_id", json!(job));
        self.transport.url(&template::render_path(path, &ctx)?)
    }

    /// A URL the supplier handed us (`Location`, `Link`), accepted only on the base URL's own
    /// origin so credentials are never sent elsewhere.
    fn same_origin(&self, target: &str) -> Result<Url> {
        let base = self.transport.url("/")?;
        let url = base.join(target).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("the supplier sent an unusable URL: {e}"),
            )
        })?;
        if url.origin() != base.origin() {
            return Err(Error::new(
                ErrorKind::Protocol,
                "the supplier pointed to another host; not following it with our credentials",
            ));
        }
        Ok(url)
    }

    fn state(&self, handle: &OrderHandle, doc: &Value, m: &OrderMapping) -> Result<OrderState> {
        let status_ptr = m
            .status
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::Config, "order_status.status is required"))?;
        let raw = text_at(doc, status_ptr, "")?
            .or_else(|| m.status_if_missing.clone())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("no order status at {status_ptr}"),
                )
            })?;
        let reason = match &m.status_reason {
            Some(p) => text_at(doc, p, "")?,
            None => None,
        };
        let supplier_order_id = match &m.order_id {
            Some(p) => text_at(doc, p, "")?,
            None => None,
        }
        .or_else(|| handle.supplier_order_id.clone());
        let cancelled = m
            .cancelled_at
            .as_deref()
            .and_then(|p| doc.pointer(p))
            .is_some_and(|v| !v.is_null());
        let status = if cancelled {
            OrderStatus::Cancelled
        } else {
            self.statuses.map_with_reason(&raw, reason.as_deref())
        };
        Ok(OrderState {
            supplier: self.id.clone(),
            handle: OrderHandle {
                reference: handle.reference.clone(),
                supplier_order_id,
            },
            status,
            raw_status: raw,
            shipments: shipments(doc, m)?,
            updated_at: m
                .updated_at
                .as_deref()
                .and_then(|p| doc.pointer(p))
                .and_then(parse_timestamp_json),
        })
    }

    fn handle_context(handle: &OrderHandle, call: &Call) -> Result<Context> {
        if needs_supplier_id(call) && handle.supplier_order_id.is_none() {
            return Err(Error::new(
                ErrorKind::Invalid,
                "this supplier finds orders by its own order id, which this handle does not have",
            ));
        }
        Ok(Context::new().set(
            "order",
            json!({
                "reference": handle.reference.as_str(),
                "supplier_order_id": handle.supplier_order_id,
            }),
        ))
    }
}

/// Whether a request template names the supplier's order id, so it cannot find an order by
/// the merchant reference alone.
fn needs_supplier_id(call: &Call) -> bool {
    const ID: &str = "order.supplier_order_id";
    call.path.contains(ID)
        || call.query.values().any(|v| v.contains(ID))
        || call
            .body
            .as_ref()
            .is_some_and(|b| b.to_string().contains(ID))
}

fn shipments(doc: &Value, m: &OrderMapping) -> Result<Vec<Shipment>> {
    let Some(list_ptr) = &m.shipments else {
        return Ok(Vec::new());
    };
    let single;
    let list = match doc.pointer(list_ptr) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list.as_slice(),
        Some(obj @ Value::Object(_)) => {
            single = [obj.clone()];
            &single[..]
        }
        Some(_) => {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("{list_ptr}: expected a list of shipments"),
            ));
        }
    };
    let shipments: Vec<Shipment> = list
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at = format!("{list_ptr}/{i}");
            let field = |p: &Option<String>| match p {
                Some(p) => text_at(s, p, &at),
                None => Ok(None),
            };
            Ok(Shipment {
                carrier: field(&m.carrier)?,
                tracking_number: field(&m.tracking_number)?,
                tracking_url: field(&m.tracking_url)?,
                shipped_at: m
                    .shipped_at
                    .as_deref()
                    .and_then(|p| s.pointer(p))
                    .and_then(parse_timestamp_json),
                lines: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    Ok(shipments
        .into_iter()
        // A carrier alone is the shipping method chosen, not a parcel on its way.
        .filter(|s| s.tracking_number.is_some() || s.tracking_url.is_some())
        .collect())
}

#[async_trait]
impl Dropshipper for RestSupplier {
    fn id(&self) -> &SupplierId {
        &self.id
    }

    fn transport_stats(&self) -> Option<crate::transport::TransportStats> {
        Some(self.transport().stats())
    }

    fn supplier_sku(&self, sku: &Sku) -> Result<SupplierSku> {
        RestSupplier::supplier_sku(self, sku).map_err(|e| e.with_supplier(self.id.clone()))
    }

    fn capabilities(&self) -> Capabilities {
        let s = &self.spec;
        let mut c = Capabilities::default();
        c.stock_by_sku = s.stock.is_some();
        c.max_skus_per_request = s.stock.as_ref().map(|o| o.batch_size);
        c.stock_crawl = s.crawl_stock.is_some();
        c.conditional_crawl = s.crawl_stock.as_ref().is_some_and(|c| c.conditional);
        c.place_order = s.place_order.is_some();
        c.idempotent_orders = s.place_order.is_some() && s.options.idempotency_header.is_some();
        c.order_status = s.order_status.is_some();
        c.order_lookup_by_reference = s
            .order_status
            .as_ref()
            .is_some_and(|o| !needs_supplier_id(&o.call));
        c.cancel_order = s.cancel_order.is_some();
        c
    }

    async fn stock(&self, skus: &[Sku]) -> Result<StockAnswer> {
        let op = self
            .spec
            .stock
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::Stock))?;
        let mut answer = StockAnswer::default();
        let mut wanted: Vec<(Sku, SupplierSku)> = Vec::with_capacity(skus.len());
        for sku in skus {
            match self.supplier_sku(sku) {
                Ok(s) => wanted.push((sku.clone(), s)),
                Err(e) => answer.problems.push(ItemProblem {
                    raw_id: Some(sku.as_str().to_string()),
                    error: self.fail(e, Operation::Stock),
                }),
            }
        }
        let batches: Vec<Vec<SupplierSku>> = wanted
            .chunks(op.batch_size.max(1))
            .map(|c| c.iter().map(|(_, s)| s.clone()).collect())
            .collect();
        let results: Vec<(Vec<StockLevel>, Vec<ItemProblem>)> = stream::iter(batches)
            .map(|batch| async move {
                let names: Vec<&str> = batch.iter().map(SupplierSku::as_str).collect();
                let ctx = Context::new()
                    .set("skus", json!(names))
                    .set("skus_csv", json!(names.join(",")))
                    .set("sku", json!(names.first().copied().unwrap_or_default()));
                let req = self
                    .request(Operation::Stock, &op.call, &ctx)?
                    .class(RequestClass::Normal)
                    .idempotent();
                let resp = self.transport.send(req).await?;
                let doc = parse_body(resp.body(), "stock answer")?;
                // Only a one-SKU request may be answered with a bare object.
                let one = match names.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                };
                self.levels(&doc, &op.mapping, one)
            })
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
            .map_err(|e| self.fail(e, Operation::Stock))?;
        for (levels, problems) in results {
            answer.levels.extend(levels);
            answer.problems.extend(problems);
        }
        let seen: HashSet<&Sku> = answer.levels.iter().map(|l| &l.sku).collect();
        let reported: HashSet<&str> = answer
            .problems
            .iter()
            .filter_map(|p| p.raw_id.as_deref())
            .collect();
        answer.not_found = wanted
            .iter()
            .filter(|(c, s)| !seen.contains(c) && !reported.contains(s.as_str()))
            .map(|(c, _)| c.clone())
            .collect();
        Ok(answer)
    }

    async fn stock_page(&self, cursor: Option<&Cursor>) -> Result<Page<StockLevel>> {
        let op = self
            .spec
            .crawl_stock
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::CrawlStock))?;
        let run = async {
            let at = Position::decode(&op.pagination, cursor)?;
            let req = match &at {
                Position::Url(Some(next)) => {
                    Request::new(Operation::CrawlStock, Method::GET, self.same_origin(next)?)
                }
                _ => {
                    let (page, size, offset, limit, token) = match (&op.pagination, &at) {
                        (Pagination::Page { page_size, .. }, Position::Page(n)) => {
                            (*n, *page_size, 0, *page_size, String::new())
                        }
                        (Pagination::Offset { limit, .. }, Position::Offset(o)) => {
                            (0, *limit, *o, *limit, String::new())
                        }
                        (_, Position::Token(t)) => (0, 0, 0, 0, t.clone()),
                        _ => (0, 0, 0, 0, String::new()),
                    };
                    let ctx = Context::new()
                        .set("page", json!(page))
                        .set("page_size", json!(size))
                        .set("offset", json!(offset))
                        .set("limit", json!(limit))
                        .set("cursor", json!(token));
                    self.request(Operation::CrawlStock, &op.call, &ctx)?
                }
            }
            .class(RequestClass::Bulk)
            .idempotent();
            let key = req.url().to_string();
            let req = if op.conditional {
                let cache = self
                    .pages
                    .lock()
                    .map_err(|_| Error::new(ErrorKind::Transient, "page cache poisoned"))?;
                match cache.get(&key) {
                    Some(c) => {
                        let mut r = req;
                        if let Some(e) = &c.etag {
                            r = r.header("if-none-match", e);
                        }
                        if let Some(m) = &c.last_modified {
                            r = r.header("if-modified-since", m);
                        }
                        r
                    }
                    None => req,
                }
            } else {
                req
            };
            let resp = self.transport.send(req).await?;
            if resp.status() == StatusCode::NOT_MODIFIED {
                let cache = self
                    .pages
                    .lock()
                    .map_err(|_| Error::new(ErrorKind::Transient, "page cache poisoned"))?;
                return cache.get(&key).map(|c| c.page.clone()).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        "304 Not Modified for a page that was never fetched",
                    )
                });
            }
            let Decoded {
                levels,
                problems,
                list_len,
                total,
                token,
            } = self.decode_crawl(op, resp.body())?;
            let link = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let next = next_position(&op.pagination, &at, list_len, total, token, link)
                .and_then(|p| p.encode());
            let page = Page {
                items: levels,
                problems,
                next,
                total,
            };
            if op.conditional {
                let header = |name| {
                    resp.headers()
                        .get(name)
                        .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                        .map(str::to_string)
                };
                let etag = header(reqwest::header::ETAG);
                let last_modified = header(reqwest::header::LAST_MODIFIED);
                if (etag.is_some() || last_modified.is_some())
                    && let Ok(mut cache) = self.pages.lock()
                {
                    cache.insert(
                        key,
                        Conditional {
                            etag,
                            last_modified,
                            page: page.clone(),
                        },
                    );
                }
            }
            Ok(page)
        };
        run.await.map_err(|e| self.fail(e, Operation::CrawlStock))
    }

    async fn place_order(&self, order: &Order) -> Result<OrderAck> {
        let op = self
            .spec
            .place_order
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::PlaceOrder))?;
        let run = async {
            order.validate()?;
            let skus = order
                .lines
                .iter()
                .map(|l| self.supplier_sku(&l.sku))
                .collect::<Result<Vec<_>>>()?;
            let key = order.reference.as_str();
            let ctx = Context::for_order(order, &skus, key)?;
            let mut req = self
                .request(Operation::PlaceOrder, &op.call, &ctx)?
                .class(RequestClass::Critical);
            req = match &self.spec.options.idempotency_header {
                Some(h) => req.idempotency_key(h, key),
                None => req.not_idempotent(),
            };
            let resp = self.transport.send(req).await?;
            let resp = self.settle(resp, op, Operation::PlaceOrder).await?;
            let doc = parse_body(resp.body(), "order answer")?;
            let id_ptr = op.mapping.order_id.as_deref().unwrap_or("");
            let supplier_order_id = text_at(&doc, id_ptr, "")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Error::new(ErrorKind::Protocol, format!("no order id at {id_ptr}"))
                        .with_dispatch(crate::Dispatch::Answered)
                })?;
            // No status in the answer: the order was received, nothing more is known.
            let status = match &op.mapping.status {
                Some(p) => {
                    match text_at(&doc, p, "")?.or_else(|| op.mapping.status_if_missing.clone()) {
                        Some(word) => self.statuses.map(&word),
                        None => OrderStatus::Pending,
                    }
                }
                None => OrderStatus::Pending,
            };
            Ok(OrderAck {
                supplier: self.id.clone(),
                reference: order.reference.clone(),
                supplier_order_id,
                status,
                accepted_at: chrono::Utc::now(),
                already_existed: false,
            })
        };
        run.await
            .map_err(|e: Error| self.fail(e, Operation::PlaceOrder))
    }

    async fn order_status(&self, handle: &OrderHandle) -> Result<OrderState> {
        let op = self
            .spec
            .order_status
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::OrderStatus))?;
        let run = async {
            let ctx = Self::handle_context(handle, &op.call)?;
            let req = self
                .request(Operation::OrderStatus, &op.call, &ctx)?
                .class(RequestClass::Normal)
                .idempotent();
            let resp = self.transport.send(req).await?;
            let resp = self.settle(resp, op, Operation::OrderStatus).await?;
            let doc = parse_body(resp.body(), "order status answer")?;
            self.state(handle, &doc, &op.mapping)
        };
        run.await.map_err(|e| self.fail(e, Operation::OrderStatus))
    }

    async fn cancel_order(&self, handle: &OrderHandle) -> Result<OrderState> {
        let op = self
            .spec
            .cancel_order
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::CancelOrder))?;
        let run = async {
            let ctx = Self::handle_context(handle, &op.call)?;
            let mut req = self
                .request(Operation::CancelOrder, &op.call, &ctx)?
                .class(RequestClass::Critical);
            // Cancelling twice cancels once: safe to repeat, keyed where the supplier takes keys.
            req = match &self.spec.options.idempotency_header {
                Some(h) => req.idempotency_key(h, &format!("cancel-{}", handle.reference)),
                None => req.idempotent(),
            };
            let resp = self.transport.send(req).await?;
            let resp = self.settle(resp, op, Operation::CancelOrder).await?;
            if op.mapping.status.is_some() {
                let doc = parse_body(resp.body(), "cancel answer")?;
                return self.state(handle, &doc, &op.mapping);
            }
            Ok(OrderState {
                supplier: self.id.clone(),
                handle: handle.clone(),
                status: OrderStatus::Cancelled,
                raw_status: String::new(),
                shipments: Vec::new(),
                updated_at: Some(chrono::Utc::now()),
            })
        };
        match run.await {
            // Where the supplier reports status separately, read the real state back.
            Ok(state)
                if self
                    .spec
                    .cancel_order
                    .as_ref()
                    .is_some_and(|o| o.mapping.status.is_none())
                    && self.spec.order_status.is_some() =>
            {
                self.order_status(&state.handle).await
            }
            other => other.map_err(|e| self.fail(e, Operation::CancelOrder)),
        }
    }
}
