//! HTTP routes: health, authentication, devices, and the sync WebSocket.

mod auth;
mod duty;
pub mod error;
mod hazards;
mod places;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::{Claims, TokenError};
pub use error::ApiError;

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/devices/{id}/revoke", post(auth::revoke_device))
        .route("/api/v1/posts", get(places::list_posts))
        .route("/api/v1/hazards", get(hazards::list_hazards))
        .route("/api/v1/compliance", get(duty::compliance))
        .route("/api/v1/alerts", get(duty::alerts))
        .route("/api/v1/posts/tags", get(places::printable_tags))
        .route("/api/v1/posts/tags.html", get(places::tag_sheet))
        .route("/api/v1/tag-keys", post(places::rotate_tag_key))
        .route("/api/v1/tag-keys/{id}/revoke", post(places::revoke_tag_key))
        .route("/api/v1/sync", get(crate::sync::upgrade))
        .with_state(state)
}

async fn health(State(app): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "storage": app.store.backend().as_str(),
    }))
}

/// An authenticated request: a valid bearer access token of a device that is
/// not revoked.
pub struct Authenticated(pub Claims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let claims = app.authenticate(token).await.map_err(|e| match e {
            AuthFailure::Token(TokenError::Missing) => {
                ApiError::unauthorized("unauthenticated", "missing bearer token")
            }
            AuthFailure::Token(TokenError::Expired) => {
                ApiError::unauthorized("token_expired", "access token expired; refresh it")
            }
            AuthFailure::Token(TokenError::Invalid) => {
                ApiError::unauthorized("unauthenticated", "invalid access token")
            }
            AuthFailure::Revoked => {
                ApiError::forbidden("device_revoked", "this device has been revoked")
            }
            AuthFailure::Superseded => {
                ApiError::unauthorized("unauthenticated", "access token was revoked")
            }
            AuthFailure::Store(e) => ApiError::internal(e),
        })?;
        Ok(Authenticated(claims))
    }
}

/// Why a token did not authenticate a device.
#[derive(Debug)]
pub enum AuthFailure {
    Token(TokenError),
    /// The device is revoked.
    Revoked,
    /// The token predates a revocation of the device's tokens.
    Superseded,
    Store(crate::store::StoreError),
}
