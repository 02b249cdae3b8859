//! The GraphQL supplier: a Shopify store's Admin API as `fixtures/profiles/shopify_graphql.json`
//! queries it. Every answer carries `extensions.cost`; a query the cost bucket cannot admit
//! gets Shopify's `THROTTLED` error in an HTTP 200.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::graphql_doc::{RootField, root_field};
use super::http::{Handled, Incoming, Protocol, Reply, retry_after};
use super::state::{Refusal, SandboxOrder};
use super::supplier::{SandboxStatus, SandboxSupplier};
use super::{Shared, SupplierState};
use crate::auth::crypto::{base64, base64_decode, constant_time_eq};
use crate::error::ErrorKind;

/// The token header.
const TOKEN_HEADER: &str = "x-shopify-access-token";
/// Shopify's largest `first`.
const MAX_FIRST: u64 = 250;
/// The cost of a mutation, requested and actual.
const MUTATION_COST: f64 = 10.0;
/// The cost of one order read: requested covers ten fulfillments, actual what was read.
const ORDER_COST: (f64, f64) = (12.0, 3.0);

pub(crate) struct Graphql {
    shared: Arc<Shared>,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn cost_json(requested: f64, actual: Option<f64>, state: &mut SupplierState) -> Value {
    let bucket = &mut state.faults.cost;
    let available = bucket.available();
    json!({ "requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": { "maximumAvailable": bucket.maximum,
                                "currentlyAvailable": available,
                                "restoreRate": bucket.restore_rate } })
}

fn errors(status: u16, message: &str, code: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }),
    )
}

fn user_error(field: &[&str], message: impl Into<String>, code: &str) -> Value {
    json!({ "field": field, "message": message.into(), "code": code })
}

/// Shopify's cursors are opaque; the sandbox's are base64 of the variant's SKU.
fn cursor(sku: &str) -> String {
    base64(format!("sbx-variant:{sku}").as_bytes())
}

fn after(cursor: &str) -> Option<String> {
    let raw = String::from_utf8(base64_decode(cursor)?).ok()?;
    raw.strip_prefix("sbx-variant:").map(str::to_string)
}

/// The SKUs a search such as `sku:"a" OR sku:b` names.
fn searched_skus(search: &str) -> BTreeSet<String> {
    search
        .split(" OR ")
        .filter_map(|term| term.trim().strip_prefix("sku:"))
        .map(|v| {
            let v = v.trim();
            match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => v.to_string(),
            }
        })
        .collect()
}

fn order_json(order: &SandboxOrder) -> Value {
    let supplier = SandboxSupplier::Graphql;
    let fulfillments: Vec<Value> = order
        .shipments
        .iter()
        .map(|s| {
            json!({ "createdAt": time(s.shipped_at), "trackingInfo": [
                { "company": s.carrier, "number": s.tracking_number, "url": s.tracking_url }] })
        })
        .collect();
    let cancelled = order.status == SandboxStatus::Cancelled;
    json!({
        "id": order.supplier_order_id,
        "name": order.reference,
        "displayFulfillmentStatus": supplier.status_word(order.status),
        "cancelledAt": cancelled.then(|| time(order.updated_at)),
        "createdAt": time(order.created_at),
        "updatedAt": time(order.updated_at),
        "fulfillments": fulfillments,
    })
}

impl Graphql {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Graphql { shared }
    }

    /// The requested cost of a root field, known before running it.
    fn requested(root: &RootField) -> f64 {
        match root.name.as_str() {
            "productVariants" => {
                let first = root.args.get("first").and_then(Value::as_u64).unwrap_or(1);
                2.0 + first.min(MAX_FIRST) as f64
            }
            "order" | "orders" => ORDER_COST.0,
            _ => MUTATION_COST,
        }
    }

    fn variants(
        &self,
        root: &RootField,
        query_text: &str,
        state: &SupplierState,
    ) -> Result<(Value, f64), Reply> {
        let first = root
            .args
            .get("first")
            .and_then(Value::as_u64)
            .filter(|f| (1..=MAX_FIRST).contains(f))
            .ok_or_else(|| {
                errors(
                    200,
                    &format!("first must be between 1 and {MAX_FIRST}"),
                    "BAD_REQUEST",
                )
            })?;
        let wanted = root
            .args
            .get("query")
            .and_then(Value::as_str)
            .map(searched_skus);
        let start_after = match root.args.get("after") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(after(c).ok_or_else(|| {
                errors(
                    200,
                    "Invalid cursor for current pagination sort.",
                    "BAD_REQUEST",
                )
            })?),
            Some(_) => return Err(errors(200, "after must be a string", "BAD_REQUEST")),
        };
        let all: Vec<(String, &std::collections::BTreeMap<String, u32>)> = state
            .ledger
            .stock()
            .iter()
            .filter_map(|(sku, w)| Some((state.ledger.spell(sku)?, w)))
            .filter(|(spelled, _)| wanted.as_ref().is_none_or(|set| set.contains(spelled)))
            .collect();
        let begin = match &start_after {
            None => 0,
            Some(sku) => all
                .iter()
                .position(|(s, _)| s == sku)
                .map(|p| p + 1)
                .ok_or_else(|| {
                    errors(
                        200,
                        "Invalid cursor for current pagination sort.",
                        "BAD_REQUEST",
                    )
                })?,
        };
        let take = usize::try_from(first).unwrap_or(usize::MAX);
        let page: Vec<&(String, &std::collections::BTreeMap<String, u32>)> =
            all.iter().skip(begin).take(take).collect();
        let has_next = begin + page.len() < all.len();
        let node = |(sku, warehouses): &(String, &std::collections::BTreeMap<String, u32>)| {
            let levels: Vec<Value> = warehouses
                .iter()
                .enumerate()
                .map(|(i, (name, n))| {
                    json!({ "location": { "id": format!("gid://shopify/Location/{}", i + 1),
                                          "name": name },
                            "quantities": [{ "name": "available", "quantity": n }] })
                })
                .collect();
            json!({ "sku": sku, "inventoryItem": { "inventoryLevels": {
                "pageInfo": { "hasNextPage": false }, "nodes": levels } } })
        };
        let mut connection = Map::new();
        connection.insert(
            "pageInfo".into(),
            json!({ "hasNextPage": has_next, "hasPreviousPage": begin > 0,
                    "startCursor": page.first().map(|(s, _)| cursor(s)),
                    "endCursor": page.last().map(|(s, _)| cursor(s)) }),
        );
        // Only what the query selects: the adapter reads `nodes` or `edges { node }`.
        if query_text.contains("nodes") {
            let nodes: Vec<Value> = page.iter().map(|p| node(p)).collect();
            connection.insert("nodes".into(), Value::Array(nodes));
        }
        if query_text.contains("edges") {
            let edges: Vec<Value> = page
                .iter()
                .map(|p| json!({ "cursor": cursor(&p.0), "node": node(p) }))
                .collect();
            connection.insert("edges".into(), Value::Array(edges));
        }
        let actual = 2.0 + page.len() as f64;
        Ok((
            json!({ "productVariants": Value::Object(connection) }),
            actual,
        ))
    }

    fn order_create(&self, root: &RootField, state: &mut SupplierState) -> (Value, bool) {
        let input = root.args.get("order").cloned().unwrap_or(Value::Null);
        let answer = |order: Value, errs: Vec<Value>| json!({ "orderCreate": { "order": order, "userErrors": errs } });
        let name = input
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.trim().is_empty() {
            let e = user_error(&["order", "name"], "Name can't be blank", "BLANK");
            return (answer(Value::Null, vec![e]), false);
        }
        let items = input
            .get("lineItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut lines = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let sku = item.get("sku").and_then(Value::as_str).unwrap_or_default();
            let qty = item
                .get("quantity")
                .and_then(Value::as_u64)
                .and_then(|q| u32::try_from(q).ok())
                .unwrap_or(0);
            if qty == 0 {
                let index = i.to_string();
                let e = user_error(
                    &["order", "lineItems", &index, "quantity"],
                    "Quantity must be greater than or equal to 1",
                    "INVALID",
                );
                return (answer(Value::Null, vec![e]), false);
            }
            lines.push((sku.to_string(), qty));
        }
        match state.ledger.place(name, &lines) {
            Ok((placed, changes)) => {
                self.shared.emit(state, changes);
                let order = order_json(placed.order());
                (answer(order, Vec::new()), true)
            }
            Err(refusal) => {
                let e = match refusal {
                    Refusal::UnknownSku(i, sku) => user_error(
                        &["order", "lineItems", &i.to_string(), "sku"],
                        format!("No variant has the SKU {sku}"),
                        "NOT_FOUND",
                    ),
                    Refusal::OutOfStock(i, sku, have, want) => user_error(
                        &["order", "lineItems", &i.to_string(), "quantity"],
                        format!(
                            "Not enough inventory for {sku}: {have} available, {want} requested"
                        ),
                        "INVALID",
                    ),
                    Refusal::Invalid(why) => user_error(&["order"], why, "INVALID"),
                };
                (answer(Value::Null, vec![e]), false)
            }
        }
    }

    fn order_cancel(&self, root: &RootField, state: &mut SupplierState) -> Value {
        let id = root
            .args
            .get("orderId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let answer = |errs: Vec<Value>| {
            let job = errs
                .is_empty()
                .then(|| json!({ "id": format!("gid://shopify/Job/{id}"), "done": true }));
            json!({ "orderCancel": { "job": job, "orderCancelUserErrors": errs.clone(),
                                     "userErrors": errs } })
        };
        // Shopify cancels by order id only.
        let known = state
            .ledger
            .orders()
            .iter()
            .any(|o| o.supplier_order_id == id);
        if !known {
            let e = user_error(&["orderId"], "Order does not exist", "NOT_FOUND");
            return answer(vec![e]);
        }
        match state.ledger.cancel(id) {
            Ok(changes) => {
                self.shared.emit(state, changes);
                answer(Vec::new())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => answer(vec![user_error(
                &["orderId"],
                "Order does not exist",
                "NOT_FOUND",
            )]),
            Err(e) => answer(vec![user_error(
                &["orderId"],
                e.message().to_string(),
                "INVALID",
            )]),
        }
    }

    /// Runs an admitted root field: its `data`, its actual cost, and whether an order was
    /// committed.
    fn run(
        &self,
        root: &RootField,
        query_text: &str,
        state: &mut SupplierState,
    ) -> Result<(Value, f64, bool), Reply> {
        match root.name.as_str() {
            "productVariants" => {
                let (data, actual) = self.variants(root, query_text, state)?;
                Ok((data, actual, false))
            }
            "order" => {
                let id = root
                    .args
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let order = state
                    .ledger
                    .orders()
                    .iter()
                    .find(|o| o.supplier_order_id == id)
                    .map(order_json);
                Ok((json!({ "order": order }), ORDER_COST.1, false))
            }
            "orders" => {
                let q = root
                    .args
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = q
                    .trim()
                    .strip_prefix("name:")
                    .map(|n| n.trim().trim_matches('"'))
                    .unwrap_or_default();
                let nodes: Vec<Value> = state
                    .ledger
                    .by_reference(name)
                    .map(order_json)
                    .into_iter()
                    .collect();
                Ok((json!({ "orders": { "nodes": nodes } }), ORDER_COST.1, false))
            }
            "orderCreate" => {
                let (data, committed) = self.order_create(root, state);
                Ok((data, MUTATION_COST, committed))
            }
            "orderCancel" => Ok((self.order_cancel(root, state), MUTATION_COST, false)),
            other => Err(errors(
                200,
                &format!("Field '{other}' doesn't exist on type 'QueryRoot'"),
                "undefinedField",
            )),
        }
    }
}

impl Protocol for Graphql {
    fn supplier(&self) -> SandboxSupplier {
        SandboxSupplier::Graphql
    }

    fn operation(&self, request: &Incoming) -> String {
        request
            .json()
            .and_then(|b| {
                let query = b.get("query")?.as_str()?.to_string();
                let vars = b
                    .get("variables")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                root_field(&query, &vars).ok().map(|r| r.name)
            })
            .unwrap_or_else(|| "unreadable".into())
    }

    fn handle(&self, request: &Incoming) -> Handled {
        let path_ok =
            request.path.starts_with("/admin/api/") && request.path.ends_with("/graphql.json");
        if !path_ok {
            return Handled::reply(errors(404, "Not Found", "NOT_FOUND"));
        }
        let token = self.shared.credentials.graphql_token.as_bytes();
        if !request
            .header(TOKEN_HEADER)
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token))
        {
            return Handled::reply(Reply::json(
                401,
                &json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" }),
            ));
        }
        if request.method != "POST" {
            return Handled::reply(errors(405, "GraphQL requests are POSTs", "BAD_REQUEST"));
        }
        let Some(body) = request.json() else {
            return Handled::reply(errors(400, "The body is not JSON", "BAD_REQUEST"));
        };
        let Some(query) = body.get("query").and_then(Value::as_str) else {
            return Handled::reply(errors(
                400,
                "Parameter Missing or Invalid: query",
                "BAD_REQUEST",
            ));
        };
        let vars = body
            .get("variables")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let root = match root_field(query, &vars) {
            Ok(r) => r,
            Err(why) => return Handled::reply(errors(200, &why, "PARSE_ERROR")),
        };
        let requested = Self::requested(&root);
        let mut state = self.shared.supplier(SandboxSupplier::Graphql).lock();
        if state.faults.cost.admit(requested).is_err() {
            let cost = cost_json(requested, None, &mut state);
            let reply = Reply::json(
                200,
                &json!({ "errors": [{ "message": "Throttled", "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                         "extensions": { "cost": cost } }),
            );
            return Handled {
                reply,
                committed_order: false,
                throttled: true,
            };
        }
        let (data, actual, committed) = match self.run(&root, query, &mut state) {
            Ok(done) => done,
            Err(reply) => {
                state.faults.cost.refund(requested - 1.0);
                return Handled::reply(reply);
            }
        };
        state.faults.cost.refund(requested - actual);
        let cost = cost_json(requested, Some(actual), &mut state);
        Handled {
            reply: Reply::json(
                200,
                &json!({ "data": data, "extensions": { "cost": cost } }),
            ),
            committed_order: committed,
            throttled: false,
        }
    }

    fn throttled(&self, wait: Duration) -> Reply {
        errors(429, "Throttled", "THROTTLED").header("retry-after", retry_after(wait))
    }

    fn failure(&self) -> Reply {
        errors(
            503,
            "Internal error. Looks like something went wrong on our end.",
            "INTERNAL_SERVER_ERROR",
        )
    }
}
