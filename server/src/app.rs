//! The running server: start-up (storage, secrets, the demo community),
//! the router, the background tasks, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{JwtKeys, new_secret};
use crate::commit::Committer;
use crate::config::Config;
use crate::state::{AppState, Revocations};
use crate::store::Store;

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
        let commits = Committer::new(store.clone());
        if config.demo && store.community_count().await? == 0 {
            crate::demo::seed(&commits, config.demo_documents).await?;
        }
        let photos = crate::blobs::Photos::open(&config, &store).await?;
        Ok(Server {
            state: AppState {
                store,
                commits,
                keys: JwtKeys::new(&secret),
                config: Arc::new(config),
                revocations: Revocations::default(),
                logins: crate::auth::LoginThrottle::default(),
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
        // 1 MiB bodies at most, read by the extractors so that a larger
        // one is a JSON 413 like every refusal; photo uploads have their
        // own limit.
        let app = crate::api::router(state.clone())
            .layer(axum::extract::DefaultBodyLimit::max(
                crate::http::MAX_JSON_BODY,
            ))
            .merge(crate::photos::router(state.clone()))
            .merge(
                crate::web::router(state.clone())
                    .layer(tower_http::limit::RequestBodyLimitLayer::new(64 << 10)),
            )
            .route(
                "/metrics",
                axum::routing::get(metrics).with_state(state.clone()),
            )
            .fallback(crate::http::not_found)
            .layer(tower_http::trace::TraceLayer::new_for_http());
        crate::photos::spawn_expiry(&state);
        crate::replicas::spawn_listener(&state);
        crate::compliance::spawn(
            state.commits.clone(),
            Duration::from_secs(state.config.compliance_tick_secs.max(1)),
            state.shutdown.clone(),
            &state.tasks,
        );
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

/// `GET /metrics`: the process's metrics, in the OpenMetrics text format.
async fn metrics(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    let text = crate::metrics::METRICS.render(app.commits.feeds().backlog());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
