//! The trait is object-safe, usable as `Vec<Arc<dyn Dropshipper>>`, and its crawl stream
//! follows cursors, stops on loops and surfaces errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dropship::{
    Availability, Capabilities, Cursor, Dropshipper, DropshipperExt, Error, ErrorKind, Operation,
    OrderHandle, OrderRef, Page, Sku, StockAnswer, StockLevel, SupplierId, SupplierSku,
    async_trait,
};
use futures::StreamExt;

/// Serves `pages` pages of two levels; cursors come from `cursor_for(page_index)`.
struct Paged {
    id: SupplierId,
    pages: usize,
    cursor_for: fn(usize) -> String,
    fail_on: Option<usize>,
    calls: AtomicUsize,
}

fn level(id: &SupplierId, sku: &str, n: u64) -> StockLevel {
    StockLevel::new(
        id.clone(),
        Sku::new(sku).unwrap(),
        SupplierSku::new(sku.to_lowercase()).unwrap(),
        Availability::Exact(n),
    )
}

#[async_trait]
impl Dropshipper for Paged {
    fn id(&self) -> &SupplierId {
        &self.id
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.stock_crawl = true;
        c.stock_by_sku = true;
        c
    }
    async fn stock(&self, skus: &[Sku]) -> dropship::Result<StockAnswer> {
        Ok(StockAnswer {
            levels: skus
                .iter()
                .map(|s| level(&self.id, s.as_str(), 1))
                .collect(),
            ..StockAnswer::default()
        })
    }
    async fn stock_page(&self, cursor: Option<&Cursor>) -> dropship::Result<Page<StockLevel>> {
        let index = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_on == Some(index) {
            return Err(Error::new(ErrorKind::Transient, "503 from supplier"));
        }
        let expected = (index > 0).then(|| (self.cursor_for)(index - 1));
        assert_eq!(
            cursor.map(|c| c.as_str().to_string()),
            expected,
            "cursor passed back"
        );
        let items = vec![
            level(&self.id, &format!("P{index}A"), 1),
            level(&self.id, &format!("P{index}B"), 2),
        ];
        let mut page = Page::last(items);
        if index + 1 < self.pages {
            page.next = Some(Cursor::new((self.cursor_for)(index)));
        }
        Ok(page)
    }
}

/// Implements nothing but identity.
struct Bare(SupplierId);

#[async_trait]
impl Dropshipper for Bare {
    fn id(&self) -> &SupplierId {
        &self.0
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}

fn paged(id: &str, pages: usize, cursor_for: fn(usize) -> String) -> Paged {
    Paged {
        id: SupplierId::new(id).unwrap(),
        pages,
        cursor_for,
        fail_on: None,
        calls: AtomicUsize::new(0),
    }
}

#[tokio::test]
async fn heterogeneous_suppliers_in_one_vec() {
    let suppliers: Vec<Arc<dyn Dropshipper>> = vec![
        Arc::new(paged("paged", 3, |i| format!("c{i}"))),
        Arc::new(Bare(SupplierId::new("bare").unwrap())),
    ];
    let skus = [Sku::new("X").unwrap()];
    let answer = suppliers[0].stock(&skus).await.unwrap();
    assert_eq!(answer.levels.len(), 1);

    let err = suppliers[1].stock(&skus).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.operation(), Some(Operation::Stock));
    assert_eq!(err.supplier().map(|s| s.as_str()), Some("bare"));
    let handle = OrderHandle::by_reference(OrderRef::new("R1").unwrap());
    for err in [
        suppliers[1].order_status(&handle).await.unwrap_err(),
        suppliers[1].cancel_order(&handle).await.unwrap_err(),
        suppliers[1].stock_page(None).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }
    assert!(!suppliers[1].capabilities().stock_crawl);
    // Shared across tasks.
    let s = suppliers[0].clone();
    let n = tokio::spawn(async move { s.crawl_stock().count().await })
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn crawl_returns_every_item_once_in_order() {
    let s: Arc<dyn Dropshipper> = Arc::new(paged("p", 5, |i| format!("cursor-{i}")));
    let pages: Vec<_> = s.crawl_stock().collect().await;
    let skus: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.unwrap().items)
        .map(|l| l.sku.as_str().to_string())
        .collect();
    assert_eq!(skus.len(), 10);
    assert_eq!(skus[0], "P0A");
    assert_eq!(skus[9], "P4B");
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_crawl_with_a_protocol_error() {
    // Page 0 -> "a", page 1 -> "b", page 2 -> "a" again.
    let s = paged("loop", 10, |i| {
        if i == 2 {
            "a".into()
        } else {
            ["a", "b"][i % 2].into()
        }
    });
    let results: Vec<_> = s.crawl_stock().collect().await;
    assert_eq!(results.len(), 4, "three pages, then the error");
    assert!(results[..3].iter().all(Result::is_ok));
    let err = results[3].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.operation(), Some(Operation::CrawlStock));
    assert!(err.to_string().contains("already returned"), "{err}");
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        3,
        "no request after the loop was seen"
    );
}

#[tokio::test]
async fn an_error_ends_the_crawl_after_yielding_it() {
    let mut s = paged("err", 5, |i| format!("c{i}"));
    s.fail_on = Some(1);
    let results: Vec<_> = s.crawl_stock().collect().await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err().kind(),
        ErrorKind::Transient
    );
}
