use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an order stands, in one vocabulary for every supplier.
///
/// A supplier word that no [`StatusMap`] knows becomes [`Unknown`](OrderStatus::Unknown) with the
/// raw word kept: never an error, never a guess.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OrderStatus {
    /// Received but not yet accepted (unpaid, in review, draft).
    Pending,
    /// Accepted for fulfillment, not yet being worked on.
    Accepted,
    /// Being picked, packed or produced.
    Processing,
    /// Held by the supplier (payment review, risk control, address problem).
    OnHold,
    /// Some lines or units shipped.
    PartiallyShipped,
    /// Everything shipped.
    Shipped,
    /// Delivered to the customer.
    Delivered,
    /// Cancelled before shipping.
    Cancelled,
    /// Returned after shipping.
    Returned,
    /// The supplier could not fulfill it.
    Failed,
    /// A word no map knows, kept as the supplier wrote it.
    Unknown(String),
}

impl OrderStatus {
    /// Every known status with its canonical name, as used in config files.
    pub const NAMED: [(&'static str, OrderStatus); 10] = [
        ("pending", OrderStatus::Pending),
        ("accepted", OrderStatus::Accepted),
        ("processing", OrderStatus::Processing),
        ("on_hold", OrderStatus::OnHold),
        ("partially_shipped", OrderStatus::PartiallyShipped),
        ("shipped", OrderStatus::Shipped),
        ("delivered", OrderStatus::Delivered),
        ("cancelled", OrderStatus::Cancelled),
        ("returned", OrderStatus::Returned),
        ("failed", OrderStatus::Failed),
    ];

    /// Whether the order can no longer change by itself: delivered, cancelled, returned or
    /// failed. `Shipped` is not terminal: delivery may still be reported.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered
                | OrderStatus::Cancelled
                | OrderStatus::Returned
                | OrderStatus::Failed
        )
    }

    /// Parses a canonical name (`"on_hold"`), case-insensitively. `Unknown` has no name.
    pub fn from_name(name: &str) -> Option<OrderStatus> {
        let name = name.trim();
        Self::NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| s.clone())
    }

    /// The canonical name, or the raw word for `Unknown`.
    pub fn name(&self) -> &str {
        match self {
            OrderStatus::Unknown(raw) => raw,
            known => Self::NAMED
                .iter()
                .find(|(_, s)| s == known)
                .map_or("unknown", |(n, _)| n),
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderStatus::Unknown(raw) => write!(f, "unknown({raw})"),
            known => f.write_str(known.name()),
        }
    }
}

/// Ready-made vocabularies, from the suppliers' public documentation (see
/// `fixtures/README.md`). Entries marked "our reading" there are kept configurable by
/// overriding them in `words`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatusPreset {
    /// CJ Dropshipping order statuses (`CREATED` ... `CANCELLED`).
    Cj,
    /// Printful order statuses (`draft` ... `fulfilled`).
    Printful,
    /// Shopify `displayFulfillmentStatus` (GraphQL Admin API).
    ShopifyFulfillment,
    /// AliExpress order statuses; `FINISH` is split by `end_reason`.
    Aliexpress,
    /// Amazon MWS order statuses.
    Mws,
    /// Magento 1 order states and statuses.
    Magento,
}

impl StatusPreset {
    /// Every preset.
    pub const ALL: [StatusPreset; 6] = [
        StatusPreset::Cj,
        StatusPreset::Printful,
        StatusPreset::ShopifyFulfillment,
        StatusPreset::Aliexpress,
        StatusPreset::Mws,
        StatusPreset::Magento,
    ];

    fn words(self) -> &'static [(&'static str, OrderStatus)] {
        use OrderStatus::*;
        match self {
            StatusPreset::Cj => &[
                ("CREATED", Pending),
                ("IN_CART", Pending),
                ("UNPAID", Pending),
                ("PENDING", Accepted),
                ("UNSHIPPED", Accepted),
                ("PROCESSING", Processing),
                ("SHIPPED", Shipped),
                ("DELIVERED", Delivered),
                ("CANCELLED", Cancelled),
            ],
            StatusPreset::Printful => &[
                ("draft", Pending),
                ("inreview", Pending),
                ("pending", Accepted),
                ("inprocess", Processing),
                ("onhold", OnHold),
                ("partial", PartiallyShipped),
                ("fulfilled", Shipped),
                ("canceled", Cancelled),
                ("failed", Failed),
            ],
            // FULFILLMENT_NOT_REQUIRED has no canonical meaning and stays Unknown on purpose.
            StatusPreset::ShopifyFulfillment => &[
                ("UNFULFILLED", Pending),
                ("OPEN", Pending),
                ("RESTOCKED", Pending),
                ("SCHEDULED", Accepted),
                ("IN_PROGRESS", Processing),
                ("PENDING_FULFILLMENT", Processing),
                ("ON_HOLD", OnHold),
                ("PARTIALLY_FULFILLED", PartiallyShipped),
                ("FULFILLED", Shipped),
                ("REQUEST_DECLINED", Failed),
            ],
            StatusPreset::Aliexpress => &[
                ("PLACE_ORDER_SUCCESS", Pending),
                ("PAYMENT_PROCESSING", Pending),
                ("RISK_CONTROL", Pending),
                ("WAIT_SELLER_EXAMINE_MONEY", Pending),
                ("WAIT_SELLER_SEND_GOODS", Accepted),
                ("IN_CANCEL", OnHold),
                ("IN_ISSUE", OnHold),
                ("IN_FROZEN", OnHold),
                ("RISK_CONTROL_HOLD", OnHold),
                ("SELLER_PART_SEND_GOODS", PartiallyShipped),
                ("WAIT_BUYER_ACCEPT_GOODS", Shipped),
                ("FUND_PROCESSING", Shipped),
                ("FINISH", Delivered),
            ],
            StatusPreset::Mws => &[
                ("PendingAvailability", Pending),
                ("Pending", Pending),
                ("Unshipped", Accepted),
                ("PartiallyShipped", PartiallyShipped),
                ("Shipped", Shipped),
                ("InvoiceUnconfirmed", Shipped),
                ("Canceled", Cancelled),
                ("Unfulfillable", Failed),
            ],
            StatusPreset::Magento => &[
                ("new", Pending),
                ("pending", Pending),
                ("pending_payment", Pending),
                ("payment_review", OnHold),
                ("fraud", OnHold),
                ("holded", OnHold),
                ("processing", Processing),
                ("complete", Shipped),
                ("closed", Returned),
                ("canceled", Cancelled),
            ],
        }
    }

    /// Words that change meaning with a reason field: (word, reason, status).
    fn reasons(self) -> &'static [(&'static str, &'static str, OrderStatus)] {
        match self {
            StatusPreset::Aliexpress => &[
                (
                    "FINISH",
                    "buyer_cancel_notpay_order",
                    OrderStatus::Cancelled,
                ),
                ("FINISH", "buyer_pay_timeout", OrderStatus::Cancelled),
                ("FINISH", "risk_reject_closed", OrderStatus::Cancelled),
            ],
            _ => &[],
        }
    }
}

/// Maps one supplier's status words to [`OrderStatus`], case-insensitively.
///
/// Some suppliers qualify a word with a reason (AliExpress `FINISH` + `end_reason`): a
/// (word, reason) entry wins over the word alone, and a word seen with a reason the map does not
/// know becomes `Unknown("WORD:reason")` rather than a guess.
///
/// In a config file (every part optional; `words` and `reasons` override the preset):
/// ```json
/// { "preset": "aliexpress",
///   "words": { "WAIT_BUYER_ACCEPT_GOODS": "shipped" },
///   "reasons": { "FINISH": { "seller_send_goods_timeout": "cancelled" } } }
/// ```
///
/// ```
/// use dropship::{OrderStatus, StatusMap, StatusPreset};
/// let map = StatusMap::preset(StatusPreset::Printful).with_word("archived", OrderStatus::Delivered);
/// assert_eq!(map.map("Fulfilled"), OrderStatus::Shipped);
/// assert_eq!(map.map("archived"), OrderStatus::Delivered);
/// assert_eq!(map.map("teleported"), OrderStatus::Unknown("teleported".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "StatusMapSpec", into = "StatusMapSpec")]
pub struct StatusMap {
    words: HashMap<String, OrderStatus>,
    reasons: HashMap<(String, String), OrderStatus>,
    /// Words that appear in `reasons`, so an unknown reason is recognized as such.
    qualified: HashMap<String, ()>,
    spec: StatusMapSpec,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StatusMapSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    preset: Option<StatusPreset>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    words: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    reasons: BTreeMap<String, BTreeMap<String, String>>,
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

fn canonical(path: &str, name: &str) -> Result<OrderStatus, String> {
    OrderStatus::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = OrderStatus::NAMED.iter().map(|(n, _)| *n).collect();
        format!(
            "{path}: {name:?} is not a canonical status; use one of {}",
            names.join(", ")
        )
    })
}

impl TryFrom<StatusMapSpec> for StatusMap {
    type Error = String;
    fn try_from(spec: StatusMapSpec) -> Result<Self, String> {
        let mut map = match spec.preset {
            Some(p) => StatusMap::preset(p),
            None => StatusMap::default(),
        };
        for (word, name) in &spec.words {
            let status = canonical(&format!("words.{word}"), name)?;
            map = map.with_word(word, status);
        }
        for (word, by_reason) in &spec.reasons {
            for (reason, name) in by_reason {
                let status = canonical(&format!("reasons.{word}.{reason}"), name)?;
                map = map.with_reason(word, reason, status);
            }
        }
        map.spec = spec;
        Ok(map)
    }
}

impl From<StatusMap> for StatusMapSpec {
    fn from(m: StatusMap) -> Self {
        m.spec
    }
}

impl StatusMap {
    /// An empty map: every word is `Unknown`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ready-made vocabulary.
    pub fn preset(preset: StatusPreset) -> Self {
        let mut map = StatusMap::default();
        for (word, status) in preset.words() {
            map.words.insert(fold(word), status.clone());
        }
        for (word, reason, status) in preset.reasons() {
            map.insert_reason(word, reason, status.clone());
        }
        map.spec.preset = Some(preset);
        map
    }

    /// Adds or replaces one word.
    pub fn with_word(mut self, word: &str, status: OrderStatus) -> Self {
        self.words.insert(fold(word), status.clone());
        self.spec
            .words
            .insert(word.to_string(), status.name().to_string());
        self
    }

    /// Adds or replaces one (word, reason) pair.
    pub fn with_reason(mut self, word: &str, reason: &str, status: OrderStatus) -> Self {
        self.insert_reason(word, reason, status.clone());
        self.spec
            .reasons
            .entry(word.to_string())
            .or_default()
            .insert(reason.to_string(), status.name().to_string());
        self
    }

    fn insert_reason(&mut self, word: &str, reason: &str, status: OrderStatus) {
        self.qualified.insert(fold(word), ());
        self.reasons.insert((fold(word), fold(reason)), status);
    }

    /// Maps a word; unknown words come back as `Unknown` with the word trimmed but otherwise as
    /// the supplier wrote it.
    pub fn map(&self, word: &str) -> OrderStatus {
        self.map_with_reason(word, None)
    }

    /// Maps a word qualified by a reason (an empty or missing reason is no reason).
    pub fn map_with_reason(&self, word: &str, reason: Option<&str>) -> OrderStatus {
        let key = fold(word);
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(reason) = reason {
            if let Some(s) = self.reasons.get(&(key.clone(), fold(reason))) {
                return s.clone();
            }
            if self.qualified.contains_key(&key) {
                return OrderStatus::Unknown(format!("{}:{reason}", word.trim()));
            }
        }
        match self.words.get(&key) {
            Some(s) => s.clone(),
            None => OrderStatus::Unknown(word.trim().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    /// Every word of every documented vocabulary, with the status SUPPLIERS.md's table gives it.
    #[test]
    fn every_listed_vocabulary_maps() {
        let expect: &[(StatusPreset, &[(&str, OrderStatus)])] = &[
            (
                StatusPreset::Cj,
                &[
                    ("CREATED", Pending),
                    ("IN_CART", Pending),
                    ("UNPAID", Pending),
                    ("PENDING", Accepted),
                    ("UNSHIPPED", Accepted),
                    ("PROCESSING", Processing),
                    ("SHIPPED", Shipped),
                    ("DELIVERED", Delivered),
                    ("CANCELLED", Cancelled),
                ],
            ),
            (
                StatusPreset::Printful,
                &[
                    ("draft", Pending),
                    ("inreview", Pending),
                    ("pending", Accepted),
                    ("failed", Failed),
                    ("canceled", Cancelled),
                    ("inprocess", Processing),
                    ("onhold", OnHold),
                    ("partial", PartiallyShipped),
                    ("fulfilled", Shipped),
                ],
            ),
            (
                StatusPreset::ShopifyFulfillment,
                &[
                    ("UNFULFILLED", Pending),
                    ("PARTIALLY_FULFILLED", PartiallyShipped),
                    ("FULFILLED", Shipped),
                    ("IN_PROGRESS", Processing),
                    ("ON_HOLD", OnHold),
                    ("SCHEDULED", Accepted),
                    ("REQUEST_DECLINED", Failed),
                    ("OPEN", Pending),
                    ("RESTOCKED", Pending),
                    ("PENDING_FULFILLMENT", Processing),
                ],
            ),
            (
                StatusPreset::Aliexpress,
                &[
                    ("PLACE_ORDER_SUCCESS", Pending),
                    ("PAYMENT_PROCESSING", Pending),
                    ("RISK_CONTROL", Pending),
                    ("RISK_CONTROL_HOLD", OnHold),
                    ("WAIT_SELLER_EXAMINE_MONEY", Pending),
                    ("WAIT_SELLER_SEND_GOODS", Accepted),
                    ("SELLER_PART_SEND_GOODS", PartiallyShipped),
                    ("WAIT_BUYER_ACCEPT_GOODS", Shipped),
                    ("FUND_PROCESSING", Shipped),
                    ("IN_CANCEL", OnHold),
                    ("IN_ISSUE", OnHold),
                    ("IN_FROZEN", OnHold),
                    ("FINISH", Delivered),
                ],
            ),
            (
                StatusPreset::Mws,
                &[
                    ("PendingAvailability", Pending),
                    ("Pending", Pending),
                    ("Unshipped", Accepted),
                    ("PartiallyShipped", PartiallyShipped),
                    ("Shipped", Shipped),
                    ("InvoiceUnconfirmed", Shipped),
                    ("Canceled", Cancelled),
                    ("Unfulfillable", Failed),
                ],
            ),
            (
                StatusPreset::Magento,
                &[
                    ("new", Pending),
                    ("pending_payment", Pending),
                    ("processing", Processing),
                    ("complete", Shipped),
                    ("closed", Returned),
                    ("canceled", Cancelled),
                    ("holded", OnHold),
                    ("payment_review", OnHold),
                    ("pending", Pending),
                    ("fraud", OnHold),
                ],
            ),
        ];
        for (preset, words) in expect {
            let map = StatusMap::preset(*preset);
            for (word, status) in *words {
                assert_eq!(&map.map(word), status, "{preset:?} {word}");
                // Case-insensitive, whitespace-tolerant.
                assert_eq!(&map.map(&format!(" {} ", word.to_lowercase())), status);
                assert_eq!(&map.map(&word.to_uppercase()), status);
            }
        }
    }

    #[test]
    fn unknown_words_keep_the_raw_word() {
        let map = StatusMap::preset(StatusPreset::ShopifyFulfillment);
        assert_eq!(
            map.map("FULFILLMENT_NOT_REQUIRED"),
            Unknown("FULFILLMENT_NOT_REQUIRED".into())
        );
        assert_eq!(map.map("  Lost In Space "), Unknown("Lost In Space".into()));
        assert_eq!(StatusMap::new().map("shipped"), Unknown("shipped".into()));
    }

    #[test]
    fn reasons_split_a_word_and_unknown_reasons_stay_unknown() {
        let map = StatusMap::preset(StatusPreset::Aliexpress);
        assert_eq!(map.map_with_reason("FINISH", None), Delivered);
        assert_eq!(map.map_with_reason("FINISH", Some("")), Delivered);
        assert_eq!(
            map.map_with_reason("FINISH", Some("buyer_pay_timeout")),
            Cancelled
        );
        assert_eq!(
            map.map_with_reason("finish", Some("RISK_REJECT_CLOSED")),
            Cancelled
        );
        assert_eq!(
            map.map_with_reason("FINISH", Some("something_new")),
            Unknown("FINISH:something_new".into())
        );
        // A reason on a word that has no reason table is ignored.
        assert_eq!(map.map_with_reason("IN_ISSUE", Some("x")), OnHold);
    }

    #[test]
    fn config_form_overrides_preset_and_refuses_bad_names() {
        let map: StatusMap = serde_json::from_str(
            r#"{"preset":"cj","words":{"PENDING":"pending","LOST":"failed"},
                "reasons":{"CANCELLED":{"fraud":"on_hold"}}}"#,
        )
        .unwrap();
        assert_eq!(map.map("pending"), Pending);
        assert_eq!(map.map("LOST"), Failed);
        assert_eq!(map.map("SHIPPED"), Shipped);
        assert_eq!(map.map_with_reason("CANCELLED", Some("fraud")), OnHold);
        let back: StatusMap = serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
        assert_eq!(back.map("LOST"), Failed);

        let err = serde_json::from_str::<StatusMap>(r#"{"words":{"X":"unknown"}}"#).unwrap_err();
        assert!(err.to_string().contains("words.X"), "{err}");
        assert!(serde_json::from_str::<StatusMap>(r#"{"preset":"ebay"}"#).is_err());
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = OrderStatus::NAMED
            .iter()
            .filter(|(_, s)| s.is_terminal())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(terminal, ["delivered", "cancelled", "returned", "failed"]);
        assert!(!Unknown("x".into()).is_terminal());
    }

    #[test]
    fn names_round_trip() {
        for (name, status) in OrderStatus::NAMED {
            assert_eq!(OrderStatus::from_name(name), Some(status.clone()));
            assert_eq!(status.name(), name);
        }
        assert_eq!(OrderStatus::from_name("unknown"), None);
        assert_eq!(Unknown("X".into()).to_string(), "unknown(X)");
    }
}
