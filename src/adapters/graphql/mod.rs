//! [`GraphqlSupplier`]: the [`Dropshipper`] for suppliers that speak GraphQL, configured in
//! JSON, with cost-based throttling.
//!
//! - **Queries and mutations from config**: each operation holds its query text, its variables
//!   as a [`template`] template, and JSON Pointers into `data` for its results.
//! - **Errors**: `errors` with no `data` become a typed error by `extensions.code`
//!   (`THROTTLED` -> throttled, `ACCESS_DENIED` -> auth, `NOT_FOUND` -> not found,
//!   `INTERNAL_SERVER_ERROR` -> transient, more in
//!   [`DEFAULT_ERROR_CODES`](spec::DEFAULT_ERROR_CODES), extendable in config), classified
//!   inside the transport so it retries them properly; partial data with errors gives the items
//!   that resolved plus one [`ItemProblem`] per failed item naming the error's path; mutation
//!   `userErrors` become an [`Invalid`](ErrorKind::Invalid) error with one
//!   [`Problem`] per field path.
//! - **Extensions kept**: the last answer's top-level `extensions` and cost are readable
//!   ([`GraphqlSupplier::last_extensions`], [`GraphqlSupplier::last_cost`]), and
//!   [`GraphqlSupplier::execute`] returns whole answers.
//! - **Relay cursors**: `pageInfo { hasNextPage endCursor }` with `nodes` or `edges { node }`.
//!   A page that says it has more but gives no cursor, or gives back the cursor it was asked
//!   with, is a [`Protocol`](ErrorKind::Protocol) error rather than a loop.
//! - **Cost-based throttling**: every answer's `extensions.cost` feeds the supplier's
//!   [`CostBucket`](crate::transport::CostBucket) (in its transport); before sending, a query
//!   waits until the modelled bucket holds that operation's expected cost. A `THROTTLED`
//!   answer carries `retry_after = (requested cost - currentlyAvailable) / restoreRate`, which
//!   the transport waits (and pauses the supplier's other requests for), not a blind backoff.
//!
//! ## Configuration
//!
//! A complete supplier (the profile `fixtures/profiles/shopify_graphql.json` is the same,
//! for Shopify's Admin API). Comments are for this page only; JSON has none.
//!
//! ```jsonc
//! { "id": "shop-supplier", "protocol": "graphql",
//!   "base_url": "https://example.myshopify.com",
//!   "auth": { "kind": "api_key", "in": "header", "name": "X-Shopify-Access-Token",
//!             "value": "env:SHOPIFY_TOKEN" },
//!   "status_map": { "preset": "shopify_fulfillment" },
//!   "graphql": {
//!     "endpoint": "admin/api/2025-01/graphql.json",   // under base_url; default "graphql"
//!     "cost": { "enabled": true, "pointer": "/cost" }, // cost object inside `extensions`
//!     "error_codes": { "MY_CODE": "transient" },      // added to the defaults
//!     "max_pages": 100                                // pages one `stock` batch may follow
//!   },
//!   "operations": {
//!     "crawl_stock": {
//!       "query": "query Crawl($first: Int!, $after: String) { productVariants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { sku inventoryItem { inventoryLevels(first: 50) { pageInfo { hasNextPage } nodes { location { name } quantities(names: [\"available\"]) { name quantity } } } } } } }",
//!       "variables": { "first": 100 },               // a template; the cursor is added
//!       "cursor_variable": "after",                  // default "after"
//!       "connection": "/productVariants",            // pointer into `data`
//!       "item": {
//!         "sku": "/sku",                             // relative to each node
//!         "locations": "/inventoryItem/inventoryLevels", // optional per-location list
//!         "quantity": "/quantities/0/quantity",      // relative to each location entry
//!         "warehouse": "/location/name",             // idem, for per_location levels
//!         "per_location": false,                     // false: one level per SKU, summed
//!         "updated_at": "/updatedAt"                 // optional, relative to the node
//!       } },
//!     "stock": {                                     // same fields as crawl_stock, plus:
//!       "query": "query Stock($search: String!, $first: Int!, $after: String) { productVariants(first: $first, after: $after, query: $search) { pageInfo { hasNextPage endCursor } nodes { sku inventoryItem { inventoryLevels(first: 50) { nodes { quantities(names: [\"available\"]) { quantity } } } } } } }",
//!       "variables": { "search": "{{sku_search}}", "first": 50 }, // also {{skus}}: an array
//!       "sku_search": { "term": "sku:{{sku}}", "join": " OR ", "quote": true },
//!       "batch_size": 50,
//!       "connection": "/productVariants",
//!       "item": { "sku": "/sku", "locations": "/inventoryItem/inventoryLevels",
//!                 "quantity": "/quantities/0/quantity" } },
//!     "order_status": {
//!       "query": "query Status($id: ID!) { order(id: $id) { id displayFulfillmentStatus cancelledAt updatedAt fulfillments(first: 10) { createdAt trackingInfo(first: 1) { company number url } } } }",
//!       "variables": { "id": "{{order.supplier_order_id}}" }, // also {{order.reference}}
//!       "result": "/order",                          // the order object in `data`
//!       "status": "/displayFulfillmentStatus",       // relative to the order object
//!       "cancelled_at": "/cancelledAt",              // set -> cancelled, whatever the word
//!       "updated_at": "/updatedAt",
//!       "supplier_order_id": "/id",
//!       "shipments": { "list": "/fulfillments", "carrier": "/trackingInfo/0/company",
//!                      "tracking_number": "/trackingInfo/0/number",
//!                      "tracking_url": "/trackingInfo/0/url", "shipped_at": "/createdAt" },
//!       "by_reference": {                            // used when the handle has no id
//!         "query": "query ByName($q: String!) { orders(first: 1, query: $q) { nodes { id displayFulfillmentStatus cancelledAt updatedAt fulfillments(first: 10) { createdAt trackingInfo(first: 1) { company number url } } } } }",
//!         "variables": { "q": "name:{{order.reference}}" },
//!         "result": "/orders/nodes/0" } },
//!     "place_order": {
//!       "query": "mutation Create($order: OrderCreateOrderInput!) { orderCreate(order: $order) { order { id displayFulfillmentStatus } userErrors { field message code } } }",
//!       "variables": { "order": { "name": "{{order.reference}}",
//!         "lineItems": { "$each": "lines", "as": "line",
//!           "template": { "sku": "{{line.supplier_sku}}", "quantity": "{{line.quantity}}" } } } },
//!       "result": "/orderCreate",                    // the mutation's payload
//!       "user_errors": "/userErrors",                // relative to the payload
//!       "supplier_order_id": "/order/id",            // required for place_order
//!       "status": "/order/displayFulfillmentStatus", // optional; absent -> pending
//!       "idempotency_header": null },                // a header the supplier dedupes on
//!     "cancel_order": {                              // needs order_status too
//!       "query": "mutation Cancel($id: ID!) { orderCancel(orderId: $id, reason: OTHER, refund: false, restock: true) { orderCancelUserErrors { field message code } } }",
//!       "variables": { "id": "{{order.supplier_order_id}}" },
//!       "result": "/orderCancel",
//!       "user_errors": "/orderCancelUserErrors" } } }
//! ```

pub mod response;
pub mod spec;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::adapters::items::{RawStockItem, map_stock_items, sum_quantities};
use crate::adapters::json::{KindSlot, ListSlot, Pick, Picked, Selection, ValueSlot, parse_sparse};
use crate::adapters::template::{self, Context};
use crate::config::{Protocol, SupplierConfig};
use crate::dropshipper::{Capabilities, Cursor, Dropshipper, ItemProblem, Page, StockAnswer};
use crate::error::{Dispatch, Error, ErrorKind, Operation, Problem, Result};
use crate::model::{
    Availability, Order, OrderAck, OrderHandle, OrderState, OrderStatus, Shipment, Sku, SkuRules,
    StatusMap, StockError, StockLevel, StockWarning, SupplierId, SupplierSku, parse_timestamp_json,
};
use crate::transport::{QueryCost, RequestClass, Transport};

pub use response::{ErrorCodes, GraphqlError, GraphqlResponse, user_errors};
pub use spec::{GraphqlOptions, Operations};

use response::{Observed, classifier};
use spec::{ConnectionSpec, ItemSpec, LookupSpec, MutationSpec, StatusSpec};

/// What the last answer said beyond its data.
#[derive(Debug, Default)]
struct Last {
    extensions: Option<Value>,
    cost: Option<QueryCost>,
}

/// A GraphQL supplier, built from its [`SupplierConfig`]. See the [module docs](self) for the
/// configuration.
pub struct GraphqlSupplier {
    id: SupplierId,
    transport: Transport,
    endpoint: String,
    cost_enabled: bool,
    cost_pointer: Arc<str>,
    codes: Arc<ErrorCodes>,
    max_pages: usize,
    max_wait: Duration,
    ops: Operations,
    rules: SkuRules,
    statuses: StatusMap,
    last: Arc<Mutex<Last>>,
}

impl std::fmt::Debug for GraphqlSupplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport's Debug shows no credentials; queries and variables are left out.
        f.debug_struct("GraphqlSupplier")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("transport", &self.transport)
            .field("capabilities", &self.capabilities())
            .finish_non_exhaustive()
    }
}

/// How a request may be repeated.
enum Replay<'a> {
    /// A query: idempotent.
    Query,
    /// A mutation sent with an idempotency key header.
    Keyed { header: &'a str, key: &'a str },
    /// A mutation without a key: at most once.
    Once,
}

/// One request's description, for [`GraphqlSupplier::run`].
struct Call<'a> {
    operation: Operation,
    cost_key: &'a str,
    query: &'a str,
    operation_name: Option<&'a str>,
    variables: Value,
    replay: Replay<'a>,
}

impl GraphqlSupplier {
    /// Validates the GraphQL parts of `config` and builds the supplier with its own
    /// [`Transport`].
    pub fn new(config: &SupplierConfig) -> Result<Self> {
        // Validate before building the transport, so config problems come first and together.
        Self::check(config)?;
        let transport = Transport::new(config)?;
        Self::with_transport(config, transport)
    }

    /// Like [`new`](Self::new), on a transport the host built (with its own hooks, rate store
    /// or jitter). The cost bucket is the transport's.
    pub fn with_transport(config: &SupplierConfig, transport: Transport) -> Result<Self> {
        let (options, ops) = Self::check(config)?;
        let codes = ErrorCodes::new(options.error_codes.iter().map(|(c, k)| (c.clone(), *k)));
        Ok(GraphqlSupplier {
            id: config.id.clone(),
            transport,
            endpoint: options.endpoint,
            cost_enabled: options.cost.enabled,
            cost_pointer: Arc::from(options.cost.pointer.as_str()),
            codes: Arc::new(codes),
            max_pages: options.max_pages,
            max_wait: config.retry.deadline,
            ops,
            rules: config.sku_rules.clone(),
            statuses: config.status_map.clone(),
            last: Arc::new(Mutex::new(Last::default())),
        })
    }

    fn check(config: &SupplierConfig) -> Result<(GraphqlOptions, Operations)> {
        let mut problems = Vec::new();
        if config.protocol != Protocol::Graphql {
            problems.push(Problem::new(
                "protocol",
                "must be \"graphql\" for this adapter",
            ));
        }
        let options = spec::parse_options(&config.protocol_options, &mut problems);
        let ops = spec::parse_operations(&config.operations, &mut problems);
        if problems.is_empty() {
            Ok((options, ops))
        } else {
            Err(Error::config(problems)
                .with_supplier(config.id.clone())
                .with_operation(Operation::LoadConfig))
        }
    }

    /// The transport every request goes through.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The top-level `extensions` of the last answer (throttled and failed answers included).
    pub fn last_extensions(&self) -> Option<Value> {
        self.lock_last().extensions.clone()
    }

    /// The cost object of the last answer that carried one.
    pub fn last_cost(&self) -> Option<QueryCost> {
        self.lock_last().cost
    }

    fn lock_last(&self) -> std::sync::MutexGuard<'_, Last> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enrich(&self, operation: Operation) -> impl Fn(Error) -> Error + '_ {
        move |e: Error| e.with_supplier(self.id.clone()).with_operation(operation)
    }

    /// Sends any query or mutation through the supplier's transport and cost bucket, and
    /// returns the whole answer: `data`, `errors` and `extensions`. A text starting with
    /// `mutation` is sent at most once; anything else is retried as a query.
    ///
    /// Errors with no data come back as a typed error, as for the configured operations.
    pub async fn execute(
        &self,
        operation: Operation,
        query: &str,
        variables: Value,
    ) -> Result<GraphqlResponse> {
        let replay = if query.trim_start().starts_with("mutation") {
            Replay::Once
        } else {
            Replay::Query
        };
        self.run(Call {
            operation,
            cost_key: query,
            query,
            operation_name: None,
            variables,
            replay,
        })
        .await
    }

    /// Sends one request through the cost bucket and the transport; the answer's body is
    /// read by the caller.
    async fn send(&self, call: Call<'_>) -> Result<crate::transport::Response> {
        let enrich = self.enrich(call.operation);
        let class = RequestClass::for_operation(call.operation);
        let bucket = Arc::clone(self.transport.cost_bucket());
        let reservation = if self.cost_enabled {
            Some(
                bucket
                    .acquire(call.cost_key, class, self.max_wait)
                    .await
                    .map_err(&enrich)?,
            )
        } else {
            None
        };
        let reserved = reservation.as_ref().map_or(0.0, |r| r.points());
        let observe: Arc<dyn Fn(Observed) + Send + Sync> = {
            let last = Arc::clone(&self.last);
            let key = call.cost_key.to_string();
            let enabled = self.cost_enabled;
            Arc::new(move |o: Observed| {
                if enabled && let Some(cost) = &o.cost {
                    bucket.observe(&key, cost, reserved);
                }
                let mut l = last.lock().unwrap_or_else(PoisonError::into_inner);
                if o.cost.is_some() {
                    l.cost = o.cost;
                }
                l.extensions = o.extensions;
            })
        };
        let mut body = Map::new();
        body.insert("query".into(), Value::String(call.query.to_string()));
        body.insert("variables".into(), call.variables);
        if let Some(name) = call.operation_name {
            body.insert("operationName".into(), Value::String(name.to_string()));
        }
        let mut request = self
            .transport
            .post(call.operation, &self.endpoint)
            .json(&Value::Object(body))
            .class(class)
            .classify(classifier(
                Arc::clone(&self.codes),
                Arc::clone(&self.cost_pointer),
                observe,
            ));
        request = match call.replay {
            Replay::Query => request.idempotent(),
            Replay::Keyed { header, key } => request.idempotency_key(header, key),
            Replay::Once => request.not_idempotent(),
        };
        let answer = self.transport.send(request).await?;
        drop(reservation);
        Ok(answer)
    }

    async fn run(&self, call: Call<'_>) -> Result<GraphqlResponse> {
        let enrich = self.enrich(call.operation);
        let answer = self.send(call).await?;
        let status = answer.status().as_u16();
        let parsed = GraphqlResponse::from_slice(answer.body())
            .map_err(|e| enrich(e.with_http_status(status)))?;
        if parsed.data.is_null() && !parsed.errors.is_empty() {
            // Normally claimed by the classifier already; kept for answers it could not read.
            return Err(enrich(self.codes.error_for(&parsed.errors, status)));
        }
        Ok(parsed)
    }

    /// Reads one crawl page from an answer body, as [`stock_page`](Dropshipper::stock_page)
    /// does after sending: for tests and benchmarks of the mapping, without a network.
    pub fn decode_stock_page(
        &self,
        body: &[u8],
        cursor: Option<&Cursor>,
    ) -> Result<Page<StockLevel>> {
        let spec = self
            .ops
            .crawl_stock
            .as_ref()
            .ok_or_else(|| self.unsupported(Operation::CrawlStock))?;
        self.read_page(spec, body, None, cursor, Operation::CrawlStock)
    }

    /// Renders an operation's variables and adds the cursor.
    fn variables(
        &self,
        template_value: &Value,
        ctx: &Context,
        cursor: Option<(&str, &Cursor)>,
        operation: Operation,
    ) -> Result<Value> {
        let mut vars = match template_value {
            Value::Null => Value::Object(Map::new()),
            t => template::render(t, ctx).map_err(self.enrich(operation))?,
        };
        if let (Value::Object(m), Some((name, c))) = (&mut vars, cursor) {
            m.insert(name.to_string(), Value::String(c.as_str().to_string()));
        }
        Ok(vars)
    }

    /// Maps one page of a connection: levels, per-item problems, and the next cursor. Only the
    /// connection's `pageInfo`, the pointers the item mapping reads and `errors` are built
    /// (see [`Pick`]); `status` is the HTTP status when the body came from the network.
    fn read_page(
        &self,
        spec: &ConnectionSpec,
        body: &[u8],
        status: Option<u16>,
        cursor: Option<&Cursor>,
        operation: Operation,
    ) -> Result<Page<StockLevel>> {
        let enrich = self.enrich(operation);
        let conn_ptr = spec.connection.as_str();
        let slots = PageSlots::new(&spec.item);
        let mut sel = Selection::new();
        sel.keep("/errors")
            .list(&format!("/data{conn_ptr}"))
            .pick(slots.pick.clone());
        let sparse = match parse_sparse(body, "the GraphQL answer", &sel) {
            Ok(s) if s.doc().is_object() => s,
            // Not an object: the whole reader's error, as before.
            _ => {
                let e = GraphqlResponse::from_slice(body).err().unwrap_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        "the GraphQL answer is not a JSON object",
                    )
                });
                let e = match status {
                    Some(s) => e.with_http_status(s),
                    None => e,
                };
                return Err(enrich(e));
            }
        };
        let errors: Vec<GraphqlError> = match sparse.doc().get("errors") {
            Some(Value::Array(list)) => list.iter().map(GraphqlError::from_value).collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => vec![GraphqlError::from_value(other)],
        };
        if let Some(status) = status
            && sparse.doc().get("data").is_none()
            && !errors.is_empty()
        {
            // Normally claimed by the classifier already; kept for answers it could not read.
            return Err(enrich(self.codes.error_for(&errors, status)));
        }
        let conn = match sparse.items_or_single() {
            Ok([item]) => item
                .picked()
                .filter(|p| slots.conn.and_then(|k| p.kind(k)) == Some("an object")),
            _ => None,
        };
        let Some(conn) = conn else {
            let errs: Vec<GraphqlError> = errors
                .iter()
                .filter(|e| e.is_under(conn_ptr))
                .cloned()
                .collect();
            let err = if errs.is_empty() {
                Error::new(
                    ErrorKind::Protocol,
                    format!("no connection object at data{conn_ptr}"),
                )
            } else {
                self.codes.error_for(&errs, 200)
            };
            return Err(enrich(err));
        };
        let (list_key, list, node) = match (
            slots.nodes.and_then(|s| conn.list(s)),
            slots.edges.and_then(|s| conn.list(s)),
        ) {
            (Some(n), _) => ("nodes", n, &slots.node),
            (_, Some(e)) => ("edges", e, &slots.edge),
            _ => {
                return Err(enrich(Error::new(
                    ErrorKind::Protocol,
                    format!("data{conn_ptr} has neither a nodes nor an edges list"),
                )));
            }
        };
        let next = self
            .next_cursor(conn, &slots, conn_ptr, cursor)
            .map_err(&enrich)?;

        // Attribute each GraphQL error to the item it names, or to the page.
        let list_ptr = format!("{conn_ptr}/{list_key}");
        let mut by_item: HashMap<usize, Vec<&GraphqlError>> = HashMap::new();
        let mut problems = Vec::new();
        for e in &errors {
            let index = e.path.as_deref().and_then(|p| {
                let rest = p.strip_prefix(list_ptr.as_str())?.strip_prefix('/')?;
                rest.split('/').next()?.parse::<usize>().ok()
            });
            match index {
                Some(i) if i < list.len() => by_item.entry(i).or_default().push(e),
                _ => problems.push(ItemProblem {
                    raw_id: None,
                    error: enrich(self.codes.error_for(std::slice::from_ref(e), 200)),
                }),
            }
        }

        let mut raw = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let sku = get(entry, node.sku).and_then(text);
            if let Some(errs) = by_item.get(&i) {
                let owned: Vec<GraphqlError> = errs.iter().map(|e| (*e).clone()).collect();
                let err = self.codes.error_for(&owned, 200);
                match sku {
                    Some(sku) => raw.push(RawStockItem::new(sku, Err(err))),
                    None => problems.push(ItemProblem {
                        raw_id: None,
                        error: enrich(err),
                    }),
                }
                continue;
            }
            if matches!(node.kind.and_then(|k| entry.kind(k)), None | Some("null")) {
                problems.push(ItemProblem {
                    raw_id: None,
                    error: enrich(Error::new(
                        ErrorKind::Protocol,
                        format!("{list_ptr}/{i} is null"),
                    )),
                });
                continue;
            }
            let Some(sku) = sku else {
                problems.push(ItemProblem {
                    raw_id: None,
                    error: enrich(Error::new(
                        ErrorKind::Protocol,
                        format!("{list_ptr}/{i}{}: no SKU", spec.item.sku),
                    )),
                });
                continue;
            };
            let updated_at = get(entry, node.updated_at).and_then(parse_timestamp_json);
            read_item(
                &spec.item, node, entry, sku, updated_at, &list_ptr, i, &mut raw,
            );
        }
        let (items, mapped_problems) =
            map_stock_items(&self.id, operation, &self.rules, raw, Utc::now());
        problems.extend(mapped_problems);
        Ok(Page {
            items,
            problems,
            next,
            total: None,
        })
    }

    /// The Relay cursor of the next page, with the stop conditions that cannot loop.
    fn next_cursor(
        &self,
        conn: &Picked,
        slots: &PageSlots,
        conn_ptr: &str,
        asked: Option<&Cursor>,
    ) -> Result<Option<Cursor>> {
        // A connection queried without pageInfo cannot be paged: one page it is.
        if !get(conn, slots.has_next)
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return Ok(None);
        }
        let end = get(conn, slots.end_cursor)
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("data{conn_ptr}/pageInfo says hasNextPage but gives no endCursor"),
                )
            })?;
        if asked.is_some_and(|a| a.as_str() == end) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "data{conn_ptr}/pageInfo/endCursor is the cursor this page was asked with; \
                     stopping to avoid a loop"
                ),
            ));
        }
        Ok(Some(Cursor::new(end)))
    }

    async fn fetch_page(
        &self,
        spec: &ConnectionSpec,
        ctx: &Context,
        cursor: Option<&Cursor>,
        operation: Operation,
    ) -> Result<Page<StockLevel>> {
        let variables = self.variables(
            &spec.variables,
            ctx,
            cursor.map(|c| (spec.cursor_variable.as_str(), c)),
            operation,
        )?;
        let answer = self
            .send(Call {
                operation,
                cost_key: operation.as_str(),
                query: &spec.query,
                operation_name: spec.operation_name.as_deref(),
                variables,
                replay: Replay::Query,
            })
            .await?;
        let status = answer.status().as_u16();
        self.read_page(spec, answer.body(), Some(status), cursor, operation)
    }

    /// Reads the single result object of an answer: typed errors for anything that failed at
    /// or under it (a single object is all or nothing: a half-read order would drop facts).
    fn result<'a>(
        &self,
        answer: &'a GraphqlResponse,
        pointer: &str,
        operation: Operation,
    ) -> Result<&'a Value> {
        let enrich = self.enrich(operation);
        let errs: Vec<GraphqlError> = answer.errors_under(pointer).cloned().collect();
        match answer.data.pointer(pointer).filter(|v| !v.is_null()) {
            Some(v) if errs.is_empty() => Ok(v),
            _ if !errs.is_empty() => Err(enrich(self.codes.error_for(&errs, 200))),
            _ => Err(enrich(Error::new(
                ErrorKind::NotFound,
                format!("nothing at data{pointer}"),
            ))),
        }
    }

    fn handle_context(handle: &OrderHandle) -> Context {
        Context::new().set(
            "order",
            json!({
                "reference": handle.reference.as_str(),
                "supplier_order_id": handle.supplier_order_id,
            }),
        )
    }

    fn state_from(
        &self,
        spec: &StatusSpec,
        order: &Value,
        handle: &OrderHandle,
    ) -> Result<OrderState> {
        let word = order.pointer(&spec.status).and_then(text).ok_or_else(|| {
            self.enrich(Operation::OrderStatus)(Error::new(
                ErrorKind::Protocol,
                format!("no status word at {}{}", spec.result, spec.status),
            ))
        })?;
        let reason = spec
            .reason
            .as_deref()
            .and_then(|p| order.pointer(p))
            .and_then(text);
        let cancelled = spec
            .cancelled_at
            .as_deref()
            .and_then(|p| order.pointer(p))
            .is_some_and(|v| !v.is_null());
        let status = if cancelled {
            OrderStatus::Cancelled
        } else {
            self.statuses.map_with_reason(&word, reason.as_deref())
        };
        let mut handle = handle.clone();
        if let Some(id) = spec
            .supplier_order_id
            .as_deref()
            .and_then(|p| order.pointer(p))
            .and_then(text)
        {
            handle.supplier_order_id = Some(id);
        }
        let shipments = match &spec.shipments {
            Some(s) => shipments(s, order),
            None => Vec::new(),
        };
        Ok(OrderState {
            supplier: self.id.clone(),
            handle,
            status,
            raw_status: word,
            shipments,
            updated_at: spec
                .updated_at
                .as_deref()
                .and_then(|p| order.pointer(p))
                .and_then(parse_timestamp_json),
        })
    }

    /// Runs a mutation and returns its payload, failing on errors or `userErrors`.
    async fn mutate(
        &self,
        spec: &MutationSpec,
        ctx: &Context,
        operation: Operation,
        reference: &str,
    ) -> Result<Value> {
        let variables = self.variables(&spec.variables, ctx, None, operation)?;
        let replay = match &spec.idempotency_header {
            Some(header) => Replay::Keyed {
                header,
                key: reference,
            },
            None => Replay::Once,
        };
        let answer = self
            .run(Call {
                operation,
                cost_key: operation.as_str(),
                query: &spec.query,
                operation_name: spec.operation_name.as_deref(),
                variables,
                replay,
            })
            .await?;
        let enrich = self.enrich(operation);
        let Some(payload) = answer.data.pointer(&spec.result).filter(|v| !v.is_null()) else {
            let err = if answer.errors.is_empty() {
                Error::new(
                    ErrorKind::Protocol,
                    format!("no mutation payload at data{}", spec.result),
                )
            } else {
                self.codes.error_for(&answer.errors, 200)
            };
            return Err(enrich(err.with_dispatch(Dispatch::Answered)));
        };
        if let Some(err) = user_errors(spec.user_errors.as_deref().and_then(|p| payload.pointer(p)))
        {
            return Err(enrich(err.with_dispatch(Dispatch::Answered)));
        }
        if !answer.errors.is_empty() {
            // The payload came back, so the mutation ran: failing here would invite a second
            // placement. Say so in the logs instead.
            tracing::warn!(
                supplier = %self.id,
                operation = %operation,
                errors = answer.errors.len(),
                "GraphQL mutation answered with a payload and errors; keeping the payload"
            );
        }
        Ok(payload.clone())
    }
}

/// A scalar as text: strings as they are, numbers written out (Shopify ids are strings, some
/// suppliers' are numbers).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The entries of a list that may be an array or a connection (`nodes` or `edges { node }`),
/// and whether the supplier said it has more than it sent.
fn entries(v: &Value) -> Option<(Vec<&Value>, bool)> {
    match v {
        Value::Array(a) => Some((a.iter().collect(), false)),
        Value::Object(o) => {
            let more = o
                .get("pageInfo")
                .and_then(|p| p.get("hasNextPage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match (o.get("nodes"), o.get("edges")) {
                (Some(Value::Array(n)), _) => Some((n.iter().collect(), more)),
                (_, Some(Value::Array(e))) => Some((
                    e.iter()
                        .map(|e| e.get("node").unwrap_or(&Value::Null))
                        .collect(),
                    more,
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A picked value, for slots that may be missing (a pointer that is not one finds nothing).
fn get(p: &Picked, slot: Option<ValueSlot>) -> Option<&Value> {
    slot.and_then(|s| p.get(s))
}

/// What one location entry's pick reads.
#[derive(Debug, Clone, Copy)]
struct LocSlots {
    quantity: Option<ValueSlot>,
    warehouse: Option<ValueSlot>,
}

impl LocSlots {
    fn new(item: &ItemSpec, prefix: &str) -> (Pick, LocSlots) {
        let mut pick = Pick::new();
        let quantity = pick.value(&format!("{prefix}{}", item.quantity));
        let warehouse = match (&item.warehouse, item.per_location) {
            (Some(w), true) => pick.value(&format!("{prefix}{w}")),
            _ => None,
        };
        (
            pick,
            LocSlots {
                quantity,
                warehouse,
            },
        )
    }
}

/// What one node's pick reads (`prefix` is `/node` for an edge).
#[derive(Debug, Clone)]
struct NodeSlots {
    kind: Option<KindSlot>,
    sku: Option<ValueSlot>,
    updated_at: Option<ValueSlot>,
    /// Without a locations list: the node's own quantity.
    quantity: Option<ValueSlot>,
    locations: Option<LocationSlots>,
}

#[derive(Debug, Clone)]
struct LocationSlots {
    kind: Option<KindSlot>,
    array: Option<ListSlot>,
    nodes: Option<ListSlot>,
    edges: Option<ListSlot>,
    more: Option<ValueSlot>,
    entry: LocSlots,
    edge: LocSlots,
}

impl NodeSlots {
    fn new(item: &ItemSpec, prefix: &str, pick: &mut Pick) -> NodeSlots {
        let at = |p: &str| format!("{prefix}{p}");
        let locations = item.locations.as_deref().map(|l| {
            let (entry_pick, entry) = LocSlots::new(item, "");
            let (edge_pick, edge) = LocSlots::new(item, "/node");
            LocationSlots {
                kind: pick.kind(&at(l)),
                array: pick.each(&at(l), entry_pick.clone()),
                nodes: pick.each(&at(&format!("{l}/nodes")), entry_pick),
                edges: pick.each(&at(&format!("{l}/edges")), edge_pick),
                more: pick.value(&at(&format!("{l}/pageInfo/hasNextPage"))),
                entry,
                edge,
            }
        });
        NodeSlots {
            kind: pick.kind(prefix),
            sku: pick.value(&at(&item.sku)),
            updated_at: item.updated_at.as_deref().and_then(|p| pick.value(&at(p))),
            quantity: match item.locations {
                None => pick.value(&at(&item.quantity)),
                Some(_) => None,
            },
            locations,
        }
    }
}

/// The pick for a connection object and its slots.
#[derive(Debug, Clone)]
struct PageSlots {
    pick: Pick,
    conn: Option<KindSlot>,
    has_next: Option<ValueSlot>,
    end_cursor: Option<ValueSlot>,
    nodes: Option<ListSlot>,
    edges: Option<ListSlot>,
    node: NodeSlots,
    edge: NodeSlots,
}

impl PageSlots {
    fn new(item: &ItemSpec) -> PageSlots {
        let mut node_pick = Pick::new();
        let node = NodeSlots::new(item, "", &mut node_pick);
        let mut edge_pick = Pick::new();
        let edge = NodeSlots::new(item, "/node", &mut edge_pick);
        let mut pick = Pick::new();
        let conn = pick.kind("");
        let has_next = pick.value("/pageInfo/hasNextPage");
        let end_cursor = pick.value("/pageInfo/endCursor");
        let nodes = pick.each("/nodes", node_pick);
        let edges = pick.each("/edges", edge_pick);
        PageSlots {
            pick,
            conn,
            has_next,
            end_cursor,
            nodes,
            edges,
            node,
            edge,
        }
    }
}

fn read_quantity(
    v: Option<&Value>,
) -> std::result::Result<(Availability, Option<StockWarning>), StockError> {
    match v {
        Some(v) => Availability::from_json(v),
        None => Err(StockError::Unrecognized {
            raw: "no stock value".into(),
        }),
    }
}

/// Reads one node's stock into raw items (one, or one per location).
#[allow(clippy::too_many_arguments)]
fn read_item(
    item: &ItemSpec,
    slots: &NodeSlots,
    node: &Picked,
    sku: String,
    updated_at: Option<DateTime<Utc>>,
    list_ptr: &str,
    i: usize,
    out: &mut Vec<RawStockItem>,
) {
    let at = |what: &str, e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::Protocol, format!("{list_ptr}/{i}{what}: {e}"))
    };
    let with_time = |mut r: RawStockItem| {
        r.updated_at = updated_at;
        r
    };
    let (Some(loc_ptr), Some(ls)) = (item.locations.as_deref(), &slots.locations) else {
        let q = read_quantity(get(node, slots.quantity))
            .map(|(a, w)| (a, w.into_iter().collect()))
            .map_err(|e| at(&item.quantity, &e));
        out.push(with_time(RawStockItem::new(sku, q)));
        return;
    };
    // A list, or a connection with `nodes` or `edges { node }`.
    let located = match ls.kind.and_then(|k| node.kind(k)) {
        Some("a list") => ls
            .array
            .and_then(|s| node.list(s))
            .map(|l| (l, ls.entry, false)),
        Some("an object") => {
            let more = get(node, ls.more).and_then(Value::as_bool).unwrap_or(false);
            match (
                ls.nodes.and_then(|s| node.list(s)),
                ls.edges.and_then(|s| node.list(s)),
            ) {
                (Some(n), _) => Some((n, ls.entry, more)),
                (_, Some(e)) => Some((e, ls.edge, more)),
                _ => None,
            }
        }
        _ => None,
    };
    let Some((locations, entry, more)) = located else {
        let err = at(loc_ptr, &"no list of locations");
        out.push(with_time(RawStockItem::new(sku, Err(err))));
        return;
    };
    if more {
        // Summing the first page of locations would under-report: refuse instead.
        let err = at(
            loc_ptr,
            &"more locations than the query asked for (pageInfo.hasNextPage); raise `first`",
        );
        out.push(with_time(RawStockItem::new(sku, Err(err))));
        return;
    }
    if locations.is_empty() {
        // Stocked at no location at all.
        out.push(with_time(RawStockItem::new(
            sku,
            Ok((Availability::OutOfStock, Vec::new())),
        )));
        return;
    }
    if item.per_location {
        for (j, loc) in locations.iter().enumerate() {
            let q = read_quantity(get(loc, entry.quantity))
                .map(|(a, w)| (a, w.into_iter().collect()))
                .map_err(|e| at(&format!("{loc_ptr}/{j}{}", item.quantity), &e));
            let mut r = with_time(RawStockItem::new(sku.clone(), q));
            r.warehouse = get(loc, entry.warehouse).and_then(text);
            out.push(r);
        }
    } else {
        let q = sum_quantities(locations, |loc| read_quantity(get(loc, entry.quantity)))
            .map_err(|e| at(&format!("{loc_ptr}/*{}", item.quantity), &e));
        out.push(with_time(RawStockItem::new(sku, q)));
    }
}

fn shipments(spec: &spec::ShipmentSpec, order: &Value) -> Vec<Shipment> {
    let Some((list, _)) = order.pointer(&spec.list).and_then(entries) else {
        return Vec::new();
    };
    let field =
        |v: &Value, p: &Option<String>| p.as_deref().and_then(|p| v.pointer(p)).and_then(text);
    list.into_iter()
        .filter(|s| !s.is_null())
        .map(|s| Shipment {
            carrier: field(s, &spec.carrier),
            tracking_number: field(s, &spec.tracking_number),
            tracking_url: field(s, &spec.tracking_url),
            shipped_at: spec
                .shipped_at
                .as_deref()
                .and_then(|p| s.pointer(p))
                .and_then(parse_timestamp_json),
            lines: Vec::new(),
        })
        .collect()
}

/// Quotes a SKU as a search phrase: `"` and `\` escaped.
fn quote(sku: &str) -> String {
    let mut out = String::with_capacity(sku.len() + 2);
    out.push('"');
    for c in sku.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[async_trait]
impl Dropshipper for GraphqlSupplier {
    fn id(&self) -> &SupplierId {
        &self.id
    }

    fn transport_stats(&self) -> Option<crate::transport::TransportStats> {
        Some(self.transport().stats())
    }

    fn supplier_sku(&self, sku: &crate::model::Sku) -> Result<crate::model::SupplierSku> {
        self.rules
            .denormalize(sku)
            .map_err(|e| Error::from(e).with_supplier(self.id.clone()))
    }

    fn capabilities(&self) -> Capabilities {
        let place = self.ops.place_order.as_ref();
        let status = self.ops.order_status.as_ref();
        Capabilities {
            stock_by_sku: self.ops.stock.is_some(),
            max_skus_per_request: self.ops.stock.as_ref().map(|s| s.batch_size),
            stock_crawl: self.ops.crawl_stock.is_some(),
            place_order: place.is_some(),
            idempotent_orders: place.is_some_and(|p| p.idempotency_header.is_some()),
            order_status: status.is_some(),
            order_lookup_by_reference: status.is_some_and(|s| s.by_reference.is_some()),
            cancel_order: self.ops.cancel_order.is_some() && status.is_some(),
            ..Capabilities::default()
        }
    }

    async fn stock(&self, skus: &[Sku]) -> Result<StockAnswer> {
        let op = Operation::Stock;
        let spec = self
            .ops
            .stock
            .as_ref()
            .ok_or_else(|| self.unsupported(op))?;
        let mut answer = StockAnswer::default();
        let mut seen = HashSet::new();
        let mut wanted: Vec<(Sku, SupplierSku)> = Vec::new();
        for sku in skus {
            if !seen.insert(sku.clone()) {
                continue;
            }
            match self.rules.denormalize(sku) {
                Ok(s) => wanted.push((sku.clone(), s)),
                Err(e) => answer.problems.push(ItemProblem {
                    raw_id: Some(sku.as_str().to_string()),
                    error: self.enrich(op)(Error::from(e)),
                }),
            }
        }
        for batch in wanted.chunks(spec.batch_size.max(1)) {
            let supplier_skus: Vec<&str> = batch.iter().map(|(_, s)| s.as_str()).collect();
            let mut ctx = Context::new().set("skus", json!(supplier_skus));
            if let Some(search) = &spec.sku_search {
                let mut terms = Vec::with_capacity(batch.len());
                for s in &supplier_skus {
                    let value = if search.quote {
                        quote(s)
                    } else {
                        s.to_string()
                    };
                    let term_ctx = Context::new().set("sku", Value::String(value));
                    terms.push(
                        template::render_text(&search.term, &term_ctx).map_err(self.enrich(op))?,
                    );
                }
                ctx = ctx.set("sku_search", Value::String(terms.join(&search.join)));
            }
            let mut cursor: Option<Cursor> = None;
            let mut pages = 0;
            loop {
                pages += 1;
                if pages > self.max_pages {
                    return Err(self.enrich(op)(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "stopped after {} pages for one batch of SKUs",
                            self.max_pages
                        ),
                    )));
                }
                let page = self.fetch_page(spec, &ctx, cursor.as_ref(), op).await?;
                answer.levels.extend(page.items);
                answer.problems.extend(page.problems);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        // Keep what was asked for; a search may match more variants than the SKUs requested.
        let requested: HashSet<&Sku> = wanted.iter().map(|(s, _)| s).collect();
        answer.levels.retain(|l| requested.contains(&l.sku));
        let mut reported: HashSet<Sku> = answer.levels.iter().map(|l| l.sku.clone()).collect();
        for p in &answer.problems {
            if let Some(raw) = &p.raw_id {
                if let Ok(s) = self.rules.normalize(raw) {
                    reported.insert(s);
                }
                if let Ok(s) = Sku::new(raw.as_str()) {
                    reported.insert(s);
                }
            }
        }
        answer.not_found = wanted
            .iter()
            .map(|(s, _)| s)
            .filter(|s| !reported.contains(*s))
            .cloned()
            .collect();
        Ok(answer)
    }

    async fn stock_page(&self, cursor: Option<&Cursor>) -> Result<Page<StockLevel>> {
        let op = Operation::CrawlStock;
        let spec = self
            .ops
            .crawl_stock
            .as_ref()
            .ok_or_else(|| self.unsupported(op))?;
        self.fetch_page(spec, &Context::new(), cursor, op).await
    }

    async fn place_order(&self, order: &Order) -> Result<OrderAck> {
        let op = Operation::PlaceOrder;
        let spec = self
            .ops
            .place_order
            .as_ref()
            .ok_or_else(|| self.unsupported(op))?;
        order.validate().map_err(self.enrich(op))?;
        let mut skus = Vec::with_capacity(order.lines.len());
        let mut problems = Vec::new();
        for (i, line) in order.lines.iter().enumerate() {
            match self.rules.denormalize(&line.sku) {
                Ok(s) => skus.push(s),
                Err(e) => problems.push(Problem::new(format!("lines[{i}].sku"), e.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(self.enrich(op)(Error::invalid(problems)));
        }
        let ctx =
            Context::for_order(order, &skus, order.reference.as_str()).map_err(self.enrich(op))?;
        let payload = self
            .mutate(spec, &ctx, op, order.reference.as_str())
            .await?;
        let id = spec
            .supplier_order_id
            .as_deref()
            .and_then(|p| payload.pointer(p))
            .and_then(text)
            .ok_or_else(|| {
                self.enrich(op)(
                    Error::new(
                        ErrorKind::Protocol,
                        "the supplier accepted the order but its id is not where \
                         operations.place_order.supplier_order_id points",
                    )
                    .with_dispatch(Dispatch::Answered),
                )
            })?;
        let status = spec
            .status
            .as_deref()
            .and_then(|p| payload.pointer(p))
            .and_then(text)
            .map_or(OrderStatus::Pending, |w| self.statuses.map(&w));
        Ok(OrderAck {
            supplier: self.id.clone(),
            reference: order.reference.clone(),
            supplier_order_id: id,
            status,
            accepted_at: Utc::now(),
            already_existed: false,
        })
    }

    async fn order_status(&self, handle: &OrderHandle) -> Result<OrderState> {
        let op = Operation::OrderStatus;
        let spec = self
            .ops
            .order_status
            .as_ref()
            .ok_or_else(|| self.unsupported(op))?;
        let ctx = Self::handle_context(handle);
        let by_ref: Option<&LookupSpec> = spec.by_reference.as_ref();
        let (query, vars, name, result, key) = match (&handle.supplier_order_id, by_ref) {
            (Some(_), _) => (
                &spec.query,
                &spec.variables,
                &spec.operation_name,
                &spec.result,
                "order_status",
            ),
            (None, Some(l)) => (
                &l.query,
                &l.variables,
                &l.operation_name,
                &l.result,
                "order_status.by_reference",
            ),
            (None, None) => {
                return Err(self.enrich(op)(Error::new(
                    ErrorKind::Invalid,
                    "this supplier looks orders up by its own id; the handle has none",
                )));
            }
        };
        let variables = self.variables(vars, &ctx, None, op)?;
        let answer = self
            .run(Call {
                operation: op,
                cost_key: key,
                query,
                operation_name: name.as_deref(),
                variables,
                replay: Replay::Query,
            })
            .await?;
        let order = self.result(&answer, result, op)?;
        self.state_from(spec, order, handle)
    }

    async fn cancel_order(&self, handle: &OrderHandle) -> Result<OrderState> {
        let op = Operation::CancelOrder;
        let spec = self
            .ops
            .cancel_order
            .as_ref()
            .ok_or_else(|| self.unsupported(op))?;
        let ctx = Self::handle_context(handle);
        self.mutate(spec, &ctx, op, handle.reference.as_str())
            .await?;
        self.order_status(handle).await
    }
}
