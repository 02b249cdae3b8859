//! A hand-written supplier: the canonical model at work on local data, no network, no
//! credentials, no adapter. How a host connects a supplier whose API no adapter covers.
//!
//! ```text
//! cargo run --example custom_supplier
//! ```
//!
//! It loads `fixtures/config/quickstart.json` (three suppliers, each with its own SKU spelling
//! rules and status vocabulary), reads each supplier's raw catalog rows from
//! `fixtures/feeds/quickstart.json` through a small hand-written [`Dropshipper`] (the way a host
//! connects a supplier no adapter covers), crawls all stock page by page, routes an order to the
//! suppliers that have the stock, and follows it through the suppliers' own status words.
//!
//! The raw rows are deliberately untidy (stock as strings, buckets, words, a negative count, an
//! absurd count, an empty SKU, two spellings that collide): the summary shows how each one was
//! read, adjusted or refused, and that nothing disappeared silently.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use dropship::config::{ConfigFile, SupplierConfig};
use dropship::{
    Address, Availability, Capabilities, Cursor, Dropshipper, DropshipperExt, Error, ErrorKind,
    ItemProblem, Order, OrderAck, OrderHandle, OrderLine, OrderRef, OrderState, Page, Sku,
    StockLevel, StockWarning, SupplierId, async_trait,
};
use futures::StreamExt;
use serde_json::Value;

const PAGE_SIZE: usize = 3;

/// A supplier whose catalog is a list of raw rows in memory.
struct FeedSupplier {
    config: SupplierConfig,
    rows: Vec<Value>,
    statuses: Vec<String>,
    /// Status position per placed order, advanced on every status read.
    orders: Mutex<HashMap<OrderRef, usize>>,
}

impl FeedSupplier {
    fn level_from_row(&self, row: &Value, sku: Sku) -> Result<StockLevel, Error> {
        let raw_sku = row["sku"].as_str().unwrap_or_default();
        let supplier_sku = dropship::SupplierSku::new(raw_sku.trim())?;
        let (available, warning) = Availability::from_json(&row["stock"])?;
        let mut level = StockLevel::new(self.config.id.clone(), sku, supplier_sku, available);
        level.warnings.extend(warning);
        Ok(level)
    }
}

#[async_trait]
impl Dropshipper for FeedSupplier {
    fn id(&self) -> &SupplierId {
        &self.config.id
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.stock_crawl = true;
        c.place_order = true;
        c.order_status = true;
        c.order_lookup_by_reference = true;
        c
    }

    async fn stock_page(&self, cursor: Option<&Cursor>) -> dropship::Result<Page<StockLevel>> {
        let start: usize = match cursor {
            None => 0,
            Some(c) => c.as_str().parse().map_err(|_| {
                Error::new(ErrorKind::Invalid, "cursor is not an offset")
                    .with_supplier(self.id().clone())
            })?,
        };
        // Collisions are judged over the whole feed, not one page, so they cannot hide across
        // page boundaries.
        let all_skus = self
            .rows
            .iter()
            .map(|r| r["sku"].as_str().unwrap_or_default());
        let batch = self.config.sku_rules.normalize_batch(all_skus);
        let end = (start + PAGE_SIZE).min(self.rows.len());
        let mut page = Page::last(Vec::new());
        for row in &self.rows[start..end] {
            let raw = row["sku"].as_str().unwrap_or_default();
            let mapped = match batch.canonical(raw) {
                Some(sku) => self.level_from_row(row, sku.clone()),
                None => Err(batch
                    .rejection(raw)
                    .map(|e| Error::from(e.clone()))
                    .unwrap_or_else(|| Error::new(ErrorKind::Protocol, "unmapped SKU"))),
            };
            match mapped {
                Ok(level) => page.items.push(level),
                Err(error) => page.problems.push(ItemProblem {
                    raw_id: Some(raw.to_string()),
                    error: error.with_supplier(self.id().clone()),
                }),
            }
        }
        page.total = Some(self.rows.len() as u64);
        page.next = (end < self.rows.len()).then(|| Cursor::new(end.to_string()));
        Ok(page)
    }

    async fn place_order(&self, order: &Order) -> dropship::Result<OrderAck> {
        order.validate()?;
        let mut orders = self
            .orders
            .lock()
            .map_err(|_| Error::new(ErrorKind::Transient, "lock poisoned"))?;
        let already_existed = orders.contains_key(&order.reference);
        orders.entry(order.reference.clone()).or_insert(0);
        Ok(OrderAck {
            supplier: self.id().clone(),
            reference: order.reference.clone(),
            supplier_order_id: format!("{}-{}", self.id(), order.reference),
            status: self.config.status_map.map(&self.statuses[0]),
            accepted_at: chrono::Utc::now(),
            already_existed,
        })
    }

    async fn order_status(&self, handle: &OrderHandle) -> dropship::Result<OrderState> {
        let mut orders = self
            .orders
            .lock()
            .map_err(|_| Error::new(ErrorKind::Transient, "lock poisoned"))?;
        let pos = orders.get_mut(&handle.reference).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no order {}", handle.reference),
            )
            .with_supplier(self.id().clone())
        })?;
        *pos = (*pos + 1).min(self.statuses.len() - 1);
        let raw = &self.statuses[*pos];
        Ok(OrderState {
            supplier: self.id().clone(),
            handle: handle.clone(),
            status: self.config.status_map.map(raw),
            raw_status: raw.clone(),
            shipments: Vec::new(),
            updated_at: Some(chrono::Utc::now()),
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = ConfigFile::load(format!("{root}/fixtures/config/quickstart.json"))?;
    let feeds: Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{root}/fixtures/feeds/quickstart.json"
    ))?)?;

    let suppliers: Vec<Arc<dyn Dropshipper>> = config
        .suppliers
        .iter()
        .map(|c| {
            let feed = &feeds[c.id.as_str()];
            let statuses = feed["statuses"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            Arc::new(FeedSupplier {
                config: c.clone(),
                rows: feed["rows"].as_array().cloned().unwrap_or_default(),
                statuses,
                orders: Mutex::new(HashMap::new()),
            }) as Arc<dyn Dropshipper>
        })
        .collect();

    // 1. Crawl every supplier's stock.
    let mut stock: BTreeMap<Sku, BTreeMap<SupplierId, StockLevel>> = BTreeMap::new();
    let mut problems: Vec<ItemProblem> = Vec::new();
    for s in &suppliers {
        let mut pages = s.crawl_stock();
        let mut n = 0;
        while let Some(page) = pages.next().await {
            let page = page?;
            n += 1;
            eprintln!(
                "crawl {:<10} page {n}: {} levels, {} problems",
                s.id(),
                page.items.len(),
                page.problems.len()
            );
            for level in page.items {
                stock
                    .entry(level.sku.clone())
                    .or_default()
                    .insert(level.supplier.clone(), level);
            }
            problems.extend(page.problems);
        }
    }

    println!("Stock per SKU across suppliers");
    println!(
        "{:<14} {:>12} {:>12} {:>12}  guaranteed",
        "SKU", "cj", "printful", "acme-soap"
    );
    for (sku, by_supplier) in &stock {
        let cell = |id: &str| {
            by_supplier
                .iter()
                .find(|(s, _)| s.as_str() == id)
                .map_or("-".to_string(), |(_, l)| l.available.to_string())
        };
        let total: u64 = by_supplier.values().map(|l| l.available.guaranteed()).sum();
        println!(
            "{:<14} {:>12} {:>12} {:>12}  {total}",
            sku.as_str(),
            cell("cj"),
            cell("printful"),
            cell("acme-soap")
        );
    }
    println!();
    println!("Adjusted or refused on the way in");
    for levels in stock.values() {
        for l in levels.values() {
            for w in &l.warnings {
                match w {
                    StockWarning::NegativeClamped { raw } => {
                        println!(
                            "  {}: {} reported {raw}, stored as 0",
                            l.supplier, l.supplier_sku
                        )
                    }
                    other => println!("  {}: {} {other:?}", l.supplier, l.supplier_sku),
                }
            }
        }
    }
    for p in &problems {
        println!(
            "  refused {:?}: {}",
            p.raw_id.as_deref().unwrap_or(""),
            p.error
        );
    }

    // 2. Route an order: each line to the supplier that can guarantee the most units.
    let ship_to = Address {
        name: "Quick Start Customer".into(),
        line1: "1 Example Street".into(),
        city: "Springfield".into(),
        postal_code: Some("12345".into()),
        country_code: "US".into(),
        ..Address::default()
    };
    let wanted = [("TSHIRT-RED-M", 2u32), ("MUG-BLUE", 3), ("POSTER-A2", 1)];
    let mut plan: BTreeMap<SupplierId, Vec<OrderLine>> = BTreeMap::new();
    for (sku, qty) in wanted {
        let sku = Sku::new(sku)?;
        let best = stock
            .get(&sku)
            .and_then(|by| {
                by.values()
                    .filter(|l| l.available.guaranteed() >= u64::from(qty))
                    .max_by_key(|l| l.available.guaranteed())
            })
            .ok_or_else(|| format!("no supplier can ship {qty} x {sku}"))?;
        plan.entry(best.supplier.clone())
            .or_default()
            .push(OrderLine::new(sku, qty));
    }
    println!();
    println!("Order SO-1001, routed");
    for (supplier_id, lines) in &plan {
        let supplier = suppliers
            .iter()
            .find(|s| s.id() == supplier_id)
            .ok_or("routed to an unknown supplier")?;
        let rules = &config
            .supplier(supplier_id.as_str())
            .ok_or("no config")?
            .sku_rules;
        let reference = OrderRef::new(format!("SO-1001-{supplier_id}"))?;
        let order = Order::new(reference, lines.clone(), ship_to.clone());
        let ack = supplier.place_order(&order).await?;
        let spelled: Vec<String> = lines
            .iter()
            .map(|l| {
                rules
                    .denormalize(&l.sku)
                    .map(|s| format!("{} x {} (sent as {s})", l.quantity, l.sku))
            })
            .collect::<Result<_, _>>()?;
        println!(
            "  {supplier_id}: {} -> supplier order {} [{}]",
            spelled.join(", "),
            ack.supplier_order_id,
            ack.status
        );
        // Placing the same reference again is a replay, not a second order.
        let again = supplier.place_order(&order).await?;
        println!(
            "  {supplier_id}: placed again with the same reference: already_existed = {}",
            again.already_existed
        );

        // 3. Follow it through the supplier's own words until a terminal state.
        let mut journey = vec![format!("{}", ack.status)];
        let mut last_raw: Option<String> = None;
        for _ in 0..10 {
            let state = supplier.order_status(&ack.handle()).await?;
            if last_raw.as_deref() == Some(state.raw_status.as_str()) {
                break; // no news from the supplier: stop polling for the demo
            }
            journey.push(format!("{} ({})", state.status, state.raw_status));
            last_raw = Some(state.raw_status.clone());
            if state.status.is_terminal() {
                break;
            }
        }
        println!("  {supplier_id} journey: {}", journey.join(" -> "));
    }
    println!();
    println!(
        "{} SKUs from {} suppliers, {} rows refused with a reason, 0 dropped silently",
        stock.len(),
        suppliers.len(),
        problems.len()
    );
    Ok(())
}
