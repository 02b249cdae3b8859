//! Token exchange: the login endpoint many dropshipping APIs put in front of their API keys
//! (POST the key, read an access token and its expiry from the JSON answer, refresh with a
//! refresh token when one was issued). CJ Dropshipping's `getAccessToken` is the model.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::endpoint::{TokenBody, describe, post_json, seconds, until};
use super::token::{IssuedToken, TokenSource};
use crate::error::{Error, ErrorKind, Operation, Result, sanitize};

/// Where the answer holds the token and its metadata (JSON Pointers).
#[derive(Debug, Clone)]
pub struct TokenPointers {
    /// The access token.
    pub token: String,
    /// Its lifetime in seconds, if given that way.
    pub expires_in: Option<String>,
    /// Its expiry time, if given that way.
    pub expires_at: Option<String>,
    /// A refresh token.
    pub refresh_token: Option<String>,
}

/// Issues tokens from a supplier's own login endpoint.
pub struct TokenExchangeSource {
    client: reqwest::Client,
    login_url: reqwest::Url,
    refresh_url: Option<reqwest::Url>,
    refresh_field: String,
    credentials: BTreeMap<String, SecretString>,
    pointers: TokenPointers,
}

impl std::fmt::Debug for TokenExchangeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchangeSource")
            .field("login_url", &describe(&self.login_url))
            .field(
                "credential_fields",
                &self.credentials.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl TokenExchangeSource {
    /// A source posting `credentials` as a JSON object to `login_url`.
    pub fn new(
        client: reqwest::Client,
        login_url: reqwest::Url,
        credentials: BTreeMap<String, SecretString>,
        pointers: TokenPointers,
    ) -> Self {
        TokenExchangeSource {
            client,
            login_url,
            refresh_url: None,
            refresh_field: "refreshToken".into(),
            credentials,
            pointers,
        }
    }

    /// Refreshes at `url`, posting `{"<field>": "<refresh token>"}`.
    pub fn refresh_at(mut self, url: reqwest::Url, field: impl Into<String>) -> Self {
        self.refresh_url = Some(url);
        self.refresh_field = field.into();
        self
    }

    fn read(&self, url: &reqwest::Url, json: &Value) -> Result<IssuedToken> {
        let token = json
            .pointer(&self.pointers.token)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            // Suppliers of this kind answer 200 with a business error: quote it.
            let said = ["/message", "/msg", "/error"]
                .iter()
                .find_map(|p| json.pointer(p).and_then(Value::as_str))
                .map(|m| format!(": {}", sanitize(m)))
                .unwrap_or_default();
            let mut err = Error::new(
                ErrorKind::Auth,
                format!(
                    "token endpoint {}: no token at {}{said}",
                    describe(url),
                    self.pointers.token
                ),
            )
            .with_operation(Operation::Authenticate);
            if let Some(code) = json.get("code").filter(|c| !c.is_null()) {
                err = err.with_supplier_code(code.to_string().trim_matches('"'));
            }
            return Err(err);
        };
        let at = |p: &Option<String>| p.as_deref().and_then(|p| json.pointer(p));
        let expires_in = at(&self.pointers.expires_in)
            .and_then(seconds)
            .or_else(|| at(&self.pointers.expires_at).and_then(|v| until(v, chrono::Utc::now())));
        Ok(IssuedToken {
            access_token: SecretString::from(token.to_string()),
            expires_in,
            refresh_token: at(&self.pointers.refresh_token)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| SecretString::from(t.to_string())),
        })
    }
}

#[async_trait]
impl TokenSource for TokenExchangeSource {
    async fn issue(&self, refresh_token: Option<&SecretString>) -> Result<IssuedToken> {
        let (url, body) = match (refresh_token, &self.refresh_url) {
            (Some(rt), Some(url)) => {
                let mut m = Map::new();
                m.insert(
                    self.refresh_field.clone(),
                    Value::String(rt.expose_secret().to_string()),
                );
                (url, m)
            }
            _ => {
                let m = self
                    .credentials
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_string())))
                    .collect();
                (&self.login_url, m)
            }
        };
        let json = post_json(
            &self.client,
            url,
            TokenBody::Json(Value::Object(body)),
            None,
        )
        .await?;
        self.read(url, &json)
    }
}
