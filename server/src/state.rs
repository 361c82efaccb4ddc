//! State shared by every request and connection: the store and its commit
//! path, configuration, token keys, revocations, photo storage, and the
//! handles of the background work.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthFailure, Claims, JwtKeys};
use crate::commit::Committer;
use crate::config::Config;
use crate::store::Store;

/// Devices revoked while the server runs, so live connections drop them on
/// their next frame.
#[derive(Clone)]
pub struct Revocations {
    revoked: Arc<RwLock<HashSet<String>>>,
    notify: broadcast::Sender<String>,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            revoked: Default::default(),
            notify: broadcast::channel(64).0,
        }
    }
}

impl Revocations {
    pub fn revoke(&self, device: &str) {
        self.revoked
            .write()
            .expect("revocation lock poisoned")
            .insert(device.to_owned());
        let _ = self.notify.send(device.to_owned());
    }

    pub fn is_revoked(&self, device: &str) -> bool {
        self.revoked
            .read()
            .expect("revocation lock poisoned")
            .contains(device)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.notify.subscribe()
    }
}

/// State shared by every request and connection.
#[derive(Clone)]
pub struct AppState {
    /// The store, for reads; every document write goes through `commits`.
    pub store: Store,
    /// The one commit path for documents, and the change feeds it publishes.
    pub commits: Committer,
    pub config: Arc<Config>,
    pub keys: JwtKeys,
    pub revocations: Revocations,
    pub logins: crate::auth::LoginThrottle,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub photos: crate::blobs::Photos,
}

/// Why a username and password did not sign in.
#[derive(Debug)]
pub enum LoginRefused {
    /// Too many failures lately: wait this many seconds.
    Locked(i64),
    /// No such user, a wrong password, or a disabled account (not told apart).
    Wrong,
    Store(crate::store::StoreError),
    /// The password check itself failed (its thread panicked).
    Internal(String),
}

impl From<crate::store::StoreError> for LoginRefused {
    fn from(e: crate::store::StoreError) -> Self {
        LoginRefused::Store(e)
    }
}

/// A hash to verify against when the user does not exist, so a wrong username
/// costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::auth::hash_password("no such user"))
}

impl AppState {
    /// Checks a username and password, with the login throttle: the one check
    /// behind the API's login and the dashboard's sign-in.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<crate::store::UserRow, LoginRefused> {
        let now = crate::clock::now_ms();
        if let Some(wait) = self.logins.locked(username, now) {
            return Err(LoginRefused::Locked(wait));
        }
        let user = self.store.user_by_username(username).await?;
        let hash = user
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
        let password = password.to_owned();
        let ok =
            tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &hash))
                .await
                .map_err(|e| LoginRefused::Internal(e.to_string()))?;
        match user {
            Some(u) if ok && u.disabled == 0 => {
                self.logins.succeeded(username);
                Ok(u)
            }
            _ => {
                self.logins.failed(username, crate::clock::now_ms());
                Err(LoginRefused::Wrong)
            }
        }
    }

    /// Checks an access token against its signature, expiry, and the device's
    /// revocation state.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, AuthFailure> {
        let claims = self.keys.verify(token).map_err(AuthFailure::Token)?;
        if self.revocations.is_revoked(&claims.dev) {
            return Err(AuthFailure::Revoked);
        }
        let device = self
            .store
            .device(&claims.dev)
            .await
            .map_err(AuthFailure::Store)?
            .ok_or(AuthFailure::Token(crate::auth::TokenError::Invalid))?;
        if device.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if device.token_generation != claims.generation {
            return Err(AuthFailure::Superseded);
        }
        Ok(claims)
    }
}
