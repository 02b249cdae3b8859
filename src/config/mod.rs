//! Supplier configuration: everything needed to connect a supplier, loadable from JSON without
//! writing Rust.
//!
//! A config file holds one or more suppliers:
//!
//! ```json
//! { "suppliers": [
//!   { "id": "printful",
//!     "protocol": "rest",
//!     "base_url": "https://api.printful.com",
//!     "auth": { "kind": "bearer", "token": "env:PRINTFUL_TOKEN" },
//!     "limits": { "requests_per_second": 2, "burst": 10 },
//!     "retry": { "max_attempts": 4, "deadline": "2m" },
//!     "sku_rules": { "case": "upper" },
//!     "status_map": { "preset": "printful" },
//!     "operations": { } } ] }
//! ```
//!
//! [`ConfigFile::load`] checks the whole file and reports every problem at once, each with its
//! path (`suppliers[2].auth.token_url: must be https ...`). Secrets may be written inline or
//! as `env:VAR_NAME` / `file:/path`, and are held in [`Secret`] (never shown by `Debug`). Plain
//! `http://` URLs are refused except on loopback, unless the supplier sets
//! `"allow_insecure_http": true`.
//!
//! `operations` holds each operation's wire description, and an object named after the protocol
//! (`"rest"`, `"soap"`, `"graphql"`) its protocol-wide settings; their shapes belong to the
//! protocol's adapter, which validates them when the supplier is built.

mod auth;
mod duration;
mod load;
mod operate;
mod policy;
mod secret;
mod webhook;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use auth::{AuthConfig, KeyPlacement, SignatureEncoding, SignedPart};
pub(crate) use duration::deserialize as duration_deserialize;
pub(crate) use load::deserialize_at;
pub use operate::{
    FulfillmentConfig, RoutingConfig, SupplierFulfillmentConfig, SupplierSyncConfig, SyncConfig,
};
pub use policy::*;
pub use secret::{Secret, SecretOrigin};
pub use webhook::{
    EventKind, EventsConfig, TopicMapping, TopicSource, UnknownTopics, WebhookConfig,
    WebhookEncoding, WebhookScheme,
};

use crate::model::{SkuRules, StatusMap, SupplierId};

/// The wire protocol a supplier speaks, which picks its adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Protocol {
    /// JSON over HTTP.
    Rest,
    /// SOAP 1.1 or 1.2 (XML).
    Soap,
    /// GraphQL over HTTP.
    Graphql,
}

/// One supplier's configuration. Load it with [`ConfigFile::load`] (many suppliers) or
/// [`SupplierConfig::from_json`] (one), which validate every field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SupplierConfig {
    /// The supplier's id in this application.
    pub id: SupplierId,
    /// A human-readable name, for summaries.
    pub name: Option<String>,
    /// Its protocol.
    pub protocol: Protocol,
    /// Root URL every operation path is joined to.
    pub base_url: reqwest::Url,
    /// Allow `http://` to a non-loopback host (for a supplier's own test server, never production).
    pub allow_insecure_http: bool,
    /// How it authenticates.
    pub auth: AuthConfig,
    /// Static headers sent on every request (`X-PF-Store-Id`, an `Accept-Language`). Not for
    /// secrets: use `auth`.
    pub headers: BTreeMap<String, String>,
    /// Rate, size and time limits.
    pub limits: LimitsConfig,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Circuit breaker.
    pub breaker: BreakerConfig,
    /// SKU mapping both ways.
    pub sku_rules: SkuRules,
    /// Status vocabulary.
    pub status_map: StatusMap,
    /// Per-operation wire descriptions, keyed by operation name (`stock`, `crawl_stock`,
    /// `place_order`, `order_status`, `cancel_order`), interpreted by the protocol's adapter.
    pub operations: BTreeMap<String, serde_json::Value>,
    /// How the supplier signs its webhooks, if it sends any.
    pub webhook: Option<WebhookConfig>,
    /// Protocol-wide settings, from the object named after the protocol (`"rest"`, `"soap"`,
    /// `"graphql"`): `null` when absent. Interpreted by the protocol's adapter.
    pub protocol_options: serde_json::Value,
    /// This supplier's inventory sync settings (`"sync"`).
    pub sync: SupplierSyncConfig,
    /// This supplier's fulfillment settings (`"fulfillment"`).
    pub fulfillment: SupplierFulfillmentConfig,
    /// The `env:` secrets named inside `protocol_options` (SOAP session parameters), read
    /// through the same environment lookup as `auth` when the file was loaded, so an adapter
    /// built later never reads a different environment. A name the lookup did not know is
    /// absent, and the adapter reports it as not set.
    pub(crate) option_secrets: BTreeMap<String, secrecy::SecretString>,
}

impl SupplierConfig {
    /// How an adapter reads an `env:` secret named in `protocol_options`: the value the loader
    /// read for it.
    pub(crate) fn option_secret(&self, name: &str) -> Option<String> {
        use secrecy::ExposeSecret;
        self.option_secrets
            .get(name)
            .map(|s| s.expose_secret().to_string())
    }
}

/// A config file: many suppliers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigFile {
    /// Every supplier, in file order, with unique ids.
    pub suppliers: Vec<SupplierConfig>,
    /// Inventory sync defaults (`"sync"`).
    pub sync: SyncConfig,
    /// Fulfillment settings (`"fulfillment"`).
    pub fulfillment: FulfillmentConfig,
}

impl ConfigFile {
    /// The supplier with this id.
    pub fn supplier(&self, id: &str) -> Option<&SupplierConfig> {
        self.suppliers.iter().find(|s| s.id.as_str() == id)
    }
}
