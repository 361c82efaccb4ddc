//! `/admin/places`: buildings, stairwells and their posts; the printable
//! QR tag sheet (the office's only); `/admin/tag-keys`: the keys that sign
//! the tags, with rotate and revoke.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{CsrfForm, Done, SECTIONS, local_datetime, refused, require_reader};
use crate::admin::keys::{self, TagSheet};
use crate::admin::places::{GridNode, places_tree};
use crate::i18n::{Lang, tr_key};
use crate::state::AppState;
use crate::tags;
use crate::web::session::Viewer;
use crate::web::{Frame, WebError, render};

#[derive(Template)]
#[template(path = "web/admin_places.html")]
struct PlacesPage {
    frame: Frame,
    sections: [(&'static str, &'static str); 4],
    notice: Option<&'static str>,
    grids: Vec<GridNode>,
    zh: bool,
    posts: usize,
}

/// `GET /admin/places`.
pub async fn list(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let posts = app.store.posts(&viewer.community, None).await?;
    let count = posts.len();
    render(&PlacesPage {
        zh: viewer.tr.lang == Lang::ZhCn,
        frame: Frame::new(viewer, tr_key("nav.admin"), "/admin/places"),
        sections: SECTIONS,
        notice: None,
        grids: places_tree(posts),
        posts: count,
    })
}

/// `?building=` of the tag sheet.
#[derive(Deserialize)]
pub struct BuildingFilter {
    #[serde(default)]
    building: Option<String>,
}

#[derive(Template)]
#[template(path = "web/admin_tag_sheet.html")]
struct TagSheetPage {
    frame: Frame,
    sheet: TagSheet,
}

/// `GET /admin/places/tags?building=`: the sheet the API prints, in the
/// dashboard's frame (the office's only: the codes prove presence).
pub async fn tag_sheet(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(filter): Query<BuildingFilter>,
) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let building = filter.building.filter(|b| !b.is_empty());
    let sheet = keys::sheet(&app, &viewer.actor(), building.as_deref())
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    let path = match &building {
        Some(b) => format!("/admin/places/tags?building={b}"),
        None => "/admin/places/tags".to_owned(),
    };
    render(&TagSheetPage {
        frame: Frame::new(viewer, tr_key("nav.admin"), path),
        sheet,
    })
}

/// A tag key as the page shows it.
pub struct KeyLine {
    pub id: String,
    pub created: String,
    pub revoked: Option<String>,
    /// The key new prints are signed with.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "web/admin_tag_keys.html")]
struct KeysPage {
    frame: Frame,
    sections: [(&'static str, &'static str); 4],
    notice: Option<&'static str>,
    keys: Vec<KeyLine>,
}

/// `GET /admin/tag-keys`: ids and times only, never a secret.
pub async fn tag_keys(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let rows = app.store.tag_keys(&viewer.community).await?;
    let current = tags::current_key(&rows).map(|k| k.id.clone());
    let keys = rows
        .into_iter()
        .rev()
        .map(|k| KeyLine {
            current: current.as_deref() == Some(k.id.as_str()),
            created: local_datetime(k.created_at),
            revoked: k.revoked_at.map(local_datetime),
            id: k.id,
        })
        .collect();
    render(&KeysPage {
        frame: Frame::new(viewer, tr_key("nav.admin"), "/admin/tag-keys"),
        sections: SECTIONS,
        notice: done.notice(),
        keys,
    })
}

/// `POST /admin/tag-keys`: a new key; new prints use it.
pub async fn rotate(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    keys::rotate(&app, &viewer.actor())
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    Ok(Redirect::to("/admin/tag-keys?done=rotated").into_response())
}

/// `POST /admin/tag-keys/{id}/revoke`: tags signed with it stop proving
/// presence.
pub async fn revoke(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    keys::revoke(&app, &viewer.actor(), &id)
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    Ok(Redirect::to("/admin/tag-keys?done=revoked").into_response())
}
