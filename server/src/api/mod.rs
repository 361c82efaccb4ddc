//! HTTP routes: health, authentication, devices, posts and tags, the
//! dashboard's queries, the office's admin API, the OpenAPI spec, and the
//! sync WebSocket.

mod admin;
mod auth;
mod duty;
mod hazards;
pub mod openapi;
mod places;
mod reports;

use axum::extract::State;
use axum::http::Method;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::http::Routes;
use crate::state::AppState;

/// `GET /api/v1/health`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub storage: String,
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
        .add(M::GET, "/api/v1/reports", reports::list)
        .add(M::GET, "/api/v1/reports/{kind}", reports::report)
        .add(M::GET, "/api/v1/exports/{what}", reports::export)
        .add(
            M::GET,
            "/api/v1/reports/evidence/{month}",
            reports::evidence,
        )
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
        .add(M::GET, "/api/v1/admin/users/{id}/export", reports::person)
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
    responses((status = 200, description = "The server is up", body = Health)))]
async fn health(State(app): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "storage": app.store.backend().as_str(),
    }))
}
