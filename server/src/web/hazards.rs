//! `/hazards`: the hazard ledger (隐患台账), newest first, a page at a time,
//! filtered by a plain GET form; and the wording of a hazard's state,
//! category, severity and place that the ledger and the detail page share.
//!
//! # Invariants
//! - A viewer sees the hazards sync would give them (`scope::may_read`),
//!   whatever the filters; the SQL filters and pages, the scopes decide.
//! - A page reads at most a few chunks of rows, never the whole ledger,
//!   for the office and auditors (every row passes the scope check).

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use fieldsync_proto::DocType;
use fieldsync_proto::model::hazard::{HazardPlace, HazardState};
use fieldsync_proto::model::scope::{Reader, may_read};
use serde::Deserialize;

use super::session::Viewer;
use super::{Frame, WebError, render};
use crate::clock::now_ms;
use crate::format::{local_date, local_date_time};
use crate::i18n::{Lang, Tr, tr_key};
use crate::state::AppState;
use crate::store::{HazardLedgerQuery, HazardLedgerRow, PostRow};

/// Hazards per page.
pub const PAGE_SIZE: usize = 50;
/// Rows read per query while filling a page for a viewer who reads only
/// part of the ledger.
const CHUNK: i64 = 200;

/// The states, in the order of the loop, with their catalogue keys.
pub const STATES: [(&str, &str); 7] = [
    ("reported", tr_key("hazard.state.reported")),
    ("assigned", tr_key("hazard.state.assigned")),
    ("rectifying", tr_key("hazard.state.rectifying")),
    ("rectified", tr_key("hazard.state.rectified")),
    ("verified", tr_key("hazard.state.verified")),
    ("closed", tr_key("hazard.state.closed")),
    ("reopened", tr_key("hazard.state.reopened")),
];

/// The categories of the glossary, with their catalogue keys.
pub const CATEGORIES: [(&str, &str); 20] = [
    ("extinguisher", tr_key("hazard.cat.extinguisher")),
    ("exit_blocked", tr_key("hazard.cat.exit_blocked")),
    ("exit_sign", tr_key("hazard.cat.exit_sign")),
    ("wiring", tr_key("hazard.cat.wiring")),
    ("heater", tr_key("hazard.cat.heater")),
    ("ebike", tr_key("hazard.cat.ebike")),
    ("open_flame", tr_key("hazard.cat.open_flame")),
    ("rental", tr_key("hazard.cat.rental")),
    ("gas", tr_key("hazard.cat.gas")),
    ("security_door", tr_key("hazard.cat.security_door")),
    ("cctv", tr_key("hazard.cat.cctv")),
    (
        "dangerous_structure",
        tr_key("hazard.cat.dangerous_structure"),
    ),
    ("crowd", tr_key("hazard.cat.crowd")),
    ("food", tr_key("hazard.cat.food")),
    ("water", tr_key("hazard.cat.water")),
    ("construction", tr_key("hazard.cat.construction")),
    ("suspicious", tr_key("hazard.cat.suspicious")),
    ("street_light", tr_key("hazard.cat.street_light")),
    ("fire_lane", tr_key("hazard.cat.fire_lane")),
    ("other", tr_key("hazard.cat.other")),
];

/// The severities with their catalogue keys.
pub const SEVERITIES: [(&str, &str); 2] = [
    ("general", tr_key("hazard.severity.general")),
    ("major", tr_key("hazard.severity.major")),
];

fn key_of(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// A category's name; one the glossary does not know shows as sent.
pub fn category_label(t: &Tr, category: &str) -> String {
    key_of(&CATEGORIES, category).map_or_else(|| category.to_owned(), |k| t.get(k).to_owned())
}

/// A state's name; one this release does not know shows as stored.
pub fn state_label(t: &Tr, state: &str) -> String {
    key_of(&STATES, state).map_or_else(|| state.to_owned(), |k| t.get(k).to_owned())
}

/// A severity's name.
pub fn severity_label(t: &Tr, severity: &str) -> String {
    key_of(&SEVERITIES, severity).map_or_else(|| severity.to_owned(), |k| t.get(k).to_owned())
}

/// The stable name of a folded state (`state-<name>` in the pages' CSS).
pub fn state_name(state: HazardState) -> &'static str {
    match state {
        HazardState::Reported => "reported",
        HazardState::Assigned => "assigned",
        HazardState::Rectifying => "rectifying",
        HazardState::Rectified => "rectified",
        HazardState::Verified => "verified",
        HazardState::Closed => "closed",
        HazardState::Reopened => "reopened",
    }
}

/// Where a hazard is, as people say it: its post's label ("3栋2单元 9F"),
/// else building, unit and floor, else its coordinate.
pub fn place_label(t: &Tr, place: &HazardPlace, posts: &[PostRow]) -> String {
    if let Some(p) = place
        .post_id
        .as_ref()
        .and_then(|id| posts.iter().find(|p| &p.id == id))
    {
        return post_label(t, p);
    }
    if let Some(building) = &place.building {
        let floor = place.floor.map(|f| f.to_string()).unwrap_or_default();
        return t.fill(
            "post.label",
            &[
                ("building", building),
                ("stairwell", place.unit.as_deref().unwrap_or("")),
                ("floor", &floor),
            ],
        );
    }
    match (place.lat, place.lon, &place.post_id) {
        (_, _, Some(post)) => post.clone(),
        (Some(lat), Some(lon), None) => format!("{lat:.5}, {lon:.5}"),
        _ => t.get(tr_key("ledger.unplaced")).to_owned(),
    }
}

/// A post's label in the page's language.
pub fn post_label(t: &Tr, p: &PostRow) -> String {
    crate::format::post_label(p, t.lang == Lang::ZhCn)
}

/// The ledger's query string. Empty fields are no filter.
#[derive(Debug, Default, Deserialize)]
pub struct LedgerForm {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub grid: String,
    #[serde(default)]
    pub building: String,
    #[serde(default)]
    pub overdue: String,
    #[serde(default)]
    pub recurring: String,
    /// The cursor: `<reported_at>:<doc_id>` of the previous page's last row.
    #[serde(default)]
    pub before: String,
}

fn given(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn checked(s: &str) -> bool {
    matches!(s, "1" | "on" | "true")
}

impl LedgerForm {
    fn query(&self, now: i64, limit: i64) -> HazardLedgerQuery {
        HazardLedgerQuery {
            state: given(&self.state),
            category: given(&self.category),
            severity: given(&self.severity),
            grid: given(&self.grid),
            building: given(&self.building),
            overdue_at: checked(&self.overdue).then_some(now),
            recurring: checked(&self.recurring),
            before: self.before.split_once(':').and_then(|(at, id)| {
                Some((at.parse().ok()?, id.to_owned())).filter(|(_, id)| !id.is_empty())
            }),
            limit,
        }
    }

    pub fn only_overdue(&self) -> bool {
        checked(&self.overdue)
    }

    pub fn only_recurring(&self) -> bool {
        checked(&self.recurring)
    }

    /// Whether any filter is set (the page offers to clear them).
    pub fn filtered(&self) -> bool {
        [
            &self.state,
            &self.category,
            &self.severity,
            &self.grid,
            &self.building,
        ]
        .iter()
        .any(|s| given(s).is_some())
            || self.only_overdue()
            || self.only_recurring()
    }
}

/// One hazard in the ledger.
pub struct LedgerLine {
    pub id: String,
    pub category: String,
    pub place: String,
    pub severity: String,
    pub major: bool,
    /// Stable state name, for the badge's class.
    pub state: String,
    pub state_label: String,
    pub in_conflict: bool,
    pub reported: String,
    pub assignee: String,
    pub due: String,
    pub overdue: bool,
    pub recurring: bool,
}

#[derive(Template)]
#[template(path = "web/hazards.html")]
struct LedgerPage {
    frame: Frame,
    form: LedgerForm,
    lines: Vec<LedgerLine>,
    /// The cursor of the next page, when there is one.
    next: Option<String>,
    first_page: bool,
    grids: Vec<String>,
    buildings: Vec<String>,
}

impl LedgerPage {
    /// The export of the ledger with the page's filters.
    fn export_href(&self, format: &str) -> String {
        let f = &self.form;
        let pairs: Vec<(&str, &str)> = [
            ("what", "hazards"),
            ("state", f.state.as_str()),
            ("category", f.category.as_str()),
            ("severity", f.severity.as_str()),
            ("grid", f.grid.as_str()),
            ("building", f.building.as_str()),
            ("overdue", f.overdue.as_str()),
            ("recurring", f.recurring.as_str()),
            ("format", format),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        crate::format::link("/exports", &pairs)
    }

    fn states(&self) -> &'static [(&'static str, &'static str)] {
        &STATES
    }
    fn categories(&self) -> &'static [(&'static str, &'static str)] {
        &CATEGORIES
    }
    fn severities(&self) -> &'static [(&'static str, &'static str)] {
        &SEVERITIES
    }
}

/// Up to `PAGE_SIZE + 1` rows `reader` may read, newest first, from the
/// form's cursor: the extra one says there is a next page.
async fn readable_rows(
    app: &AppState,
    community: &str,
    reader: &Reader,
    form: &LedgerForm,
    now: i64,
) -> Result<Vec<HazardLedgerRow>, WebError> {
    let mut query = form.query(now, CHUNK);
    let mut out = Vec::new();
    loop {
        let rows = app.store.hazard_ledger_page(community, &query).await?;
        let full = rows.len() as i64 == CHUNK;
        let last = rows
            .last()
            .map(|r| (r.hazard.row.reported_at, r.hazard.row.doc_id.clone()));
        for r in rows {
            let scope = crate::scope::parse(r.hazard.scope.as_deref());
            if may_read(reader, DocType::Hazard, scope.as_ref()) {
                out.push(r);
                if out.len() > PAGE_SIZE {
                    return Ok(out);
                }
            }
        }
        match last {
            Some(cursor) if full => query.before = Some(cursor),
            _ => return Ok(out),
        }
    }
}

/// `GET /hazards`.
pub async fn ledger(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(form): Query<LedgerForm>,
) -> Result<Response, WebError> {
    let now = now_ms();
    let t = viewer.tr;
    let community = viewer.community.clone();
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    let mut rows = readable_rows(&app, &community, &reader, &form, now).await?;
    let next = if rows.len() > PAGE_SIZE {
        rows.truncate(PAGE_SIZE);
        rows.last()
            .map(|r| format!("{}:{}", r.hazard.row.reported_at, r.hazard.row.doc_id))
    } else {
        None
    };
    let posts = app.store.posts(&community, None).await?;
    let names: HashMap<String, String> = app
        .store
        .admin_users(&community)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    let lines = rows
        .into_iter()
        .map(|r| {
            let h = r.hazard.row;
            let place = HazardPlace {
                post_id: h.post_id.clone(),
                ..HazardPlace::default()
            };
            LedgerLine {
                overdue: h.is_overdue(now),
                place: place_label(&t, &place, &posts),
                category: category_label(&t, &h.category),
                severity: severity_label(&t, &h.severity),
                major: h.severity == "major",
                state_label: state_label(&t, &h.state),
                in_conflict: h.in_conflict,
                reported: local_date_time(h.reported_at),
                assignee: h
                    .assigned_person
                    .as_ref()
                    .map(|p| names.get(p).cloned().unwrap_or_else(|| p.clone()))
                    .unwrap_or_default(),
                due: h.due_at.map(local_date).unwrap_or_default(),
                recurring: h.recurring_of.is_some(),
                state: h.state,
                id: h.doc_id,
            }
        })
        .collect();
    let grids: BTreeSet<String> = posts.iter().filter_map(|p| p.grid_id.clone()).collect();
    let buildings: BTreeSet<String> = posts.iter().filter_map(|p| p.building.clone()).collect();
    let mut buildings: Vec<String> = buildings.into_iter().collect();
    buildings.sort_by_key(|b| (b.parse::<u64>().unwrap_or(u64::MAX), b.clone()));
    render(&LedgerPage {
        frame: Frame::new(viewer, tr_key("nav.hazards"), "/hazards"),
        first_page: given(&form.before).is_none(),
        form,
        lines,
        next,
        grids: grids.into_iter().collect(),
        buildings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_names_every_category_the_rules_accept() {
        let named: Vec<&str> = CATEGORIES.iter().map(|(n, _)| *n).collect();
        assert_eq!(named, fieldsync_proto::model::validate::HAZARD_CATEGORIES);
        for (name, key) in CATEGORIES.iter().chain(&STATES).chain(&SEVERITIES) {
            assert!(key.ends_with(&format!(".{name}")), "{name} {key}");
        }
    }

    #[test]
    fn the_form_becomes_the_query() {
        let form = LedgerForm {
            state: " closed ".into(),
            grid: String::new(),
            overdue: "1".into(),
            before: "1700000000000:hazard-a:b".into(),
            ..LedgerForm::default()
        };
        let q = form.query(42, 7);
        assert_eq!(q.state.as_deref(), Some("closed"));
        assert_eq!(q.grid, None);
        assert_eq!(q.overdue_at, Some(42));
        assert!(!q.recurring);
        assert_eq!(q.before, Some((1_700_000_000_000, "hazard-a:b".into())));
        assert_eq!(q.limit, 7);
        assert!(form.filtered());
        assert!(!LedgerForm::default().filtered());
        let bad = LedgerForm {
            before: "soon:".into(),
            ..LedgerForm::default()
        };
        assert_eq!(bad.query(0, 1).before, None);
    }
}
