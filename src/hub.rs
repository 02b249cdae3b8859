//! [`Hub`]: everything a config file describes, connected and ready.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use reqwest::header::HeaderMap;

use crate::adapters;
use crate::config::ConfigFile;
use crate::dropshipper::Dropshipper;
use crate::error::{Error, ErrorKind, Operation, Result};
use crate::fulfillment::Fulfillment;
use crate::fulfillment::tracking::{OrderTracker, TrackReport};
use crate::model::SupplierId;
use crate::sync::{Ingested, InventorySync};
use crate::webhook::{Delivery, ReceiveError, Receiver};

/// The suppliers of one config file with everything that runs them: the [`InventorySync`]
/// over them, [`Fulfillment`] (with its [`OrderTracker`]), and a webhook [`Receiver`] for each
/// supplier whose config has a `webhook` section with an `events` mapping. The shortest path from a config file to a
/// working integration, with no Rust beyond this.
///
/// ```no_run
/// # async fn demo() -> dropship::Result<()> {
/// let hub = dropship::Hub::load("suppliers.json")?;
/// hub.sync().crawl_all().await;
/// let task = hub.sync().spawn(); // periodic crawls from now on
/// // In the web framework's webhook route, per supplier:
/// // hub.receive(&supplier_id, &headers, &body)?;
/// task.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Hub {
    suppliers: Vec<Arc<dyn Dropshipper>>,
    sync: InventorySync,
    fulfillment: Fulfillment,
    receivers: Arc<Vec<(SupplierId, Receiver)>>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.suppliers.iter().map(|s| s.id().as_str()).collect();
        let hooks: Vec<&str> = self.receivers.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Hub")
            .field("suppliers", &ids)
            .field("webhooks", &hooks)
            .finish_non_exhaustive()
    }
}

/// What [`Hub::receive`] did with a delivery.
#[derive(Debug, Clone)]
pub struct Received {
    /// The delivery as read: its events and per-item problems.
    pub delivery: Delivery,
    /// For each stock event, what the inventory sync did with it.
    pub stock: Vec<Ingested>,
    /// For each order event, what the tracker did with it.
    pub orders: Vec<TrackReport>,
}

impl Hub {
    /// Builds every supplier, the sync, fulfillment and the webhook receivers from `file`;
    /// every supplier's problems are reported at once.
    pub fn from_config(file: &ConfigFile) -> Result<Hub> {
        let suppliers = adapters::build_all(file)?;
        let sync = InventorySync::from_config(file, suppliers.clone())?;
        let fulfillment = Fulfillment::from_config(file, sync.clone())?;
        let mut receivers = Vec::new();
        for s in &file.suppliers {
            // A webhook section without an events mapping only says how deliveries are
            // signed; with nothing to read from them, the hub has nothing to receive.
            if s.webhook.as_ref().is_some_and(|w| w.events.is_some()) {
                receivers.push((s.id.clone(), Receiver::from_config(s)?));
            }
        }
        Ok(Hub {
            suppliers,
            sync,
            fulfillment,
            receivers: Arc::new(receivers),
        })
    }

    /// Reads the config file at `path` (secrets from the environment) and builds the hub.
    pub fn load(path: impl AsRef<Path>) -> Result<Hub> {
        Hub::from_config(&ConfigFile::load(path)?)
    }

    /// The suppliers, in file order.
    pub fn suppliers(&self) -> &[Arc<dyn Dropshipper>] {
        &self.suppliers
    }

    /// One supplier by id.
    pub fn supplier(&self, id: &str) -> Option<&Arc<dyn Dropshipper>> {
        self.suppliers.iter().find(|s| s.id().as_str() == id)
    }

    /// The inventory sync.
    pub fn sync(&self) -> &InventorySync {
        &self.sync
    }

    /// Fulfillment.
    pub fn fulfillment(&self) -> &Fulfillment {
        &self.fulfillment
    }

    /// The order tracker fulfillment registers orders with.
    pub fn tracker(&self) -> &OrderTracker {
        self.fulfillment.tracker()
    }

    /// The suppliers that have a webhook receiver.
    pub fn webhook_suppliers(&self) -> Vec<SupplierId> {
        self.receivers.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Verifies a webhook delivery for `supplier`, reads it, and applies it: stock events to
    /// the inventory sync, order events to the tracker.
    pub fn receive(
        &self,
        supplier: &SupplierId,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<Received, ReceiveError> {
        let receiver = self
            .receivers
            .iter()
            .find(|(id, _)| id == supplier)
            .map(|(_, r)| r)
            .ok_or_else(|| {
                ReceiveError::Payload(
                    Error::new(
                        ErrorKind::Config,
                        format!(
                            "supplier {supplier} has no webhook section with an events mapping in the config"
                        ),
                    )
                    .with_operation(Operation::Webhook),
                )
            })?;
        let delivery = receiver.receive(headers, body)?;
        let mut stock = Vec::new();
        let mut orders = Vec::new();
        for event in &delivery.events {
            match self.tracker().ingest(event) {
                Some(report) => orders.push(report),
                None => stock.push(self.sync.ingest(event)),
            }
        }
        Ok(Received {
            delivery,
            stock,
            orders,
        })
    }
}
