//! The [`Dropshipper`] trait: what every supplier adapter offers, in canonical types.
//!
//! The REST, SOAP and GraphQL adapters implement it from configuration; a host can implement it
//! by hand for a supplier no adapter covers. Callers hold suppliers as `Arc<dyn Dropshipper>`
//! and never see a wire format.

use std::collections::HashSet;
use std::fmt;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Operation, Result};
use crate::model::{
    Order, OrderAck, OrderHandle, OrderState, Sku, StockLevel, SupplierId, SupplierSku,
};

/// What a supplier (through its adapter) can do, so callers can plan instead of probing.
///
/// Every field defaults to "no": an adapter turns on what it implements.
///
/// ```
/// let mut caps = dropship::Capabilities::default();
/// caps.stock_by_sku = true;
/// caps.max_skus_per_request = Some(50);
/// assert!(!caps.place_order);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`Dropshipper::stock`] works.
    pub stock_by_sku: bool,
    /// How many SKUs one request carries; `None` when the adapter batches freely.
    pub max_skus_per_request: Option<usize>,
    /// [`Dropshipper::stock_page`] works (full-catalog crawl).
    pub stock_crawl: bool,
    /// The crawl sends conditional requests (`ETag`/`Last-Modified`) and reuses unchanged pages.
    pub conditional_crawl: bool,
    /// [`Dropshipper::place_order`] works.
    pub place_order: bool,
    /// The supplier itself deduplicates placements by reference or idempotency key.
    pub idempotent_orders: bool,
    /// [`Dropshipper::order_status`] works.
    pub order_status: bool,
    /// `order_status` accepts a handle without the supplier's order id (lookup by reference).
    pub order_lookup_by_reference: bool,
    /// [`Dropshipper::cancel_order`] works.
    pub cancel_order: bool,
    /// The supplier pushes webhooks that this crate can verify.
    pub webhooks: bool,
}

/// An opaque position in a paged crawl: a page number, an offset, a supplier cursor or a
/// `Link` URL, as the adapter chooses. Serializable, so a host can persist a crawl's progress.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps an adapter's position.
    pub fn new(position: impl Into<String>) -> Self {
        Cursor(position.into())
    }

    /// The adapter's position.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cursors can be whole URLs with signed query strings: show only their length.
        write!(f, "Cursor(<{} bytes>)", self.0.len())
    }
}

/// An item a supplier sent that could not be turned into the canonical model, kept so nothing
/// disappears silently: the raw identifier (when one could be read) and why.
#[derive(Debug, Clone)]
pub struct ItemProblem {
    /// The supplier's SKU or id as sent, when it could be read.
    pub raw_id: Option<String>,
    /// Why it was not mapped.
    pub error: Error,
}

/// One page of a crawl.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items that mapped.
    pub items: Vec<T>,
    /// Items that did not map, and why.
    pub problems: Vec<ItemProblem>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// The total item count, when the supplier says.
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// A last page holding `items`.
    pub fn last(items: Vec<T>) -> Self {
        Page {
            items,
            problems: Vec::new(),
            next: None,
            total: None,
        }
    }
}

/// The answer to a stock query for a set of SKUs.
#[derive(Debug, Clone, Default)]
pub struct StockAnswer {
    /// One level per SKU (per warehouse, where the supplier reports by warehouse).
    pub levels: Vec<StockLevel>,
    /// Requested SKUs the supplier does not know.
    pub not_found: Vec<Sku>,
    /// Items the supplier sent that could not be mapped.
    pub problems: Vec<ItemProblem>,
}

/// A dropshipping supplier, in canonical types.
///
/// Object-safe and `Send + Sync`: hold many as `Vec<Arc<dyn Dropshipper>>`. Every operation a
/// supplier does not offer returns an [`Unsupported`](ErrorKind::Unsupported) error, and
/// [`capabilities`](Dropshipper::capabilities) says so up front; the provided methods do exactly
/// that, so a hand-written adapter implements only what its supplier has.
///
/// ```
/// use std::sync::Arc;
/// use dropship::{async_trait, Capabilities, Dropshipper, Page, Cursor, StockLevel, SupplierId};
///
/// struct Empty(SupplierId);
///
/// #[async_trait]
/// impl Dropshipper for Empty {
///     fn id(&self) -> &SupplierId { &self.0 }
///     fn capabilities(&self) -> Capabilities {
///         let mut c = Capabilities::default();
///         c.stock_crawl = true;
///         c
///     }
///     async fn stock_page(&self, _: Option<&Cursor>) -> dropship::Result<Page<StockLevel>> {
///         Ok(Page::last(Vec::new()))
///     }
/// }
///
/// let suppliers: Vec<Arc<dyn Dropshipper>> = vec![Arc::new(Empty(SupplierId::new("e").unwrap()))];
/// assert_eq!(suppliers[0].id().as_str(), "e");
/// ```
#[async_trait]
pub trait Dropshipper: Send + Sync {
    /// The supplier's id in the host's configuration.
    fn id(&self) -> &SupplierId;

    /// What this supplier can do.
    fn capabilities(&self) -> Capabilities;

    /// Current stock for `skus`. Adapters split large sets into the supplier's batch size.
    async fn stock(&self, skus: &[Sku]) -> Result<StockAnswer> {
        let _ = skus;
        Err(self.unsupported(Operation::Stock))
    }

    /// One page of the full-catalog stock crawl; pass the previous page's `next` to continue,
    /// `None` to start. See [`DropshipperExt::crawl_stock`] for a stream over all pages.
    async fn stock_page(&self, cursor: Option<&Cursor>) -> Result<Page<StockLevel>> {
        let _ = cursor;
        Err(self.unsupported(Operation::CrawlStock))
    }

    /// Places an order. Idempotent on `order.reference`: calling it again for the same
    /// reference (after a timeout, a crash, a retry) never creates a second supplier order.
    async fn place_order(&self, order: &Order) -> Result<OrderAck> {
        let _ = order;
        Err(self.unsupported(Operation::PlaceOrder))
    }

    /// The order's status and shipments.
    async fn order_status(&self, order: &OrderHandle) -> Result<OrderState> {
        let _ = order;
        Err(self.unsupported(Operation::OrderStatus))
    }

    /// Asks the supplier to cancel; returns the state after the request.
    async fn cancel_order(&self, order: &OrderHandle) -> Result<OrderState> {
        let _ = order;
        Err(self.unsupported(Operation::CancelOrder))
    }

    /// The supplier's spelling of a canonical SKU, as its orders will carry it. Fulfillment
    /// checks every line with it before anything leaves the process. The provided method
    /// keeps the SKU as it is; adapters apply their [`SkuRules`](crate::SkuRules).
    fn supplier_sku(&self, sku: &Sku) -> Result<SupplierSku> {
        SupplierSku::new(sku.as_str()).map_err(|e| Error::from(e).with_supplier(self.id().clone()))
    }

    /// What this supplier's transport did so far (requests, retries, throttle waits), when
    /// the adapter has one; hand-written adapters may return `None`.
    fn transport_stats(&self) -> Option<crate::transport::TransportStats> {
        None
    }

    /// The error the provided methods return, naming this supplier.
    fn unsupported(&self, operation: Operation) -> Error {
        Error::unsupported(operation).with_supplier(self.id().clone())
    }
}

impl fmt::Debug for dyn Dropshipper {
    /// The supplier's id: enough to tell suppliers apart in logs, and never a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dropshipper({})", self.id())
    }
}

/// Highest page count a crawl stream follows before it stops with a
/// [`Protocol`](ErrorKind::Protocol) error: a guard against suppliers whose cursors never end.
pub const MAX_CRAWL_PAGES: usize = 100_000;

/// Helpers over any [`Dropshipper`], including `dyn Dropshipper`.
pub trait DropshipperExt: Dropshipper {
    /// Every page of the stock crawl as a stream, in order.
    ///
    /// The stream ends after the last page, after the first error (which it yields), or with a
    /// [`Protocol`](ErrorKind::Protocol) error when the supplier hands back a cursor it already
    /// gave (a loop) or after [`MAX_CRAWL_PAGES`] pages.
    fn crawl_stock(&self) -> BoxStream<'_, Result<Page<StockLevel>>> {
        enum Step {
            Fetch(Option<Cursor>),
            Fail(Error),
            Done,
        }
        struct State {
            step: Step,
            seen: HashSet<Cursor>,
            pages: usize,
        }
        let start = State {
            step: Step::Fetch(None),
            seen: HashSet::new(),
            pages: 0,
        };
        let crawl_error = move |message: String| {
            Error::new(ErrorKind::Protocol, message)
                .with_supplier(self.id().clone())
                .with_operation(Operation::CrawlStock)
        };
        stream::unfold(start, move |mut st| async move {
            let cursor = match std::mem::replace(&mut st.step, Step::Done) {
                Step::Done => return None,
                Step::Fail(err) => return Some((Err(err), st)),
                Step::Fetch(cursor) => cursor,
            };
            if st.pages >= MAX_CRAWL_PAGES {
                let err = crawl_error(format!("crawl stopped after {MAX_CRAWL_PAGES} pages"));
                return Some((Err(err), st));
            }
            st.pages += 1;
            let page = match self.stock_page(cursor.as_ref()).await {
                Ok(page) => page,
                Err(e) => return Some((Err(e), st)),
            };
            st.step = match &page.next {
                None => Step::Done,
                Some(next) if !st.seen.insert(next.clone()) || cursor.as_ref() == Some(next) => {
                    // Yield the page we got, then the error: its items are real.
                    Step::Fail(crawl_error(format!(
                        "supplier returned a cursor it had already returned (page {}); \
                         stopping to avoid a loop",
                        st.pages
                    )))
                }
                Some(next) => Step::Fetch(Some(next.clone())),
            };
            Some((Ok(page), st))
        })
        .boxed()
    }
}

impl<T: Dropshipper + ?Sized> DropshipperExt for T {}
