//! A local sandbox of three suppliers for tests (feature `testkit`): real HTTP servers on
//! `127.0.0.1`, each speaking the wire format of a profile the adapters already read.
//!
//! - **REST** ([`SandboxSupplier::Rest`]): CJ Dropshipping's API 2.0 as
//!   `fixtures/profiles/cj.json` describes it: token exchange (`getAccessToken`, refresh,
//!   code 1600001 for a bad token), stock by SKU per warehouse, the `listV2` crawl with pages,
//!   `createOrderV2` deduplicated by `orderNumber`, order detail and `deleteOrder`; business
//!   errors in HTTP 200 bodies; over the rate limit, `429` with `Retry-After` and code 1600200.
//! - **SOAP** ([`SandboxSupplier::Soap`]): a SOAP 1.1 distributor with WS-Security
//!   `UsernameToken` digests (checked: digest, freshness, nonce reuse), described by
//!   `fixtures/profiles/sandbox_soap.json`: batch stock, a paged crawl, placement deduplicated by
//!   reference, status and cancellation; errors as SOAP Faults with a detail code.
//! - **GraphQL** ([`SandboxSupplier::Graphql`]): Shopify's Admin API as
//!   `fixtures/profiles/shopify_graphql.json` queries it: `X-Shopify-Access-Token`, Relay
//!   pages, `extensions.cost` on every answer and an enforced cost bucket (`THROTTLED`),
//!   `userErrors` on refused mutations.
//!
//! All three share one [`Catalog`] (seedable) whose canonical SKUs each supplier spells its own
//! way; orders take stock (refused in the supplier's own words when short), move through
//! statuses on command ([`Sandbox::advance`], [`Sandbox::ship`], [`Sandbox::deliver`]) or on a
//! timer, and give stock back when cancelled. Every stock or order change is posted as a signed
//! webhook to a registered URL. Faults are set per supplier at runtime ([`Sandbox::faults`]):
//! 5xx answers (from a seeded random sequence, so runs repeat), latency, truncated bodies,
//! drop-after-commit for placements, and a rate limit. Every request is recorded.
//!
//! [`Sandbox::config_json`] hands out a complete config file for
//! [`adapters::build_all`](crate::adapters::build_all), with inline secrets and a `webhook`
//! section per supplier.
//!
//! ```no_run
//! # async fn demo() -> dropship::Result<()> {
//! use dropship::testkit::{Sandbox, SandboxSupplier};
//! use dropship::{DropshipperExt, config::ConfigFile};
//! use futures::StreamExt;
//!
//! let sandbox = Sandbox::start().await?;
//! let config = ConfigFile::from_json(&sandbox.config_json())?;
//! let suppliers = dropship::adapters::build_all(&config)?;
//! let mut pages = suppliers[0].crawl_stock();
//! while let Some(page) = pages.next().await {
//!     println!("{} levels", page?.items.len());
//! }
//! sandbox.faults(SandboxSupplier::Rest).error_rate(0.2);
//! println!("{} requests", sandbox.requests(SandboxSupplier::Rest).len());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod catalog;
mod config;
mod faults;
mod graphql;
mod graphql_doc;
mod http;
mod listener;
mod record;
mod rest;
mod soap;
mod state;
mod supplier;
pub mod tour;
mod webhook;
mod xml;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

pub use catalog::{Catalog, DEFAULT_SKUS};
pub use faults::{DEFAULT_COST_BUCKET, DEFAULT_SEED, FaultKnobs};
pub use listener::{ListenerRecord, WebhookListener};
pub use record::{RecordedRequest, RequestOutcome, SandboxStats, WebhookRecord};
pub use state::{SandboxLine, SandboxOrder, SandboxShipment};
pub use supplier::{SandboxStatus, SandboxSupplier};
pub use webhook::{
    REST_DELIVERY_HEADER, REST_SIGNATURE_HEADER, SHOPIFY_DELIVERY_HEADER, SHOPIFY_SIGNATURE_HEADER,
    SHOPIFY_TOPIC_HEADER, SOAP_DELIVERY_HEADER, SOAP_SIGNATURE_HEADER, WEBHOOK_TIMEOUT,
    events_block,
};

use crate::auth::crypto::{hex_lower, random_bytes};
use crate::error::{Error, ErrorKind, Result};
use faults::Faults;
use http::Protocol;
use record::Recorder;
use state::{Change, Ledger};

/// Whether [`Sandbox::config_json`] includes the `events` block in each supplier's `webhook`
/// section. Off until the config loader reads `events` (it refuses unknown fields); switch it on
/// here, or per sandbox with [`SandboxBuilder::events_block`].
pub const EVENTS_BLOCK_IN_CONFIG: bool = true;

/// How many WS-Security nonces the SOAP supplier remembers to refuse a replay.
const NONCE_MEMORY: usize = 10_000;

/// Credentials of one sandbox, made up at start.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub rest_api_key: String,
    pub soap_username: String,
    pub soap_password: String,
    pub graphql_token: String,
    pub webhook_secrets: [String; 3],
}

impl Credentials {
    fn generate() -> Result<Self> {
        let token = |prefix: &str| -> Result<String> {
            Ok(format!("{prefix}{}", hex_lower(&random_bytes(16)?)))
        };
        Ok(Credentials {
            rest_api_key: token("sbx-cj-key-")?,
            soap_username: "sandbox-acme".into(),
            soap_password: token("sbx-acme-pw-")?,
            graphql_token: token("shpat_sbx")?,
            webhook_secrets: [token("whsec_cj_")?, token("whsec_acme_")?, token("shpss_")?],
        })
    }
}

/// WS-Security nonces seen lately.
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl Nonces {
    /// `false` when the nonce was already used.
    pub(crate) fn fresh(&mut self, nonce: &str) -> bool {
        if !self.seen.insert(nonce.to_string()) {
            return false;
        }
        self.order.push_back(nonce.to_string());
        if self.order.len() > NONCE_MEMORY
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

/// Everything one sandbox supplier holds, behind one lock that no request holds across an
/// await.
#[derive(Debug)]
pub(crate) struct SupplierState {
    pub ledger: Ledger,
    pub faults: Faults,
    pub record: Recorder,
    pub webhook_url: Option<reqwest::Url>,
    /// REST access and refresh tokens issued and still valid.
    pub tokens: BTreeSet<String>,
    pub refresh_tokens: BTreeSet<String>,
    pub nonces: Nonces,
}

#[derive(Debug)]
pub(crate) struct SupplierCell(Mutex<SupplierState>);

impl SupplierCell {
    /// The state; a panic elsewhere while it was held leaves data that is still consistent
    /// enough for a test tool, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SupplierState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// State shared by the servers, the webhook task and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    cells: [SupplierCell; 3],
    pub webhooks: webhook::WebhookQueue,
    pub credentials: Credentials,
}

impl Shared {
    pub(crate) fn supplier(&self, supplier: SandboxSupplier) -> &SupplierCell {
        &self.cells[supplier.index()]
    }

    /// Queues the webhooks for `changes` (the supplier's state is locked by the caller).
    pub(crate) fn emit(&self, state: &mut SupplierState, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let secret = &self.credentials.webhook_secrets[state.ledger.supplier().index()];
        webhook::enqueue(&self.webhooks, state, secret, changes);
    }
}

/// Configures a [`Sandbox`] before it starts.
#[derive(Debug, Clone)]
#[must_use]
pub struct SandboxBuilder {
    catalog: Catalog,
    auto_advance: Option<Duration>,
    events: bool,
}

impl SandboxBuilder {
    /// Starts from this catalog instead of [`Catalog::standard`].
    pub fn catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = catalog;
        self
    }

    /// Moves every open order one status further each `interval`.
    pub fn auto_advance(mut self, interval: Duration) -> Self {
        self.auto_advance = Some(interval);
        self
    }

    /// Includes (or leaves out) the `events` block in the handed-out configuration; the
    /// default is [`EVENTS_BLOCK_IN_CONFIG`].
    pub fn events_block(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Binds the three servers on free loopback ports and starts them. Needs a Tokio runtime.
    pub async fn start(self) -> Result<Sandbox> {
        let credentials = Credentials::generate()?;
        let mut cells = Vec::with_capacity(3);
        for supplier in SandboxSupplier::ALL {
            cells.push(SupplierCell(Mutex::new(SupplierState {
                ledger: Ledger::new(supplier, self.catalog.levels(supplier))?,
                faults: Faults::default(),
                record: Recorder::default(),
                webhook_url: None,
                tokens: BTreeSet::new(),
                refresh_tokens: BTreeSet::new(),
                nonces: Nonces::default(),
            })));
        }
        let cells: [SupplierCell; 3] = cells
            .try_into()
            .map_err(|_| Error::new(ErrorKind::Config, "the sandbox has three suppliers"))?;
        let (queue, rx) = webhook::WebhookQueue::new();
        let shared = Arc::new(Shared {
            cells,
            webhooks: queue,
            credentials,
        });
        let mut tasks = Vec::new();
        let mut addrs = Vec::with_capacity(3);
        for supplier in SandboxSupplier::ALL {
            let listener = http::bind().await.map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("sandbox {supplier}: cannot listen on 127.0.0.1: {e}"),
                )
            })?;
            let addr = listener.local_addr().map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("sandbox {supplier}: {e}"))
            })?;
            addrs.push(addr);
            let protocol: Arc<dyn Protocol> = match supplier {
                SandboxSupplier::Rest => Arc::new(rest::Rest::new(Arc::clone(&shared))),
                SandboxSupplier::Soap => Arc::new(soap::Soap::new(Arc::clone(&shared))),
                SandboxSupplier::Graphql => Arc::new(graphql::Graphql::new(Arc::clone(&shared))),
            };
            tasks.push(tokio::spawn(http::serve(
                listener,
                protocol,
                Arc::clone(&shared),
            )));
        }
        tasks.push(tokio::spawn(webhook::deliver(rx, Arc::clone(&shared))));
        if let Some(interval) = self.auto_advance {
            tasks.push(tokio::spawn(auto_advance(Arc::clone(&shared), interval)));
        }
        let addrs: [SocketAddr; 3] = addrs
            .try_into()
            .map_err(|_| Error::new(ErrorKind::Config, "the sandbox has three suppliers"))?;
        Ok(Sandbox {
            shared,
            addrs,
            tasks,
            events: self.events,
        })
    }
}

async fn auto_advance(shared: Arc<Shared>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
    // The first tick is immediate; orders placed later get a full interval.
    ticker.tick().await;
    loop {
        ticker.tick().await;
        for supplier in SandboxSupplier::ALL {
            let mut state = shared.supplier(supplier).lock();
            for reference in state.ledger.open_references() {
                if let Ok(changes) = state.ledger.advance(&reference) {
                    shared.emit(&mut state, changes);
                }
            }
        }
    }
}

/// A running sandbox: three supplier servers, a webhook sender, and the state they share.
/// Stop it with [`shutdown`](Sandbox::shutdown); dropping it stops every task too.
pub struct Sandbox {
    shared: Arc<Shared>,
    addrs: [SocketAddr; 3],
    tasks: Vec<JoinHandle<()>>,
    events: bool,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A builder (catalog, timer, events block).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            catalog: Catalog::standard(),
            auto_advance: None,
            events: EVENTS_BLOCK_IN_CONFIG,
        }
    }

    /// Starts a sandbox with the [standard catalog](Catalog::standard).
    pub async fn start() -> Result<Sandbox> {
        Self::builder().start().await
    }

    /// The address a supplier's server listens on.
    pub fn addr(&self, supplier: SandboxSupplier) -> SocketAddr {
        self.addrs[supplier.index()]
    }

    /// The supplier's `base_url` in the handed-out configuration.
    pub fn base_url(&self, supplier: SandboxSupplier) -> String {
        config::base_url(supplier, self.addr(supplier))
    }

    /// The whole configuration as JSON: `{"suppliers": [rest, soap, graphql]}`.
    pub fn config_value(&self) -> serde_json::Value {
        config::config_file(&self.addrs, &self.shared.credentials, self.events)
    }

    /// The configuration file text to give to
    /// [`ConfigFile::from_json`](crate::config::ConfigFile::from_json).
    pub fn config_json(&self) -> String {
        self.config_value().to_string()
    }

    /// The webhook signing secret of a supplier.
    pub fn webhook_secret(&self, supplier: SandboxSupplier) -> &str {
        &self.shared.credentials.webhook_secrets[supplier.index()]
    }

    /// Fault settings for a supplier.
    pub fn faults(&self, supplier: SandboxSupplier) -> FaultKnobs {
        FaultKnobs::new(Arc::clone(&self.shared), supplier)
    }

    /// Every request the supplier received, oldest first.
    pub fn requests(&self, supplier: SandboxSupplier) -> Vec<RecordedRequest> {
        self.shared
            .supplier(supplier)
            .lock()
            .record
            .requests
            .clone()
    }

    /// Forgets the recorded requests (counters stay).
    pub fn clear_requests(&self, supplier: SandboxSupplier) {
        self.shared
            .supplier(supplier)
            .lock()
            .record
            .requests
            .clear();
    }

    /// The supplier's counters.
    pub fn stats(&self, supplier: SandboxSupplier) -> SandboxStats {
        self.shared.supplier(supplier).lock().record.stats
    }

    /// How many orders the supplier holds.
    pub fn order_count(&self, supplier: SandboxSupplier) -> usize {
        self.shared.supplier(supplier).lock().ledger.orders().len()
    }

    /// The supplier's orders, in placement order.
    pub fn orders(&self, supplier: SandboxSupplier) -> Vec<SandboxOrder> {
        self.shared
            .supplier(supplier)
            .lock()
            .ledger
            .orders()
            .to_vec()
    }

    /// The order with this reference (or supplier order id).
    pub fn order(&self, supplier: SandboxSupplier, reference: &str) -> Option<SandboxOrder> {
        self.shared
            .supplier(supplier)
            .lock()
            .ledger
            .find(reference)
            .cloned()
    }

    /// The supplier's stock of a canonical SKU over all its warehouses; `None` when it does
    /// not carry the SKU.
    pub fn stock(&self, supplier: SandboxSupplier, sku: &str) -> Option<u32> {
        self.shared
            .supplier(supplier)
            .lock()
            .ledger
            .stock()
            .get(sku)
            .map(|w| w.values().sum())
    }

    /// The supplier's stock of a canonical SKU per warehouse.
    pub fn stock_by_warehouse(
        &self,
        supplier: SandboxSupplier,
        sku: &str,
    ) -> BTreeMap<String, u32> {
        self.shared
            .supplier(supplier)
            .lock()
            .ledger
            .stock()
            .get(sku)
            .cloned()
            .unwrap_or_default()
    }

    /// Everything the suppliers stock right now, as a [`Catalog`].
    pub fn catalog(&self) -> Catalog {
        let mut catalog = Catalog::empty();
        for supplier in SandboxSupplier::ALL {
            let state = self.shared.supplier(supplier).lock();
            for (sku, warehouses) in state.ledger.stock() {
                for (warehouse, n) in warehouses {
                    catalog = catalog.with_stock(supplier, sku, warehouse, *n);
                }
            }
        }
        catalog
    }

    /// The current version of a SKU's stock at a supplier (it grows with every change).
    pub fn stock_version(&self, supplier: SandboxSupplier, sku: &str) -> u64 {
        self.shared.supplier(supplier).lock().ledger.version(sku)
    }

    /// Sets one stock count (adding the SKU or warehouse when new) and sends the webhook.
    pub fn set_stock(
        &self,
        supplier: SandboxSupplier,
        sku: &str,
        warehouse: &str,
        quantity: u32,
    ) -> Result<()> {
        let mut state = self.shared.supplier(supplier).lock();
        let changes = state.ledger.set_stock(sku, warehouse, quantity)?;
        self.shared.emit(&mut state, changes);
        Ok(())
    }

    fn step(
        &self,
        supplier: SandboxSupplier,
        reference: &str,
        f: impl FnOnce(&mut Ledger, &str) -> Result<Vec<Change>>,
    ) -> Result<SandboxOrder> {
        let mut state = self.shared.supplier(supplier).lock();
        let changes = f(&mut state.ledger, reference)?;
        self.shared.emit(&mut state, changes);
        state.ledger.find(reference).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("{supplier} has no order {reference:?}"),
            )
        })
    }

    /// Moves an order one status further (Created → Accepted → Processing → Shipped →
    /// Delivered); shipping adds a parcel with a tracking number. Sends webhooks.
    pub fn advance(&self, supplier: SandboxSupplier, reference: &str) -> Result<SandboxOrder> {
        self.step(supplier, reference, Ledger::advance)
    }

    /// Ships an open order now, with a tracking number. Sends webhooks.
    pub fn ship(&self, supplier: SandboxSupplier, reference: &str) -> Result<SandboxOrder> {
        self.step(supplier, reference, Ledger::ship)
    }

    /// Marks an order delivered (shipping it first if needed). Sends webhooks.
    pub fn deliver(&self, supplier: SandboxSupplier, reference: &str) -> Result<SandboxOrder> {
        self.step(supplier, reference, Ledger::deliver)
    }

    /// Sends the supplier's webhooks to `url` from now on.
    pub fn register_webhook(&self, supplier: SandboxSupplier, url: &str) -> Result<()> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| Error::new(ErrorKind::Invalid, format!("webhook URL {url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorKind::Invalid,
                "a webhook URL must be http or https",
            ));
        }
        self.shared.supplier(supplier).lock().webhook_url = Some(url);
        Ok(())
    }

    /// Stops sending the supplier's webhooks.
    pub fn unregister_webhook(&self, supplier: SandboxSupplier) {
        self.shared.supplier(supplier).lock().webhook_url = None;
    }

    /// Every webhook the supplier sent or suppressed, oldest first.
    pub fn webhooks(&self, supplier: SandboxSupplier) -> Vec<WebhookRecord> {
        self.shared
            .supplier(supplier)
            .lock()
            .record
            .webhooks
            .clone()
    }

    /// Waits until every queued webhook has been posted (each post is bounded by
    /// [`WEBHOOK_TIMEOUT`]).
    pub async fn webhooks_settled(&self) {
        self.shared.webhooks.settled().await;
    }

    /// Invalidates every REST access token, as an expiry would: the next request gets code
    /// 1600001 and the client must refresh.
    pub fn expire_tokens(&self) {
        self.shared
            .supplier(SandboxSupplier::Rest)
            .lock()
            .tokens
            .clear();
    }

    /// Stops every server and task and waits for them to end.
    pub async fn shutdown(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            // An aborted task ends with a cancellation error; that is the point.
            let _ = t.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
