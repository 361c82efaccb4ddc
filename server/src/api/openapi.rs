//! The OpenAPI 3.1 description of every HTTP route, served at
//! `GET /api/v1/openapi.json`. Handlers carry their own `#[utoipa::path]`;
//! [`ApiDoc`] gathers them, and `Conventions` adds what every operation
//! shares (the bearer scheme, the error responses of authentication and
//! roles, the opaque 500).
//!
//! # Invariants
//! - The spec's methods and paths are exactly those the router serves
//!   (`super::served_routes`); a test compares the two.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::response::Responses;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder, content::ContentBuilder};
use utoipa::{Modify, OpenApi};

/// `GET /api/v1/openapi.json`: this description (no authentication).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json", body = serde_json::Value)))]
pub async fn spec() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serializes")
    });
    ([(CONTENT_TYPE, "application/json")], json.clone()).into_response()
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

/// What every operation shares: the bearer scheme; 401 and 403 on the
/// authenticated ones; 400 and 415 on those with a JSON body; the opaque 500
/// on all.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token from /api/v1/auth/login or /refresh"))
                    .build(),
            ),
        );
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let json_body = op
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                let responses = &mut op.responses;
                if secured {
                    shared(
                        responses,
                        "401",
                        "No, an invalid or an expired access token (`unauthenticated`, `token_expired`)",
                    );
                    shared(
                        responses,
                        "403",
                        "The role may not do this (`forbidden`), or the device is revoked (`device_revoked`)",
                    );
                }
                if json_body {
                    shared(
                        responses,
                        "400",
                        "`invalid_json`: the body is not a JSON object of this shape",
                    );
                    shared(
                        responses,
                        "415",
                        "`invalid_json`: the body is not sent as `Content-Type: application/json`",
                    );
                }
                shared(
                    responses,
                    "500",
                    "Internal error; the message holds an incident id",
                );
            }
        }
    }
}

/// Documents an error response every operation of a kind shares: as its own
/// response, or added to the description of the operation's own one for
/// that status.
fn shared(responses: &mut Responses, status: &str, description: &str) {
    let responses = &mut responses.responses;
    if let Some(own) = responses.get_mut(status) {
        if let RefOr::T(own) = own {
            own.description = format!("{}; {description}", own.description);
        }
        return;
    }
    let error = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    responses.insert(status.into(), RefOr::T(error));
}
