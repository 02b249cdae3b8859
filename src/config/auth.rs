//! How a supplier authenticates, as configuration data. The authenticators that apply these to
//! requests live in the transport's auth layer.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::secret::Secret;

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPlacement {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// Encoding of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    /// Lower-case hexadecimal.
    #[default]
    Hex,
    /// Upper-case hexadecimal.
    HexUpper,
    /// Standard base64 with padding.
    Base64,
}

/// One part of the canonical string an HMAC signer builds, in the order listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedPart {
    /// The HTTP method, upper case.
    Method,
    /// The URL path.
    Path,
    /// The query, parameters sorted by name.
    SortedQuery,
    /// The request timestamp.
    Timestamp,
    /// A random nonce.
    Nonce,
    /// Lower-case hex SHA-256 of the body.
    BodySha256,
    /// The value of a request header (name given).
    Header(String),
}

/// How a supplier authenticates. The `kind` field selects the variant:
///
/// ```json
/// { "kind": "bearer", "token": "env:PRINTFUL_TOKEN" }
/// { "kind": "api_key", "in": "header", "name": "X-Api-Key", "value": "env:KEY" }
/// { "kind": "token_exchange", "token_url": "/authentication/getAccessToken",
///   "credentials": { "apiKey": "env:CJ_API_KEY" },
///   "token_pointer": "/data/accessToken", "expires_at_pointer": "/data/accessTokenExpiryDate",
///   "header": "CJ-Access-Token" }
/// ```
///
/// Every secret may be written inline, as `env:VAR_NAME` or as `file:/path`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum AuthConfig {
    /// No authentication.
    #[default]
    None,
    /// A static key in a header or query parameter.
    ApiKey {
        /// Header or query.
        #[serde(rename = "in")]
        placement: KeyPlacement,
        /// Header or parameter name.
        name: String,
        /// The key.
        value: Secret,
    },
    /// A static `Authorization: Bearer` token.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// HTTP Basic credentials.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// OAuth 2.0 client-credentials grant.
    Oauth2ClientCredentials {
        /// Token endpoint; must be https (loopback excepted).
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: Secret,
        /// Scopes to request.
        #[serde(default)]
        scopes: Vec<String>,
    },
    /// OAuth 2.0 refresh-token grant.
    Oauth2RefreshToken {
        /// Token endpoint; must be https (loopback excepted).
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret, for confidential clients.
        #[serde(default)]
        client_secret: Option<Secret>,
        /// The refresh token to start from; rotated ones are handed to the host.
        refresh_token: Secret,
    },
    /// The supplier's own login endpoint: credentials in, access token out.
    TokenExchange {
        /// Login endpoint, absolute or relative to `base_url`.
        token_url: String,
        /// JSON body fields to post, each a secret.
        credentials: BTreeMap<String, Secret>,
        /// JSON Pointer to the access token in the response.
        token_pointer: String,
        /// JSON Pointer to the token's lifetime in seconds, if given that way.
        #[serde(default)]
        expires_in_pointer: Option<String>,
        /// JSON Pointer to the token's expiry time, if given that way.
        #[serde(default)]
        expires_at_pointer: Option<String>,
        /// JSON Pointer to a refresh token, if the supplier issues one.
        #[serde(default)]
        refresh_token_pointer: Option<String>,
        /// Refresh endpoint, absolute or relative to `base_url`.
        #[serde(default)]
        refresh_url: Option<String>,
        /// The JSON field the refresh token is posted in (`refreshToken`).
        #[serde(default = "default_refresh_field")]
        refresh_field: String,
        /// Header that carries the token.
        #[serde(default = "default_auth_header")]
        header: String,
        /// Text before the token in that header (`"Bearer "`); empty for a bare token.
        #[serde(default)]
        header_prefix: String,
    },
    /// HMAC-SHA256 over a canonical request built from `parts`, joined by newlines.
    Hmac {
        /// The key's public id, sent in `key_id_header` when set.
        #[serde(default)]
        key_id: Option<String>,
        /// The signing secret.
        secret: Secret,
        /// What is signed, in order.
        parts: Vec<SignedPart>,
        /// Signature encoding.
        #[serde(default)]
        encoding: SignatureEncoding,
        /// Header receiving the signature.
        signature_header: String,
        /// Header receiving the timestamp, if sent.
        #[serde(default)]
        timestamp_header: Option<String>,
        /// Header receiving the nonce, if sent.
        #[serde(default)]
        nonce_header: Option<String>,
        /// Header receiving the key id, if sent.
        #[serde(default)]
        key_id_header: Option<String>,
    },
    /// Open-platform signed parameters: all parameters sorted by name and concatenated,
    /// HMAC-SHA256 with the app secret, upper-case hex, in a `sign` parameter.
    SignedParams {
        /// The application key, sent as `app_key`.
        app_key: String,
        /// The application secret.
        app_secret: Secret,
        /// An access token for user-scoped calls.
        #[serde(default)]
        access_token: Option<Secret>,
        /// The parameter that carries the access token (`access_token`; the IOP SDKs use
        /// `session`).
        #[serde(default = "default_access_token_param")]
        access_token_param: String,
        /// For path-style APIs: the part of the URL path before the API name (`/rest` for
        /// `/rest/auth/token/create`). When set, the API name is signed in front of the
        /// parameters; when absent, only the parameters are.
        #[serde(default)]
        api_path_base: Option<String>,
    },
    /// WS-Security UsernameToken for SOAP.
    Wsse {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
        /// Send `PasswordDigest` (Base64(SHA-1(nonce + created + password))) instead of text.
        #[serde(default)]
        digest: bool,
    },
}

fn default_refresh_field() -> String {
    "refreshToken".into()
}

fn default_access_token_param() -> String {
    "access_token".into()
}

fn default_auth_header() -> String {
    "Authorization".into()
}

impl AuthConfig {
    /// Every secret in this auth config, with its path relative to the auth object.
    pub fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        match self {
            AuthConfig::None => vec![],
            AuthConfig::ApiKey { value, .. } => vec![("value".into(), value)],
            AuthConfig::Bearer { token } => vec![("token".into(), token)],
            AuthConfig::Basic { password, .. } | AuthConfig::Wsse { password, .. } => {
                vec![("password".into(), password)]
            }
            AuthConfig::Oauth2ClientCredentials { client_secret, .. } => {
                vec![("client_secret".into(), client_secret)]
            }
            AuthConfig::Oauth2RefreshToken {
                client_secret,
                refresh_token,
                ..
            } => {
                let mut v = vec![("refresh_token".to_string(), refresh_token)];
                if let Some(s) = client_secret {
                    v.push(("client_secret".into(), s));
                }
                v
            }
            AuthConfig::TokenExchange { credentials, .. } => credentials
                .iter_mut()
                .map(|(k, v)| (format!("credentials.{k}"), v))
                .collect(),
            AuthConfig::Hmac { secret, .. } => vec![("secret".into(), secret)],
            AuthConfig::SignedParams {
                app_secret,
                access_token,
                ..
            } => {
                let mut v = vec![("app_secret".to_string(), app_secret)];
                if let Some(t) = access_token {
                    v.push(("access_token".into(), t));
                }
                v
            }
        }
    }

    /// URLs this auth config calls, with their paths relative to the auth object.
    pub fn urls(&self) -> Vec<(&'static str, &str)> {
        match self {
            AuthConfig::Oauth2ClientCredentials { token_url, .. }
            | AuthConfig::Oauth2RefreshToken { token_url, .. } => vec![("token_url", token_url)],
            AuthConfig::TokenExchange {
                token_url,
                refresh_url,
                ..
            } => {
                let mut v = vec![("token_url", token_url.as_str())];
                if let Some(r) = refresh_url {
                    v.push(("refresh_url", r));
                }
                v
            }
            _ => vec![],
        }
    }

    /// Names that must not be empty, with their paths.
    pub(crate) fn required_names(&self) -> Vec<(&'static str, &str)> {
        match self {
            AuthConfig::ApiKey { name, .. } => vec![("name", name)],
            AuthConfig::Basic { username, .. } | AuthConfig::Wsse { username, .. } => {
                vec![("username", username)]
            }
            AuthConfig::Oauth2ClientCredentials { client_id, .. }
            | AuthConfig::Oauth2RefreshToken { client_id, .. } => vec![("client_id", client_id)],
            AuthConfig::TokenExchange {
                token_pointer,
                header,
                ..
            } => vec![("token_pointer", token_pointer), ("header", header)],
            AuthConfig::Hmac {
                signature_header, ..
            } => vec![("signature_header", signature_header)],
            AuthConfig::SignedParams { app_key, .. } => vec![("app_key", app_key)],
            AuthConfig::None | AuthConfig::Bearer { .. } => vec![],
        }
    }
}
