//! State shared by every request and connection: the store, configuration,
//! token keys, change feeds, revocations, and the handles of the background
//! work.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthFailure, Claims, JwtKeys};
use crate::config::Config;
use crate::store::Store;

/// Per-community change notifications: the latest committed change sequence.
#[derive(Clone, Default)]
pub struct ChangeFeeds {
    feeds: Arc<Mutex<HashMap<String, watch::Sender<i64>>>>,
}

impl ChangeFeeds {
    fn sender(&self, community: &str) -> watch::Sender<i64> {
        let mut feeds = self.feeds.lock().expect("change feed lock poisoned");
        feeds
            .entry(community.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .clone()
    }

    /// Watches a community's latest change sequence.
    pub fn subscribe(&self, community: &str) -> watch::Receiver<i64> {
        self.sender(community).subscribe()
    }

    /// Announces that changes up to `seq` are committed.
    pub fn publish(&self, community: &str, seq: i64) {
        self.sender(community).send_if_modified(|cur| {
            let newer = seq > *cur;
            if newer {
                *cur = seq;
            }
            newer
        });
    }
}

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
    pub store: Store,
    pub config: Arc<Config>,
    pub keys: JwtKeys,
    pub feeds: ChangeFeeds,
    pub revocations: Revocations,
    pub logins: crate::auth::LoginThrottle,
    /// Wakes the compliance engine (a patrol, route or roster was committed).
    pub compliance: Arc<tokio::sync::Notify>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub photos: crate::blobs::Photos,
}

impl AppState {
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
