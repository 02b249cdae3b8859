use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// An ISO 4217 alphabetic currency code: three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Codes whose minor unit is not 2 digits (ISO 4217 list, current codes).
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];

impl Currency {
    /// Validates a code; lower-case input is accepted and upper-cased.
    ///
    /// ```
    /// use dropship::Currency;
    /// assert_eq!(Currency::new("eur").unwrap().as_str(), "EUR");
    /// assert!(Currency::new("EURO").is_err());
    /// ```
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let b = code.trim().as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::Currency {
                raw: code.chars().take(16).collect(),
            });
        }
        Ok(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Built only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency's minor unit (JPY 0, USD 2, KWD 3).
    pub fn exponent(&self) -> u32 {
        let c = self.as_str();
        if ZERO_DECIMALS.contains(&c) {
            0
        } else if THREE_DECIMALS.contains(&c) {
            3
        } else if FOUR_DECIMALS.contains(&c) {
            4
        } else {
            2
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Currency::new(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Currency::new(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

/// An amount of money: integer minor units (cents) and a currency. Never a float.
///
/// ```
/// use dropship::Money;
/// let price = Money::parse("12.30", "USD").unwrap();
/// assert_eq!(price.minor_units(), 1230);
/// assert_eq!(price.to_string(), "12.30 USD");
/// let total = price.checked_mul(3).unwrap();
/// assert_eq!(total.to_decimal_string(), "36.90");
/// assert!(Money::parse("1.005", "USD").is_err()); // sub-cent amounts are not rounded away
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in the currency's minor unit; negative for refunds and credits.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Not a three-letter code.
    #[error("{raw:?} is not an ISO 4217 currency code")]
    Currency {
        /// What was given (first 16 characters).
        raw: String,
    },
    /// Not a decimal amount, or more decimals than the currency has.
    #[error("{raw:?} is not a valid {currency} amount")]
    Amount {
        /// What was given (first 32 characters).
        raw: String,
        /// The currency it was read in.
        currency: Currency,
    },
    /// Two currencies in one sum.
    #[error("cannot combine {left} and {right}")]
    CurrencyMismatch {
        /// The first currency.
        left: Currency,
        /// The second.
        right: Currency,
    },
    /// The result does not fit.
    #[error("amount overflows")]
    Overflow,
}

impl From<MoneyError> for Error {
    fn from(e: MoneyError) -> Self {
        Error::new(ErrorKind::Invalid, e.to_string())
    }
}

impl Money {
    /// An amount in minor units.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Parses a decimal amount such as `"12.30"`, `"-0.5"` or `"1200"` exactly. More fractional
    /// digits than the currency's exponent are refused unless they are zeros.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let currency = Currency::new(currency)?;
        Self::parse_in(amount, currency)
    }

    /// Like [`parse`](Money::parse) with an already validated currency.
    pub fn parse_in(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let bad = || MoneyError::Amount {
            raw: amount.chars().take(32).collect(),
            currency,
        };
        let t = amount.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() && frac_part.is_empty()
            || !all_digits(int_part)
            || !all_digits(frac_part)
            || (digits.contains('.') && frac_part.is_empty())
        {
            return Err(bad());
        }
        let exp = currency.exponent() as usize;
        let (kept, extra) = frac_part.split_at(frac_part.len().min(exp));
        if extra.bytes().any(|b| b != b'0') {
            return Err(bad());
        }
        let mut minor: i64 = 0;
        let padded = kept
            .bytes()
            .chain(std::iter::repeat_n(b'0', exp - kept.len()));
        for b in int_part.bytes().chain(padded) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        Ok(Money {
            minor: if negative { -minor } else { minor },
            currency,
        })
    }

    /// The amount in minor units.
    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    /// The amount as a decimal string with exactly the currency's digits: `"12.30"`, `"1200"`.
    pub fn to_decimal_string(&self) -> String {
        let exp = self.currency.exponent();
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let div = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / div,
            abs % div,
            width = exp as usize
        )
    }

    /// Sum of two amounts in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The amount times a quantity.
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Money {
        Money::parse(s, "USD").unwrap()
    }

    #[test]
    fn parses_exactly_per_currency_exponent() {
        assert_eq!(usd("12.3").minor, 1230);
        assert_eq!(usd("12.30").minor, 1230);
        assert_eq!(usd("12.300").minor, 1230);
        assert_eq!(usd(".5").minor, 50);
        assert_eq!(usd("-0.01").minor, -1);
        assert_eq!(usd("+7").minor, 700);
        assert_eq!(Money::parse("1200", "jpy").unwrap().minor, 1200);
        assert!(Money::parse("1200.5", "JPY").is_err());
        assert_eq!(Money::parse("1.234", "KWD").unwrap().minor, 1234);
        for bad in ["", ".", "1.", "1,00", "1e3", "--1", "12.345", "abc", " - 1"] {
            assert!(Money::parse(bad, "USD").is_err(), "{bad:?}");
        }
        assert_eq!(
            Money::parse("99999999999999999999", "USD"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn formats_with_currency_digits() {
        assert_eq!(usd("0.05").to_decimal_string(), "0.05");
        assert_eq!(usd("-3.5").to_string(), "-3.50 USD");
        assert_eq!(Money::parse("1200", "JPY").unwrap().to_string(), "1200 JPY");
        assert_eq!(
            Money::parse("0.5", "BHD").unwrap().to_decimal_string(),
            "0.500"
        );
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        assert_eq!(usd("1.10").checked_add(usd("2.25")).unwrap(), usd("3.35"));
        let eur = Money::parse("1", "EUR").unwrap();
        assert!(matches!(
            usd("1").checked_add(eur),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        let big = Money::from_minor(i64::MAX, Currency::new("USD").unwrap());
        assert_eq!(big.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(big.checked_add(usd("0.01")), Err(MoneyError::Overflow));
    }

    #[test]
    fn currency_serde() {
        let m = usd("1.00");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"minor":100,"currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Currency>("\"US\"").is_err());
    }
}
