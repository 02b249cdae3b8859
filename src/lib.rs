//! # dropship
//!
//! One async trait, [`Dropshipper`], over many dropshipping suppliers, whatever they speak
//! (REST/JSON, SOAP/XML, GraphQL), and one canonical model for what they say: [`Sku`],
//! [`StockLevel`], [`Order`], [`OrderStatus`], [`Shipment`].
//!
//! Every supplier has its own dialect: its own SKU spelling, stock fields ("in stock", `">10"`,
//! `-3`), status words, auth scheme and rate limits. `dropship` turns all of that into the
//! canonical model through configuration ([`config`]), so connecting a new supplier is usually a
//! JSON file, not code.
//!
//! ## Layout
//! - [`model`]: the canonical types, plain data, validated on construction. [`SkuRules`] maps
//!   SKU spellings both ways and reports collisions; [`StatusMap`] maps status words (with
//!   ready-made [`StatusPreset`]s) and keeps unknown words as [`OrderStatus::Unknown`];
//!   [`Availability`] reads stock counts, buckets and words without inventing numbers.
//! - [`Dropshipper`]: the trait every adapter implements, with [`Capabilities`], paged crawls
//!   ([`Page`], [`Cursor`]) and [`DropshipperExt::crawl_stock`] as a stream.
//! - [`Error`]: the one error type; branch on [`Error::kind`] and [`Error::is_retryable`].
//!   [`Error::dispatch`] says whether a failed request may have reached the supplier.
//! - [`config`]: supplier configuration loaded from JSON, every problem reported with its path,
//!   secrets from `env:`/`file:` held in `secrecy` types.
//! - [`adapters`]: the REST, SOAP and GraphQL adapters, built from configuration
//!   ([`adapters::build_all`]); [`transport`] and [`auth`] underneath, shared by all of them.
//! - [`webhook`]: signature verification, replay protection and payload parsing into
//!   [`SupplierEvent`]s.
//! - [`sync`]: crawls and webhooks merged into one view of stock, reconciled, with staleness,
//!   a change feed and snapshots.
//! - [`fulfillment`]: validation, routing, reservations, exactly-once placement and order
//!   tracking.
//! - [`Hub`]: all of the above for one config file, in one call.
//! - `testkit` (feature): local sandbox suppliers for tests.
//!
//! ## From a config file to a running integration
//!
//! ```no_run
//! use dropship::{Address, Hub, Order, OrderLine, OrderRef, Sku};
//!
//! # async fn demo() -> dropship::Result<()> {
//! let hub = Hub::load("suppliers.json")?; // every problem in the file, located
//! hub.sync().crawl_all().await; // first full read of every catalog
//! let crawls = hub.sync().spawn(); // periodic crawls from now on
//!
//! let mug = Sku::new("MUG-BLUE")?;
//! let ats = hub.sync().available_to_sell(&mug);
//! println!("{} sellable now, {} more from suppliers gone quiet", ats.fresh, ats.stale);
//!
//! let order = Order::new(
//!     OrderRef::new("SO-1001")?,
//!     vec![OrderLine::new(mug, 2)],
//!     Address {
//!         name: "Ada".into(),
//!         line1: "1 Road".into(),
//!         city: "London".into(),
//!         country_code: "GB".into(),
//!         ..Address::default()
//!     },
//! );
//! let placement = hub.fulfillment().fulfill(&order).await?;
//! for ack in placement.acks() {
//!     println!("{} took it as {}", ack.supplier, ack.supplier_order_id);
//! }
//! crawls.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Example
//!
//! ```
//! use dropship::{Availability, CaseRule, OrderStatus, SkuRules, StatusMap, StatusPreset};
//!
//! // A supplier that spells SKUs "cj-tshirt-red" and reports stock as text.
//! let rules = SkuRules::builder().case(CaseRule::Upper).supplier_prefix("cj-").build()?;
//! let sku = rules.normalize("cj-tshirt-red")?;
//! assert_eq!(sku.as_str(), "TSHIRT-RED");
//!
//! let (stock, _warning) = Availability::parse_text(">10")?;
//! assert_eq!(stock, Availability::AtLeast(11));
//!
//! let statuses = StatusMap::preset(StatusPreset::Cj);
//! assert_eq!(statuses.map("UNSHIPPED"), OrderStatus::Accepted);
//! assert_eq!(statuses.map("LOST_AT_SEA"), OrderStatus::Unknown("LOST_AT_SEA".into()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapters;
pub mod auth;
pub mod config;
pub mod dropshipper;
pub mod error;
pub mod fulfillment;
mod hub;
pub mod model;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
mod text;

pub use async_trait::async_trait;
pub use dropshipper::{
    Capabilities, Cursor, Dropshipper, DropshipperExt, ItemProblem, MAX_CRAWL_PAGES, Page,
    StockAnswer,
};
pub use error::{Dispatch, Error, ErrorKind, Operation, Problem, Result};
pub use hub::{Hub, Received};
pub use model::*;
pub mod transport;
pub mod webhook;
pub use transport::{Request, RequestClass, Response, Transport, TransportStats};
