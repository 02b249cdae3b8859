//! placeholder
pub mod dropshipper;
pub mod error;
pub mod model;

pub use async_trait::async_trait;
pub use dropshipper::{
    Capabilities, Cursor, Dropshipper, DropshipperExt, ItemProblem, MAX_CRAWL_PAGES, Page,
    StockAnswer,
};
pub use error::{Dispatch, Error, ErrorKind, Operation, Problem, Result};
pub use model::*;
pub mod config;
