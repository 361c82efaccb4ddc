//! Posts and their tags: the list every device needs to check in offline, and
//! for the office the printable tag payloads and key rotation/revocation.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::admin::Actor;
pub use crate::admin::keys::PrintableTag;
use crate::admin::keys::{self, TagSheet};
use crate::http::{ApiError, Authenticated, PathParams, QueryParams};
use crate::state::AppState;
use crate::store::PostRow;

/// A tag key that was created or revoked.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TagKeyChanged {
    pub key_id: String,
    /// Present (true) when the key was revoked.
    pub revoked: Option<bool>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BuildingFilter {
    building: Option<String>,
}

/// `GET /api/v1/posts?building=…`: the community's posts.
#[utoipa::path(get, path = "/api/v1/posts", tag = "places", security(("bearer" = [])), params(BuildingFilter),
    responses((status = 200, description = "The community's posts", body = [PostRow])))]
pub async fn list_posts(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    QueryParams(filter): QueryParams<BuildingFilter>,
) -> Result<Json<Vec<PostRow>>, ApiError> {
    Ok(Json(
        app.store
            .posts(&claims.com, filter.building.as_deref())
            .await?,
    ))
}

/// `GET /api/v1/posts/tags?building=…` (office): the payloads to print, one
/// per post, signed with the newest unrevoked key.
#[utoipa::path(get, path = "/api/v1/posts/tags", tag = "places", security(("bearer" = [])), params(BuildingFilter),
    responses(
        (status = 200, description = "One signed tag payload per post", body = [PrintableTag]),
        (status = 409, description = "Every tag key is revoked (`no_tag_key`): rotate to a new one", body = crate::http::ErrorBody)))]
pub async fn printable_tags(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    QueryParams(filter): QueryParams<BuildingFilter>,
) -> Result<Json<Vec<PrintableTag>>, ApiError> {
    let actor = Actor::of(&claims);
    Ok(Json(
        keys::printable(&app, &actor, filter.building.as_deref()).await?,
    ))
}

/// The print view: the sheet's markup is `templates/tag_sheet.html`, which
/// the dashboard's print page shares.
#[derive(askama::Template)]
#[template(path = "tags.html")]
struct TagSheetPage {
    sheet: TagSheet,
}

/// `GET /api/v1/posts/tags.html?building=…` (office): a print view with one
/// QR code per post, labelled as people say it ("3栋2单元 9F").
#[utoipa::path(get, path = "/api/v1/posts/tags.html", tag = "places", security(("bearer" = [])), params(BuildingFilter),
    responses(
        (status = 200, description = "A printable page of QR codes", content_type = "text/html", body = String),
        (status = 409, description = "Every tag key is revoked (`no_tag_key`): rotate to a new one", body = crate::http::ErrorBody)))]
pub async fn tag_sheet(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    QueryParams(filter): QueryParams<BuildingFilter>,
) -> Result<axum::response::Html<String>, ApiError> {
    use askama::Template;
    let sheet = keys::sheet(&app, &Actor::of(&claims), filter.building.as_deref()).await?;
    Ok(axum::response::Html(
        TagSheetPage { sheet }
            .render()
            .map_err(ApiError::internal)?,
    ))
}

/// A tag key as the office sees it: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TagKeyView {
    id: String,
    /// Unix milliseconds.
    created_at: i64,
    revoked_at: Option<i64>,
}

/// `GET /api/v1/tag-keys` (office, auditor): every key, oldest first.
#[utoipa::path(get, path = "/api/v1/tag-keys", tag = "places", security(("bearer" = [])),
    responses((status = 200, description = "Tag keys, revoked ones included", body = [TagKeyView])))]
pub async fn list_tag_keys(
    State(app): State<AppState>,
    super::admin::Reader(claims): super::admin::Reader,
) -> Result<Json<Vec<TagKeyView>>, ApiError> {
    let keys = app.store.tag_keys(&claims.com).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| TagKeyView {
                id: k.id,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
    ))
}

/// `POST /api/v1/tag-keys` (office): a new signing key; new prints use it.
#[utoipa::path(post, path = "/api/v1/tag-keys", tag = "places", security(("bearer" = [])),
    responses((status = 200, description = "The new key's id", body = TagKeyChanged)))]
pub async fn rotate_tag_key(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let id = keys::rotate(&app, &Actor::of(&claims)).await?;
    Ok(Json(json!({ "key_id": id })))
}

/// `POST /api/v1/tag-keys/{id}/revoke` (office): tags signed with it stop
/// proving presence from the next check-in on.
#[utoipa::path(post, path = "/api/v1/tag-keys/{id}/revoke", tag = "places", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tag key id")),
    responses(
        (status = 200, description = "Revoked", body = TagKeyChanged),
        (status = 404, description = "No such unrevoked key in your community", body = crate::http::ErrorBody)))]
pub async fn revoke_tag_key(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    keys::revoke(&app, &Actor::of(&claims), &id).await?;
    Ok(Json(json!({ "key_id": id, "revoked": true })))
}
