//! The three sandbox suppliers and the dialect facts each one keeps: its id, how it spells
//! SKUs, its status words, its order ids and its carrier.

use std::fmt;

use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Sku, SkuRules};

/// One of the sandbox's suppliers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SandboxSupplier {
    /// A CJ Dropshipping style REST/JSON supplier (`fixtures/profiles/cj.json`).
    Rest,
    /// A WS-Security SOAP 1.1 distributor (`fixtures/profiles/sandbox_soap.json`).
    Soap,
    /// A Shopify Admin GraphQL store (`fixtures/profiles/shopify_graphql.json`).
    Graphql,
}

impl SandboxSupplier {
    /// Every sandbox supplier, in the order `config_json()` lists them.
    pub const ALL: [SandboxSupplier; 3] = [
        SandboxSupplier::Rest,
        SandboxSupplier::Soap,
        SandboxSupplier::Graphql,
    ];

    /// The supplier's id in the sandbox configuration.
    pub fn id(self) -> &'static str {
        match self {
            SandboxSupplier::Rest => "sandbox-cj",
            SandboxSupplier::Soap => "sandbox-acme",
            SandboxSupplier::Graphql => "sandbox-shopify",
        }
    }

    /// The supplier whose configuration id is `id`.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    pub(crate) fn index(self) -> usize {
        match self {
            SandboxSupplier::Rest => 0,
            SandboxSupplier::Soap => 1,
            SandboxSupplier::Graphql => 2,
        }
    }

    /// The `sku_rules` section the sandbox hands out: each supplier spells the canonical SKU
    /// `MUG-BLUE` its own way (`CJ-mug-blue`, `MUG-BLUE-AC`, `mug-blue`).
    pub fn sku_rules_json(self) -> Value {
        match self {
            SandboxSupplier::Rest => json!({
                "case": "upper", "supplier_prefix": "CJ-", "supplier_case": "lower"
            }),
            SandboxSupplier::Soap => json!({
                "case": "upper", "supplier_suffix": "-AC", "supplier_case": "upper"
            }),
            SandboxSupplier::Graphql => json!({ "case": "upper", "supplier_case": "lower" }),
        }
    }

    pub(crate) fn sku_rules(self) -> Result<SkuRules> {
        serde_json::from_value(self.sku_rules_json()).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("sandbox SKU rules for {self}: {e}"),
            )
        })
    }

    /// How this supplier spells a canonical SKU on the wire.
    pub fn spell(self, sku: &str) -> Result<String> {
        let sku = Sku::new(sku).map_err(Error::from)?;
        let spelled = self.sku_rules()?.denormalize(&sku).map_err(Error::from)?;
        Ok(spelled.as_str().to_string())
    }

    /// The warehouses (CJ country codes, Acme depots, Shopify location names) of the default
    /// catalog.
    pub fn warehouses(self) -> &'static [&'static str] {
        match self {
            SandboxSupplier::Rest => &["CN", "US"],
            SandboxSupplier::Soap => &["EU-WEST", "EU-EAST"],
            SandboxSupplier::Graphql => &["Main warehouse", "Overflow"],
        }
    }

    /// The supplier's word for a sandbox status.
    pub fn status_word(self, status: SandboxStatus) -> &'static str {
        use SandboxStatus::*;
        match (self, status) {
            (SandboxSupplier::Rest, Created) => "CREATED",
            (SandboxSupplier::Rest, Accepted) => "UNSHIPPED",
            (SandboxSupplier::Rest, Processing) => "PROCESSING",
            (SandboxSupplier::Rest, Shipped) => "SHIPPED",
            (SandboxSupplier::Rest, Delivered) => "DELIVERED",
            (SandboxSupplier::Rest, Cancelled) => "CANCELLED",
            (SandboxSupplier::Soap, Created) => "new",
            (SandboxSupplier::Soap, Accepted) => "accepted",
            (SandboxSupplier::Soap, Processing) => "processing",
            (SandboxSupplier::Soap, Shipped) => "complete",
            (SandboxSupplier::Soap, Delivered) => "delivered",
            (SandboxSupplier::Soap, Cancelled) => "canceled",
            // Shopify's displayFulfillmentStatus has no delivered or cancelled word: a
            // delivered order stays FULFILLED, a cancelled one keeps its word and gains
            // cancelledAt.
            (SandboxSupplier::Graphql, Created) => "UNFULFILLED",
            (SandboxSupplier::Graphql, Accepted) => "SCHEDULED",
            (SandboxSupplier::Graphql, Processing) => "IN_PROGRESS",
            (SandboxSupplier::Graphql, Shipped | Delivered) => "FULFILLED",
            (SandboxSupplier::Graphql, Cancelled) => "UNFULFILLED",
        }
    }

    /// The supplier's order id for the sandbox's `n`th order.
    pub(crate) fn order_id(self, n: u64) -> String {
        match self {
            SandboxSupplier::Rest => format!("CJSBX{:010}", 2_400_000_000 + n),
            SandboxSupplier::Soap => format!("AC-{}", 100_000 + n),
            SandboxSupplier::Graphql => format!("gid://shopify/Order/{}", 5_500_000_000 + n),
        }
    }

    pub(crate) fn carrier(self) -> &'static str {
        match self {
            SandboxSupplier::Rest => "CJPacket Ordinary",
            SandboxSupplier::Soap => "DHL",
            SandboxSupplier::Graphql => "UPS",
        }
    }

    fn letter(self) -> char {
        match self {
            SandboxSupplier::Rest => 'C',
            SandboxSupplier::Soap => 'A',
            SandboxSupplier::Graphql => 'S',
        }
    }

    /// A tracking number and URL for the sandbox's `n`th shipment. The URL is under the
    /// reserved `.invalid` domain, so nothing ever resolves it.
    pub(crate) fn tracking(self, n: u64) -> (String, String) {
        let number = format!("SBX{}{:09}", self.letter(), n);
        let url = format!("https://track.sandbox.invalid/{number}");
        (number, url)
    }
}

impl fmt::Display for SandboxSupplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Where a sandbox order is in its life; each supplier reports it in its own words
/// ([`SandboxSupplier::status_word`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SandboxStatus {
    /// Just placed.
    Created,
    /// Accepted for fulfilment.
    Accepted,
    /// Being picked and packed.
    Processing,
    /// Handed to the carrier, with a tracking number.
    Shipped,
    /// Delivered.
    Delivered,
    /// Cancelled; its stock went back.
    Cancelled,
}

impl SandboxStatus {
    /// The status [`advance`](crate::testkit::Sandbox::advance) moves to, or `None` from a final
    /// status.
    pub fn next(self) -> Option<SandboxStatus> {
        use SandboxStatus::*;
        match self {
            Created => Some(Accepted),
            Accepted => Some(Processing),
            Processing => Some(Shipped),
            Shipped => Some(Delivered),
            Delivered | Cancelled => None,
        }
    }

    /// Whether the order can still be cancelled (nothing has left the warehouse).
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            SandboxStatus::Created | SandboxStatus::Accepted | SandboxStatus::Processing
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_supplier_spells_skus_its_own_way_and_back() {
        let cases = [
            (SandboxSupplier::Rest, "CJ-mug-blue"),
            (SandboxSupplier::Soap, "MUG-BLUE-AC"),
            (SandboxSupplier::Graphql, "mug-blue"),
        ];
        for (s, want) in cases {
            assert_eq!(s.spell("MUG-BLUE").unwrap(), want);
            let back = s.sku_rules().unwrap().normalize(want).unwrap();
            assert_eq!(back.as_str(), "MUG-BLUE");
        }
    }
}
