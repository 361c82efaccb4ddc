//! `/incidents` and `/incidents/{id}`: the incident reports the viewer's read
//! scopes reach, newest first, and one report with its attributed history;
//! leaders and the office acknowledge, the office closes — events appended
//! to the incident document as the signed-in user, by the same rules as a
//! phone's.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use fieldsync_proto::model::Role;
use fieldsync_proto::model::incident::{IncidentAction, IncidentDoc, IncidentEvent};
use fieldsync_proto::model::validate;
use fieldsync_proto::{DocId, DocType};
use serde::Deserialize;

use super::session::Viewer;
use super::{Frame, WebError, render};
use crate::clock::now_ms;
use crate::format::{link, local_day_hm, place_label};
use crate::i18n::{Lang, tr_key};
use crate::names::Names;
use crate::state::AppState;
use crate::store::IncidentRow;

/// Reports a page of the list shows.
const PAGE: usize = 50;

/// The catalogue key of an incident state (`open`, `acknowledged`,
/// `closed`) and its CSS class.
fn state_key(state: &str) -> (&'static str, &'static str) {
    match state {
        "closed" => (tr_key("incident.state.closed"), "ok"),
        "acknowledged" => (tr_key("incident.state.acknowledged"), "info"),
        _ => (tr_key("incident.state.open"), "bad"),
    }
}

fn action_key(action: IncidentAction) -> &'static str {
    match action {
        IncidentAction::Report => tr_key("incident.action.report"),
        IncidentAction::Update => tr_key("incident.action.update"),
        IncidentAction::Acknowledge => tr_key("incident.action.acknowledge"),
        IncidentAction::Close => tr_key("incident.action.close"),
    }
}

/// Reads incident `id` if `viewer` may: `None` when it does not exist, is no
/// incident, or lies outside the viewer's read scopes (all "not found").
async fn read(app: &AppState, viewer: &Viewer, id: &str) -> Result<Option<IncidentDoc>, WebError> {
    let Ok(doc_id) = DocId::new(id.to_owned()) else {
        return Ok(None);
    };
    let Some(stored) = app.store.load_doc(&viewer.community, &doc_id).await? else {
        return Ok(None);
    };
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    if stored.row.doc_type != "incident" || !crate::scope::may_read_row(&reader, &stored.row) {
        return Ok(None);
    }
    let doc = automerge::Automerge::load(&stored.chunks.concat()).map_err(WebError::internal)?;
    validate::read_incident(&doc)
        .map(Some)
        .map_err(|r| WebError::internal(r.message))
}

pub struct IncidentLine {
    pub href: String,
    pub occurred: String,
    pub place: Option<String>,
    pub cause: String,
    pub reporter: String,
    pub state: &'static str,
    pub class: &'static str,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: usize,
}

#[derive(Template)]
#[template(path = "web/incidents.html")]
struct ListPage {
    frame: Frame,
    state: String,
    lines: Vec<IncidentLine>,
    prev: Option<String>,
    next: Option<String>,
}

/// `GET /incidents?state=open|acknowledged|closed&page=N`.
pub async fn list(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let community = viewer.community.clone();
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    let mut rows: Vec<IncidentRow> = app
        .store
        .incident_rows(&community)
        .await?
        .into_iter()
        .filter(|r| q.state.is_empty() || r.state == q.state)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.occurred_at, r.reported_at)));
    let ids: Vec<DocId> = rows
        .iter()
        .filter_map(|r| DocId::new(r.doc_id.clone()).ok())
        .collect();
    let docs = app.store.load_docs(&community, &ids).await?;
    let readable: Vec<(IncidentRow, IncidentDoc)> = rows
        .into_iter()
        .filter_map(|r| {
            let stored = docs.get(&DocId::new(r.doc_id.clone()).ok()?)?;
            if !crate::scope::may_read_row(&reader, &stored.row) {
                return None;
            }
            let doc = automerge::Automerge::load(&stored.chunks.concat()).ok()?;
            Some((r, validate::read_incident(&doc).ok()?))
        })
        .collect();
    let names = Names::load(&app.store, &community).await?;
    let posts = app.store.posts(&community, None).await?;
    let zh = viewer.tr.lang == Lang::ZhCn;
    let total = readable.len();
    let lines = readable
        .into_iter()
        .skip(q.page * PAGE)
        .take(PAGE)
        .map(|(r, doc)| {
            let (state, class) = state_key(&r.state);
            IncidentLine {
                href: format!("/incidents/{}", r.doc_id),
                occurred: local_day_hm(doc.occurred_at_ms),
                place: place_label(&doc.place, &posts, zh),
                cause: doc.cause,
                reporter: names.user(&doc.reporter),
                state,
                class,
            }
        })
        .collect();
    let page_link = |page: usize| {
        let page = page.to_string();
        link(
            "/incidents",
            &[("state", q.state.as_str()), ("page", &page)],
        )
    };
    let path = page_link(q.page);
    render(&ListPage {
        frame: Frame::new(viewer, tr_key("nav.incidents"), path),
        state: q.state.clone(),
        lines,
        prev: q.page.checked_sub(1).map(page_link),
        next: ((q.page + 1) * PAGE < total).then(|| page_link(q.page + 1)),
    })
}

pub struct EventLine {
    pub action: &'static str,
    pub by: String,
    pub role: &'static str,
    pub device: String,
    pub at: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "web/incident.html")]
struct DetailPage {
    frame: Frame,
    id: String,
    state: &'static str,
    class: &'static str,
    occurred: String,
    place: Option<String>,
    doc: IncidentDoc,
    reporter: String,
    events: Vec<EventLine>,
    may_acknowledge: bool,
    may_close: bool,
    may_update: bool,
}

/// `GET /incidents/{id}`.
pub async fn detail(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let doc = read(&app, &viewer, &id).await?.ok_or(WebError::NotFound)?;
    let names = Names::load(&app.store, &viewer.community).await?;
    let posts = app.store.posts(&viewer.community, None).await?;
    let zh = viewer.tr.lang == Lang::ZhCn;
    let (state, class) = state_key(if doc.closed() {
        "closed"
    } else if doc.acknowledged() {
        "acknowledged"
    } else {
        "open"
    });
    let open = !doc.closed();
    let events = doc
        .events
        .iter()
        .map(|e| EventLine {
            action: action_key(e.action),
            by: names.user(&e.by),
            role: super::role_key(e.role),
            device: e.device.clone(),
            at: local_day_hm(e.at_ms),
            note: e.note.clone(),
        })
        .collect();
    render(&DetailPage {
        may_acknowledge: open && viewer.may_act() && !doc.acknowledged(),
        may_close: open && viewer.role == Role::Office,
        may_update: open && viewer.may_act(),
        occurred: local_day_hm(doc.occurred_at_ms),
        place: place_label(&doc.place, &posts, zh),
        reporter: names.user(&doc.reporter),
        events,
        state,
        class,
        doc,
        frame: Frame::new(viewer, tr_key("nav.incidents"), format!("/incidents/{id}")),
        id,
    })
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// The most a note may hold, in characters.
const NOTE_MAX: usize = 2_000;

async fn act(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    action: IncidentAction,
    form: ActionForm,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    if !viewer.may_act() {
        return Err(WebError::Forbidden);
    }
    if form.note.chars().count() > NOTE_MAX {
        return Err(WebError::Refused(format!(
            "a note holds at most {NOTE_MAX} characters"
        )));
    }
    if action == IncidentAction::Update && form.note.trim().is_empty() {
        return Err(WebError::Refused("write the remark first".into()));
    }
    // Read first: an incident outside the viewer's scopes is not found.
    read(app, viewer, id).await?.ok_or(WebError::NotFound)?;
    let event = IncidentEvent {
        id: format!("ev-{}", uuid::Uuid::new_v4().simple()),
        at_ms: now_ms(),
        by: viewer.user_id.clone(),
        role: viewer.role,
        device: viewer.device_id.clone(),
        action,
        note: form.note.trim().to_owned(),
    };
    let item = serde_json::to_value(&event).map_err(WebError::internal)?;
    super::write::append(app, viewer, DocType::Incident, id, "events", item).await?;
    Ok(Redirect::to(&format!("/incidents/{id}")).into_response())
}

/// `POST /incidents/{id}/acknowledge`.
pub async fn acknowledge(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    act(&app, &viewer, &id, IncidentAction::Acknowledge, form).await
}

/// `POST /incidents/{id}/close`.
pub async fn close(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    act(&app, &viewer, &id, IncidentAction::Close, form).await
}

/// `POST /incidents/{id}/update`: a remark.
pub async fn update(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    act(&app, &viewer, &id, IncidentAction::Update, form).await
}
