//! The running server: shared state, start-up, and graceful shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::AuthFailure;
use crate::auth::{Claims, JwtKeys, new_secret};
use crate::config::Config;
use crate::store::Store;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

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
    pub photos: crate::photos::Photos,
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

/// A server that has opened its store and is ready to serve.
pub struct Server {
    state: AppState,
}

impl Server {
    /// Opens storage (applying migrations), loads or creates the token secret,
    /// and seeds the demo community when enabled and the store is empty.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display())
            })?;
        }
        let store = Store::open(config.database_url.as_deref(), &config.data_dir).await?;
        let secret = match &config.jwt_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => store.secret_or_insert("jwt", &new_secret()).await?,
        };
        if config.demo && store.community_count().await? == 0 {
            crate::demo::seed(&store, config.demo_documents).await?;
        }
        let photos = crate::photos::Photos::open(&config, &store).await?;
        Ok(Server {
            state: AppState {
                store,
                keys: JwtKeys::new(&secret),
                config: Arc::new(config),
                feeds: ChangeFeeds::default(),
                revocations: Revocations::default(),
                logins: crate::auth::LoginThrottle::default(),
                compliance: Arc::new(tokio::sync::Notify::new()),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                photos,
            },
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` is cancelled, then closes every
    /// sync connection and the store.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let state = self.state;
        // 1 MiB bodies at most, but photo uploads have their own limit.
        let app = crate::api::router(state.clone())
            .layer(tower_http::limit::RequestBodyLimitLayer::new(1 << 20))
            .merge(crate::photos::router(state.clone()))
            .layer(tower_http::trace::TraceLayer::new_for_http());
        crate::photos::spawn_expiry(&state);
        crate::compliance::spawn(state.clone());
        let conn_shutdown = state.shutdown.clone();
        let s2 = shutdown.clone();
        // Sync is many small request/response frames: never wait for Nagle.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                s2.cancelled().await;
                conn_shutdown.cancel();
            })
            .await?;
        state.shutdown.cancel();
        state.tasks.close();
        state.tasks.wait().await;
        state.store.close().await;
        Ok(())
    }
}
