//! The configuration the sandbox hands out: each supplier's profile from `fixtures/profiles`,
//! pointed at its loopback server, with the sandbox's inline secrets, its SKU rules, fast
//! test policies and a webhook section.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::Credentials;
use super::supplier::SandboxSupplier;
use super::webhook::webhook_config;

const CJ_PROFILE: &str = include_str!("../../fixtures/profiles/cj.json");
const SOAP_PROFILE: &str = include_str!("../../fixtures/profiles/sandbox_soap.json");
const SHOPIFY_PROFILE: &str = include_str!("../../fixtures/profiles/shopify_graphql.json");

/// Crawl page sizes small enough that the default catalog spans several pages.
const REST_PAGE_SIZE: u64 = 5;
const SOAP_PAGE_SIZE: u64 = 10;
const GRAPHQL_PAGE_SIZE: u64 = 5;

/// The path of each server's API below its address.
pub(crate) fn base_url(supplier: SandboxSupplier, addr: SocketAddr) -> String {
    match supplier {
        SandboxSupplier::Rest => format!("http://{addr}/api2.0/v1"),
        SandboxSupplier::Soap => format!("http://{addr}/ws/acme"),
        SandboxSupplier::Graphql => format!("http://{addr}"),
    }
}

/// The whole config file.
pub(crate) fn config_file(
    addrs: &[SocketAddr; 3],
    credentials: &Credentials,
    events: bool,
) -> Value {
    let suppliers: Vec<Value> = SandboxSupplier::ALL
        .into_iter()
        .map(|s| supplier_config(s, addrs[s.index()], credentials, events))
        .collect();
    json!({ "suppliers": suppliers })
}

fn profile(text: &str) -> Value {
    // The profiles are part of this crate and parsed by its own tests; a broken one yields an
    // empty object, which the config loader then reports field by field.
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = value;
    } else if let Some((parent, key)) = pointer.rsplit_once('/')
        && let Some(Value::Object(obj)) = v.pointer_mut(parent)
    {
        obj.insert(key.to_string(), value);
    }
}

fn supplier_config(
    supplier: SandboxSupplier,
    addr: SocketAddr,
    credentials: &Credentials,
    events: bool,
) -> Value {
    let mut v = match supplier {
        SandboxSupplier::Rest => profile(CJ_PROFILE),
        SandboxSupplier::Soap => profile(SOAP_PROFILE),
        SandboxSupplier::Graphql => profile(SHOPIFY_PROFILE),
    };
    set(&mut v, "/id", json!(supplier.id()));
    set(&mut v, "/base_url", json!(base_url(supplier, addr)));
    set(&mut v, "/sku_rules", supplier.sku_rules_json());
    // The sandbox enforces its own limits (faults); the client should not hide them by
    // pacing itself, and tests should not wait seconds for a retry.
    set(
        &mut v,
        "/limits",
        json!({ "requests_per_second": 1000, "burst": 1000, "max_concurrency": 8,
                "critical_reserve": 0.0, "timeout": "3s", "connect_timeout": "1s" }),
    );
    set(
        &mut v,
        "/retry",
        json!({ "max_attempts": 4, "base_delay": "10ms", "max_delay": "100ms", "deadline": "10s" }),
    );
    set(&mut v, "/breaker", json!({ "min_calls": 100000 }));
    let secret = &credentials.webhook_secrets[supplier.index()];
    set(&mut v, "/webhook", webhook_config(supplier, secret, events));
    match supplier {
        SandboxSupplier::Rest => {
            set(
                &mut v,
                "/name",
                json!("Sandbox CJ Dropshipping (REST, cj.json profile)"),
            );
            set(
                &mut v,
                "/auth/credentials/apiKey",
                json!(credentials.rest_api_key),
            );
            set(
                &mut v,
                "/operations/crawl_stock/pagination/page_size",
                json!(REST_PAGE_SIZE),
            );
        }
        SandboxSupplier::Soap => {
            set(&mut v, "/auth/username", json!(credentials.soap_username));
            set(&mut v, "/auth/password", json!(credentials.soap_password));
            set(
                &mut v,
                "/operations/crawl_stock/page_size",
                json!(SOAP_PAGE_SIZE),
            );
        }
        SandboxSupplier::Graphql => {
            set(
                &mut v,
                "/name",
                json!("Sandbox Shopify store (GraphQL, shopify_graphql.json profile)"),
            );
            set(&mut v, "/auth/value", json!(credentials.graphql_token));
            set(
                &mut v,
                "/operations/crawl_stock/variables/first",
                json!(GRAPHQL_PAGE_SIZE),
            );
            // The orders/updated webhook says CANCELLED, which Shopify's fulfillment words
            // lack.
            set(
                &mut v,
                "/status_map",
                json!({ "preset": "shopify_fulfillment", "words": { "CANCELLED": "cancelled" } }),
            );
        }
    }
    v
}
