//! The OpenAPI 3.1 description of every HTTP route, served at
//! `GET /api/v1/openapi.json`. Handlers carry their own `#[utoipa::path]`;
//! [`ApiDoc`] gathers them, and [`conventions`] adds what operations of a
//! kind share (the bearer scheme, the error responses of authentication,
//! roles, bodies and parameters, the opaque 500) and what the schemas leave
//! unsaid (the range of each integer type).
//!
//! # Invariants
//! - The spec's methods and paths are exactly those the router serves
//!   (`super::served_routes`); a test compares the two.

pub mod conventions;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::{Modify, OpenApi};

use crate::config::Config;
use crate::state::AppState;

use conventions::Conventions;

/// `GET /api/v1/openapi.json`: this description (no authentication).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json", body = serde_json::Value)))]
pub async fn spec(State(app): State<AppState>) -> Response {
    let json = document(&app.config)
        .to_json()
        .expect("the OpenAPI document serializes");
    ([(CONTENT_TYPE, "application/json")], json).into_response()
}

/// The description of this server as `config` sets it up (the upload limit
/// is part of the tus endpoint's contract). Built per request: it is small,
/// and asked for rarely.
pub fn document(config: &Config) -> utoipa::openapi::OpenApi {
    let mut api = ApiDoc::openapi();
    crate::photos::tus::Spec {
        max_upload_bytes: config.photos.max_upload_bytes,
    }
    .modify(&mut api);
    api
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fieldsync",
        description = "Neighbourhood night patrols: the server's REST API. Documents themselves travel over the sync WebSocket (`/api/v1/sync`).",
        license(name = "Apache-2.0")
    ),
    paths(
        super::health,
        spec,
        super::auth::login,
        super::auth::refresh,
        super::auth::revoke_device,
        super::places::list_posts,
        super::places::printable_tags,
        super::places::tag_sheet,
        super::places::list_tag_keys,
        super::places::rotate_tag_key,
        super::places::revoke_tag_key,
        super::hazards::list_hazards,
        super::duty::compliance,
        super::duty::alerts,
        super::reports::list,
        super::reports::report,
        super::reports::export,
        super::reports::evidence,
        super::reports::person,
        crate::sync::upgrade,
        super::admin::users::list,
        super::admin::users::create,
        super::admin::users::update,
        super::admin::users::reset_password,
        super::admin::users::devices,
        super::admin::users::teams,
        super::admin::users::create_team,
        super::admin::users::update_team,
        super::admin::places::tree,
        super::admin::places::create_stairwell,
        super::admin::places::create_post,
        super::admin::places::update_post,
        super::admin::places::delete_post,
        super::admin::duty::list_routes,
        super::admin::duty::create_route,
        super::admin::duty::put_route,
        super::admin::duty::list_rosters,
        super::admin::duty::create_roster,
        super::admin::duty::put_roster,
        super::admin::audit_log,
        crate::photos::tus::options,
        crate::photos::tus::create,
        crate::photos::tus::status,
        crate::photos::tus::append,
        crate::photos::tus::terminate,
        crate::photos::tus::options_upload,
        crate::photos::serve::read,
        crate::photos::serve::signed_url,
        crate::photos::serve::metadata,
    ),
    components(schemas(crate::http::ErrorBody)),
    modifiers(&Conventions),
    tags(
        (name = "server", description = "Health and this description"),
        (name = "auth", description = "Login and token refresh"),
        (name = "places", description = "Posts, printable tags, tag keys"),
        (name = "dashboard", description = "Hazard ledger, compliance, alerts"),
        (name = "reports", description = "Daily, weekly and monthly reports: JSON, CSV, XLSX or the printable page, live or as issued"),
        (name = "admin", description = "The office's administration; reads for office and auditors, writes for the office, all recorded in the audit log"),
        (name = "photos", description = "tus 1.0 uploads and signed photo links"),
        (name = "sync", description = "The WebSocket sync protocol"),
    )
)]
pub struct ApiDoc;
