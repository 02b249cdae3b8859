use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use smol_str::{SmolStr, StrExt};

use super::sku::{Sku, SkuError, SupplierSku};

/// Letter case applied to a SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseRule {
    /// Keep the case as it is.
    #[default]
    Preserve,
    /// Upper-case (Unicode-aware).
    Upper,
    /// Lower-case (Unicode-aware).
    Lower,
}

impl CaseRule {
    /// `s` in this case, as a canonical SKU. ASCII text (nearly every SKU) is folded by byte
    /// straight into the SKU's inline storage, without the Unicode tables. `checked` says `s`
    /// was already validated: folding ASCII keeps it valid, so it is not checked again.
    fn sku(self, s: &str, checked: bool) -> Result<Sku, SkuError> {
        let ascii = s.is_ascii();
        let folded = match self {
            CaseRule::Preserve => SmolStr::new(s),
            CaseRule::Upper if ascii => s.to_ascii_uppercase_smolstr(),
            CaseRule::Lower if ascii => s.to_ascii_lowercase_smolstr(),
            // Unicode folding by `str`'s own rules (Greek final sigma depends on context, which
            // a character-by-character fold would miss).
            CaseRule::Upper | CaseRule::Lower => SmolStr::from(self.apply(s)),
        };
        if checked && (ascii || self == CaseRule::Preserve) {
            Ok(Sku::from_checked(folded))
        } else {
            Sku::from_smol(folded)
        }
    }

    fn apply(self, s: &str) -> String {
        match self {
            CaseRule::Preserve => s.to_string(),
            // ASCII (nearly every SKU) folds by byte, without the Unicode tables.
            CaseRule::Upper if s.is_ascii() => s.to_ascii_uppercase(),
            CaseRule::Lower if s.is_ascii() => s.to_ascii_lowercase(),
            CaseRule::Upper => s.to_uppercase(),
            CaseRule::Lower => s.to_lowercase(),
        }
    }
}

/// How one supplier's SKU spellings map to the merchant's canonical [`Sku`]s, both ways.
///
/// Inbound ([`normalize`](SkuRules::normalize)), in this order:
/// 1. trim white space (on by default);
/// 2. an exact match in the alias table wins and ends the rules;
/// 3. strip the supplier prefix, then the supplier suffix (ASCII case-insensitive match);
/// 4. remove every separator character listed in `strip_separators`;
/// 5. fold case to `case`.
///
/// Outbound ([`denormalize`](SkuRules::denormalize)): the alias table if it names the SKU, else
/// `supplier_case`, then prefix and suffix added back. Stripped separators cannot be restored by
/// rules; when a supplier needs them, prefer the spelling learned from its own feed
/// ([`normalize_batch`](SkuRules::normalize_batch) returns it) or an alias.
///
/// In a config file:
/// ```json
/// { "trim": true, "case": "upper", "strip_separators": "-_ ",
///   "supplier_prefix": "CJ", "supplier_case": "lower",
///   "aliases": { "MUG-BLUE": "8123456" } }
/// ```
///
/// ```
/// use dropship::{CaseRule, SkuRules, Sku};
/// let rules = SkuRules::builder()
///     .case(CaseRule::Upper)
///     .supplier_prefix("CJ-")
///     .alias("MUG-BLUE", "8123456")
///     .build()
///     .unwrap();
/// assert_eq!(rules.normalize(" cj-tshirt-red ").unwrap().as_str(), "TSHIRT-RED");
/// assert_eq!(rules.normalize("8123456").unwrap().as_str(), "MUG-BLUE");
/// let sku = Sku::new("MUG-BLUE").unwrap();
/// assert_eq!(rules.denormalize(&sku).unwrap().as_str(), "8123456");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SkuRulesSpec", into = "SkuRulesSpec")]
pub struct SkuRules {
    spec: SkuRulesSpec,
    /// Supplier spelling -> canonical, built once from the alias table.
    reverse: HashMap<String, Sku>,
    /// Canonical -> supplier spelling, validated.
    forward: BTreeMap<Sku, SupplierSku>,
}

/// The serialized form of [`SkuRules`], validated into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SkuRulesSpec {
    trim: bool,
    case: CaseRule,
    strip_separators: String,
    supplier_prefix: Option<String>,
    supplier_suffix: Option<String>,
    supplier_case: CaseRule,
    aliases: BTreeMap<String, String>,
}

impl Default for SkuRulesSpec {
    fn default() -> Self {
        SkuRulesSpec {
            trim: true,
            case: CaseRule::Preserve,
            strip_separators: String::new(),
            supplier_prefix: None,
            supplier_suffix: None,
            supplier_case: CaseRule::Preserve,
            aliases: BTreeMap::new(),
        }
    }
}

impl TryFrom<SkuRulesSpec> for SkuRules {
    type Error = String;

    fn try_from(spec: SkuRulesSpec) -> Result<Self, String> {
        let mut forward = BTreeMap::new();
        let mut reverse: HashMap<String, Sku> = HashMap::new();
        for (canonical, spelling) in &spec.aliases {
            let c = Sku::new(canonical.as_str())
                .map_err(|e| format!("aliases: key {canonical:?}: {e}"))?;
            let s = SupplierSku::new(spelling.trim())
                .map_err(|e| format!("aliases.{canonical}: {e}"))?;
            if let Some(other) = reverse.get(s.as_str()) {
                return Err(format!(
                    "aliases: {other} and {c} both map to supplier SKU {:?}",
                    s.as_str()
                ));
            }
            reverse.insert(s.as_str().to_string(), c.clone());
            forward.insert(c, s);
        }
        for (what, v) in [
            ("supplier_prefix", &spec.supplier_prefix),
            ("supplier_suffix", &spec.supplier_suffix),
        ] {
            if let Some(v) = v
                && (v.is_empty() || v.chars().any(char::is_control))
            {
                return Err(format!(
                    "{what}: must be non-empty text without control characters"
                ));
            }
        }
        if spec.strip_separators.chars().any(char::is_alphanumeric) {
            return Err(
                "strip_separators: must not hold letters or digits (they are part of SKUs)".into(),
            );
        }
        Ok(SkuRules {
            spec,
            reverse,
            forward,
        })
    }
}

impl From<SkuRules> for SkuRulesSpec {
    fn from(r: SkuRules) -> Self {
        r.spec
    }
}

impl Default for SkuRules {
    /// Trim white space, nothing else: the supplier's spelling is the canonical SKU.
    fn default() -> Self {
        SkuRules {
            spec: SkuRulesSpec::default(),
            reverse: HashMap::new(),
            forward: BTreeMap::new(),
        }
    }
}

/// The outcome of normalizing a whole feed's SKUs at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizedBatch {
    /// Each distinct supplier spelling with its canonical SKU, in first-seen order.
    pub mapped: Vec<(SupplierSku, Sku)>,
    /// Raw spellings that could not be mapped, with why; a collision lists every colliding
    /// spelling here, each with the same [`SkuError::Collision`].
    pub rejected: Vec<(String, SkuError)>,
    /// Spelling -> position in `mapped` or `rejected`, so lookups stay O(1) on 10,000-item pages.
    index: HashMap<String, Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Mapped(usize),
    Rejected(usize),
}

impl NormalizedBatch {
    /// The canonical SKU for a raw spelling of this batch, if it was mapped.
    pub fn canonical(&self, raw: &str) -> Option<&Sku> {
        match self.index.get(raw).or_else(|| self.index.get(raw.trim()))? {
            Slot::Mapped(i) => self.mapped.get(*i).map(|(_, c)| c),
            Slot::Rejected(_) => None,
        }
    }

    /// Why a raw spelling of this batch was rejected, if it was.
    pub fn rejection(&self, raw: &str) -> Option<&SkuError> {
        match self.index.get(raw).or_else(|| self.index.get(raw.trim()))? {
            Slot::Rejected(i) => self.rejected.get(*i).map(|(_, e)| e),
            Slot::Mapped(_) => None,
        }
    }
}

impl SkuRules {
    /// A builder starting from the defaults (trim only).
    pub fn builder() -> SkuRulesBuilder {
        SkuRulesBuilder {
            spec: SkuRulesSpec::default(),
        }
    }

    /// Maps a supplier's spelling to the canonical SKU (see the type docs for the steps).
    pub fn normalize(&self, raw: &str) -> Result<Sku, SkuError> {
        self.normalize_spelled(self.spelled(raw))
    }

    /// [`normalize`](SkuRules::normalize) for a spelling already through [`spelled`](Self::spelled).
    pub(crate) fn normalize_spelled(&self, s: &str) -> Result<Sku, SkuError> {
        self.normalize_checking(s).map(|(sku, _)| sku)
    }

    /// [`normalize_spelled`](Self::normalize_spelled), also saying whether `s` itself passed
    /// the SKU checks on the way (it did unless an alias matched), so a caller keeping the
    /// spelling as a [`SupplierSku`] need not check it again.
    pub(crate) fn normalize_checking(&self, s: &str) -> Result<(Sku, bool), SkuError> {
        if let Some(c) = self.reverse.get(s) {
            return Ok((c.clone(), false));
        }
        // Validate the raw text before transforming it, so the error shows what the supplier sent.
        check_spelling(s)?;
        let mut rest = s;
        if let Some(p) = &self.spec.supplier_prefix {
            rest = strip_prefix_ci(rest, p).unwrap_or(rest);
        }
        if let Some(x) = &self.spec.supplier_suffix {
            rest = strip_suffix_ci(rest, x).unwrap_or(rest);
        }
        let seps = &self.spec.strip_separators;
        // Separators are only filtered out (into a new String) when there are some. Stripping
        // can leave nothing, so only untouched text skips the check of the result.
        let sku = if !seps.is_empty() && rest.contains(|c| seps.contains(c)) {
            let stripped: String = rest.chars().filter(|c| !seps.contains(*c)).collect();
            self.spec.case.sku(&stripped, false)
        } else {
            self.spec.case.sku(rest, rest.len() == s.len())
        }?;
        Ok((sku, true))
    }

    /// Whether distinct spellings always have distinct canonical SKUs: no alias, prefix,
    /// suffix, separator or case rule can make two of them meet (the canonical SKU is the
    /// spelling itself). A page then needs no collision check.
    pub(crate) fn one_to_one(&self) -> bool {
        let s = &self.spec;
        self.reverse.is_empty()
            && s.supplier_prefix.is_none()
            && s.supplier_suffix.is_none()
            && s.strip_separators.is_empty()
            && s.case == CaseRule::Preserve
    }

    /// Maps a canonical SKU to the supplier's spelling, for outbound orders.
    pub fn denormalize(&self, sku: &Sku) -> Result<SupplierSku, SkuError> {
        if let Some(s) = self.forward.get(sku) {
            return Ok(s.clone());
        }
        let body = self.spec.supplier_case.apply(sku.as_str());
        let prefix = self.spec.supplier_prefix.as_deref().unwrap_or("");
        let suffix = self.spec.supplier_suffix.as_deref().unwrap_or("");
        SupplierSku::new(format!("{prefix}{body}{suffix}"))
    }

    /// The spelling the rules compare: trimmed unless `trim` is off.
    pub(crate) fn spelled<'a>(&self, raw: &'a str) -> &'a str {
        if self.spec.trim {
            crate::text::trim(raw)
        } else {
            raw
        }
    }

    /// [`spelled`](Self::spelled) for a caller that has trimmed `raw` already.
    pub(crate) fn spelled_from<'a>(&self, raw: &'a str, trimmed: &'a str) -> &'a str {
        if self.spec.trim { trimmed } else { raw }
    }

    /// Normalizes every spelling and groups the results by canonical SKU.
    fn group<'a>(&self, spelled: &[&'a str]) -> Grouped<'a> {
        let results: Vec<Result<Sku, SkuError>> =
            spelled.iter().map(|s| self.normalize_spelled(s)).collect();
        let (_, groups) = group_by_canonical(spelled, &results);
        Grouped { results, groups }
    }

    /// Every input's canonical SKU or why it has none, colliding spellings each getting the
    /// [`SkuError::Collision`]: the plain reference the streaming mapper
    /// (`adapters::items::StockMapper`) is tested against.
    #[cfg(test)]
    pub(crate) fn normalize_each<'a, I>(&self, raws: I) -> Vec<Result<Sku, SkuError>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let spelled: Vec<&str> = raws.into_iter().map(|r| self.spelled(r)).collect();
        let mut results: Vec<Result<Sku, SkuError>> =
            spelled.iter().map(|s| self.normalize_spelled(s)).collect();
        let (group_of, groups) = group_by_canonical(&spelled, &results);
        let errors: Vec<Option<SkuError>> = groups
            .iter()
            .map(|g| match results.get(g.first) {
                Some(Ok(c)) if g.spellings.len() > 1 => Some(collision(c, &g.spellings)),
                _ => None,
            })
            .collect();
        for (r, g) in results.iter_mut().zip(&group_of) {
            if let Some(Some(err)) = errors.get(*g) {
                *r = Err(err.clone());
            }
        }
        results
    }

    /// Normalizes every spelling of a feed, detecting spellings that collide on one canonical
    /// SKU. Colliding spellings are all rejected (never merged), so the caller can report them.
    /// The same spelling seen twice (one row per warehouse) is not a collision.
    pub fn normalize_batch<'a, I>(&self, raws: I) -> NormalizedBatch
    where
        I: IntoIterator<Item = &'a str>,
    {
        let raws: Vec<&str> = raws.into_iter().collect();
        let spelled: Vec<&str> = raws.iter().map(|r| self.spelled(r)).collect();
        let Grouped { results, groups } = self.group(&spelled);
        let mut index: HashMap<String, Slot> = HashMap::with_capacity(spelled.len());
        let mut rejected = Vec::new();
        // Per-spelling errors, each spelling once, in the order first seen.
        for ((raw, s), r) in raws.iter().zip(&spelled).zip(&results) {
            if let Err(e) = r
                && !index.contains_key(*s)
            {
                index.insert(s.to_string(), Slot::Rejected(rejected.len()));
                rejected.push((raw.to_string(), e.clone()));
            }
        }
        let mut mapped = Vec::with_capacity(groups.len());
        for group in &groups {
            let Some(Ok(c)) = results.get(group.first) else {
                continue;
            };
            if let [only] = group.spellings[..] {
                match SupplierSku::new(only) {
                    Ok(s) => {
                        index.insert(only.to_string(), Slot::Mapped(mapped.len()));
                        mapped.push((s, c.clone()));
                    }
                    Err(e) => {
                        index.insert(only.to_string(), Slot::Rejected(rejected.len()));
                        rejected.push((only.to_string(), e));
                    }
                }
            } else {
                let err = collision(c, &group.spellings);
                for s in &group.spellings {
                    index.insert(s.to_string(), Slot::Rejected(rejected.len()));
                    rejected.push((s.to_string(), err.clone()));
                }
            }
        }
        NormalizedBatch {
            mapped,
            rejected,
            index,
        }
    }
}

/// Groups normalized spellings by canonical SKU: each input's group (`usize::MAX` for an
/// error) and the groups in the order first seen.
fn group_by_canonical<'a, E>(
    spelled: &[&'a str],
    results: &[Result<Sku, E>],
) -> (Vec<usize>, Vec<Group<'a>>) {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut group_of = vec![usize::MAX; spelled.len()];
    // Canonical text -> group; keys borrow `results`, so nothing is copied.
    let mut by_canonical: HashMap<&str, usize> = HashMap::with_capacity(spelled.len());
    for (i, (r, s)) in results.iter().zip(spelled).enumerate() {
        let Ok(c) = r else { continue };
        let g = *by_canonical.entry(c.as_str()).or_insert_with(|| {
            groups.push(Group {
                first: i,
                spellings: Vec::new(),
                seen: None,
            });
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(g) {
            group.add(s);
        }
        if let Some(slot) = group_of.get_mut(i) {
            *slot = g;
        }
    }
    (group_of, groups)
}

/// Results of a batch with their grouping by canonical SKU.
struct Grouped<'a> {
    /// Per input.
    results: Vec<Result<Sku, SkuError>>,
    /// In the order first seen.
    groups: Vec<Group<'a>>,
}

/// The distinct spellings of one canonical SKU.
struct Group<'a> {
    /// The first input that has it.
    first: usize,
    /// In the order first seen.
    spellings: Vec<&'a str>,
    /// The same, for groups with many spellings (a feed of case variants), where a linear
    /// search per input would be quadratic.
    seen: Option<HashSet<&'a str>>,
}

impl<'a> Group<'a> {
    /// Adds a spelling unless the group has it already.
    fn add(&mut self, s: &'a str) {
        const LINEAR: usize = 8;
        if let Some(seen) = &mut self.seen {
            if seen.insert(s) {
                self.spellings.push(s);
            }
        } else if !self.spellings.contains(&s) {
            self.spellings.push(s);
            if self.spellings.len() > LINEAR {
                self.seen = Some(self.spellings.iter().copied().collect());
            }
        }
    }
}

fn collision(canonical: &Sku, spellings: &[&str]) -> SkuError {
    SkuError::Collision {
        canonical: canonical.as_str().to_string(),
        spellings: spellings.iter().map(|s| s.to_string()).collect(),
    }
}

/// The checks of [`SupplierSku::new`], without building one: not blank, at most
/// [`MAX_SKU_LEN`](crate::model::MAX_SKU_LEN) bytes, no control characters.
fn check_spelling(s: &str) -> Result<(), SkuError> {
    super::sku::validate(s)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

/// Builds [`SkuRules`]; [`build`](SkuRulesBuilder::build) validates the alias table.
#[derive(Debug, Clone)]
pub struct SkuRulesBuilder {
    spec: SkuRulesSpec,
}

impl SkuRulesBuilder {
    /// Whether to trim white space around supplier spellings (default `true`).
    pub fn trim(mut self, on: bool) -> Self {
        self.spec.trim = on;
        self
    }
    /// Case of canonical SKUs.
    pub fn case(mut self, case: CaseRule) -> Self {
        self.spec.case = case;
        self
    }
    /// Characters removed from supplier spellings on the way in (for example `"-_ "`).
    pub fn strip_separators(mut self, chars: impl Into<String>) -> Self {
        self.spec.strip_separators = chars.into();
        self
    }
    /// A prefix the supplier puts before every SKU.
    pub fn supplier_prefix(mut self, p: impl Into<String>) -> Self {
        self.spec.supplier_prefix = Some(p.into());
        self
    }
    /// A suffix the supplier puts after every SKU.
    pub fn supplier_suffix(mut self, s: impl Into<String>) -> Self {
        self.spec.supplier_suffix = Some(s.into());
        self
    }
    /// Case of supplier spellings on the way out.
    pub fn supplier_case(mut self, case: CaseRule) -> Self {
        self.spec.supplier_case = case;
        self
    }
    /// An explicit pair: canonical SKU <-> the supplier's spelling.
    pub fn alias(mut self, canonical: impl Into<String>, supplier: impl Into<String>) -> Self {
        self.spec.aliases.insert(canonical.into(), supplier.into());
        self
    }
    /// Validates and builds: alias keys and values must be valid SKUs and one-to-one.
    pub fn build(self) -> Result<SkuRules, crate::Error> {
        SkuRules::try_from(self.spec)
            .map_err(|m| crate::Error::config(vec![crate::error::Problem::new("sku_rules", m)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SkuRules {
        SkuRules::builder()
            .case(CaseRule::Upper)
            .strip_separators("-_ ")
            .supplier_prefix("CJ")
            .supplier_case(CaseRule::Lower)
            .alias("MUG-BLUE", "8123456")
            .build()
            .unwrap()
    }

    #[test]
    fn unicode_case_folds_by_the_standard_rules() {
        let lower = SkuRules::builder().case(CaseRule::Lower).build().unwrap();
        // Final sigma depends on its place in the word.
        assert_eq!(lower.normalize("ΟΔΟΣ").unwrap().as_str(), "οδος");
        let upper = SkuRules::builder().case(CaseRule::Upper).build().unwrap();
        assert_eq!(upper.normalize("straße").unwrap().as_str(), "STRASSE");
        assert_eq!(upper.normalize("ab-1").unwrap().as_str(), "AB-1");
    }

    #[test]
    fn inbound_applies_every_rule_in_order() {
        let r = rules();
        assert_eq!(
            r.normalize("  cj-tshirt_red m ").unwrap().as_str(),
            "TSHIRTREDM"
        );
        assert_eq!(r.normalize("CJABC").unwrap().as_str(), "ABC");
        // Alias wins before any stripping, and keeps its separators.
        assert_eq!(r.normalize("8123456").unwrap().as_str(), "MUG-BLUE");
        // Unicode case folding.
        assert_eq!(r.normalize("größe").unwrap().as_str(), "GRÖSSE");
    }

    #[test]
    fn outbound_uses_alias_then_case_and_prefix() {
        let r = rules();
        let mug = Sku::new("MUG-BLUE").unwrap();
        assert_eq!(r.denormalize(&mug).unwrap().as_str(), "8123456");
        let cap = Sku::new("CAP9").unwrap();
        assert_eq!(r.denormalize(&cap).unwrap().as_str(), "CJcap9");
        // And back again.
        assert_eq!(r.normalize("CJcap9").unwrap(), cap);
    }

    #[test]
    fn suffix_rule_round_trips() {
        let r = SkuRules::builder().supplier_suffix("-EU").build().unwrap();
        let sku = r.normalize("ABC-eu").unwrap();
        assert_eq!(sku.as_str(), "ABC");
        assert_eq!(r.denormalize(&sku).unwrap().as_str(), "ABC-EU");
    }

    #[test]
    fn invalid_input_is_typed_both_ways() {
        let r = rules();
        assert_eq!(r.normalize("   "), Err(SkuError::Empty));
        // Only the prefix: empty after stripping.
        assert_eq!(r.normalize("CJ"), Err(SkuError::Empty));
        assert!(matches!(
            r.normalize("A\u{1b}B"),
            Err(SkuError::ControlCharacter { .. })
        ));
        assert!(matches!(
            r.normalize(&"x".repeat(500)),
            Err(SkuError::TooLong { len: 500, .. })
        ));
        let long = Sku::new("x".repeat(crate::model::MAX_SKU_LEN)).unwrap();
        assert!(matches!(
            r.denormalize(&long),
            Err(SkuError::TooLong { .. })
        ));
    }

    #[test]
    fn collisions_are_reported_not_merged() {
        let r = rules();
        let batch = r.normalize_batch(["cj-ab-1", "AB1", "cjab_1", "XY", "XY", "", "8123456"]);
        let mapped: Vec<_> = batch
            .mapped
            .iter()
            .map(|(s, c)| (s.as_str(), c.as_str()))
            .collect();
        assert_eq!(mapped, [("XY", "XY"), ("8123456", "MUG-BLUE")]);
        let collided: Vec<_> = batch
            .rejected
            .iter()
            .filter(|(_, e)| matches!(e, SkuError::Collision { .. }))
            .map(|(raw, _)| raw.as_str())
            .collect();
        assert_eq!(collided, ["cj-ab-1", "AB1", "cjab_1"]);
        match &batch.rejected.iter().find(|(r, _)| r == "AB1").unwrap().1 {
            SkuError::Collision {
                canonical,
                spellings,
            } => {
                assert_eq!(canonical, "AB1");
                assert_eq!(spellings.len(), 3);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            batch
                .rejected
                .iter()
                .any(|(raw, e)| raw.is_empty() && *e == SkuError::Empty)
        );
        assert_eq!(batch.canonical(" XY ").unwrap().as_str(), "XY");
    }

    #[test]
    fn alias_table_must_be_one_to_one() {
        let err = SkuRules::builder()
            .alias("A", "x1")
            .alias("B", " x1 ")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(
            err.to_string().contains("both map to supplier SKU \"x1\""),
            "{err}"
        );
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let r: SkuRules = serde_json::from_str(
            r#"{"case":"upper","strip_separators":"-","aliases":{"MUG":"m-1"}}"#,
        )
        .unwrap();
        assert_eq!(r.normalize("a-b").unwrap().as_str(), "AB");
        let back: SkuRules = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<SkuRules>(r#"{"strip_separators":"a"}"#).is_err());
        assert!(serde_json::from_str::<SkuRules>(r#"{"cas":"upper"}"#).is_err());
    }

    #[test]
    fn each_answers_per_input_in_order() {
        let r = rules();
        let got: Vec<_> = r
            .normalize_each(["cj-ab-1", "XY", " XY ", "AB1", "", "8123456"])
            .into_iter()
            .map(|x| x.map(|s| s.as_str().to_string()))
            .collect();
        assert_eq!(got[1], Ok("XY".into()));
        assert_eq!(got[2], Ok("XY".into()), "the same spelling twice");
        assert_eq!(got[4], Err(SkuError::Empty));
        assert_eq!(got[5], Ok("MUG-BLUE".into()));
        for i in [0, 3] {
            assert!(matches!(&got[i], Err(SkuError::Collision { spellings, .. })
                if spellings == &["cj-ab-1", "AB1"]));
        }
        // "cjxy" strips to "XY" too: a collision found late marks the earlier rows as well.
        let late = r.normalize_each(["XY", " XY ", "cjxy"]);
        assert!(late.iter().all(|x| matches!(x,
            Err(SkuError::Collision { spellings, .. }) if spellings == &["XY", "cjxy"])));
        // Many spellings of one SKU (case variants) stay linear and are all reported.
        let variants: Vec<String> = (0..64)
            .map(|i| {
                (0..6)
                    .map(|b| if i >> b & 1 == 1 { 'A' } else { 'a' })
                    .collect()
            })
            .collect();
        let each = r.normalize_each(variants.iter().map(String::as_str));
        assert!(each.iter().all(|x| matches!(x,
            Err(SkuError::Collision { spellings, .. }) if spellings.len() == 64)));
    }

    #[test]
    fn rules_that_cannot_collide_are_told_apart() {
        assert!(SkuRules::default().one_to_one());
        assert!(
            SkuRules::builder()
                .trim(false)
                .build()
                .unwrap()
                .one_to_one()
        );
        for r in [
            rules(),
            SkuRules::builder().case(CaseRule::Lower).build().unwrap(),
            SkuRules::builder().strip_separators("-").build().unwrap(),
            SkuRules::builder().supplier_prefix("CJ").build().unwrap(),
            SkuRules::builder().supplier_suffix("-EU").build().unwrap(),
            SkuRules::builder().alias("A", "x1").build().unwrap(),
        ] {
            assert!(!r.one_to_one(), "{r:?}");
        }
        // Unchecked, the same answers as a checked page.
        let got = SkuRules::default().normalize_each(["XY", " XY ", "xy", "", "XY"]);
        let want: Vec<Result<Sku, SkuError>> = vec![
            Ok(Sku::new("XY").unwrap()),
            Ok(Sku::new("XY").unwrap()),
            Ok(Sku::new("xy").unwrap()),
            Err(SkuError::Empty),
            Ok(Sku::new("XY").unwrap()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn spelling_checks_match_supplier_sku() {
        let long = "x".repeat(crate::model::MAX_SKU_LEN + 1);
        for s in ["ok", " ", "", "a\u{7}b", "größe", long.as_str(), "\u{85}x"] {
            assert_eq!(check_spelling(s), SupplierSku::new(s).map(|_| ()), "{s:?}");
        }
    }
}
