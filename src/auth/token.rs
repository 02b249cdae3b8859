//! One cached access token per credential, shared by every request and every clone of the
//! supplier, refreshed by exactly one task at a time.
//!
//! Connector frameworks that keep a token per stream lose rotated refresh tokens and hammer
//! token endpoints (CJ allows a login only once every five minutes). Here one [`TokenCache`]
//! holds the token: readers take it under a read lock; when it is missing or about to expire,
//! one task fetches a new one while the others wait for its result; a burst of 401s caused by
//! one expired token leads to one refresh, and every request replays with the new token.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, RwLock};

use reqwest::header::{HeaderName, HeaderValue};

use crate::error::{Error, ErrorKind, Result};
use crate::transport::{AuthHook, Reauth, Response, SignableRequest};

/// Refresh this long before the supplier's stated expiry, so a token never expires in flight.
pub const EXPIRY_SKEW: Duration = Duration::from_secs(60);

/// A freshly issued token.
#[derive(Clone)]
pub struct IssuedToken {
    /// The access token.
    pub access_token: SecretString,
    /// When it expires, if the issuer said.
    pub expires_in: Option<Duration>,
    /// A refresh token, if the issuer gave one (possibly a rotated one).
    pub refresh_token: Option<SecretString>,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// Where tokens come from: an OAuth 2.0 token endpoint or a supplier's login endpoint.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// Obtains a token. `refresh_token` is the last one known, for sources that can use it;
    /// a source falls back to its primary credentials when it has any.
    async fn issue(&self, refresh_token: Option<&SecretString>) -> Result<IssuedToken>;
}

/// Receives every rotated refresh token, so the host can persist it (a refresh token that is
/// rotated and then lost locks the integration out).
pub type RotationCallback = Arc<dyn Fn(&SecretString) + Send + Sync>;

struct Cached {
    token: SecretString,
    expires_at: Option<Instant>,
}

struct State {
    current: Option<Cached>,
    refresh_token: Option<SecretString>,
    refreshed_at: Option<Instant>,
    issued: u64,
}

/// The shared token holder (see the module docs).
pub struct TokenCache {
    source: Box<dyn TokenSource>,
    state: RwLock<State>,
    /// Held by the one task that is fetching; the others queue on it.
    fetching: Mutex<()>,
    on_rotate: Option<RotationCallback>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache over `source`, starting from an optional refresh token.
    pub fn new(source: Box<dyn TokenSource>, refresh_token: Option<SecretString>) -> Self {
        TokenCache {
            source,
            state: RwLock::new(State {
                current: None,
                refresh_token,
                refreshed_at: None,
                issued: 0,
            }),
            fetching: Mutex::new(()),
            on_rotate: None,
        }
    }

    /// Calls `callback` with every new refresh token.
    pub fn on_rotate(mut self, callback: RotationCallback) -> Self {
        self.on_rotate = Some(callback);
        self
    }

    /// How many tokens have been issued so far (for tests and monitoring).
    pub async fn issued(&self) -> u64 {
        self.state.read().await.issued
    }

    /// A valid token, fetching one if there is none or it is about to expire.
    pub async fn token(&self) -> Result<SecretString> {
        if let Some(t) = self.valid_now().await {
            return Ok(t);
        }
        let _guard = self.fetching.lock().await;
        // Another task may have fetched while we waited.
        if let Some(t) = self.valid_now().await {
            return Ok(t);
        }
        self.fetch().await
    }

    /// After a 401 that arrived at `failed_at`: refreshes, unless another task already did so
    /// after that moment (then the failed request simply carried the old token). Returns `true`
    /// when a replay with a newer token should be tried.
    pub async fn reauthenticate(&self, failed_at: Instant) -> Result<bool> {
        let _guard = self.fetching.lock().await;
        {
            let st = self.state.read().await;
            if st.refreshed_at.is_some_and(|at| at > failed_at) && st.current.is_some() {
                return Ok(true);
            }
        }
        self.state.write().await.current = None;
        self.fetch().await.map(|_| true)
    }

    /// The token in use now, if any, without waiting: for scrubbing error text (a blocked
    /// lock yields nothing rather than a wait on the error path).
    pub fn current_token(&self) -> Option<String> {
        let st = self.state.try_read().ok()?;
        st.current
            .as_ref()
            .map(|c| c.token.expose_secret().to_string())
    }

    async fn valid_now(&self) -> Option<SecretString> {
        let st = self.state.read().await;
        let c = st.current.as_ref()?;
        let fresh = c
            .expires_at
            .is_none_or(|at| Instant::now() + EXPIRY_SKEW < at);
        fresh.then(|| c.token.clone())
    }

    /// Fetches with the refresh token when there is one; if that is refused, once more with the
    /// source's own credentials. Caller holds `fetching`.
    async fn fetch(&self) -> Result<SecretString> {
        let refresh = self.state.read().await.refresh_token.clone();
        let issued = match self.source.issue(refresh.as_ref()).await {
            Err(e) if refresh.is_some() && e.kind() == ErrorKind::Auth => {
                tracing::warn!("refresh token refused; authenticating again with credentials");
                self.source.issue(None).await?
            }
            other => other?,
        };
        let mut st = self.state.write().await;
        if let Some(new) = &issued.refresh_token {
            let rotated = st
                .refresh_token
                .as_ref()
                .is_none_or(|old| old.expose_secret() != new.expose_secret());
            if rotated {
                if let Some(cb) = &self.on_rotate {
                    cb(new);
                }
                st.refresh_token = Some(new.clone());
            }
        }
        let now = Instant::now();
        st.current = Some(Cached {
            token: issued.access_token.clone(),
            expires_at: issued.expires_in.map(|d| now + d),
        });
        st.refreshed_at = Some(now);
        st.issued += 1;
        Ok(issued.access_token)
    }
}

/// Puts the cached token in a header on every attempt, and refreshes it once on a 401.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    cache: Arc<TokenCache>,
    header: HeaderName,
    prefix: String,
}

impl TokenAuth {
    /// `header: <prefix><token>`, for example `Authorization: Bearer <token>` or
    /// `CJ-Access-Token: <token>` (empty prefix).
    pub fn new(cache: Arc<TokenCache>, header: &str, prefix: impl Into<String>) -> Result<Self> {
        let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!("{header:?} is not a valid header name"),
            )
        })?;
        Ok(TokenAuth {
            cache,
            header,
            prefix: prefix.into(),
        })
    }

    /// The shared cache (one per credential).
    pub fn cache(&self) -> &Arc<TokenCache> {
        &self.cache
    }
}

#[async_trait]
impl AuthHook for TokenAuth {
    async fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let token = self.cache.token().await?;
        let mut value = HeaderValue::from_str(&format!("{}{}", self.prefix, token.expose_secret()))
            .map_err(|_| Error::new(ErrorKind::Auth, "issued token is not a valid header value"))?;
        value.set_sensitive(true);
        request.headers.insert(self.header.clone(), value);
        Ok(())
    }

    fn sent_secrets(&self) -> Vec<String> {
        self.cache.current_token().into_iter().collect()
    }

    async fn on_unauthorized(&self, _response: &Response) -> Result<Reauth> {
        // The transport calls this as soon as the 401 arrives: "now" is when the token failed.
        let failed_at = Instant::now();
        Ok(if self.cache.reauthenticate(failed_at).await? {
            Reauth::Replay
        } else {
            Reauth::GiveUp
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicU32,
        lifetime: Option<Duration>,
        refuse_refresh: bool,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn issue(&self, refresh: Option<&SecretString>) -> Result<IssuedToken> {
            if self.refuse_refresh && refresh.is_some() {
                return Err(Error::new(ErrorKind::Auth, "refresh refused"));
            }
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(IssuedToken {
                access_token: SecretString::from(format!("tok-{n}")),
                expires_in: self.lifetime,
                refresh_token: Some(SecretString::from(format!("ref-{n}"))),
            })
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::new(Box::new(Counting::default()), None));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let c = cache.clone();
                tokio::spawn(async move { c.token().await.map(|t| t.expose_secret().to_string()) })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "tok-1");
        }
        assert_eq!(cache.issued().await, 1);
    }

    #[tokio::test]
    async fn tokens_near_expiry_are_refreshed_and_rotation_is_reported() {
        let rotated = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = rotated.clone();
        let source = Counting {
            lifetime: Some(EXPIRY_SKEW / 2),
            ..Counting::default()
        };
        let cache = TokenCache::new(Box::new(source), Some(SecretString::from("ref-0"))).on_rotate(
            Arc::new(move |t| seen.lock().unwrap().push(t.expose_secret().to_string())),
        );
        assert_eq!(cache.token().await.unwrap().expose_secret(), "tok-1");
        // Inside the skew already: the next call refreshes.
        assert_eq!(cache.token().await.unwrap().expose_secret(), "tok-2");
        assert_eq!(*rotated.lock().unwrap(), ["ref-1", "ref-2"]);
    }

    #[tokio::test]
    async fn a_burst_of_401s_refreshes_once() {
        let cache = Arc::new(TokenCache::new(Box::new(Counting::default()), None));
        cache.token().await.unwrap();
        let failed_at = Instant::now();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let c = cache.clone();
                tokio::spawn(async move { c.reauthenticate(failed_at).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap());
        }
        assert_eq!(cache.issued().await, 2, "one refresh for the whole burst");
        assert_eq!(cache.token().await.unwrap().expose_secret(), "tok-2");
        // A later 401 (the new token revoked too) refreshes again.
        assert!(cache.reauthenticate(Instant::now()).await.unwrap());
        assert_eq!(cache.issued().await, 3);
    }

    #[tokio::test]
    async fn a_refused_refresh_falls_back_to_credentials() {
        let source = Counting {
            refuse_refresh: true,
            ..Counting::default()
        };
        let cache = TokenCache::new(Box::new(source), Some(SecretString::from("stale")));
        assert_eq!(cache.token().await.unwrap().expose_secret(), "tok-1");
    }
}
