//! WS-Security UsernameToken (OASIS Username Token Profile 1.0) for SOAP suppliers.
//!
//! With `PasswordDigest`, the password never travels: the header carries
//! `Base64(SHA-1(nonce + created + password))`, the nonce (base64) and the creation time, all
//! new for every attempt. With `PasswordText` it travels as written, so it needs https.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::BytesText;
use secrecy::{ExposeSecret, SecretString};

use super::crypto::{base64, sha1};
use crate::error::{Error, ErrorKind};

/// The WS-Security extension namespace.
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// The WS-Security utility namespace (for `Created`).
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
const PASSWORD_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// `Base64(SHA-1(nonce + created + password))`, with `nonce` as raw bytes and `created` exactly
/// as written in the header.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut input = Vec::with_capacity(nonce.len() + created.len() + password.len());
    input.extend_from_slice(nonce);
    input.extend_from_slice(created.as_bytes());
    input.extend_from_slice(password.as_bytes());
    base64(&sha1(&input))
}

/// Writes `wsse:Security` headers for one user.
#[derive(Clone)]
pub struct UsernameToken {
    username: String,
    password: SecretString,
    digest: bool,
}

impl fmt::Debug for UsernameToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsernameToken")
            .field("username", &self.username)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl UsernameToken {
    /// A token for `username`; `digest` selects `PasswordDigest` over `PasswordText`.
    pub fn new(username: impl Into<String>, password: SecretString, digest: bool) -> Self {
        UsernameToken {
            username: username.into(),
            password,
            digest,
        }
    }

    /// The `<wsse:Security>` element for one attempt, with its namespaces declared on it so it
    /// can be placed in any SOAP header. `nonce` should be 16 fresh random bytes.
    pub fn security_header(&self, nonce: &[u8], created: DateTime<Utc>) -> Result<String, Error> {
        let created = created.to_rfc3339_opts(SecondsFormat::Secs, true);
        let password = self.password.expose_secret();
        let (kind, password_value) = if self.digest {
            (PASSWORD_DIGEST, password_digest(nonce, &created, password))
        } else {
            (PASSWORD_TEXT, password.to_string())
        };
        let nonce_b64 = base64(nonce);
        let mut w = Writer::new(Vec::new());
        w.create_element("wsse:Security")
            .with_attribute(("xmlns:wsse", WSSE_NS))
            .with_attribute(("xmlns:wsu", WSU_NS))
            .write_inner_content(|w| {
                w.create_element("wsse:UsernameToken")
                    .write_inner_content(|w| {
                        w.create_element("wsse:Username")
                            .write_text_content(BytesText::new(&self.username))?;
                        w.create_element("wsse:Password")
                            .with_attribute(("Type", kind))
                            .write_text_content(BytesText::new(&password_value))?;
                        if self.digest {
                            w.create_element("wsse:Nonce")
                                .with_attribute(("EncodingType", BASE64_BINARY))
                                .write_text_content(BytesText::new(&nonce_b64))?;
                        }
                        w.create_element("wsu:Created")
                            .write_text_content(BytesText::new(&created))?;
                        Ok(())
                    })?;
                Ok(())
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Invalid,
                    format!("cannot write WS-Security header: {e}"),
                )
            })?;
        String::from_utf8(w.into_inner())
            .map_err(|_| Error::new(ErrorKind::Invalid, "WS-Security header is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn created() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap()
    }

    #[test]
    fn digest_matches_a_hand_computed_value() {
        // Python: base64.b64encode(hashlib.sha1(b"0123456789abcdef" +
        //   b"2026-11-30T05:00:00Z" + b"s3cret").digest())
        assert_eq!(
            password_digest(b"0123456789abcdef", "2026-11-30T05:00:00Z", "s3cret"),
            EXPECTED_DIGEST
        );
    }

    const EXPECTED_DIGEST: &str = "lXXg7nad7Nfdx0+ceKybfdEEWOY=";

    #[test]
    fn digest_header_carries_no_password_and_escapes_the_user() {
        let t = UsernameToken::new("a&b<c>", SecretString::from("s3cret"), true);
        let xml = t.security_header(b"0123456789abcdef", created()).unwrap();
        assert!(!xml.contains("s3cret"), "{xml}");
        assert!(
            xml.contains("<wsse:Username>a&amp;b&lt;c&gt;</wsse:Username>"),
            "{xml}"
        );
        assert!(
            xml.contains(&format!(">{EXPECTED_DIGEST}</wsse:Password>")),
            "{xml}"
        );
        assert!(xml.contains("<wsse:Nonce EncodingType=\""), "{xml}");
        assert!(
            xml.contains("MDEyMzQ1Njc4OWFiY2RlZg=="),
            "nonce in base64: {xml}"
        );
        assert!(
            xml.contains("<wsu:Created>2026-11-30T05:00:00Z</wsu:Created>"),
            "{xml}"
        );
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn text_mode_sends_the_password_and_no_nonce() {
        let t = UsernameToken::new("u", SecretString::from("p<w"), false);
        let xml = t.security_header(b"n", created()).unwrap();
        assert!(
            xml.contains("#PasswordText\">p&lt;w</wsse:Password>"),
            "{xml}"
        );
        assert!(!xml.contains("Nonce"));
    }
}
