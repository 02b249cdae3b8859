//! Authentication: every credential scheme suppliers use, as hooks the transport runs on every
//! attempt (so a retried request is signed afresh), built from a supplier's
//! [`AuthConfig`] by [`hook_from_config`].
//!
//! | config `kind` | hook |
//! |---|---|
//! | `none` | [`NoAuth`] |
//! | `api_key` | [`api_key::ApiKeyAuth`] (header or query) |
//! | `bearer`, `basic` | [`StaticHeaders`] |
//! | `oauth2_client_credentials`, `oauth2_refresh_token` | [`token::TokenAuth`] over [`oauth2::OAuth2Source`] |
//! | `token_exchange` | [`token::TokenAuth`] over [`token_exchange::TokenExchangeSource`] |
//! | `hmac` | [`hmac::HmacSigner`] |
//! | `signed_params` | [`query_sign::SignedParamsAuth`] |
//! | `wsse` | none at the HTTP level: the SOAP adapter puts [`wsse::UsernameToken`] in the envelope |
//!
//! Token-based hooks share one [`token::TokenCache`] per supplier: one token, refreshed by one
//! task, a 401 answered by one refresh and one replay.
//!
//! The signers are pure functions of the request, the secret and per-attempt values, tested
//! byte for byte against vendors' published examples (`tests/signature_vectors.rs`).

pub mod api_key;
pub mod crypto;
mod endpoint;
pub mod hmac;
pub mod oauth2;
pub mod query_sign;
pub mod token;
pub mod token_exchange;
pub mod wsse;

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;

use crate::config::{AuthConfig, Secret, SupplierConfig};
use crate::error::{Error, ErrorKind, Operation, Result};
use crate::transport::{AuthHook, NoAuth, StaticHeaders};

pub use endpoint::{MAX_TOKEN_RESPONSE_BYTES, TOKEN_TIMEOUT};
pub use token::RotationCallback;

fn secret(s: &Secret) -> Result<SecretString> {
    Ok(SecretString::from(s.expose()?.to_string()))
}

/// An endpoint from config: absolute, or a path appended to the supplier's `base_url` (its own
/// path kept: `/api2.0/v1` + `/authentication/getAccessToken`).
pub fn endpoint_url(base: &reqwest::Url, endpoint: &str) -> Result<reqwest::Url> {
    let joined = if endpoint.starts_with('/') {
        format!("{}{}", base.as_str().trim_end_matches('/'), endpoint)
    } else {
        endpoint.to_string()
    };
    reqwest::Url::parse(&joined).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("endpoint {endpoint:?} is not a URL: {e}"),
        )
        .with_operation(Operation::Authenticate)
    })
}

/// Builds the hook for a supplier's `auth` config. `client` makes token requests (give it the
/// transport's, for its TLS and pool settings); `on_rotate` receives rotated refresh tokens.
pub fn hook_from_config(
    config: &SupplierConfig,
    client: &reqwest::Client,
    on_rotate: Option<RotationCallback>,
) -> Result<Arc<dyn AuthHook>> {
    let with_rotation = |cache: token::TokenCache| match &on_rotate {
        Some(cb) => cache.on_rotate(cb.clone()),
        None => cache,
    };
    let hook: Arc<dyn AuthHook> = match &config.auth {
        AuthConfig::None | AuthConfig::Wsse { .. } => Arc::new(NoAuth),
        AuthConfig::ApiKey {
            placement,
            name,
            value,
        } => Arc::new(api_key::ApiKeyAuth::new(*placement, name, secret(value)?)?),
        AuthConfig::Bearer { token } => Arc::new(StaticHeaders::bearer(token.expose()?)?),
        AuthConfig::Basic { username, password } => {
            let pair = format!("{username}:{}", password.expose()?);
            Arc::new(StaticHeaders::new().header(
                "authorization",
                &format!("Basic {}", crypto::base64(pair.as_bytes())),
            )?)
        }
        AuthConfig::Oauth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scopes,
        } => {
            let source = oauth2::OAuth2Source::client_credentials(
                client.clone(),
                endpoint_url(&config.base_url, token_url)?,
                client_id,
                secret(client_secret)?,
                scopes.clone(),
            );
            let cache = with_rotation(token::TokenCache::new(Box::new(source), None));
            Arc::new(token::TokenAuth::new(
                Arc::new(cache),
                "authorization",
                "Bearer ",
            )?)
        }
        AuthConfig::Oauth2RefreshToken {
            token_url,
            client_id,
            client_secret,
            refresh_token,
        } => {
            let source = oauth2::OAuth2Source::refresh_token(
                client.clone(),
                endpoint_url(&config.base_url, token_url)?,
                client_id,
                client_secret.as_ref().map(secret).transpose()?,
            );
            let cache = with_rotation(token::TokenCache::new(
                Box::new(source),
                Some(secret(refresh_token)?),
            ));
            Arc::new(token::TokenAuth::new(
                Arc::new(cache),
                "authorization",
                "Bearer ",
            )?)
        }
        AuthConfig::TokenExchange {
            token_url,
            credentials,
            token_pointer,
            expires_in_pointer,
            expires_at_pointer,
            refresh_token_pointer,
            refresh_url,
            refresh_field,
            header,
            header_prefix,
        } => {
            let creds = credentials
                .iter()
                .map(|(k, v)| Ok((k.clone(), secret(v)?)))
                .collect::<Result<BTreeMap<_, _>>>()?;
            let pointers = token_exchange::TokenPointers {
                token: token_pointer.clone(),
                expires_in: expires_in_pointer.clone(),
                expires_at: expires_at_pointer.clone(),
                refresh_token: refresh_token_pointer.clone(),
            };
            let mut source = token_exchange::TokenExchangeSource::new(
                client.clone(),
                endpoint_url(&config.base_url, token_url)?,
                creds,
                pointers,
            );
            if let Some(r) = refresh_url {
                source = source.refresh_at(endpoint_url(&config.base_url, r)?, refresh_field);
            }
            let cache = with_rotation(token::TokenCache::new(Box::new(source), None));
            Arc::new(token::TokenAuth::new(
                Arc::new(cache),
                header,
                header_prefix.clone(),
            )?)
        }
        AuthConfig::Hmac {
            key_id,
            secret: key,
            parts,
            encoding,
            signature_header,
            timestamp_header,
            nonce_header,
            key_id_header,
        } => {
            let mut signer =
                hmac::HmacSigner::new(secret(key)?, parts.clone(), *encoding, signature_header);
            if let Some(h) = timestamp_header {
                signer = signer.timestamp_header(h);
            }
            if let Some(h) = nonce_header {
                signer = signer.nonce_header(h);
            }
            if let (Some(h), Some(id)) = (key_id_header, key_id) {
                signer = signer.key_id(h, id);
            }
            Arc::new(signer)
        }
        AuthConfig::SignedParams {
            app_key,
            app_secret,
            access_token,
            access_token_param,
            api_path_base,
        } => {
            let mut signer = query_sign::SignedParamsAuth::new(app_key, secret(app_secret)?);
            if let Some(t) = access_token {
                signer = signer.access_token(access_token_param, secret(t)?);
            }
            if let Some(base) = api_path_base {
                signer = signer.api_path_base(base);
            }
            Arc::new(signer)
        }
    };
    Ok(hook)
}

/// The WS-Security token for a SOAP supplier whose `auth` is `wsse`.
pub fn wsse_token(config: &AuthConfig) -> Result<Option<wsse::UsernameToken>> {
    match config {
        AuthConfig::Wsse {
            username,
            password,
            digest,
        } => Ok(Some(wsse::UsernameToken::new(
            username,
            secret(password)?,
            *digest,
        ))),
        _ => Ok(None),
    }
}
