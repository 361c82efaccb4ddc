//! Tag keys and printed tags: rotating and revoking the community's signing
//! keys, and the sheet of QR codes the office prints.

use serde_json::json;

use super::{Actor, AdminError};
use crate::clock::now_ms;
use crate::state::AppState;
use crate::tags;

/// One post's printable tag.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PrintableTag {
    pub post_id: String,
    pub label_zh: String,
    pub label_en: String,
    pub key_id: String,
    pub payload: String,
}

/// One post on the printed sheet.
pub struct SheetTag {
    pub post_id: String,
    pub label_zh: String,
    pub label_en: String,
    /// The QR code as SVG (generated here from the signed payload, never
    /// user text; presentation attributes only, no `style`).
    pub svg: String,
}

/// The sheet of tags to print for a building, or for the whole community.
pub struct TagSheet {
    /// "3栋 巡逻签到点 · Building 3 patrol posts".
    pub title: String,
    /// The key every tag on it is signed with.
    pub key_id: String,
    pub tags: Vec<SheetTag>,
}

/// The payloads to print, one per post (of `building`, or all), signed with
/// the newest unrevoked key.
pub async fn printable(
    app: &AppState,
    actor: &Actor,
    building: Option<&str>,
) -> Result<Vec<PrintableTag>, AdminError> {
    actor.require_office("print tags")?;
    let keys = app.store.tag_keys(&actor.community).await?;
    let key = tags::current_key(&keys).ok_or_else(|| {
        AdminError::conflict(
            "no_tag_key",
            "every tag key is revoked; rotate to a new one",
        )
    })?;
    let posts = app.store.posts(&actor.community, building).await?;
    Ok(posts
        .into_iter()
        .filter_map(|p| {
            let payload = tags::payload(&actor.community, &p, key)?;
            Some(PrintableTag {
                post_id: p.id,
                label_zh: p.label_zh,
                label_en: p.label_en,
                key_id: key.id.clone(),
                payload,
            })
        })
        .collect())
}

/// The QR code of `payload` as SVG, error correction level M.
pub fn qr_svg(payload: &str) -> Result<String, AdminError> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(AdminError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// The printable sheet: one QR code per post, labelled as people say it
/// ("3栋2单元 9F") in both languages.
pub async fn sheet(
    app: &AppState,
    actor: &Actor,
    building: Option<&str>,
) -> Result<TagSheet, AdminError> {
    let title = match building {
        Some(b) => format!("{b}栋 巡逻签到点 · Building {b} patrol posts"),
        None => "巡逻签到点 · Patrol posts".to_owned(),
    };
    let tags = printable(app, actor, building).await?;
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
        .collect::<Result<Vec<_>, AdminError>>()?;
    Ok(TagSheet {
        title,
        key_id,
        tags,
    })
}

/// Makes a new signing key (`tag_key.rotate`); new prints use it, older
/// prints keep working until their key is revoked. Returns its id.
pub async fn rotate(app: &AppState, actor: &Actor) -> Result<String, AdminError> {
    actor.require_office("rotate tag keys")?;
    let id = tags::rotate_key(&app.store, &actor.community, now_ms()).await?;
    let entry = actor.entry("tag_key.rotate", &id, json!({}));
    app.store.append_audit(&actor.community, &entry).await?;
    tracing::info!(key = %id, by = %actor.user_id, "tag key created");
    Ok(id)
}

/// Revokes a key (`tag_key.revoke`): tags signed with it stop proving
/// presence from the next check-in on.
pub async fn revoke(app: &AppState, actor: &Actor, id: &str) -> Result<(), AdminError> {
    actor.require_office("revoke tag keys")?;
    if !app
        .store
        .revoke_tag_key(&actor.community, id, now_ms())
        .await?
    {
        return Err(AdminError::NotFound(
            "no such unrevoked tag key in your community",
        ));
    }
    let entry = actor.entry("tag_key.revoke", id, json!({}));
    app.store.append_audit(&actor.community, &entry).await?;
    tracing::info!(key = %id, by = %actor.user_id, "tag key revoked");
    Ok(())
}
