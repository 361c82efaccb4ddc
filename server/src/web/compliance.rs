//! `/compliance`: the floor 5/9 board of one shift — every stairwell of the
//! shift's routes against its post floors, each window's status in colour
//! and in words — with the previous and next shift, attendance per member,
//! and a drill-down to the check-ins behind one post
//! (`/compliance/post`): device time beside server receive time, the proof,
//! the geofence flag, who and from which device.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use fieldsync_proto::model::hazard::HazardPlace;
use fieldsync_proto::model::scope::Reader;
use serde::Deserialize;

use super::session::Viewer;
use super::{Frame, WebError, render};
use crate::clock::now_ms;
use crate::format::{
    link, local_day_hm, local_day_hms, local_hm, place_label, post_label, post_label_of,
};
use crate::i18n::{Lang, tr_key};
use crate::names::Names;
use crate::reports::content::STATUSES;
use crate::state::AppState;
use crate::store::{CheckinRow, ComplianceRow, PostRow, ShiftRow};

const DAY_MS: i64 = 24 * 3_600_000;
/// How far back and ahead the board offers shifts.
const SHIFTS_BACK_MS: i64 = 31 * DAY_MS;
const SHIFTS_AHEAD_MS: i64 = 7 * DAY_MS;

/// The catalogue key of a compliance status, and its CSS class.
pub fn status_key(status: &str) -> (&'static str, &'static str) {
    match status {
        "on_time" => (tr_key("compliance.on_time"), "ok"),
        "late" => (tr_key("compliance.late"), "warn"),
        "missed" => (tr_key("compliance.missed"), "bad"),
        "unverified" => (tr_key("compliance.unverified"), "warn"),
        "out_of_order" => (tr_key("compliance.out_of_order"), "warn"),
        _ => (tr_key("compliance.pending"), "pending"),
    }
}

#[derive(Deserialize)]
pub struct ShiftQuery {
    /// A shift key (`<roster id>/<shift id>`); the shift on duty by default.
    #[serde(default)]
    shift: Option<String>,
}

#[derive(Deserialize)]
pub struct PostQuery {
    shift: String,
    post: String,
}

/// A shift as the board names it.
pub struct ShiftName {
    pub key: String,
    /// The board of this shift.
    pub href: String,
    /// "12-01 18:00 – 12-02 08:00 · Night patrol A".
    pub label: String,
}

/// One window of one post: its round, status and check-in time.
pub struct Mark {
    pub round: usize,
    pub status: &'static str,
    pub class: &'static str,
    pub checked: Option<String>,
    pub deadline: String,
}

/// One post of a stairwell on the board; `None` where the shift's routes
/// have no post on that floor.
pub struct Cell {
    /// The drill-down to this post's check-ins.
    pub href: String,
    pub label: String,
    pub marks: Vec<Mark>,
}

/// A stairwell's row of the board, or a post that is not in a stairwell.
pub struct Row {
    pub place: String,
    pub cells: Vec<Option<Cell>>,
}

pub struct MemberLine {
    pub name: String,
    pub signed_on: Option<String>,
    pub signed_off: Option<String>,
}

/// One shift's board.
pub struct Board {
    pub shift: ShiftName,
    pub leader: String,
    /// The post floors, the board's columns ("5F", "9F").
    pub floors: Vec<String>,
    pub rows: Vec<Row>,
    /// (status key, class, count), statuses that occur.
    pub totals: Vec<(&'static str, &'static str, usize)>,
    pub attendance: Vec<MemberLine>,
}

#[derive(Template)]
#[template(path = "web/compliance.html")]
struct BoardPage {
    frame: Frame,
    shifts: Vec<ShiftName>,
    board: Option<Board>,
    prev: Option<String>,
    next: Option<String>,
}

/// One check-in as the drill-down and the patrol page show it.
pub struct CheckinLine {
    pub post: String,
    pub member: String,
    pub device: String,
    pub device_time: String,
    pub received: String,
    /// Receive time minus device time, when it is a minute or more: how long
    /// the phone was offline.
    pub delay_min: Option<i64>,
    pub method: &'static str,
    pub status: &'static str,
    pub class: &'static str,
    pub flag: Option<String>,
    /// The patrol the check-in belongs to.
    pub patrol_href: String,
}

impl CheckinLine {
    pub fn of(c: CheckinRow, names: &Names, posts: &[PostRow], zh: bool) -> CheckinLine {
        let (status, class) = match c.status.as_str() {
            "verified" => (tr_key("checkin.verified"), "ok"),
            "flagged" => (tr_key("checkin.flagged"), "bad"),
            _ => (tr_key("checkin.unverified"), "warn"),
        };
        let delay = (c.received_at - c.device_time) / 60_000;
        CheckinLine {
            post: post_label_of(posts, &c.post_id, zh),
            member: names.user(&c.member),
            device: c.device_id,
            device_time: local_day_hms(c.device_time),
            received: local_day_hms(c.received_at),
            delay_min: (delay >= 1).then_some(delay),
            method: if c.method == "tag" {
                tr_key("checkin.method_tag")
            } else {
                tr_key("checkin.method_manual")
            },
            status,
            class,
            flag: c.flag_reason,
            patrol_href: format!("/patrols/{}", c.patrol_id),
        }
    }
}

#[derive(Template)]
#[template(path = "web/compliance_post.html")]
struct PostPage {
    frame: Frame,
    shift: ShiftName,
    post: String,
    marks: Vec<Mark>,
    checkins: Vec<CheckinLine>,
}

/// Whether `reader` may see `shift`: the office and auditors every shift, a
/// leader their team's, as sync gives them their team's rosters.
pub fn may_see_shift(reader: &Reader, viewer: &Viewer, shift: &ShiftRow) -> bool {
    viewer.reads_everything() || reader.team.as_deref() == Some(shift.team.as_str())
}

fn shift_name(shift: &ShiftRow, names: &Names) -> ShiftName {
    ShiftName {
        key: shift.shift_key.clone(),
        href: link("/compliance", &[("shift", &shift.shift_key)]),
        label: format!(
            "{} – {} · {}",
            local_day_hm(shift.starts_at),
            local_day_hm(shift.ends_at),
            names.team(&shift.team)
        ),
    }
}

fn marks(rows: &[&ComplianceRow]) -> Vec<Mark> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let (status, class) = status_key(&r.status);
            Mark {
                round: i + 1,
                status,
                class,
                checked: r.checked_at.map(local_hm),
                deadline: local_hm(r.deadline),
            }
        })
        .collect()
}

/// The numeric order of building and unit names ("2" before "10").
fn place_order(s: &Option<String>) -> (u64, String) {
    let s = s.clone().unwrap_or_default();
    (s.parse().unwrap_or(u64::MAX), s)
}

/// Lays the shift's compliance rows out as stairwells × post floors.
fn layout(rows: &[ComplianceRow], posts: &[PostRow], zh: bool) -> (Vec<String>, Vec<Row>) {
    let mut by_post: BTreeMap<&str, Vec<&ComplianceRow>> = BTreeMap::new();
    for r in rows {
        by_post.entry(r.post_id.as_str()).or_default().push(r);
    }
    let post_of: HashMap<&str, &PostRow> = posts.iter().map(|p| (p.id.as_str(), p)).collect();
    let in_stairwell = |id: &str| {
        post_of
            .get(id)
            .filter(|p| p.building.is_some() && p.unit.is_some() && p.floor.is_some())
    };
    let floors: BTreeSet<i64> = by_post
        .keys()
        .filter_map(|id| in_stairwell(id).and_then(|p| p.floor))
        .collect();
    let floors: Vec<i64> = floors.into_iter().collect();
    type Stairwell = ((u64, String), (u64, String));
    let mut stairwells: BTreeMap<Stairwell, (String, Vec<Option<Cell>>)> = BTreeMap::new();
    let mut loose = Vec::new();
    for (id, windows) in &by_post {
        let cell = |label: String| Cell {
            href: link(
                "/compliance/post",
                &[("shift", &windows[0].shift_key), ("post", id)],
            ),
            label,
            marks: marks(windows),
        };
        match in_stairwell(id) {
            Some(p) => {
                let key = (place_order(&p.building), place_order(&p.unit));
                let place = stairwell_label(p, zh);
                let entry = stairwells
                    .entry(key)
                    .or_insert_with(|| (place, floors.iter().map(|_| None).collect()));
                if let Some(col) = floors.iter().position(|f| Some(*f) == p.floor) {
                    entry.1[col] = Some(cell(post_label(p, zh)));
                }
            }
            None => {
                let label = post_label_of(posts, id, zh);
                loose.push(Row {
                    place: label.clone(),
                    cells: vec![Some(cell(label))],
                });
            }
        }
    }
    let mut out: Vec<Row> = stairwells
        .into_values()
        .map(|(place, cells)| Row { place, cells })
        .collect();
    out.extend(loose);
    (floors.iter().map(|f| format!("{f}F")).collect(), out)
}

/// "3栋2单元" / "Bldg 3 Unit 2".
fn stairwell_label(p: &PostRow, zh: bool) -> String {
    let place = HazardPlace {
        building: p.building.clone(),
        unit: p.unit.clone(),
        ..HazardPlace::default()
    };
    place_label(&place, &[], zh).unwrap_or_default()
}

/// The shift the board opens on: the one asked for, else the one on duty,
/// else the latest that has started, else the next.
fn pick<'a>(shifts: &'a [ShiftRow], asked: Option<&str>, now: i64) -> Option<&'a ShiftRow> {
    match asked {
        Some(key) => shifts.iter().find(|s| s.shift_key == key),
        None => shifts
            .iter()
            .find(|s| s.starts_at <= now && now < s.ends_at)
            .or_else(|| shifts.iter().rev().find(|s| s.starts_at <= now))
            .or_else(|| shifts.first()),
    }
}

/// The shifts `viewer` may see around `now`, oldest first.
async fn visible_shifts(
    app: &AppState,
    viewer: &Viewer,
    reader: &Reader,
    now: i64,
) -> Result<Vec<ShiftRow>, WebError> {
    Ok(app
        .store
        .shifts_between(
            &viewer.community,
            now - SHIFTS_BACK_MS,
            now + SHIFTS_AHEAD_MS,
        )
        .await?
        .into_iter()
        .filter(|s| may_see_shift(reader, viewer, s))
        .collect())
}

/// `GET /compliance?shift=…`.
pub async fn board(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ShiftQuery>,
) -> Result<Response, WebError> {
    let community = viewer.community.clone();
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    let now = now_ms();
    let shifts = visible_shifts(&app, &viewer, &reader, now).await?;
    let asked = q.shift.as_deref().filter(|s| !s.is_empty());
    let chosen = pick(&shifts, asked, now);
    if asked.is_some() && chosen.is_none() {
        return Err(WebError::NotFound);
    }
    let names = Names::load(&app.store, &community).await?;
    let zh = viewer.tr.lang == Lang::ZhCn;
    let mut prev = None;
    let mut next = None;
    let board = match chosen {
        None => None,
        Some(shift) => {
            let at = shifts
                .iter()
                .position(|s| s.shift_key == shift.shift_key)
                .unwrap_or_default();
            prev = at
                .checked_sub(1)
                .map(|i| shift_name(&shifts[i], &names).href);
            next = shifts.get(at + 1).map(|s| shift_name(s, &names).href);
            let rows = app
                .store
                .compliance_rows(&community, &shift.shift_key)
                .await?;
            let posts = app.store.posts(&community, None).await?;
            let (floors, grid) = layout(&rows, &posts, zh);
            let totals = STATUSES
                .iter()
                .filter_map(|status| {
                    let n = rows.iter().filter(|r| r.status == *status).count();
                    let (key, class) = status_key(status);
                    (n > 0).then_some((key, class, n))
                })
                .collect();
            let attendance = app
                .store
                .attendance_rows(&community, &shift.shift_key)
                .await?
                .into_iter()
                .map(|a| MemberLine {
                    name: names.user(&a.user_id),
                    signed_on: a.signed_on.map(local_hm),
                    signed_off: a.signed_off.map(local_hm),
                })
                .collect();
            Some(Board {
                shift: shift_name(shift, &names),
                leader: names.user(&shift.leader),
                floors,
                rows: grid,
                totals,
                attendance,
            })
        }
    };
    let path = match &board {
        Some(b) => link("/compliance", &[("shift", &b.shift.key)]),
        None => "/compliance".to_owned(),
    };
    render(&BoardPage {
        frame: Frame::new(viewer, tr_key("nav.compliance"), path),
        shifts: shifts.iter().rev().map(|s| shift_name(s, &names)).collect(),
        board,
        prev,
        next,
    })
}

/// `GET /compliance/post?shift=…&post=…`: the windows of one post in one
/// shift and the check-ins the shift's team made there.
pub async fn post(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PostQuery>,
) -> Result<Response, WebError> {
    let community = viewer.community.clone();
    let reader = app.store.reader(&viewer.user_id, viewer.role).await?;
    let shifts = visible_shifts(&app, &viewer, &reader, now_ms()).await?;
    let shift = shifts
        .iter()
        .find(|s| s.shift_key == q.shift)
        .ok_or(WebError::NotFound)?;
    let rows: Vec<ComplianceRow> = app
        .store
        .compliance_rows(&community, &shift.shift_key)
        .await?
        .into_iter()
        .filter(|r| r.post_id == q.post)
        .collect();
    if rows.is_empty() {
        return Err(WebError::NotFound);
    }
    let last_grace = rows.iter().map(|r| r.grace_until).max().unwrap_or_default();
    let zh = viewer.tr.lang == Lang::ZhCn;
    let names = Names::load(&app.store, &community).await?;
    let posts = app.store.posts(&community, None).await?;
    let team_patrols: BTreeSet<String> = app
        .store
        .patrols_between(&community, shift.starts_at - DAY_MS, shift.ends_at)
        .await?
        .into_iter()
        .filter(|p| p.team == shift.team)
        .map(|p| p.doc_id)
        .collect();
    let checkins = app
        .store
        .checkins_between(&community, shift.starts_at, last_grace.max(shift.ends_at))
        .await?
        .into_iter()
        .filter(|c| c.post_id == q.post && team_patrols.contains(&c.patrol_id))
        .map(|c| CheckinLine::of(c, &names, &posts, zh))
        .collect();
    let row_refs: Vec<&ComplianceRow> = rows.iter().collect();
    let path = link(
        "/compliance/post",
        &[("shift", &q.shift), ("post", &q.post)],
    );
    render(&PostPage {
        frame: Frame::new(viewer, tr_key("nav.compliance"), path),
        shift: shift_name(shift, &names),
        post: post_label_of(&posts, &q.post, zh),
        marks: marks(&row_refs),
        checkins,
    })
}
