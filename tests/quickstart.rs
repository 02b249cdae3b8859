//! The quick start's flow (`cargo run --example quickstart`), run here and checked against
//! the sandbox's ground truth: every stock count, one supplier order per sub-order, the order
//! followed to shipped by webhook and poll, the missed webhook caught, the faults retried.

use dropship::OrderStatus;
use dropship::fulfillment::tracking::UpdateSource;
use dropship::testkit::tour::{self, TourOptions};
use dropship::testkit::{Catalog, SandboxSupplier};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_flow_is_right() {
    let report = tour::run(TourOptions {
        faults: true,
        progress: false,
    })
    .await
    .expect("the tour runs");

    // Stock per SKU across suppliers is exactly the sandbox catalog.
    let catalog = Catalog::standard();
    let columns: Vec<SandboxSupplier> = report.suppliers.iter().map(|s| s.sandbox).collect();
    assert_eq!(columns, SandboxSupplier::ALL);
    let mut skus_seen = 0;
    for row in &report.stock {
        for (s, count) in columns.iter().zip(&row.per_supplier) {
            assert_eq!(
                *count,
                catalog.total(*s, row.sku.as_str()).map(u64::from),
                "{s} {}",
                row.sku
            );
        }
        assert_eq!(row.sellable, row.per_supplier.iter().flatten().sum::<u64>());
        skus_seen += 1;
    }
    assert_eq!(skus_seen, 20);
    for s in &report.suppliers {
        assert!(s.crawl_error.is_none(), "{}: {:?}", s.id, s.crawl_error);
        assert!(s.levels > 0 && s.pages > 0);
    }

    // The order: one supplier, one supplier order, followed to shipped.
    let order = &report.order;
    assert_eq!(order.plan.len(), 1);
    assert_eq!(order.supplier_orders, 1, "nothing placed twice");
    assert!(
        order
            .final_status
            .iter()
            .all(|(_, s)| *s == OrderStatus::Shipped),
        "{:?}",
        order.final_status
    );
    assert!(!order.tracking_numbers.is_empty());
    let sources: Vec<UpdateSource> = order.journey.iter().map(|j| j.source).collect();
    assert_eq!(sources.first(), Some(&UpdateSource::Ack));
    assert!(
        sources.contains(&UpdateSource::Webhook),
        "{:?}",
        order.journey
    );
    let shipped = order
        .journey
        .iter()
        .find(|j| j.status == Some(OrderStatus::Shipped))
        .expect("a shipped step");
    assert_eq!(
        shipped.source,
        UpdateSource::Poll,
        "the shipping webhooks were suppressed: polling must catch it"
    );

    // Inventory: webhooks applied, the lost one caught by the re-crawl.
    assert!(report.inventory.webhook_updates >= 1);
    assert_eq!(report.inventory.missed_webhooks_caught, 1);
    assert_eq!(report.webhooks_refused, 0);

    // The faults happened and were absorbed.
    let by = |s: SandboxSupplier| {
        report
            .suppliers
            .iter()
            .find(|l| l.sandbox == s)
            .expect("supplier")
    };
    let cj = by(SandboxSupplier::Rest);
    assert!(cj.sandbox_stats.injected_errors >= 2);
    assert!(cj.transport.retries >= cj.sandbox_stats.injected_errors);
    assert_eq!(by(SandboxSupplier::Soap).sandbox_stats.truncated, 1);
    let shopify = by(SandboxSupplier::Graphql);
    assert!(shopify.sandbox_stats.rate_limited >= 1);
    assert!(shopify.transport.throttled_responses >= 1);

    assert!(report.elapsed.as_secs() < 60);
    let text = report.to_string();
    for needle in [
        "Stock per SKU",
        "Order QS-1001",
        "journey:",
        "Under injected faults",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
