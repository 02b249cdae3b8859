//! Protocol adapters: each turns one wire protocol into the [`Dropshipper`](crate::Dropshipper)
//! trait, through the shared [`Transport`](crate::transport::Transport) and the shared item
//! mapping in [`items`].

mod build;
pub mod graphql;
pub mod items;
pub mod json;
pub mod rest;
pub mod soap;
pub mod template;

pub use build::{SharedEnv, build, build_all, build_all_with_env, build_with_env};
