//! A static API key in a header or a query parameter.

use std::fmt;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::config::KeyPlacement;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{AuthHook, SignableRequest};

/// Sends a fixed key on every attempt. In a header the value is marked sensitive; in the query
/// it replaces any parameter of the same name.
#[derive(Clone)]
pub struct ApiKeyAuth {
    placement: KeyPlacement,
    name: String,
    value: SecretString,
}

impl fmt::Debug for ApiKeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyAuth")
            .field("placement", &self.placement)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ApiKeyAuth {
    /// A key named `name`, placed as configured.
    pub fn new(
        placement: KeyPlacement,
        name: impl Into<String>,
        value: SecretString,
    ) -> Result<Self> {
        let name = name.into();
        if placement == KeyPlacement::Header && HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{name:?} is not a valid header name"),
            ));
        }
        Ok(ApiKeyAuth {
            placement,
            name,
            value,
        })
    }
}

/// Replaces every `name` parameter of the URL's query with one `name=value`.
pub(crate) fn set_query_param(url: &mut reqwest::Url, name: &str, value: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
}

#[async_trait]
impl AuthHook for ApiKeyAuth {
    async fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        match self.placement {
            KeyPlacement::Header => {
                let name = HeaderName::from_bytes(self.name.as_bytes())
                    .map_err(|_| Error::new(ErrorKind::Config, "invalid API key header name"))?;
                let mut value =
                    HeaderValue::from_str(self.value.expose_secret()).map_err(|_| {
                        Error::new(ErrorKind::Config, "the API key is not a valid header value")
                    })?;
                value.set_sensitive(true);
                request.headers.insert(name, value);
            }
            KeyPlacement::Query => {
                set_query_param(request.url, &self.name, self.value.expose_secret());
            }
        }
        Ok(())
    }

    fn sent_secrets(&self) -> Vec<String> {
        vec![self.value.expose_secret().to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;
    use reqwest::Method;
    use reqwest::header::HeaderMap;

    #[tokio::test]
    async fn query_key_replaces_an_existing_parameter() {
        let auth = ApiKeyAuth::new(KeyPlacement::Query, "key", SecretString::from("k 1")).unwrap();
        let mut url = reqwest::Url::parse("https://a.example/x?key=old&page=2").unwrap();
        let mut headers = HeaderMap::new();
        let mut req = SignableRequest::new(
            &Method::GET,
            &mut url,
            &mut headers,
            b"",
            Operation::Stock,
            1,
        );
        auth.sign(&mut req).await.unwrap();
        assert_eq!(url.query(), Some("page=2&key=k+1"));
        assert!(!format!("{auth:?}").contains("k 1"));
    }

    #[tokio::test]
    async fn header_key_is_sensitive() {
        let auth =
            ApiKeyAuth::new(KeyPlacement::Header, "X-Api-Key", SecretString::from("abc")).unwrap();
        let mut url = reqwest::Url::parse("https://a.example/x").unwrap();
        let mut headers = HeaderMap::new();
        let mut req = SignableRequest::new(
            &Method::GET,
            &mut url,
            &mut headers,
            b"",
            Operation::Stock,
            1,
        );
        auth.sign(&mut req).await.unwrap();
        assert!(headers["x-api-key"].is_sensitive());
        assert!(
            ApiKeyAuth::new(KeyPlacement::Header, "bad name", SecretString::from("x")).is_err()
        );
    }
}
