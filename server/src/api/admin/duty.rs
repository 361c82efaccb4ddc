//! Routes and rosters: listed from their projections, created and replaced
//! as documents the server commits through the ordinary checks
//! (`crate::documents`), so phones get them by sync like any other change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fieldsync_proto::model::duty::{RosterDoc, RouteDoc};
use fieldsync_proto::{DocHeader, DocId, DocType, RejectCode};
use serde::Serialize;

use super::{Office, Reader, audit};
use crate::auth::Claims;
use crate::documents::{self, PutError};
use crate::http::ErrorBody;
use crate::http::{ApiError, JsonBody, PathParams};
use crate::state::AppState;

/// A route as the office sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RouteItem {
    id: String,
    route: RouteDoc,
}

/// A roster as the office sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RosterItem {
    id: String,
    roster: RosterDoc,
}

/// A document the office wrote.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DocWritten {
    id: String,
    /// The community change sequence it was stored under.
    seq: i64,
}

/// Parses stored projection bodies, leaving out any that no longer parse.
fn bodies<T: serde::de::DeserializeOwned, I>(
    rows: Vec<(String, String)>,
    item: fn(String, T) -> I,
) -> Vec<I> {
    rows.into_iter()
        .filter_map(|(id, body)| Some(item(id, serde_json::from_str(&body).ok()?)))
        .collect()
}

/// `GET /api/v1/admin/routes`: every route of the community.
#[utoipa::path(get, path = "/api/v1/admin/routes", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Routes by id", body = [RouteItem])))]
pub async fn list_routes(
    State(app): State<AppState>,
    Reader(claims): Reader,
) -> Result<Json<Vec<RouteItem>>, ApiError> {
    let rows = app.store.routes(&claims.com).await?;
    Ok(Json(bodies(
        rows.into_iter().map(|r| (r.doc_id, r.body)).collect(),
        |id, route: RouteDoc| RouteItem { id, route },
    )))
}

/// `GET /api/v1/admin/rosters`: every roster of the community.
#[utoipa::path(get, path = "/api/v1/admin/rosters", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Rosters by week and team", body = [RosterItem])))]
pub async fn list_rosters(
    State(app): State<AppState>,
    Reader(claims): Reader,
) -> Result<Json<Vec<RosterItem>>, ApiError> {
    let rows = app.store.all_rosters(&claims.com).await?;
    Ok(Json(bodies(
        rows.into_iter().map(|r| (r.doc_id, r.body)).collect(),
        |id, roster: RosterDoc| RosterItem { id, roster },
    )))
}

/// Writes a route or roster document and records it.
async fn put(
    app: &AppState,
    claims: &Claims,
    doc_type: DocType,
    id: String,
    content: serde_json::Value,
) -> Result<DocWritten, ApiError> {
    let doc_id =
        DocId::new(id.clone()).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))?;
    let seq = documents::put(
        &app.commits,
        claims,
        DocHeader::new(doc_id, doc_type),
        &content,
    )
    .await
    .map_err(|e| match e {
        PutError::Rejected(r) => match r.code {
            RejectCode::Forbidden => ApiError::forbidden("forbidden", r.message),
            RejectCode::Conflict => ApiError::conflict("conflict", r.message),
            // The body is of the document's shape (else it would not have
            // parsed): what refuses it is a rule of its type.
            code => ApiError::unprocessable(code.as_str(), r.message),
        },
        PutError::WrongType(t) => ApiError::conflict(
            "wrong_type",
            format!("document {id} is a {} document", t.as_str()),
        ),
        PutError::Conflict => {
            ApiError::conflict("conflict", "the document changed concurrently; try again")
        }
        PutError::NotFound => ApiError::not_found("not_found", format!("no document {id}")),
        PutError::Store(e) => ApiError::internal(e),
    })?;
    let action = format!("{}.put", doc_type.as_str());
    app.store
        .append_audit(&claims.com, &audit(claims, &action, &id, content))
        .await?;
    Ok(DocWritten { id, seq })
}

fn new_id(doc_type: DocType) -> String {
    format!("{}-{}", doc_type.as_str(), uuid::Uuid::new_v4().simple())
}

fn json_of<T: Serialize>(doc: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(doc).map_err(ApiError::internal)
}

/// `POST /api/v1/admin/routes`: a new route.
#[utoipa::path(post, path = "/api/v1/admin/routes", tag = "admin", security(("bearer" = [])),
    request_body = RouteDoc,
    responses(
        (status = 201, description = "Stored; phones of the team get it by sync", body = DocWritten),
        (status = 422, description = "Refused by a rule of routes, with the code and message a synced change gets (`schema_violation`: `unknown_post`, …)", body = ErrorBody)))]
pub async fn create_route(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(route): JsonBody<RouteDoc>,
) -> Result<(StatusCode, Json<DocWritten>), ApiError> {
    let written = put(
        &app,
        &claims,
        DocType::Route,
        new_id(DocType::Route),
        json_of(&route)?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// `PUT /api/v1/admin/routes/{id}`: creates or replaces a route.
#[utoipa::path(put, path = "/api/v1/admin/routes/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = inline(DocId), Path, description = "Route document id")),
    request_body = RouteDoc,
    responses(
        (status = 200, description = "Stored; phones of the team get it by sync", body = DocWritten),
        (status = 400, description = "Not a document id (`invalid_id`)", body = ErrorBody),
        (status = 409, description = "The id is another type's (`wrong_type`), or the route changed concurrently (`conflict`)", body = ErrorBody),
        (status = 422, description = "Refused by a rule of routes, with the code and message a synced change gets (`schema_violation`: `unknown_post`, …)", body = ErrorBody)))]
pub async fn put_route(
    State(app): State<AppState>,
    Office(claims): Office,
    PathParams(id): PathParams<String>,
    JsonBody(route): JsonBody<RouteDoc>,
) -> Result<Json<DocWritten>, ApiError> {
    Ok(Json(
        put(&app, &claims, DocType::Route, id, json_of(&route)?).await?,
    ))
}

/// `POST /api/v1/admin/rosters`: a new roster.
#[utoipa::path(post, path = "/api/v1/admin/rosters", tag = "admin", security(("bearer" = [])),
    request_body = RosterDoc,
    responses(
        (status = 201, description = "Stored; shifts and compliance follow", body = DocWritten),
        (status = 422, description = "Refused by a rule of rosters, with the code and message a synced change gets (`schema_violation`: an unknown time zone, a `week_of` that is not a Monday, a shift id twice, …)", body = ErrorBody)))]
pub async fn create_roster(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(roster): JsonBody<RosterDoc>,
) -> Result<(StatusCode, Json<DocWritten>), ApiError> {
    let written = put(
        &app,
        &claims,
        DocType::Roster,
        new_id(DocType::Roster),
        json_of(&roster)?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// `PUT /api/v1/admin/rosters/{id}`: creates or replaces a roster.
#[utoipa::path(put, path = "/api/v1/admin/rosters/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = inline(DocId), Path, description = "Roster document id")),
    request_body = RosterDoc,
    responses(
        (status = 200, description = "Stored; shifts and compliance follow", body = DocWritten),
        (status = 400, description = "Not a document id (`invalid_id`)", body = ErrorBody),
        (status = 409, description = "The id is another type's (`wrong_type`), or the roster changed concurrently (`conflict`)", body = ErrorBody),
        (status = 422, description = "Refused by a rule of rosters, with the code and message a synced change gets (`schema_violation`: an unknown time zone, a `week_of` that is not a Monday, a shift id twice, …)", body = ErrorBody)))]
pub async fn put_roster(
    State(app): State<AppState>,
    Office(claims): Office,
    PathParams(id): PathParams<String>,
    JsonBody(roster): JsonBody<RosterDoc>,
) -> Result<Json<DocWritten>, ApiError> {
    Ok(Json(
        put(&app, &claims, DocType::Roster, id, json_of(&roster)?).await?,
    ))
}
