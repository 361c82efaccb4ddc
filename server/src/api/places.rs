//! Posts and their tags: the list every device needs to check in offline, and
//! for the office the printable tag payloads and key rotation/revocation.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Claims;
use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated};
use crate::state::AppState;
use crate::store::PostRow;
use crate::tags;

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

fn office_only(claims: &Claims, what: &str) -> Result<(), ApiError> {
    if claims.role == "office" {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "forbidden",
            format!("only office users can {what}"),
        ))
    }
}

/// `GET /api/v1/posts?building=…`: the community's posts.
#[utoipa::path(get, path = "/api/v1/posts", tag = "places", security(("bearer" = [])), params(BuildingFilter),
    responses((status = 200, description = "The community's posts", body = [PostRow])))]
pub async fn list_posts(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Query(filter): Query<BuildingFilter>,
) -> Result<Json<Vec<PostRow>>, ApiError> {
    Ok(Json(
        app.store
            .posts(&claims.com, filter.building.as_deref())
            .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PrintableTag {
    post_id: String,
    label_zh: String,
    label_en: String,
    key_id: String,
    payload: String,
}

/// `GET /api/v1/posts/tags?building=…` (office): the payloads to print, one
/// per post, signed with the newest unrevoked key.
#[utoipa::path(get, path = "/api/v1/posts/tags", tag = "places", security(("bearer" = [])), params(BuildingFilter),
    responses(
        (status = 200, description = "One signed tag payload per post", body = [PrintableTag]),
        (status = 400, description = "Every tag key is revoked", body = crate::http::ErrorBody)))]
pub async fn printable_tags(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Query(filter): Query<BuildingFilter>,
) -> Result<Json<Vec<PrintableTag>>, ApiError> {
    office_only(&claims, "print tags")?;
    let keys = app.store.tag_keys(&claims.com).await?;
    let key = tags::current_key(&keys).ok_or_else(|| {
        ApiError::bad_request(
            "no_tag_key",
            "every tag key is revoked; rotate to a new one",
        )
    })?;
    let posts = app
        .store
        .posts(&claims.com, filter.building.as_deref())
        .await?;
    Ok(Json(
        posts
            .into_iter()
            .filter_map(|p| {
                let payload = tags::payload(&claims.com, &p, key)?;
                Some(PrintableTag {
                    post_id: p.id,
                    label_zh: p.label_zh,
                    label_en: p.label_en,
                    key_id: key.id.clone(),
                    payload,
                })
            })
            .collect(),
    ))
}

struct SheetTag {
    post_id: String,
    label_zh: String,
    label_en: String,
    /// The QR code as inline SVG (generated here, never user text).
    svg: String,
}

#[derive(askama::Template)]
#[template(path = "tags.html")]
struct TagSheet {
    title: String,
    key_id: String,
    tags: Vec<SheetTag>,
}

fn qr_svg(payload: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(ApiError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// `GET /api/v1/posts/tags.html?building=…` (office): a print view with one
/// QR code per post, labelled as people say it ("3栋2单元 9F").
#[utoipa::path(get, path = "/api/v1/posts/tags.html", tag = "places", security(("bearer" = [])), params(BuildingFilter),
    responses(
        (status = 200, description = "A printable page of QR codes", content_type = "text/html", body = String),
        (status = 400, description = "Every tag key is revoked", body = crate::http::ErrorBody)))]
pub async fn tag_sheet(
    state: State<AppState>,
    auth: Authenticated,
    Query(filter): Query<BuildingFilter>,
) -> Result<axum::response::Html<String>, ApiError> {
    use askama::Template;
    let title = match &filter.building {
        Some(b) => format!("{b}栋 巡逻签到点 · Building {b} patrol posts"),
        None => "巡逻签到点 · Patrol posts".to_owned(),
    };
    let Json(tags) = printable_tags(state, auth, Query(filter)).await?;
    let key_id = tags.first().map(|t| t.key_id.clone()).unwrap_or_default();
    let tags = tags
        .into_iter()
        .map(|t| {
            Ok(SheetTag {
                svg: qr_svg(&t.payload)?,
                post_id: t.post_id,
                label_zh: t.label_zh,
                label_en: t.label_en,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let page = TagSheet {
        title,
        key_id,
        tags,
    };
    Ok(axum::response::Html(
        page.render().map_err(ApiError::internal)?,
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
    office_only(&claims, "rotate tag keys")?;
    let id = tags::rotate_key(&app.store, &claims.com, now_ms()).await?;
    let entry = super::admin::audit(&claims, "tag_key.rotate", &id, json!({}));
    app.store.append_audit(&claims.com, &entry).await?;
    tracing::info!(key = %id, by = %claims.sub, "tag key created");
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
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    office_only(&claims, "revoke tag keys")?;
    if !app.store.revoke_tag_key(&claims.com, &id, now_ms()).await? {
        return Err(ApiError::not_found(
            "not_found",
            "no such unrevoked tag key in your community",
        ));
    }
    let entry = super::admin::audit(&claims, "tag_key.revoke", &id, json!({}));
    app.store.append_audit(&claims.com, &entry).await?;
    tracing::info!(key = %id, by = %claims.sub, "tag key revoked");
    Ok(Json(json!({ "key_id": id, "revoked": true })))
}
