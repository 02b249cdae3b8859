use std::fmt;

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

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

/// The checks every SKU passes: not blank, at most [`MAX_SKU_LEN`] bytes, no control
/// characters. Shared with [`SkuRules`](crate::SkuRules), which checks a supplier's spelling
/// before transforming it.
pub(crate) fn validate(s: &str) -> Result<(), SkuError> {
    if is_blank(s) {
        return Err(SkuError::Empty);
    }
    if s.len() > MAX_SKU_LEN {
        return Err(SkuError::TooLong {
            len: s.len(),
            max: MAX_SKU_LEN,
        });
    }
    // Printable ASCII (nearly every SKU) is settled by one branch-free pass the compiler
    // vectorizes; anything else is searched for the first control character.
    if s.bytes()
        .fold(true, |ok, b| ok & (b.wrapping_sub(0x20) < 0x5f))
    {
        return Ok(());
    }
    // ASCII is checked by byte: there a byte index is the character index.
    let control = if s.is_ascii() {
        s.bytes().position(|b| b.is_ascii_control())
    } else {
        s.chars().position(char::is_control)
    };
    if let Some(index) = control {
        return Err(SkuError::ControlCharacter {
            sku: s.to_string(),
            index,
        });
    }
    Ok(())
}

/// Whether `s` is empty or only white space, as `s.trim().is_empty()` answers, without the
/// trim when the first byte already settles it.
fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(&b) if b.is_ascii() => char::from(b).is_whitespace() && s.trim().is_empty(),
        Some(_) => s.trim().is_empty(),
    }
}

macro_rules! sku_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(SmolStr);

        impl $name {
            /// Validates `s`: not empty or blank, no control characters, at most
            /// [`MAX_SKU_LEN`] bytes. The text is kept exactly as given.
            pub fn new(s: impl AsRef<str>) -> Result<Self, SkuError> {
                Self::from_smol(SmolStr::new(s.as_ref()))
            }

            /// Text [`validate`] already accepted (or that a validity-preserving change,
            /// such as ASCII case folding, made from such text).
            pub(crate) fn from_checked(s: impl Into<SmolStr>) -> Self {
                let s = s.into();
                debug_assert!(validate(&s).is_ok(), "unchecked SKU {s:?}");
                $name(s)
            }

            /// [`new`](Self::new) for text already held as a [`SmolStr`].
            pub(crate) fn from_smol(s: SmolStr) -> Result<Self, SkuError> {
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
                s.0.into()
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
    fn fast_checks_agree_with_the_plain_rules() {
        let long = "é".repeat(MAX_SKU_LEN);
        for s in [
            "",
            " ",
            "\u{b}",
            "\u{3000}",
            " a",
            "\u{3000}a",
            "a\u{7f}",
            "ab\u{1f}",
            "é\u{85}",
            "\u{85}",
            "A-1",
            long.as_str(),
            "\u{a0}x\u{1}",
        ] {
            let plain = if s.trim().is_empty() {
                Err(SkuError::Empty)
            } else if s.len() > MAX_SKU_LEN {
                Err(SkuError::TooLong {
                    len: s.len(),
                    max: MAX_SKU_LEN,
                })
            } else if let Some(index) = s.chars().position(char::is_control) {
                Err(SkuError::ControlCharacter {
                    sku: s.to_string(),
                    index,
                })
            } else {
                Ok(())
            };
            assert_eq!(validate(s), plain, "{s:?}");
        }
    }

    #[test]
    fn serde_validates() {
        let ok: Sku = serde_json::from_str("\"ABC-1\"").unwrap();
        assert_eq!(ok.as_str(), "ABC-1");
        assert!(serde_json::from_str::<Sku>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"ABC-1\"");
    }
}
