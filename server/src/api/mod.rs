//! HTTP routes: health, authentication, devices, posts and tags, the
//! dashboard's queries, the office's admin API, the OpenAPI spec, and the
//! sync WebSocket.

mod admin;
mod auth;
mod duty;
pub mod error;
mod hazards;
pub mod openapi;
mod places;

use axum::extract::{FromRequestParts, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::request::Parts;
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::{Claims, TokenError};
pub use error::ApiError;

/// A router that records every method and path it serves as they are added,
/// so the OpenAPI spec can be checked against what is actually served.
pub struct Routes<S> {
    router: Router<S>,
    served: Vec<(Method, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            served: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Serves `method path` with `handler`.
    pub fn add<H: Handler<T, S>, T: 'static>(
        self,
        method: Method,
        path: &'static str,
        handler: H,
    ) -> Self {
        self.add_with(method, path, handler, |m| m)
    }

    /// Serves `method path` with `handler`, wrapped (e.g. in a body limit).
    pub fn add_with<H: Handler<T, S>, T: 'static>(
        mut self,
        method: Method,
        path: &'static str,
        handler: H,
        wrap: impl FnOnce(MethodRouter<S>) -> MethodRouter<S>,
    ) -> Self {
        let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
        self.router = self.router.route(path, wrap(on(filter, handler)));
        self.served.push((method, path));
        self
    }

    /// Applies `f` to the router built so far (layers for all its routes).
    pub fn map(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// Every method and path served.
    pub fn served(&self) -> &[(Method, &'static str)] {
        &self.served
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

/// The REST routes (photos excepted, see `crate::photos::routes`).
pub fn routes() -> Routes<AppState> {
    use Method as M;
    Routes::default()
        .add(M::GET, "/api/v1/health", health)
        .add(M::GET, "/api/v1/openapi.json", openapi::spec)
        .add(M::POST, "/api/v1/auth/login", auth::login)
        .add(M::POST, "/api/v1/auth/refresh", auth::refresh)
        .add(M::POST, "/api/v1/devices/{id}/revoke", auth::revoke_device)
        .add(M::GET, "/api/v1/posts", places::list_posts)
        .add(M::GET, "/api/v1/hazards", hazards::list_hazards)
        .add(M::GET, "/api/v1/compliance", duty::compliance)
        .add(M::GET, "/api/v1/alerts", duty::alerts)
        .add(M::GET, "/api/v1/posts/tags", places::printable_tags)
        .add(M::GET, "/api/v1/posts/tags.html", places::tag_sheet)
        .add(M::GET, "/api/v1/tag-keys", places::list_tag_keys)
        .add(M::POST, "/api/v1/tag-keys", places::rotate_tag_key)
        .add(
            M::POST,
            "/api/v1/tag-keys/{id}/revoke",
            places::revoke_tag_key,
        )
        .add(M::GET, "/api/v1/sync", crate::sync::upgrade)
        .add(M::GET, "/api/v1/admin/users", admin::users::list)
        .add(M::POST, "/api/v1/admin/users", admin::users::create)
        .add(M::PATCH, "/api/v1/admin/users/{id}", admin::users::update)
        .add(
            M::POST,
            "/api/v1/admin/users/{id}/password",
            admin::users::reset_password,
        )
        .add(M::GET, "/api/v1/admin/devices", admin::users::devices)
        .add(M::GET, "/api/v1/admin/teams", admin::users::teams)
        .add(M::POST, "/api/v1/admin/teams", admin::users::create_team)
        .add(
            M::PATCH,
            "/api/v1/admin/teams/{id}",
            admin::users::update_team,
        )
        .add(M::GET, "/api/v1/admin/places", admin::places::tree)
        .add(
            M::POST,
            "/api/v1/admin/stairwells",
            admin::places::create_stairwell,
        )
        .add(M::POST, "/api/v1/admin/posts", admin::places::create_post)
        .add(
            M::PATCH,
            "/api/v1/admin/posts/{id}",
            admin::places::update_post,
        )
        .add(
            M::DELETE,
            "/api/v1/admin/posts/{id}",
            admin::places::delete_post,
        )
        .add(M::GET, "/api/v1/admin/routes", admin::duty::list_routes)
        .add(M::POST, "/api/v1/admin/routes", admin::duty::create_route)
        .add(M::PUT, "/api/v1/admin/routes/{id}", admin::duty::put_route)
        .add(M::GET, "/api/v1/admin/rosters", admin::duty::list_rosters)
        .add(M::POST, "/api/v1/admin/rosters", admin::duty::create_roster)
        .add(
            M::PUT,
            "/api/v1/admin/rosters/{id}",
            admin::duty::put_roster,
        )
        .add(M::GET, "/api/v1/admin/audit", admin::audit_log)
}

/// All REST routes of the server (photos excepted), with their state.
pub fn router(state: AppState) -> Router {
    routes().into_router().with_state(state)
}

/// Every method and path the server serves over HTTP, photos included.
pub fn served_routes() -> Vec<(Method, &'static str)> {
    let mut all = routes().served().to_vec();
    all.extend_from_slice(crate::photos::routes(0).served());
    all
}

/// `GET /api/v1/health`: liveness, version and storage backend.
#[utoipa::path(get, path = "/api/v1/health", tag = "server",
    responses((status = 200, description = "The server is up", body = openapi::Health)))]
async fn health(State(app): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "storage": app.store.backend().as_str(),
    }))
}

/// A JSON request body; one that does not parse is a 400 `invalid_json`
/// in the shape of every other error.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::new(r.status(), "invalid_json", r.body_text())
    }
}

/// Allows `claims` only for one of `roles`; else 403 `forbidden`.
pub fn require_role(claims: &Claims, roles: &[&str], what: &str) -> Result<(), ApiError> {
    if roles.contains(&claims.role.as_str()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "forbidden",
            format!("only {} users can {what}", roles.join(" and ")),
        ))
    }
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
