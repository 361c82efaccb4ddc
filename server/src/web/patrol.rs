//! `/patrols/{id}`: one patrol — its team, route, members, start and end,
//! every check-in with device and receive time, and its track on the plan.
//! A patrol the viewer's read scopes do not reach is "not found", as it is
//! to sync.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use fieldsync_proto::DocId;
use fieldsync_proto::model::breadcrumbs;
use fieldsync_proto::model::validate;

use super::compliance::CheckinLine;
use super::plan::Plan;
use super::session::Viewer;
use super::{Frame, WebError, render};
use crate::clock::now_ms;
use crate::format::local_day_hm;
use crate::i18n::{Lang, tr_key};
use crate::names::Names;
use crate::state::AppState;

/// Check-ins are looked for this far around the patrol's own times: device
/// clocks drift.
const SLACK_MS: i64 = 24 * 3_600_000;

#[derive(Template)]
#[template(path = "web/patrol.html")]
struct PatrolPage {
    frame: Frame,
    team: String,
    route: String,
    started_by: String,
    started: String,
    ended: Option<String>,
    members: Vec<String>,
    checkins: Vec<CheckinLine>,
    plan: Plan,
}

/// `GET /patrols/{id}`.
pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let community = viewer.community.clone();
    let doc_id = DocId::new(id.clone()).map_err(|_| WebError::NotFound)?;
    let stored = app
        .store
        .load_doc(&community, &doc_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    if stored.row.doc_type != "patrol" || !crate::scope::may_read_row(&reader, &stored.row) {
        return Err(WebError::NotFound);
    }
    let doc = automerge::Automerge::load(&stored.chunks.concat())
        .map_err(WebError::internal)
        .and_then(|d| validate::read_patrol(&d).map_err(|r| WebError::internal(r.message)))?;
    let names = Names::load(&app.store, &community).await?;
    let zh = viewer.tr.lang == Lang::ZhCn;
    let posts = app.store.posts(&community, None).await?;
    let route = app
        .store
        .routes(&community)
        .await?
        .into_iter()
        .find(|r| r.doc_id == doc.route)
        .map_or_else(|| doc.route.clone(), |r| r.name);
    let until = doc.ended_at_ms.unwrap_or_else(now_ms);
    let checkins = app
        .store
        .checkins_between(&community, doc.started_at_ms - SLACK_MS, until + SLACK_MS)
        .await?
        .into_iter()
        .filter(|c| c.patrol_id == id)
        .map(|c| CheckinLine::of(c, &names, &posts, zh))
        .collect();
    let trail: Vec<(f64, f64)> = doc
        .breadcrumbs
        .iter()
        .filter_map(|c| breadcrumbs::decode(c).ok())
        .flatten()
        .map(|b| (b.lat, b.lon))
        .collect();
    render(&PatrolPage {
        team: names.team(&doc.team),
        route,
        started_by: names.user(&doc.started_by),
        started: local_day_hm(doc.started_at_ms),
        ended: doc.ended_at_ms.map(local_day_hm),
        members: doc.members.iter().map(|m| names.user(m)).collect(),
        checkins,
        plan: Plan::draw(&posts, &[trail], zh),
        frame: Frame::new(viewer, tr_key("nav.now"), format!("/patrols/{id}")),
    })
}
