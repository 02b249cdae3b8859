//! The configuration shapes of a GraphQL supplier: the protocol-wide `"graphql"` object and
//! each entry of `operations`, with their validation.
//!
//! Every JSON Pointer is checked when the supplier is built, every variables template is
//! checked with [`template::check`], and every problem is
//! reported at once with its path (`operations.crawl_stock.item.sku: ...`). See the
//! [adapter docs](super) for a complete, commented example.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::adapters::template;
use crate::error::{ErrorKind, Problem};

/// Default path of the GraphQL endpoint under `base_url`.
pub const DEFAULT_ENDPOINT: &str = "graphql";
/// Default JSON Pointer of the cost object inside the top-level `extensions`.
pub const DEFAULT_COST_POINTER: &str = "/cost";
/// Default name of the Relay cursor variable.
pub const DEFAULT_CURSOR_VARIABLE: &str = "after";
/// Default number of SKUs asked for in one stock query.
pub const DEFAULT_BATCH_SIZE: usize = 50;
/// Default cap on the pages one `stock` call follows for one batch of SKUs.
pub const DEFAULT_MAX_PAGES: usize = 100;

/// The protocol-wide `"graphql"` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlOptions {
    /// Path of the endpoint under `base_url` (`admin/api/2025-01/graphql.json`).
    pub endpoint: String,
    /// Query-cost throttling.
    pub cost: CostOptions,
    /// Extra or replaced `errors[].extensions.code` -> error kind entries, on top of
    /// [`DEFAULT_ERROR_CODES`].
    pub error_codes: BTreeMap<String, ErrorKind>,
    /// Most pages one `stock` call follows for one batch of SKUs.
    pub max_pages: usize,
}

impl Default for GraphqlOptions {
    fn default() -> Self {
        GraphqlOptions {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            cost: CostOptions::default(),
            error_codes: BTreeMap::new(),
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

/// Query-cost throttling settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostOptions {
    /// Wait for the supplier's cost bucket before sending (default `true`).
    pub enabled: bool,
    /// JSON Pointer of the cost object inside `extensions` (default `/cost`).
    pub pointer: String,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions {
            enabled: true,
            pointer: DEFAULT_COST_POINTER.to_string(),
        }
    }
}

/// `errors[].extensions.code` values every GraphQL supplier gets: Shopify's (`THROTTLED`,
/// `MAX_COST_EXCEEDED`, `ACCESS_DENIED`, `NOT_FOUND`, `INTERNAL_SERVER_ERROR`) and the common
/// Apollo-style ones.
pub const DEFAULT_ERROR_CODES: &[(&str, ErrorKind)] = &[
    ("THROTTLED", ErrorKind::Throttled),
    ("MAX_COST_EXCEEDED", ErrorKind::Invalid),
    ("ACCESS_DENIED", ErrorKind::Auth),
    ("UNAUTHENTICATED", ErrorKind::Auth),
    ("FORBIDDEN", ErrorKind::Auth),
    ("NOT_FOUND", ErrorKind::NotFound),
    ("INTERNAL_SERVER_ERROR", ErrorKind::Transient),
    ("SERVICE_UNAVAILABLE", ErrorKind::Transient),
    ("BAD_USER_INPUT", ErrorKind::Invalid),
    ("GRAPHQL_VALIDATION_FAILED", ErrorKind::Invalid),
    ("GRAPHQL_PARSE_FAILED", ErrorKind::Invalid),
];

/// What a stock item looks like inside a connection node. Pointers are relative to the node,
/// except `quantity` and `warehouse`, which are relative to each location entry when
/// `locations` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// The supplier's SKU.
    pub sku: String,
    /// The stock value (number, text or boolean, read by
    /// [`Availability::from_json`](crate::Availability::from_json)).
    pub quantity: String,
    /// A list of per-location entries (an array, or a connection with `nodes` or `edges`);
    /// their quantities are summed unless `per_location` is set.
    #[serde(default)]
    pub locations: Option<String>,
    /// The location's name or code, for per-location levels.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// One level per location instead of one summed level per SKU.
    #[serde(default)]
    pub per_location: bool,
    /// The supplier's timestamp for the record (relative to the node).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// How the SKUs of a `stock` call are written into a search string (`sku_search` in the
/// variables' context): each SKU through `term`, joined with `join`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuSearch {
    /// One SKU's term, with `{{sku}}` for the SKU: `sku:{{sku}}`.
    pub term: String,
    /// Between terms (default `" OR "`).
    #[serde(default = "default_join")]
    pub join: String,
    /// Write each SKU as a double-quoted phrase with `"` and `\` escaped (default `true`), so
    /// a SKU with spaces, a colon or a leading `-` cannot change the search.
    #[serde(default = "yes")]
    pub quote: bool,
}

fn default_join() -> String {
    " OR ".to_string()
}

fn yes() -> bool {
    true
}

fn default_cursor() -> String {
    DEFAULT_CURSOR_VARIABLE.to_string()
}

fn default_batch() -> usize {
    DEFAULT_BATCH_SIZE
}

/// A paged stock query: `stock` (with `sku_search`/`batch_size`) or `crawl_stock`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSpec {
    /// The query text.
    pub query: String,
    /// The variables, as a [`template`] template. `stock` offers `skus` (the
    /// batch's supplier SKUs, an array) and `sku_search`; the cursor variable is added.
    #[serde(default)]
    pub variables: Value,
    /// `operationName`, when the query text holds several operations.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// JSON Pointer into `data` of the connection (`{pageInfo, nodes | edges}`).
    pub connection: String,
    /// The variable that carries the Relay cursor (default `after`).
    #[serde(default = "default_cursor")]
    pub cursor_variable: String,
    /// Each node's stock item.
    pub item: ItemSpec,
    /// SKUs per request (`stock` only; default 50).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// How the SKUs become a search string (`stock` only).
    #[serde(default)]
    pub sku_search: Option<SkuSearch>,
}

/// A query or mutation with one result object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    /// The query text.
    pub query: String,
    /// The variables, as a template (`order.reference`, `order.supplier_order_id`).
    #[serde(default)]
    pub variables: Value,
    /// `operationName`.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// JSON Pointer into `data` of the order object.
    pub result: String,
}

/// Where a shipment's facts are, relative to each entry of `list`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentSpec {
    /// The list of shipments, relative to the order object.
    pub list: String,
    /// Carrier name.
    #[serde(default)]
    pub carrier: Option<String>,
    /// Tracking number.
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// Tracking URL.
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// When it left.
    #[serde(default)]
    pub shipped_at: Option<String>,
}

/// `order_status`: a query for one order and where its status and shipments are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSpec {
    /// The query text.
    pub query: String,
    /// The variables, as a template (`order.reference`, `order.supplier_order_id`).
    #[serde(default)]
    pub variables: Value,
    /// `operationName`.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// JSON Pointer into `data` of the order object.
    pub result: String,
    /// The status word, relative to the order object.
    pub status: String,
    /// A reason qualifying the word (see [`StatusMap::map_with_reason`](crate::StatusMap)).
    #[serde(default)]
    pub reason: Option<String>,
    /// A cancellation timestamp: when it is set, the order is `Cancelled` whatever the status
    /// word says (Shopify keeps `displayFulfillmentStatus` after a cancellation).
    #[serde(default)]
    pub cancelled_at: Option<String>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The supplier's order id, relative to the order object (fills a handle looked up by
    /// reference).
    #[serde(default)]
    pub supplier_order_id: Option<String>,
    /// Shipments.
    #[serde(default)]
    pub shipments: Option<ShipmentSpec>,
    /// The query used when the handle has no supplier order id (lookup by reference).
    #[serde(default)]
    pub by_reference: Option<LookupSpec>,
}

/// `place_order` and `cancel_order`: a mutation, its result object and its `userErrors`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutationSpec {
    /// The mutation text.
    pub query: String,
    /// The variables, as a template ([`Context::for_order`](crate::adapters::template::Context::for_order)
    /// for `place_order`; `order.reference` and `order.supplier_order_id` for `cancel_order`).
    #[serde(default)]
    pub variables: Value,
    /// `operationName`.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// JSON Pointer into `data` of the mutation's payload.
    pub result: String,
    /// The payload's user errors (`[{field, message, code}]`), relative to it.
    #[serde(default)]
    pub user_errors: Option<String>,
    /// The new order's id, relative to the payload (`place_order`; required there).
    #[serde(default)]
    pub supplier_order_id: Option<String>,
    /// The new order's status word, relative to the payload (`place_order`).
    #[serde(default)]
    pub status: Option<String>,
    /// A header carrying the order reference as an idempotency key, for suppliers that
    /// deduplicate on one; without it a placement is sent at most once.
    #[serde(default)]
    pub idempotency_header: Option<String>,
}

/// Every operation, parsed and checked.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    /// `stock`.
    pub stock: Option<ConnectionSpec>,
    /// `crawl_stock`.
    pub crawl_stock: Option<ConnectionSpec>,
    /// `place_order`.
    pub place_order: Option<MutationSpec>,
    /// `order_status`.
    pub order_status: Option<StatusSpec>,
    /// `cancel_order`.
    pub cancel_order: Option<MutationSpec>,
}

fn parse<T: DeserializeOwned>(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<T> {
    crate::config::deserialize_at(value, path)
        .map_err(|p| problems.push(p))
        .ok()
}

fn pointer(p: &str, path: &str, problems: &mut Vec<Problem>) {
    if !(p.is_empty() || p.starts_with('/')) {
        problems.push(Problem::new(
            path,
            format!("{p:?} is not a JSON Pointer; write it as /data/field or \"\" for the root"),
        ));
    }
}

fn opt_pointer(p: &Option<String>, path: &str, problems: &mut Vec<Problem>) {
    if let Some(p) = p {
        pointer(p, path, problems);
    }
}

fn query_text(q: &str, path: &str, problems: &mut Vec<Problem>) {
    if q.trim().is_empty() {
        problems.push(Problem::new(path, "must hold the GraphQL query text"));
    }
}

fn variables(v: &Value, path: &str, problems: &mut Vec<Problem>) {
    match v {
        Value::Null | Value::Object(_) => problems.extend(template::check(v, path)),
        _ => problems.push(Problem::new(path, "must be an object of variables")),
    }
}

/// Whether `query` declares `$var` (`$var:` in the operation's variable list) and whether it
/// uses it anywhere else (`after: $var`). Whole names only: `$afterX` is not `$after`.
fn variable_use(query: &str, var: &str) -> (bool, bool) {
    let needle = format!("${var}");
    let (mut declared, mut used) = (false, false);
    let mut rest = query;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        let whole = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if whole {
            if after.trim_start().starts_with(':') {
                declared = true;
            } else {
                used = true;
            }
        }
        rest = after;
    }
    (declared, used)
}

fn check_connection(spec: &ConnectionSpec, path: &str, stock: bool, problems: &mut Vec<Problem>) {
    query_text(&spec.query, &format!("{path}.query"), problems);
    variables(&spec.variables, &format!("{path}.variables"), problems);
    pointer(&spec.connection, &format!("{path}.connection"), problems);
    let var = spec.cursor_variable.trim();
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        problems.push(Problem::new(
            format!("{path}.cursor_variable"),
            "must be a GraphQL variable name such as after",
        ));
    } else {
        let (declared, used) = variable_use(&spec.query, var);
        if !declared {
            problems.push(Problem::new(
                format!("{path}.query"),
                format!("must declare ${var}: String, the cursor variable, or pages after the first cannot be asked for"),
            ));
        } else if !used {
            problems.push(Problem::new(
                format!("{path}.query"),
                format!("declares ${var} but never passes it to the connection (after: ${var})"),
            ));
        }
    }
    let item = &spec.item;
    pointer(&item.sku, &format!("{path}.item.sku"), problems);
    pointer(&item.quantity, &format!("{path}.item.quantity"), problems);
    opt_pointer(&item.locations, &format!("{path}.item.locations"), problems);
    opt_pointer(&item.warehouse, &format!("{path}.item.warehouse"), problems);
    opt_pointer(
        &item.updated_at,
        &format!("{path}.item.updated_at"),
        problems,
    );
    if item.per_location && item.locations.is_none() {
        problems.push(Problem::new(
            format!("{path}.item.per_location"),
            "needs item.locations, the list of per-location entries",
        ));
    }
    if stock {
        if spec.batch_size == 0 || spec.batch_size > 250 {
            // Shopify caps input arrays and `first` at 250.
            problems.push(Problem::new(
                format!("{path}.batch_size"),
                "must be from 1 to 250",
            ));
        }
        if let Some(s) = &spec.sku_search {
            problems.extend(template::check(
                &Value::String(s.term.clone()),
                &format!("{path}.sku_search.term"),
            ));
            if !s.term.contains("{{sku}}") {
                problems.push(Problem::new(
                    format!("{path}.sku_search.term"),
                    "must contain {{sku}}",
                ));
            }
        }
    } else if spec.sku_search.is_some() {
        problems.push(Problem::new(
            format!("{path}.sku_search"),
            "applies to the stock operation only",
        ));
    }
}

fn check_lookup(spec: &LookupSpec, path: &str, problems: &mut Vec<Problem>) {
    query_text(&spec.query, &format!("{path}.query"), problems);
    variables(&spec.variables, &format!("{path}.variables"), problems);
    pointer(&spec.result, &format!("{path}.result"), problems);
}

fn check_status(spec: &StatusSpec, path: &str, problems: &mut Vec<Problem>) {
    query_text(&spec.query, &format!("{path}.query"), problems);
    variables(&spec.variables, &format!("{path}.variables"), problems);
    pointer(&spec.result, &format!("{path}.result"), problems);
    pointer(&spec.status, &format!("{path}.status"), problems);
    opt_pointer(&spec.reason, &format!("{path}.reason"), problems);
    opt_pointer(
        &spec.cancelled_at,
        &format!("{path}.cancelled_at"),
        problems,
    );
    opt_pointer(&spec.updated_at, &format!("{path}.updated_at"), problems);
    opt_pointer(
        &spec.supplier_order_id,
        &format!("{path}.supplier_order_id"),
        problems,
    );
    if let Some(s) = &spec.shipments {
        let p = format!("{path}.shipments");
        pointer(&s.list, &format!("{p}.list"), problems);
        opt_pointer(&s.carrier, &format!("{p}.carrier"), problems);
        opt_pointer(
            &s.tracking_number,
            &format!("{p}.tracking_number"),
            problems,
        );
        opt_pointer(&s.tracking_url, &format!("{p}.tracking_url"), problems);
        opt_pointer(&s.shipped_at, &format!("{p}.shipped_at"), problems);
    }
    if let Some(l) = &spec.by_reference {
        check_lookup(l, &format!("{path}.by_reference"), problems);
    }
}

fn check_mutation(spec: &MutationSpec, path: &str, place: bool, problems: &mut Vec<Problem>) {
    query_text(&spec.query, &format!("{path}.query"), problems);
    variables(&spec.variables, &format!("{path}.variables"), problems);
    pointer(&spec.result, &format!("{path}.result"), problems);
    opt_pointer(&spec.user_errors, &format!("{path}.user_errors"), problems);
    opt_pointer(
        &spec.supplier_order_id,
        &format!("{path}.supplier_order_id"),
        problems,
    );
    opt_pointer(&spec.status, &format!("{path}.status"), problems);
    if place && spec.supplier_order_id.is_none() {
        problems.push(Problem::new(
            format!("{path}.supplier_order_id"),
            "is required: where the new order's id is in the payload",
        ));
    }
    if let Some(h) = &spec.idempotency_header
        && reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err()
    {
        problems.push(Problem::new(
            format!("{path}.idempotency_header"),
            "is not a valid header name",
        ));
    }
}

/// Reads and checks the `"graphql"` object (`Null` gives the defaults).
pub fn parse_options(value: &Value, problems: &mut Vec<Problem>) -> GraphqlOptions {
    let options = if value.is_null() {
        Some(GraphqlOptions::default())
    } else {
        parse::<GraphqlOptions>(value, "graphql", problems)
    };
    let options = options.unwrap_or_default();
    if options.endpoint.contains("://") || options.endpoint.contains('?') {
        problems.push(Problem::new(
            "graphql.endpoint",
            "must be a path under base_url, without a query",
        ));
    }
    pointer(&options.cost.pointer, "graphql.cost.pointer", problems);
    if options.max_pages == 0 {
        problems.push(Problem::new("graphql.max_pages", "must be at least 1"));
    }
    options
}

/// Reads and checks every entry of `operations`.
pub fn parse_operations(ops: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) -> Operations {
    let mut out = Operations::default();
    for (name, value) in ops {
        let path = format!("operations.{name}");
        match name.as_str() {
            "stock" => {
                out.stock = parse::<ConnectionSpec>(value, &path, problems);
                if let Some(s) = &out.stock {
                    check_connection(s, &path, true, problems);
                }
            }
            "crawl_stock" => {
                out.crawl_stock = parse::<ConnectionSpec>(value, &path, problems);
                if let Some(s) = &out.crawl_stock {
                    check_connection(s, &path, false, problems);
                }
            }
            "order_status" => {
                out.order_status = parse::<StatusSpec>(value, &path, problems);
                if let Some(s) = &out.order_status {
                    check_status(s, &path, problems);
                }
            }
            "place_order" => {
                out.place_order = parse::<MutationSpec>(value, &path, problems);
                if let Some(s) = &out.place_order {
                    check_mutation(s, &path, true, problems);
                }
            }
            "cancel_order" => {
                out.cancel_order = parse::<MutationSpec>(value, &path, problems);
                if let Some(s) = &out.cancel_order {
                    check_mutation(s, &path, false, problems);
                }
            }
            other => problems.push(Problem::new(
                path,
                format!(
                    "{other:?} is not an operation; use stock, crawl_stock, place_order, \
                     order_status or cancel_order"
                ),
            )),
        }
    }
    if out.cancel_order.is_some() && !ops.contains_key("order_status") {
        problems.push(Problem::new(
            "operations.cancel_order",
            "needs operations.order_status too: the state after cancelling is read from it",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::variable_use;

    #[test]
    fn the_cursor_variable_must_be_declared_and_passed() {
        let good =
            "query Q($first: Int!, $after: String) { items(first: $first, after: $after) { id } }";
        assert_eq!(variable_use(good, "after"), (true, true));
        let undeclared = "query Q { items(first: 10, after: $after) { id } }";
        assert_eq!(variable_use(undeclared, "after"), (false, true));
        let unused = "query Q($after : String) { items(first: 10) { id } }";
        assert_eq!(variable_use(unused, "after"), (true, false));
        let other = "query Q($afterX: String) { items(after: $afterX) { id } }";
        assert_eq!(variable_use(other, "after"), (false, false));
    }
}
