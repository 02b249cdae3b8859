use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Problem;

/// A shipping address: personal data.
///
/// `Debug` shows only the country and which fields are filled, never their contents, so an
/// address that ends up in a log line or a panic message leaks nothing. `Serialize` writes every
/// field (the supplier needs them); treat serialized orders as personal data.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Recipient's full name.
    pub name: String,
    /// Company, if any.
    pub company: Option<String>,
    /// First address line.
    pub line1: String,
    /// Second address line.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or region code, where the country has them.
    pub region: Option<String>,
    /// Postal code, where the country has them.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code (`US`, `DE`).
    pub country_code: String,
    /// Phone number, often required by carriers.
    pub phone: Option<String>,
    /// E-mail, for carrier notifications.
    pub email: Option<String>,
}

impl Address {
    /// Checks the fields every supplier needs: name, line 1, city and a two-letter country
    /// code, and that no field holds control characters. Returns every problem found, with
    /// paths relative to the address (`city`, `country_code`).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (path, value) in [
            ("name", &self.name),
            ("line1", &self.line1),
            ("city", &self.city),
        ] {
            if value.trim().is_empty() {
                out.push(Problem::new(path, "is required"));
            }
        }
        let cc = self.country_code.as_bytes();
        if cc.len() != 2 || !cc.iter().all(u8::is_ascii_uppercase) {
            out.push(Problem::new(
                "country_code",
                "must be an ISO 3166-1 alpha-2 code in upper case, such as US",
            ));
        }
        for (path, value) in self.fields() {
            if value.is_some_and(|v| v.chars().any(char::is_control)) {
                out.push(Problem::new(path, "holds a control character"));
            }
        }
        out
    }

    /// Every field by name, for templates and required-field checks.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 10] {
        [
            ("name", Some(self.name.as_str())),
            ("company", self.company.as_deref()),
            ("line1", Some(self.line1.as_str())),
            ("line2", self.line2.as_deref()),
            ("city", Some(self.city.as_str())),
            ("region", self.region.as_deref()),
            ("postal_code", self.postal_code.as_deref()),
            ("country_code", Some(self.country_code.as_str())),
            ("phone", self.phone.as_deref()),
            ("email", self.email.as_deref()),
        ]
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filled: Vec<&str> = self
            .fields()
            .into_iter()
            .filter(|(_, v)| v.is_some_and(|v| !v.is_empty()))
            .map(|(k, _)| k)
            .collect();
        // The country is coarse enough to keep for debugging routing; everything else is hidden.
        let country = if self.country_code.len() == 2 {
            self.country_code.as_str()
        } else {
            "?"
        };
        f.debug_struct("Address")
            .field("country_code", &country)
            .field("filled", &filled)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_personal_data() {
        let a = Address {
            name: "Ada Lovelace".into(),
            line1: "12 St James's Square".into(),
            city: "London".into(),
            postal_code: Some("SW1Y 4JH".into()),
            country_code: "GB".into(),
            phone: Some("+44 20 7946 0000".into()),
            email: Some("ada@example.org".into()),
            ..Address::default()
        };
        let dbg = format!("{a:?} {a:#?}");
        for secret in ["Ada", "James", "London", "SW1Y", "7946", "ada@"] {
            assert!(!dbg.contains(secret), "{secret} leaked in {dbg}");
        }
        assert!(dbg.contains("GB"));
        assert!(a.problems().is_empty());
    }

    #[test]
    fn problems_name_each_missing_field() {
        let a = Address {
            line1: "x\ny".into(),
            country_code: "gb".into(),
            ..Address::default()
        };
        let paths: Vec<_> = a.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["name", "city", "country_code", "line1"]);
    }
}
