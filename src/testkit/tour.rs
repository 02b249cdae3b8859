//! The quick start's flow as a function: [`run`] drives the whole crate against a fresh
//! [`Sandbox`] and returns a [`TourReport`]. `examples/quickstart.rs` prints the report; the
//! crate's tests run the same flow and check it against the sandbox's own ground truth.

use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::config::ConfigFile;
use crate::error::{Error, ErrorKind, Result};
use crate::fulfillment::SubOrderOutcome;
use crate::fulfillment::tracking::{OrderChangeKind, UpdateSource};
use crate::hub::Hub;
use crate::model::{Address, Order, OrderLine, OrderRef, OrderStatus, Sku, SupplierId};
use crate::sync::{Change, Source, WrongPath};
use crate::transport::TransportStats;

use super::{Sandbox, SandboxStats, SandboxStatus, SandboxSupplier, WebhookListener};

/// What the tour does besides the happy path.
#[derive(Debug, Clone, Copy)]
pub struct TourOptions {
    /// Inject faults: two failed answers, 10% random 5xx and a limit of 5 requests per second
    /// at the REST supplier, latency and
    /// one truncated answer at the SOAP supplier, a cost bucket drained by "another app" at the
    /// GraphQL one.
    pub faults: bool,
    /// Draw a progress bar on stderr while crawling.
    pub progress: bool,
}

impl Default for TourOptions {
    fn default() -> Self {
        TourOptions {
            faults: true,
            progress: false,
        }
    }
}

/// One supplier's part of the tour.
#[derive(Debug, Clone)]
pub struct SupplierLine {
    /// Its id.
    pub id: SupplierId,
    /// Which sandbox supplier it is.
    pub sandbox: SandboxSupplier,
    /// Stock levels the first crawl read (one per SKU and warehouse).
    pub levels: usize,
    /// Pages the first crawl read.
    pub pages: usize,
    /// The crawl's error, if it failed.
    pub crawl_error: Option<String>,
    /// What our transport did.
    pub transport: TransportStats,
    /// What the sandbox saw (faults injected, webhooks sent).
    pub sandbox_stats: SandboxStats,
}

/// One SKU across suppliers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    /// The canonical SKU.
    pub sku: Sku,
    /// Units per supplier (warehouses summed), `None` where the supplier does not carry it.
    pub per_supplier: Vec<Option<u64>>,
    /// What a new order could reserve now.
    pub sellable: u64,
}

/// One step of the order's journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyStep {
    /// Which supplier's sub-order.
    pub supplier: SupplierId,
    /// Milliseconds since the tour started.
    pub at_ms: i64,
    /// The new status; `None` for the acknowledgement and parcels.
    pub status: Option<OrderStatus>,
    /// What happened, in words.
    pub what: String,
    /// The path that told us.
    pub source: UpdateSource,
}

/// One sub-order of the plan: supplier, sub-order reference, and (SKU, quantity) per line.
pub type PlannedSubOrder = (SupplierId, OrderRef, Vec<(Sku, u32)>);

/// The order the tour placed and followed.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    /// The merchant reference.
    pub reference: OrderRef,
    /// Where each line went: (supplier, sub-order reference, [(SKU, quantity)]).
    pub plan: Vec<PlannedSubOrder>,
    /// Why it went there.
    pub routing_note: String,
    /// Every status move, in order.
    pub journey: Vec<JourneyStep>,
    /// Tracking numbers collected.
    pub tracking_numbers: Vec<String>,
    /// The tracked status at the end, per sub-order.
    pub final_status: Vec<(SupplierId, OrderStatus)>,
    /// Orders the sandbox suppliers hold for this reference: one per sub-order means no
    /// duplicate was created, whatever the faults did.
    pub supplier_orders: usize,
}

/// What the inventory sync saw besides the crawl.
#[derive(Debug, Clone, Default)]
pub struct InventorySummary {
    /// Stock changes that arrived by webhook and changed the store.
    pub webhook_updates: usize,
    /// Changes a re-crawl found that no webhook had announced (one was suppressed on purpose).
    pub missed_webhooks_caught: usize,
}

/// Everything the tour did.
#[derive(Debug, Clone)]
pub struct TourReport {
    /// Per supplier.
    pub suppliers: Vec<SupplierLine>,
    /// Stock per SKU across suppliers, after the first crawl.
    pub stock: Vec<StockRow>,
    /// The order.
    pub order: OrderSummary,
    /// Webhook-driven inventory.
    pub inventory: InventorySummary,
    /// Webhook deliveries our listener accepted and refused.
    pub webhooks_accepted: usize,
    /// Deliveries refused (bad signature, replay, ...).
    pub webhooks_refused: usize,
    /// Wall time of the tour.
    pub elapsed: Duration,
}

fn fail(message: impl AsRef<str>) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

/// A one-line progress bar on stderr, redrawn in place.
struct Progress {
    on: bool,
}

impl Progress {
    fn draw(&self, done: usize, total: usize, label: &str) {
        if !self.on {
            return;
        }
        let width = 24;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        let bar: String = (0..width)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        let mut err = std::io::stderr().lock();
        // A progress bar that cannot be drawn is not worth failing the run for.
        let _ = write!(err, "\r[{bar}] {done}/{total} {label:<48}");
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.on {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// Runs the tour: sandbox up, three suppliers connected from its config, stock crawled,
/// an order routed, placed and followed to shipped through webhooks and polling, a missed
/// webhook caught by a re-crawl; everything torn down again.
pub async fn run(options: TourOptions) -> Result<TourReport> {
    let started = Instant::now();
    let sandbox = Sandbox::start().await?;
    if options.faults {
        sandbox
            .faults(SandboxSupplier::Rest)
            .fail_next(2)
            .error_rate(0.1)
            .rate_limit(5.0);
        sandbox
            .faults(SandboxSupplier::Soap)
            .latency(Duration::from_millis(15))
            .truncate_next(1);
    }
    let file = ConfigFile::from_json_with_env(&sandbox.config_json(), &|_| None)?;
    let hub = Hub::from_config(&file)?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = WebhookListener::start(hub.clone(), loopback).await?;
    for s in SandboxSupplier::ALL {
        sandbox.register_webhook(s, &listener.url(s.id()))?;
    }
    let result = tour(&sandbox, &hub, &listener, options, started).await;
    listener.shutdown().await;
    sandbox.shutdown().await;
    result
}

async fn tour(
    sandbox: &Sandbox,
    hub: &Hub,
    listener: &WebhookListener,
    options: TourOptions,
    started: Instant,
) -> Result<TourReport> {
    let ids: Vec<SupplierId> = hub.suppliers().iter().map(|s| s.id().clone()).collect();
    let started_at =
        chrono::Utc::now() - chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let mut stock_feed = hub.sync().subscribe();
    let mut order_feed = hub.tracker().subscribe();

    // 1. Crawl every supplier's catalog.
    let progress = Progress {
        on: options.progress,
    };
    let mut suppliers = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        progress.draw(i, ids.len(), &format!("crawling {id}"));
        let sandbox_id = SandboxSupplier::from_id(id.as_str())
            .ok_or_else(|| fail(format!("{id} is not a sandbox supplier")))?;
        if options.faults && sandbox_id == SandboxSupplier::Graphql {
            // Another app on the same store spent the whole cost budget just now.
            sandbox.faults(sandbox_id).drain_cost_bucket(1000.0);
        }
        let (levels, pages, crawl_error) = match hub.sync().crawl(id).await {
            Ok(r) => (r.levels, r.pages, None),
            Err(e) => (0, 0, Some(e.to_string())),
        };
        progress.draw(i + 1, ids.len(), &format!("{id}: {levels} stock levels"));
        suppliers.push(SupplierLine {
            id: id.clone(),
            sandbox: sandbox_id,
            levels,
            pages,
            crawl_error,
            transport: TransportStats::default(),
            sandbox_stats: SandboxStats::default(),
        });
    }
    progress.finish();

    let stock: Vec<StockRow> = hub
        .sync()
        .skus()
        .into_iter()
        .map(|sku| {
            let ats = hub.sync().available_to_sell(&sku);
            StockRow {
                per_supplier: ids
                    .iter()
                    .map(|id| ats.of(id).map(|a| a.guaranteed))
                    .collect(),
                sellable: hub.fulfillment().available_to_sell(&sku),
                sku,
            }
        })
        .collect();

    // 2. An order that only one supplier can ship whole: the SKU with the largest single
    //    stock, for one unit more than any other supplier holds.
    let (sku, _, qty) = stock
        .iter()
        .filter_map(|row| {
            let mut counts: Vec<(usize, u64)> = row
                .per_supplier
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.map(|c| (i, c)))
                .collect();
            counts.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
            let best = *counts.first()?;
            let runner_up = counts.get(1).map_or(0, |c| c.1);
            (best.1 > runner_up).then(|| (row.sku.clone(), best.0, runner_up + 1))
        })
        .max_by_key(|(_, _, q)| *q)
        .ok_or_else(|| fail("no SKU is held by one supplier in quantity"))?;
    let quantity = u32::try_from(qty).map_err(|_| fail("quantity out of range"))?;
    let reference = OrderRef::new("QS-1001")?;
    let order = Order::new(
        reference.clone(),
        vec![OrderLine::new(sku.clone(), quantity)],
        Address {
            name: "Grace Hopper".into(),
            line1: "1 Harbour Way".into(),
            city: "Arlington".into(),
            region: Some("VA".into()),
            postal_code: Some("22201".into()),
            country_code: "US".into(),
            phone: Some("+1 555 0100".into()),
            email: Some("grace@example.com".into()),
            ..Address::default()
        },
    );
    let accepted = hub.fulfillment().accept(&order)?;
    let routing_note = format!(
        "{quantity} x {sku}: only one supplier holds that many, so the whole order goes there"
    );
    let placement = hub.fulfillment().place(&accepted).await;
    for (sub, outcome) in &placement.results {
        if !matches!(outcome, SubOrderOutcome::Placed(_)) {
            return Err(fail(format!(
                "placing {} failed: {outcome:?}",
                sub.reference
            )));
        }
    }

    // 3. Follow every sub-order to shipped: the sandbox moves it, webhooks tell us, and a poll
    //    after each step catches what a webhook missed (the shipping webhooks are suppressed).
    for sub in &accepted.plan.sub_orders {
        let s = SandboxSupplier::from_id(sub.supplier.as_str())
            .ok_or_else(|| fail(format!("{} is not a sandbox supplier", sub.supplier)))?;
        let supplier = hub
            .supplier(sub.supplier.as_str())
            .ok_or_else(|| fail(format!("{} is not connected", sub.supplier)))?
            .clone();
        for _ in 0..6 {
            let current = sandbox
                .order(s, sub.reference.as_str())
                .ok_or_else(|| fail(format!("{s} has no order {}", sub.reference)))?;
            if current.status == SandboxStatus::Shipped {
                break;
            }
            if current.status.next() == Some(SandboxStatus::Shipped) {
                sandbox.faults(s).suppress_webhooks(2);
            }
            sandbox.advance(s, sub.reference.as_str())?;
            sandbox.webhooks_settled().await;
            let polled = hub.tracker().poll(supplier.as_ref()).await;
            if let Some((reference, e)) = polled.failures.first() {
                return Err(fail(format!("polling {reference}: {e}")));
            }
        }
    }

    // 4. Inventory by webhook, and one webhook lost on purpose: the next crawl must notice.
    let (s, sku_text) = {
        let first = &suppliers[0];
        let sku = sandbox
            .catalog()
            .skus(first.sandbox)
            .into_iter()
            .next()
            .ok_or_else(|| fail("the first supplier carries nothing"))?;
        (first.sandbox, sku)
    };
    let warehouse = s.warehouses()[0];
    sandbox.faults(s).suppress_webhooks(1);
    sandbox.set_stock(s, &sku_text, warehouse, 3)?;
    sandbox.webhooks_settled().await;
    let recrawl = hub.sync().crawl(&suppliers[0].id).await?;
    let missed_webhooks_caught = recrawl
        .discrepancies
        .iter()
        .filter(|d| d.wrong_path == WrongPath::Webhook)
        .count();

    // Collect what happened.
    let mut webhook_updates = 0;
    for change in stock_feed.drain() {
        if let Change::Stock(c) = change
            && c.source == Source::Webhook
        {
            webhook_updates += 1;
        }
    }
    let mut journey = Vec::new();
    for change in order_feed.drain() {
        let at_ms = (change.at - started_at).num_milliseconds();
        let (status, what, source) = match change.kind {
            OrderChangeKind::Acknowledged { supplier_order_id } => (
                None,
                format!(
                    "placed; the supplier's order id is {}",
                    supplier_order_id.as_deref().unwrap_or("not given")
                ),
                UpdateSource::Ack,
            ),
            OrderChangeKind::Status { to, source, .. } => {
                (Some(to.clone()), to.name().to_string(), source)
            }
            OrderChangeKind::Shipment {
                shipment,
                new: true,
            } => (
                None,
                format!(
                    "parcel {} with {}",
                    shipment.tracking_number.as_deref().unwrap_or("(no number)"),
                    shipment.carrier.as_deref().unwrap_or("(no carrier)")
                ),
                UpdateSource::Poll,
            ),
            _ => continue,
        };
        journey.push(JourneyStep {
            supplier: change.supplier,
            at_ms,
            status,
            what,
            source,
        });
    }
    let mut tracking_numbers = Vec::new();
    let mut final_status = Vec::new();
    let mut supplier_orders = 0;
    let mut plan = Vec::new();
    for sub in &accepted.plan.sub_orders {
        tracking_numbers.extend(
            hub.tracker()
                .tracking_numbers(&sub.supplier, &sub.reference),
        );
        let status = hub
            .tracker()
            .get(&sub.supplier, &sub.reference)
            .map_or(OrderStatus::Unknown("untracked".into()), |t| t.status);
        final_status.push((sub.supplier.clone(), status));
        if let Some(s) = SandboxSupplier::from_id(sub.supplier.as_str()) {
            supplier_orders += sandbox
                .orders(s)
                .iter()
                .filter(|o| o.reference.starts_with(reference.as_str()))
                .count();
        }
        plan.push((
            sub.supplier.clone(),
            sub.reference.clone(),
            sub.lines
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect(),
        ));
    }
    for line in &mut suppliers {
        line.sandbox_stats = sandbox.stats(line.sandbox);
        line.transport = hub
            .supplier(line.id.as_str())
            .and_then(|s| s.transport_stats())
            .unwrap_or_default();
    }
    let records = listener.records();
    Ok(TourReport {
        suppliers,
        stock,
        order: OrderSummary {
            reference,
            plan,
            routing_note,
            journey,
            tracking_numbers,
            final_status,
            supplier_orders,
        },
        inventory: InventorySummary {
            webhook_updates,
            missed_webhooks_caught,
        },
        webhooks_accepted: records.iter().filter(|r| r.status == 200).count(),
        webhooks_refused: records.iter().filter(|r| r.status != 200).count(),
        elapsed: started.elapsed(),
    })
}

fn source_word(s: UpdateSource) -> &'static str {
    match s {
        UpdateSource::Ack => "placement answer",
        UpdateSource::Poll => "poll",
        UpdateSource::Webhook => "webhook",
        _ => "lines",
    }
}

impl fmt::Display for TourReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Stock per SKU across suppliers (units; - = not carried)")?;
        write!(f, "  {:<18}", "SKU")?;
        for s in &self.suppliers {
            write!(f, "{:>17}", s.id.as_str())?;
        }
        writeln!(f, "{:>10}", "sellable")?;
        for row in &self.stock {
            write!(f, "  {:<18}", row.sku.as_str())?;
            for c in &row.per_supplier {
                match c {
                    Some(n) => write!(f, "{n:>17}")?,
                    None => write!(f, "{:>17}", "-")?,
                }
            }
            writeln!(f, "{:>10}", row.sellable)?;
        }
        writeln!(f)?;
        writeln!(f, "Order {}", self.order.reference)?;
        writeln!(f, "  routing: {}", self.order.routing_note)?;
        for (supplier, sub, lines) in &self.order.plan {
            let lines: Vec<String> = lines.iter().map(|(s, q)| format!("{q} x {s}")).collect();
            writeln!(f, "  -> {supplier} as {sub}: {}", lines.join(", "))?;
        }
        writeln!(f, "  journey:")?;
        for step in &self.order.journey {
            writeln!(
                f,
                "    {:>6} ms  {:<18} {:<52} via {}",
                step.at_ms,
                step.supplier.as_str(),
                step.what,
                source_word(step.source)
            )?;
        }
        writeln!(f, "  tracking: {}", self.order.tracking_numbers.join(", "))?;
        writeln!(
            f,
            "  supplier orders for this reference: {} (one per sub-order: nothing placed twice)",
            self.order.supplier_orders
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Inventory sync: {} stock changes by webhook; {} missed webhook(s) caught by a re-crawl",
            self.inventory.webhook_updates, self.inventory.missed_webhooks_caught
        )?;
        writeln!(
            f,
            "Webhooks: {} accepted, {} refused",
            self.webhooks_accepted, self.webhooks_refused
        )?;
        writeln!(f)?;
        writeln!(f, "Under injected faults")?;
        for s in &self.suppliers {
            let t = &s.transport;
            let x = &s.sandbox_stats;
            writeln!(
                f,
                "  {:<16} {} requests, {} retries, {} throttle waits ({} ms), {} throttled answers | sandbox injected {} errors, {} truncations, {} rate-limit refusals",
                s.id.as_str(),
                t.requests_sent,
                t.retries,
                t.throttle_waits,
                t.throttle_wait_total.as_millis(),
                t.throttled_responses,
                x.injected_errors,
                x.truncated,
                x.rate_limited,
            )?;
            if let Some(e) = &s.crawl_error {
                writeln!(f, "    crawl failed: {e}")?;
            }
        }
        write!(f, "\nDone in {:.1} s", self.elapsed.as_secs_f64())
    }
}
