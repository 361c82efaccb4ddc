//! `/admin/duty`: the community's routes and rosters, read-only (they are
//! written by leaders' phones and the admin API).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use fieldsync_proto::model::duty::{RosterDoc, RouteDoc};

use super::{SECTIONS, require_reader};
use crate::i18n::tr_key;
use crate::state::AppState;
use crate::web::session::Viewer;
use crate::web::{Frame, WebError, render};

/// A route as the page shows it.
pub struct RouteLine {
    pub id: String,
    pub name: String,
    pub team: String,
    pub posts: usize,
    pub interval_min: u32,
    pub hours: String,
    pub ordered: bool,
}

/// A roster as the page shows it.
pub struct RosterLine {
    pub id: String,
    pub team: String,
    pub week_of: String,
    pub shifts: usize,
}

#[derive(Template)]
#[template(path = "web/admin_duty.html")]
struct DutyPage {
    frame: Frame,
    sections: [(&'static str, &'static str); 4],
    notice: Option<&'static str>,
    routes: Vec<RouteLine>,
    rosters: Vec<RosterLine>,
}

/// `GET /admin/duty`.
pub async fn list(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let community = viewer.community.as_str();
    let teams: HashMap<String, String> = app
        .store
        .teams(community)
        .await?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    let team = |id: &str| teams.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let routes = app
        .store
        .routes(community)
        .await?
        .into_iter()
        .filter_map(|r| {
            let doc: RouteDoc = serde_json::from_str(&r.body).ok()?;
            Some(RouteLine {
                id: r.doc_id,
                name: doc.name,
                team: team(&doc.team),
                posts: doc.posts.len(),
                interval_min: doc.interval_min,
                hours: format!("{}–{}", doc.active_from, doc.active_until),
                ordered: doc.ordered,
            })
        })
        .collect();
    let rosters = app
        .store
        .all_rosters(community)
        .await?
        .into_iter()
        .filter_map(|r| {
            let doc: RosterDoc = serde_json::from_str(&r.body).ok()?;
            Some(RosterLine {
                id: r.doc_id,
                team: team(&doc.team),
                week_of: doc.week_of,
                shifts: doc.shifts.len(),
            })
        })
        .collect();
    render(&DutyPage {
        frame: Frame::new(viewer, tr_key("nav.admin"), "/admin/duty"),
        sections: SECTIONS,
        notice: None,
        routes,
        rosters,
    })
}
