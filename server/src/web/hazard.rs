//! `/hazards/{id}`: one hazard — place, category, severity, folded state and
//! conflict flag, deadline, the whole attributed history and its photos —
//! and the actions the viewer's role may take on it (assign, verify, close,
//! reopen, comment), each a form posted to `/hazards/{id}/act`.
//!
//! # Invariants
//! - A hazard the viewer may not read is not found (404), for pages and
//!   posts alike; nothing says it exists.
//! - The forms offered are those `check_transition` allows the viewer from
//!   the folded state; the server checks every post again on the commit
//!   path, and its refusal is shown with the rule's message.
//! - Every event posted here is the viewer's, from their browser session's
//!   device (`web::write`).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldsync_proto::model::hazard::{self, HazardAction, HazardDoc, HazardEvent};
use fieldsync_proto::model::validate;
use fieldsync_proto::{DocId, DocType};
use serde::Deserialize;

use super::hazards::{category_label, place_label, severity_label, state_name};
use super::session::Viewer;
use super::{Frame, WebError, render, role_key};
use crate::clock::now_ms;
use crate::format::{local_date, local_date_time};
use crate::i18n::{Tr, tr_key};
use crate::state::AppState;

/// One entry of the history.
pub struct EventLine {
    pub action: &'static str,
    /// Assign: unit, person, deadline.
    pub detail: Option<String>,
    pub by: String,
    pub role: &'static str,
    pub device: String,
    pub at: String,
    pub note: String,
    /// Made concurrently with the one the fold followed, not applied.
    pub not_followed: bool,
    pub photos: Vec<PhotoLink>,
}

/// A photo: signed links to its thumbnail and display size, or `None` while
/// the phone has not uploaded it.
pub struct PhotoLink {
    pub links: Option<(String, String)>,
}

/// The forms the viewer is offered.
#[derive(Default)]
pub struct Actions {
    pub assign: bool,
    pub verify: bool,
    pub close: bool,
    pub reopen: bool,
    pub comment: bool,
}

impl Actions {
    /// The offered actions that take only a note: (action, catalogue key).
    pub fn plain(&self) -> Vec<(&'static str, &'static str)> {
        [
            (self.verify, "verify", tr_key("hazard.action.verify")),
            (self.close, "close", tr_key("hazard.action.close")),
            (self.reopen, "reopen", tr_key("hazard.action.reopen")),
        ]
        .into_iter()
        .filter(|(offered, _, _)| *offered)
        .map(|(_, name, key)| (name, key))
        .collect()
    }

    pub fn any(&self) -> bool {
        self.assign || self.verify || self.close || self.reopen || self.comment
    }
}

#[derive(Template)]
#[template(path = "web/hazard.html")]
struct HazardPage {
    frame: Frame,
    id: String,
    category: String,
    description: String,
    place: String,
    severity: String,
    major: bool,
    state: &'static str,
    state_label: String,
    in_conflict: bool,
    reporter: String,
    reported: String,
    assignment: Option<String>,
    due: String,
    overdue: bool,
    recurring_of: Option<String>,
    photos: Vec<PhotoLink>,
    events: Vec<EventLine>,
    actions: Actions,
    /// Whom a hazard may be assigned to: (user id, name).
    people: Vec<(String, String)>,
    /// A refusal of the last post, with the rule's message.
    notice: Option<String>,
}

/// The hazard document `id` if the viewer may read it; otherwise, and when
/// there is none, not found.
async fn readable(app: &AppState, viewer: &Viewer, id: &str) -> Result<HazardDoc, WebError> {
    let doc_id = DocId::new(id.to_owned()).map_err(|_| WebError::NotFound)?;
    let stored = app
        .store
        .load_doc(&viewer.community, &doc_id)
        .await?
        .ok_or(WebError::NotFound)?;
    if stored.row.doc_type != DocType::Hazard.as_str() {
        return Err(WebError::NotFound);
    }
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    if !crate::scope::may_read_row(&reader, &stored.row) {
        return Err(WebError::NotFound);
    }
    let bytes = stored.chunks.concat();
    tokio::task::spawn_blocking(move || {
        automerge::Automerge::load(&bytes)
            .map_err(WebError::internal)
            .and_then(|d| validate::read_hazard(&d).map_err(|r| WebError::internal(r.message)))
    })
    .await
    .map_err(WebError::internal)?
}

/// A probe event by the viewer, to ask the rules what they may do.
fn probe(viewer: &Viewer, action: HazardAction) -> HazardEvent {
    HazardEvent {
        id: "probe".into(),
        prev: None,
        at_ms: 0,
        by: viewer.user_id.clone(),
        role: viewer.role,
        device: viewer.device_id.clone(),
        action,
        note: String::new(),
        photos: Vec::new(),
    }
}

fn actions(viewer: &Viewer, folded: &hazard::Hazard) -> Actions {
    if !viewer.may_act() {
        return Actions::default();
    }
    let at = folded.current.as_ref();
    let may = |action| hazard::check_transition(at, &probe(viewer, action)).is_ok();
    Actions {
        assign: may(HazardAction::Assign {
            unit: String::new(),
            person: String::new(),
            deadline_ms: 0,
        }),
        verify: may(HazardAction::Verify),
        close: may(HazardAction::Close),
        reopen: may(HazardAction::Reopen),
        comment: may(HazardAction::Comment),
    }
}

fn action_key(action: &HazardAction) -> &'static str {
    match action {
        HazardAction::Report { .. } => tr_key("ledger.action.report"),
        HazardAction::Assign { .. } => tr_key("hazard.action.assign"),
        HazardAction::StartRectifying => tr_key("ledger.action.start_rectifying"),
        HazardAction::Rectify => tr_key("hazard.action.rectify"),
        HazardAction::Verify => tr_key("hazard.action.verify"),
        HazardAction::Close => tr_key("hazard.action.close"),
        HazardAction::Reopen => tr_key("hazard.action.reopen"),
        HazardAction::Comment => tr_key("ledger.action.comment"),
    }
}

/// Builds the page of hazard `id` for the viewer, with `notice` on top.
async fn page_of(
    app: &AppState,
    viewer: Viewer,
    id: &str,
    notice: Option<String>,
) -> Result<HazardPage, WebError> {
    let doc = readable(app, &viewer, id).await?;
    let t: Tr = viewer.tr;
    let community = viewer.community.clone();
    let now = now_ms();
    let users = app.store.admin_users(&community).await?;
    let names: HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.display_name.as_str()))
        .collect();
    let name = |id: &str| {
        names
            .get(id)
            .map_or_else(|| id.to_owned(), |n| (*n).to_owned())
    };
    let posts = app.store.posts(&community, None).await?;
    let row = app.store.hazard_row(&community, id).await?;
    let folded = hazard::fold(&doc.events);
    let not_followed: Vec<&str> = folded
        .conflicts
        .iter()
        .flat_map(|c| c.not_followed.iter().map(String::as_str))
        .collect();

    let exp = now / 1000 + app.photos.config().link_ttl_secs as i64;
    let mut photos = Vec::new();
    for hash in &doc.photos {
        photos.push(photo_link(app, &community, hash, exp).await?);
    }
    let mut events = Vec::new();
    let mut history: Vec<&HazardEvent> = doc.events.iter().collect();
    history.sort_by_key(|e| (e.at_ms, e.id.clone()));
    for e in history {
        let mut event_photos = Vec::new();
        for hash in &e.photos {
            event_photos.push(photo_link(app, &community, hash, exp).await?);
        }
        events.push(EventLine {
            action: action_key(&e.action),
            detail: match &e.action {
                HazardAction::Assign {
                    unit,
                    person,
                    deadline_ms,
                } => Some(format!(
                    "{unit} · {} · {}",
                    name(person),
                    local_date(*deadline_ms)
                )),
                _ => None,
            },
            by: name(&e.by),
            role: role_key(e.role),
            device: e.device.clone(),
            at: local_date_time(e.at_ms),
            note: e.note.clone(),
            not_followed: not_followed.contains(&e.id.as_str()),
            photos: event_photos,
        });
    }
    let current = folded.current.as_ref();
    let state = current.map_or("reported", |s| state_name(s.state));
    let reported_at = doc
        .events
        .iter()
        .find(|e| e.prev.is_none())
        .map(|e| e.at_ms);
    let people = users
        .iter()
        .filter(|u| u.disabled == 0 && u.role != "auditor")
        .map(|u| (u.id.clone(), u.display_name.clone()))
        .collect();
    Ok(HazardPage {
        id: id.to_owned(),
        category: category_label(&t, &doc.category),
        description: doc.description.clone(),
        place: place_label(&t, &doc.place, &posts),
        severity: severity_label(&t, severity_str(doc.severity)),
        major: doc.severity == hazard::Severity::Major,
        state,
        state_label: super::hazards::state_label(&t, state),
        in_conflict: folded.in_conflict(),
        reporter: current.map(|s| name(&s.reporter)).unwrap_or_default(),
        reported: reported_at.map(local_date_time).unwrap_or_default(),
        assignment: current
            .and_then(|s| s.assignment.as_ref())
            .map(|(unit, person, _)| format!("{unit} · {}", name(person))),
        due: row
            .as_ref()
            .and_then(|r| r.due_at)
            .map(local_date)
            .unwrap_or_default(),
        overdue: row.as_ref().is_some_and(|r| r.is_overdue(now)),
        recurring_of: row.and_then(|r| r.recurring_of),
        photos,
        events,
        actions: actions(&viewer, &folded),
        people,
        notice,
        frame: Frame::new(viewer, tr_key("nav.hazards"), format!("/hazards/{id}")),
    })
}

/// Signed links to a photo of the hazard, which the viewer may read since
/// they read the hazard it is linked to (`photos::access`).
async fn photo_link(
    app: &AppState,
    community: &str,
    hash: &str,
    exp: i64,
) -> Result<PhotoLink, WebError> {
    let links = app
        .photos
        .viewable(&app.store, community, hash, exp)
        .await?;
    Ok(PhotoLink { links })
}

fn severity_str(s: hazard::Severity) -> &'static str {
    match s {
        hazard::Severity::General => "general",
        hazard::Severity::Major => "major",
    }
}

/// `GET /hazards/{id}`.
pub async fn detail(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    render(&page_of(&app, viewer, &id, None).await?)
}

/// The action form.
#[derive(Debug, Default, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub person: String,
    /// `YYYY-MM-DD`: the deadline is the end of that day, local time.
    #[serde(default)]
    pub deadline: String,
}

/// The end of a local calendar day (`YYYY-MM-DD`), in ms since the epoch.
fn end_of_day_ms(date: &str) -> Option<i64> {
    let tz = crate::format::time_zone();
    let day: jiff::civil::Date = date.trim().parse().ok()?;
    let end = day.at(23, 59, 59, 0).to_zoned(tz).ok()?;
    Some(end.timestamp().as_millisecond())
}

/// The action a form asks for; `Err` with the message when it is
/// incomplete.
fn requested(t: &Tr, form: &ActForm) -> Result<HazardAction, WebError> {
    Ok(match form.action.as_str() {
        "assign" => {
            let unit = form.unit.trim();
            let person = form.person.trim();
            match (
                unit.is_empty(),
                person.is_empty(),
                end_of_day_ms(&form.deadline),
            ) {
                (false, false, Some(deadline_ms)) => HazardAction::Assign {
                    unit: unit.to_owned(),
                    person: person.to_owned(),
                    deadline_ms,
                },
                _ => {
                    return Err(WebError::Refused(
                        t.get(tr_key("ledger.need_assignment")).to_owned(),
                    ));
                }
            }
        }
        "verify" => HazardAction::Verify,
        "close" => HazardAction::Close,
        "reopen" => HazardAction::Reopen,
        "comment" => HazardAction::Comment,
        _ => {
            return Err(WebError::Refused(
                t.get(tr_key("ledger.unknown_action")).to_owned(),
            ));
        }
    })
}

/// `POST /hazards/{id}/act`: the viewer's event, after the fold's head.
/// A refusal by the rules shows the page again with the rule's message.
pub async fn act(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let doc = readable(&app, &viewer, &id).await?;
    if !viewer.may_act() {
        return Err(WebError::Forbidden);
    }
    let result = match requested(&viewer.tr, &form) {
        Ok(action) => {
            let prev = hazard::fold(&doc.events).head;
            super::write::hazard_event(&app, &viewer, &id, prev, action, form.note.trim())
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/hazards/{id}")).into_response()),
        Err(WebError::Refused(message)) => {
            let t = viewer.tr;
            let notice = t.fill(tr_key("ledger.refused"), &[("message", &message)]);
            let page = page_of(&app, viewer, &id, Some(notice)).await?;
            let mut resp = render(&page)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_the_end_of_its_local_day() {
        // 2030-01-15 23:59:59 in Asia/Shanghai (UTC+8).
        assert_eq!(end_of_day_ms("2030-01-15"), Some(1_894_723_199_000));
        assert_eq!(end_of_day_ms(" 2030-01-15 "), Some(1_894_723_199_000));
        for bad in ["", "2030-02-30", "tomorrow", "15/01/2030"] {
            assert_eq!(end_of_day_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_assignment_needs_unit_person_and_deadline() {
        let t = Tr::default();
        let mut form = ActForm {
            action: "assign".into(),
            unit: "物业".into(),
            person: "user-demo-grid".into(),
            ..ActForm::default()
        };
        assert!(matches!(requested(&t, &form), Err(WebError::Refused(_))));
        form.deadline = "2030-01-15".into();
        assert!(matches!(
            requested(&t, &form),
            Ok(HazardAction::Assign {
                deadline_ms: 1_894_723_199_000,
                ..
            })
        ));
        form.action = "rectify".into();
        assert!(
            matches!(requested(&t, &form), Err(WebError::Refused(_))),
            "the dashboard does not rectify"
        );
    }
}
