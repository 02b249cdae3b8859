use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// Longest SKU accepted, in bytes, for both [`Sku`] and [`SupplierSku`]. Real SKUs are short;
/// anything longer is a mapping mistake (a whole JSON object where a code was expected).
pub const MAX_SKU_LEN: usize = 128;

/// Why a text is not a valid SKU, or why a set of SKUs cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkuError {
    /// Empty, or only white space, or empty after the rules stripped it.
    #[error("SKU is empty")]
    Empty,
    /// Holds a control character (newline, NUL, ...), at this character index.
    #[error("SKU {sku:?} holds a control character at index {index}")]
    ControlCharacter {
        /// The offending SKU, with control characters escaped by `Debug`.
        sku: String,
        /// Character index of the first control character.
        index: usize,
    },
    /// Longer than [`MAX_SKU_LEN`] bytes.
    #[error("SKU is {len} bytes long, over the cap of {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Two or more supplier spellings normalize to one canonical SKU; none of them is merged.
    #[error("supplier SKUs {spellings:?} all normalize to {canonical:?}")]
    Collision {
        /// The canonical SKU they share.
        canonical: String,
        /// Every supplier spelling that maps to it, in the order seen.
        spellings: Vec<String>,
    },
}

impl From<SkuError> for Error {
    fn from(e: SkuError) -> Self {
        Error::new(ErrorKind::Invalid, e.to_string())
    }
}

fn validate(s: &str) -> Result<(), SkuError> {
    if s.trim().is_empty() {
        return Err(SkuError::Empty);
    }
    if s.len() > MAX_SKU_LEN {
        return Err(SkuError::TooLong {
            len: s.len(),
            max: MAX_SKU_LEN,
        });
    }
    if let Some(index) = s.chars().position(char::is_control) {
        return Err(SkuError::ControlCharacter {
            sku: s.to_string(),
            index,
        });
    }
    Ok(())
}

macro_rules! sku_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s`: not empty or blank, no control characters, at most
            /// [`MAX_SKU_LEN`] bytes. The text is kept exactly as given.
            pub fn new(s: impl Into<String>) -> Result<Self, SkuError> {
                let s = s.into();
                validate(&s)?;
                Ok($name(s))
            }

            /// The SKU as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = SkuError;
            fn try_from(s: String) -> Result<Self, SkuError> {
                $name::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = SkuError;
            fn try_from(s: &str) -> Result<Self, SkuError> {
                $name::new(s)
            }
        }

        impl From<$name> for String {
            fn from(s: $name) -> String {
                s.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

sku_newtype!(
    /// The merchant's canonical SKU: the one name a product has across every supplier.
    ///
    /// Produced from a supplier's spelling by [`SkuRules::normalize`](crate::SkuRules::normalize).
    ///
    /// ```
    /// use dropship::Sku;
    /// assert_eq!(Sku::new("TSHIRT-RED-M").unwrap().as_str(), "TSHIRT-RED-M");
    /// assert!(Sku::new("  ").is_err());
    /// assert!(Sku::new("A\nB").is_err());
    /// ```
    Sku
);

sku_newtype!(
    /// A SKU as one supplier spells it (`cj-tshirt_red_m`, `8123456`), kept byte for byte so an
    /// order can be sent back to that supplier in its own spelling.
    SupplierSku
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_skus_are_typed() {
        assert_eq!(Sku::new(""), Err(SkuError::Empty));
        assert_eq!(Sku::new(" \t"), Err(SkuError::Empty));
        assert!(matches!(
            Sku::new("AB\u{0}C"),
            Err(SkuError::ControlCharacter { index: 2, .. })
        ));
        assert_eq!(
            SupplierSku::new("x".repeat(MAX_SKU_LEN + 1)),
            Err(SkuError::TooLong {
                len: MAX_SKU_LEN + 1,
                max: MAX_SKU_LEN
            })
        );
        assert!(Sku::new("x".repeat(MAX_SKU_LEN)).is_ok());
    }

    #[test]
    fn serde_validates() {
        let ok: Sku = serde_json::from_str("\"ABC-1\"").unwrap();
        assert_eq!(ok.as_str(), "ABC-1");
        assert!(serde_json::from_str::<Sku>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"ABC-1\"");
    }
}
