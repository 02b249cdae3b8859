//! OAuth 2.0 token sources: the client-credentials and refresh-token grants (RFC 6749 §4.4,
//! §6). The client authenticates with HTTP Basic, the method every server must accept.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::endpoint::{TokenBody, describe, post_json, seconds};
use super::token::{IssuedToken, TokenSource};
use crate::error::{Error, ErrorKind, Operation, Result};

/// Issues tokens from an OAuth 2.0 token endpoint.
pub struct OAuth2Source {
    client: reqwest::Client,
    token_url: reqwest::Url,
    client_id: String,
    client_secret: Option<SecretString>,
    scopes: Vec<String>,
    /// Client credentials can always get a new token; a refresh-token-only client cannot.
    client_credentials: bool,
}

impl std::fmt::Debug for OAuth2Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Source")
            .field("token_url", &describe(&self.token_url))
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl OAuth2Source {
    /// The client-credentials grant.
    pub fn client_credentials(
        client: reqwest::Client,
        token_url: reqwest::Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
        scopes: Vec<String>,
    ) -> Self {
        OAuth2Source {
            client,
            token_url,
            client_id: client_id.into(),
            client_secret: Some(client_secret),
            scopes,
            client_credentials: true,
        }
    }

    /// The refresh-token grant only (the refresh token is given to the [`TokenCache`](super::token::TokenCache)).
    pub fn refresh_token(
        client: reqwest::Client,
        token_url: reqwest::Url,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
    ) -> Self {
        OAuth2Source {
            client,
            token_url,
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
            client_credentials: false,
        }
    }
}

#[async_trait]
impl TokenSource for OAuth2Source {
    async fn issue(&self, refresh_token: Option<&SecretString>) -> Result<IssuedToken> {
        let mut form = Vec::new();
        match refresh_token {
            Some(rt) => {
                form.push(("grant_type".to_string(), "refresh_token".to_string()));
                form.push(("refresh_token".into(), rt.expose_secret().to_string()));
            }
            None if self.client_credentials => {
                form.push(("grant_type".into(), "client_credentials".into()));
                if !self.scopes.is_empty() {
                    form.push(("scope".into(), self.scopes.join(" ")));
                }
            }
            None => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "token endpoint {}: no refresh token to use; configure a new one",
                        describe(&self.token_url)
                    ),
                )
                .with_operation(Operation::Authenticate));
            }
        }
        let basic = match &self.client_secret {
            Some(s) => Some((self.client_id.as_str(), s.expose_secret())),
            None => {
                // A public client identifies itself in the body instead.
                form.push(("client_id".into(), self.client_id.clone()));
                None
            }
        };
        let json = post_json(&self.client, &self.token_url, TokenBody::Form(form), basic).await?;
        let access = json
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "token endpoint {}: answer has no access_token",
                        describe(&self.token_url)
                    ),
                )
                .with_operation(Operation::Authenticate)
            })?;
        Ok(IssuedToken {
            access_token: SecretString::from(access.to_string()),
            expires_in: json.get("expires_in").and_then(seconds),
            refresh_token: json
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| SecretString::from(t.to_string())),
        })
    }
}
