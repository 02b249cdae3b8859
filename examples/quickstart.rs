//! Quick start: the whole crate against a local sandbox, in one command, with no network and
//! no credentials.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It starts three sandbox suppliers on 127.0.0.1 (a CJ-style REST API with token exchange, a
//! WS-Security SOAP distributor and a Shopify-style GraphQL store, each speaking its profile's
//! wire format and signing its webhooks), connects them from the config file the sandbox hands
//! out (the same format you would write for real suppliers), injects faults (5xx answers, a rate
//! limit, latency, a truncated answer, a drained GraphQL cost bucket), and then:
//!
//! 1. crawls every supplier's stock (progress on stderr),
//! 2. routes an order to the one supplier that holds enough stock, reserves it and places it
//!    exactly once,
//! 3. follows it to shipped through signed webhooks and polling (the shipping webhooks are
//!    suppressed, so polling has to catch them),
//! 4. loses one stock webhook on purpose and lets a re-crawl catch the difference,
//!
//! and prints stock per SKU across suppliers, the order's journey, and the retries and throttle
//! waits the faults caused. Exit status 0 on success; on failure one line on stderr and 1.

use dropship::testkit::tour::{self, TourOptions};

#[tokio::main]
async fn main() {
    let options = TourOptions {
        faults: true,
        progress: true,
    };
    match tour::run(options).await {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            std::process::exit(1);
        }
    }
}
