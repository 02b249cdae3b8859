use std::fmt;

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::error::{Error, ErrorKind};

/// A supplier's identifier inside the host application: `cj`, `printful-eu`, `acme_soap`.
///
/// 1 to 64 characters from `a-z`, `0-9`, `-`, `_` and `.`, so it is safe in metric names,
/// file names and log fields without escaping. Every stock level carries its supplier's id, so
/// an id of up to 23 bytes is held inline (cloning copies 24 bytes, no allocation and no atomic
/// count) and a longer one is shared.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SupplierId(SmolStr);

impl SupplierId {
    /// Longest accepted identifier.
    pub const MAX_LEN: usize = 64;

    /// Validates `id`.
    ///
    /// ```
    /// use dropship::SupplierId;
    /// assert!(SupplierId::new("cj-us").is_ok());
    /// assert!(SupplierId::new("CJ US").is_err());
    /// ```
    pub fn new(id: impl AsRef<str>) -> Result<Self, Error> {
        let id = id.as_ref();
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "supplier id must be 1 to {} characters, got {}",
                    Self::MAX_LEN,
                    id.len()
                ),
            ));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(*c)))
        {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("supplier id may hold only a-z, 0-9, '-', '_' and '.', found {bad:?}"),
            ));
        }
        Ok(SupplierId(SmolStr::new(id)))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SupplierId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        SupplierId::new(s)
    }
}

impl From<SupplierId> for String {
    fn from(id: SupplierId) -> String {
        id.0.into()
    }
}

impl fmt::Display for SupplierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SupplierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SupplierId({:?})", self.0)
    }
}

impl AsRef<str> for SupplierId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
