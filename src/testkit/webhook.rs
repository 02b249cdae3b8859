//! Outbound webhooks: each change becomes the supplier's own payload, signed the supplier's
//! way, and is posted by one delivery task in the order the changes happened.
//!
//! The same module writes the `webhook` section of the configuration the sandbox hands out,
//! so what is signed and what is checked cannot drift apart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use super::record::WebhookRecord;
use super::state::{Change, SandboxOrder};
use super::supplier::{SandboxStatus, SandboxSupplier};
use super::{Shared, SupplierState};
use crate::auth::crypto::{base64, hex_lower, hmac_sha256, random_bytes};

/// How long the sandbox waits for a webhook receiver to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The signature header of the REST supplier's webhooks (`t=<unix>,v1=<hex>`).
pub const REST_SIGNATURE_HEADER: &str = "X-Sandbox-Signature";
/// The delivery id header of the REST supplier's webhooks.
pub const REST_DELIVERY_HEADER: &str = "X-Sandbox-Delivery-Id";
/// The signature header of the SOAP supplier's webhooks (hex HMAC-SHA256 of the body).
pub const SOAP_SIGNATURE_HEADER: &str = "X-Acme-Signature";
/// The delivery id header of the SOAP supplier's webhooks.
pub const SOAP_DELIVERY_HEADER: &str = "X-Acme-Delivery-Id";
/// Shopify's signature header (base64 HMAC-SHA256 of the body).
pub const SHOPIFY_SIGNATURE_HEADER: &str = "X-Shopify-Hmac-Sha256";
/// Shopify's topic header.
pub const SHOPIFY_TOPIC_HEADER: &str = "X-Shopify-Topic";
/// Shopify's delivery id header.
pub const SHOPIFY_DELIVERY_HEADER: &str = "X-Shopify-Webhook-Id";

/// One webhook on its way.
#[derive(Debug)]
pub(crate) struct Outgoing {
    supplier: SandboxSupplier,
    record: usize,
    url: reqwest::Url,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

/// The queue between state changes and the delivery task.
#[derive(Debug)]
pub(crate) struct WebhookQueue {
    tx: mpsc::UnboundedSender<Outgoing>,
    pending: AtomicUsize,
    idle: Notify,
    sequence: AtomicU64,
}

impl WebhookQueue {
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = WebhookQueue {
            tx,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            sequence: AtomicU64::new(0),
        };
        (queue, rx)
    }

    fn delivery_id(&self, supplier: SandboxSupplier) -> String {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        // Random bytes keep ids unique across sandboxes in one process (replay caches).
        let salt = random_bytes(6).map(|b| hex_lower(&b)).unwrap_or_default();
        format!("{}-{n:06}-{salt}", supplier.id())
    }

    fn done(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until every queued webhook has been posted (or has failed).
    pub(crate) async fn settled(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a delivery finishing in between still wakes us.
            notified.as_mut().enable();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Turns changes into signed webhooks for the supplier's registered URL, or records them as
/// suppressed. Called with the supplier's state locked, right after the change.
pub(crate) fn enqueue(
    queue: &WebhookQueue,
    state: &mut SupplierState,
    secret: &str,
    changes: Vec<Change>,
) {
    let Some(url) = state.webhook_url.clone() else {
        return;
    };
    let supplier = state.ledger.supplier();
    for change in changes {
        let (topic, payload) = render(supplier, &change, |sku| state.ledger.spell(sku));
        let delivery_id = queue.delivery_id(supplier);
        let body = payload.to_string().into_bytes();
        if state.faults.suppress_webhooks > 0 {
            state.faults.suppress_webhooks -= 1;
            state.record.stats.webhooks_suppressed += 1;
            state.record.webhooks.push(WebhookRecord {
                topic,
                delivery_id,
                body,
                status: None,
                suppressed: true,
            });
            continue;
        }
        let headers = sign(supplier, secret, &topic, &delivery_id, &body);
        state.record.webhooks.push(WebhookRecord {
            topic,
            delivery_id,
            body: body.clone(),
            status: None,
            suppressed: false,
        });
        let out = Outgoing {
            supplier,
            record: state.record.webhooks.len() - 1,
            url: url.clone(),
            headers,
            body,
        };
        queue.pending.fetch_add(1, Ordering::AcqRel);
        if queue.tx.send(out).is_err() {
            // The delivery task is gone (shutting down): nothing will post it.
            queue.done();
        }
    }
}

/// Posts queued webhooks one at a time, in order, until the task is aborted.
pub(crate) async fn deliver(mut rx: mpsc::UnboundedReceiver<Outgoing>, shared: Arc<Shared>) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(WEBHOOK_TIMEOUT)
        .build();
    while let Some(out) = rx.recv().await {
        let status = match &client {
            Ok(client) => {
                let mut request = client.post(out.url.clone()).body(out.body.clone());
                for (name, value) in &out.headers {
                    request = request.header(*name, value.as_str());
                }
                request.send().await.ok().map(|r| r.status().as_u16())
            }
            Err(_) => None,
        };
        {
            let mut state = shared.supplier(out.supplier).lock();
            if let Some(r) = state.record.webhooks.get_mut(out.record) {
                r.status = status;
            }
            match status {
                Some(_) => state.record.stats.webhooks_sent += 1,
                None => state.record.stats.webhooks_failed += 1,
            }
        }
        shared.webhooks.done();
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Shopify reports a cancelled order by `cancelled_at`; the webhook's status word says so too,
/// since the agreed mapping reads one status field.
fn shopify_status(order: &SandboxOrder) -> &'static str {
    if order.status == SandboxStatus::Cancelled {
        "CANCELLED"
    } else {
        SandboxSupplier::Graphql.status_word(order.status)
    }
}

/// The topic and JSON payload of one change, in the supplier's own shape.
fn render(
    supplier: SandboxSupplier,
    change: &Change,
    spell: impl Fn(&str) -> Option<String>,
) -> (String, Value) {
    match (supplier, change) {
        (
            SandboxSupplier::Graphql,
            Change::Stock {
                sku,
                warehouse,
                available,
                version,
                at,
            },
        ) => (
            "inventory_levels/update".into(),
            json!({ "items": [{
                "sku": spell(sku).unwrap_or_else(|| sku.clone()),
                "available": available, "location": warehouse,
                "updated_at": time(*at), "version": version }] }),
        ),
        (SandboxSupplier::Graphql, Change::Status(o)) => (
            "orders/updated".into(),
            json!({ "id": o.supplier_order_id, "name": o.reference, "status": shopify_status(o),
                    "cancelled_at": (o.status == SandboxStatus::Cancelled).then(|| time(o.updated_at)),
                    "updated_at": time(o.updated_at) }),
        ),
        (SandboxSupplier::Graphql, Change::Shipment(o, s)) => (
            "fulfillments/create".into(),
            json!({ "order_id": o.supplier_order_id, "order_name": o.reference,
                    "tracking_company": s.carrier, "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url, "created_at": time(s.shipped_at) }),
        ),
        (
            SandboxSupplier::Rest,
            Change::Stock {
                sku,
                warehouse,
                available,
                version,
                at,
            },
        ) => (
            "STOCK".into(),
            json!({ "type": "STOCK", "messageType": "UPDATE", "params": [{
                "sku": spell(sku).unwrap_or_else(|| sku.clone()),
                "countryCode": warehouse, "storageNum": available,
                "updatedAt": time(*at), "version": version }] }),
        ),
        (SandboxSupplier::Rest, Change::Status(o)) => (
            "ORDER".into(),
            json!({ "type": "ORDER", "messageType": "UPDATE", "params": {
                "orderNumber": o.reference, "cjOrderId": o.supplier_order_id,
                "orderStatus": supplier.status_word(o.status), "updatedAt": time(o.updated_at) } }),
        ),
        (SandboxSupplier::Rest, Change::Shipment(o, s)) => (
            "LOGISTIC".into(),
            json!({ "type": "LOGISTIC", "messageType": "INSERT", "params": {
                "orderNumber": o.reference, "cjOrderId": o.supplier_order_id,
                "logisticName": s.carrier, "trackNumber": s.tracking_number,
                "trackingUrl": s.tracking_url, "shippedAt": time(s.shipped_at) } }),
        ),
        (
            SandboxSupplier::Soap,
            Change::Stock {
                sku,
                warehouse,
                available,
                version,
                at,
            },
        ) => (
            "stock.changed".into(),
            json!({ "event": "stock.changed", "levels": [{
                "sku": spell(sku).unwrap_or_else(|| sku.clone()),
                "warehouse": warehouse, "available": available,
                "updated_at": time(*at), "version": version }] }),
        ),
        (SandboxSupplier::Soap, Change::Status(o)) => (
            "order.status".into(),
            json!({ "event": "order.status", "reference": o.reference,
                    "order_id": o.supplier_order_id,
                    "status": supplier.status_word(o.status), "updated_at": time(o.updated_at) }),
        ),
        (SandboxSupplier::Soap, Change::Shipment(o, s)) => (
            "order.shipped".into(),
            json!({ "event": "order.shipped", "reference": o.reference,
                    "order_id": o.supplier_order_id, "carrier": s.carrier,
                    "tracking_number": s.tracking_number, "tracking_url": s.tracking_url,
                    "shipped_at": time(s.shipped_at) }),
        ),
    }
}

/// The headers that sign one delivery.
fn sign(
    supplier: SandboxSupplier,
    secret: &str,
    topic: &str,
    delivery_id: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let mut headers = vec![("content-type", "application/json".to_string())];
    match supplier {
        SandboxSupplier::Graphql => {
            headers.push((
                SHOPIFY_SIGNATURE_HEADER,
                base64(&hmac_sha256(secret.as_bytes(), body)),
            ));
            headers.push((SHOPIFY_TOPIC_HEADER, topic.to_string()));
            headers.push((SHOPIFY_DELIVERY_HEADER, delivery_id.to_string()));
            headers.push(("X-Shopify-Shop-Domain", "sandbox.myshopify.com".into()));
            headers.push(("X-Shopify-API-Version", "2025-01".into()));
        }
        SandboxSupplier::Rest => {
            let t = Utc::now().timestamp();
            let mut signed = format!("{t}.").into_bytes();
            signed.extend_from_slice(body);
            let v1 = hex_lower(&hmac_sha256(secret.as_bytes(), &signed));
            headers.push((REST_SIGNATURE_HEADER, format!("t={t},v1={v1}")));
            headers.push((REST_DELIVERY_HEADER, delivery_id.to_string()));
        }
        SandboxSupplier::Soap => {
            headers.push((
                SOAP_SIGNATURE_HEADER,
                hex_lower(&hmac_sha256(secret.as_bytes(), body)),
            ));
            headers.push((SOAP_DELIVERY_HEADER, delivery_id.to_string()));
        }
    }
    headers
}

/// The supplier's `webhook` configuration section, signing as [`sign`] does.
pub(crate) fn webhook_config(supplier: SandboxSupplier, secret: &str, events: bool) -> Value {
    let mut section = match supplier {
        SandboxSupplier::Graphql => json!({
            "scheme": "body_hmac", "header": SHOPIFY_SIGNATURE_HEADER, "encoding": "base64",
            "secrets": [secret], "delivery_id_header": SHOPIFY_DELIVERY_HEADER }),
        SandboxSupplier::Rest => json!({
            "scheme": "timestamped", "header": REST_SIGNATURE_HEADER, "tolerance": "5m",
            "secrets": [secret], "delivery_id_header": REST_DELIVERY_HEADER }),
        SandboxSupplier::Soap => json!({
            "scheme": "body_hmac", "header": SOAP_SIGNATURE_HEADER, "encoding": "hex",
            "secrets": [secret], "delivery_id_header": SOAP_DELIVERY_HEADER }),
    };
    if events && let Some(obj) = section.as_object_mut() {
        obj.insert("events".into(), events_block(supplier));
    }
    section
}

/// The `events` block (the agreed format) that maps this supplier's payloads to
/// `SupplierEvent`s.
pub fn events_block(supplier: SandboxSupplier) -> Value {
    match supplier {
        SandboxSupplier::Graphql => json!({
            "topic": { "header": SHOPIFY_TOPIC_HEADER },
            "topics": {
                "inventory_levels/update": { "kind": "stock_changed", "items": "/items",
                    "sku": "/sku", "quantity": "/available", "warehouse": "/location",
                    "observed_at": "/updated_at", "version": "/version" },
                "orders/updated": { "kind": "order_status_changed", "reference": "/name",
                    "supplier_order_id": "/id", "status": "/status", "updated_at": "/updated_at" },
                "fulfillments/create": { "kind": "shipment_created", "reference": "/order_name",
                    "supplier_order_id": "/order_id", "carrier": "/tracking_company",
                    "tracking_number": "/tracking_number", "tracking_url": "/tracking_url",
                    "shipped_at": "/created_at" } } }),
        SandboxSupplier::Rest => json!({
            "topic": { "pointer": "/type" },
            "topics": {
                "STOCK": { "kind": "stock_changed", "items": "/params", "sku": "/sku",
                    "quantity": "/storageNum", "warehouse": "/countryCode",
                    "observed_at": "/updatedAt", "version": "/version" },
                "ORDER": { "kind": "order_status_changed", "reference": "/params/orderNumber",
                    "supplier_order_id": "/params/cjOrderId", "status": "/params/orderStatus",
                    "updated_at": "/params/updatedAt" },
                "LOGISTIC": { "kind": "shipment_created", "reference": "/params/orderNumber",
                    "supplier_order_id": "/params/cjOrderId", "carrier": "/params/logisticName",
                    "tracking_number": "/params/trackNumber", "tracking_url": "/params/trackingUrl",
                    "shipped_at": "/params/shippedAt" } } }),
        SandboxSupplier::Soap => json!({
            "topic": { "pointer": "/event" },
            "topics": {
                "stock.changed": { "kind": "stock_changed", "items": "/levels", "sku": "/sku",
                    "quantity": "/available", "warehouse": "/warehouse",
                    "observed_at": "/updated_at", "version": "/version" },
                "order.status": { "kind": "order_status_changed", "reference": "/reference",
                    "supplier_order_id": "/order_id", "status": "/status",
                    "updated_at": "/updated_at" },
                "order.shipped": { "kind": "shipment_created", "reference": "/reference",
                    "supplier_order_id": "/order_id", "carrier": "/carrier",
                    "tracking_number": "/tracking_number", "tracking_url": "/tracking_url",
                    "shipped_at": "/shipped_at" } } }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendered_topic_has_a_mapping_and_its_pointers_resolve() {
        let at = Utc::now();
        let order = SandboxOrder {
            supplier_order_id: "X-1".into(),
            reference: "SO-1".into(),
            lines: Vec::new(),
            status: SandboxStatus::Shipped,
            shipments: Vec::new(),
            created_at: at,
            updated_at: at,
        };
        let shipment = super::super::state::SandboxShipment {
            carrier: "UPS".into(),
            tracking_number: "1Z".into(),
            tracking_url: "https://track.sandbox.invalid/1Z".into(),
            shipped_at: at,
        };
        let changes = [
            Change::Stock {
                sku: "MUG-BLUE".into(),
                warehouse: "W".into(),
                available: 3,
                version: 2,
                at,
            },
            Change::Status(order.clone()),
            Change::Shipment(order, shipment),
        ];
        for supplier in SandboxSupplier::ALL {
            let block = events_block(supplier);
            for change in &changes {
                let (topic, payload) = render(supplier, change, |s| supplier.spell(s).ok());
                let mapping = &block["topics"][&topic];
                assert!(mapping.is_object(), "{supplier}: no mapping for {topic}");
                if let Some(p) = block["topic"]["pointer"].as_str() {
                    assert_eq!(payload.pointer(p).and_then(Value::as_str), Some(&*topic));
                }
                let item = match mapping["items"].as_str() {
                    Some(p) => payload.pointer(p).and_then(|v| v.get(0)).cloned(),
                    None => Some(payload.clone()),
                };
                let item = item.unwrap_or(Value::Null);
                for (field, pointer) in mapping.as_object().into_iter().flatten() {
                    if matches!(field.as_str(), "kind" | "items") {
                        continue;
                    }
                    let pointer = pointer.as_str().unwrap_or_default();
                    assert!(
                        item.pointer(pointer).is_some(),
                        "{supplier} {topic}: {field} at {pointer} missing in {item}"
                    );
                }
            }
        }
    }
}
