//! `/`: the night as it stands — the shifts on duty, the patrols that are
//! out with their last check-in and tracks on the plan, and the open alerts
//! with acknowledge. The live part reloads itself when the community's
//! change feed moves (Server-Sent Events, `/now/events`).

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use fieldsync_proto::DocId;
use fieldsync_proto::model::alert::AlertKind;
use fieldsync_proto::model::breadcrumbs;
use fieldsync_proto::model::validate;
use futures_util::Stream;

use super::plan::Plan;
use super::session::Viewer;
use super::{Frame, WebError, render};
use crate::clock::now_ms;
use crate::format::{local_hm, post_label_of};
use crate::i18n::{Lang, Tr, tr_key};
use crate::names::Names;
use crate::state::AppState;

const HOUR_MS: i64 = 3_600_000;
/// Patrols started longer ago than this are not "out" any more, ended or not.
const OPEN_PATROL_MAX_MS: i64 = 24 * HOUR_MS;
/// The most open alerts the page lists, newest first.
const ALERTS_SHOWN: usize = 50;

/// A shift on duty now.
pub struct ShiftLine {
    pub team: String,
    pub leader: String,
    pub from: String,
    pub to: String,
}

/// A patrol that is out.
pub struct PatrolLine {
    /// The patrol's page.
    pub href: String,
    pub team: String,
    pub started_by: String,
    pub started: String,
    pub checkins: i64,
    /// "3栋2单元 9F · 23:10"
    pub last_checkin: Option<String>,
}

/// An alert nobody has acknowledged.
pub struct AlertLine {
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub raised: String,
}

/// What the live part of the page shows.
pub struct Live {
    pub shifts: Vec<ShiftLine>,
    pub patrols: Vec<PatrolLine>,
    pub alerts: Vec<AlertLine>,
    pub plan: Plan,
    /// When it was drawn, local time.
    pub drawn_at: String,
}

#[derive(Template)]
#[template(path = "web/now.html")]
struct NowPage {
    frame: Frame,
    live: Live,
}

#[derive(Template)]
#[template(path = "web/now_live.html")]
struct LiveFragment {
    t: Tr,
    csrf: String,
    may_act: bool,
    live: Live,
}

/// The catalogue key of an alert kind's name.
pub fn alert_kind_key(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Missed => tr_key("alert.kind.missed"),
        AlertKind::Late => tr_key("alert.kind.late"),
        AlertKind::Overdue => tr_key("alert.kind.overdue"),
        AlertKind::Escalation => tr_key("alert.kind.escalation"),
        AlertKind::Flagged => tr_key("alert.kind.flagged"),
    }
}

impl Live {
    /// Reads what `viewer` may see of the night at `now`: the office and
    /// auditors see the whole community, a leader what sync gives them.
    pub async fn load(app: &AppState, viewer: &Viewer, now: i64) -> Result<Live, WebError> {
        let store = &app.store;
        let community = viewer.community.as_str();
        let reader = store.reader(&viewer.user_id, viewer.role).await?;
        let everything = viewer.reads_everything();
        let names = Names::load(&app.store, community).await?;
        let name = |id: &str| names.user(id);
        let team = |id: &str| names.team(id);
        let zh = viewer.tr.lang == Lang::ZhCn;

        let shifts = store
            .shifts_between(community, now, now + 1)
            .await?
            .into_iter()
            .filter(|s| everything || reader.team.as_deref() == Some(s.team.as_str()))
            .map(|s| ShiftLine {
                team: team(&s.team),
                leader: name(&s.leader),
                from: local_hm(s.starts_at),
                to: local_hm(s.ends_at),
            })
            .collect();

        let posts = store.posts(community, None).await?;
        let label = |post_id: &str| post_label_of(&posts, post_id, zh);
        let open: Vec<_> = store
            .patrols_between(community, now - OPEN_PATROL_MAX_MS, now + 1)
            .await?
            .into_iter()
            .filter(|p| p.ended_at.is_none())
            .collect();
        let ids: Vec<DocId> = open
            .iter()
            .filter_map(|p| DocId::new(p.doc_id.clone()).ok())
            .collect();
        let docs = store.load_docs(community, &ids).await?;
        let checkins = store
            .checkins_between(community, now - OPEN_PATROL_MAX_MS, now + 1)
            .await?;
        let mut patrols = Vec::new();
        let mut trails = Vec::new();
        for p in open {
            let Some(stored) = DocId::new(p.doc_id.clone())
                .ok()
                .and_then(|id| docs.get(&id))
            else {
                continue;
            };
            if !crate::scope::may_read_row(&reader, &stored.row) {
                continue;
            }
            if let Some(doc) = automerge::Automerge::load(&stored.chunks.concat())
                .ok()
                .and_then(|d| validate::read_patrol(&d).ok())
            {
                let points: Vec<(f64, f64)> = doc
                    .breadcrumbs
                    .iter()
                    .filter_map(|c| breadcrumbs::decode(c).ok())
                    .flatten()
                    .map(|b| (b.lat, b.lon))
                    .collect();
                trails.push(points);
            }
            let last = checkins
                .iter()
                .filter(|c| c.patrol_id == p.doc_id)
                .max_by_key(|c| c.device_time);
            patrols.push(PatrolLine {
                href: format!("/patrols/{}", p.doc_id),
                team: team(&p.team),
                started_by: name(&p.started_by),
                started: local_hm(p.started_at),
                checkins: p.checkin_count,
                last_checkin: last
                    .map(|c| format!("{} · {}", label(&c.post_id), local_hm(c.device_time))),
            });
        }

        let mut open_alerts: Vec<_> = store
            .alert_rows(community)
            .await?
            .into_iter()
            .filter(|a| a.acked_at.is_none())
            .collect();
        open_alerts.sort_by_key(|a| std::cmp::Reverse(a.raised_at));
        let ids: Vec<DocId> = open_alerts
            .iter()
            .filter_map(|a| DocId::new(a.doc_id.clone()).ok())
            .collect();
        let docs = store.load_docs(community, &ids).await?;
        let mut alerts = Vec::new();
        for a in open_alerts {
            if alerts.len() == ALERTS_SHOWN {
                break;
            }
            let Some(stored) = DocId::new(a.doc_id.clone())
                .ok()
                .and_then(|id| docs.get(&id))
            else {
                continue;
            };
            if !crate::scope::may_read_row(&reader, &stored.row) {
                continue;
            }
            let Some(doc) = automerge::Automerge::load(&stored.chunks.concat())
                .ok()
                .and_then(|d| validate::read_alert(&d).ok())
            else {
                continue;
            };
            alerts.push(AlertLine {
                id: a.doc_id,
                kind: alert_kind_key(doc.kind),
                title: if zh { doc.title_zh } else { doc.title_en },
                raised: local_hm(a.raised_at),
            });
        }
        Ok(Live {
            shifts,
            patrols,
            alerts,
            plan: Plan::draw(&posts, &trails, zh),
            drawn_at: local_hm(now),
        })
    }
}

/// `GET /`.
pub async fn page(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let live = Live::load(&app, &viewer, now_ms()).await?;
    render(&NowPage {
        frame: Frame::new(viewer, tr_key("nav.now"), "/"),
        live,
    })
}

/// `GET /now/live`: the live part alone, for the page to swap in.
pub async fn live(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let live = Live::load(&app, &viewer, now_ms()).await?;
    render(&LiveFragment {
        t: viewer.tr,
        csrf: viewer.csrf.clone(),
        may_act: viewer.may_act(),
        live,
    })
}

/// `GET /now/events`: a `changed` event whenever the community's change
/// sequence moves (at most one a second), until the server shuts down or the
/// session's device is revoked (signed out, or the user disabled).
pub async fn events(
    State(app): State<AppState>,
    viewer: Viewer,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    struct Watch {
        feed: tokio::sync::watch::Receiver<i64>,
        revoked: tokio::sync::broadcast::Receiver<String>,
        shutdown: tokio_util::sync::CancellationToken,
        device: String,
        sent_one: bool,
    }
    let start = Watch {
        feed: app.commits.feeds().watch(&viewer.community),
        revoked: app.revocations.subscribe(),
        shutdown: app.shutdown.clone(),
        device: viewer.device_id.clone(),
        sent_one: false,
    };
    let stream = futures_util::stream::unfold(start, |mut w| async move {
        if w.sent_one {
            // At most one event a second, however busy the night.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        loop {
            tokio::select! {
                _ = w.shutdown.cancelled() => return None,
                gone = w.revoked.recv() => match gone {
                    Ok(device) if device == w.device => return None,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    _ => continue,
                },
                changed = w.feed.changed() => {
                    changed.ok()?;
                    let seq = *w.feed.borrow_and_update();
                    w.sent_one = true;
                    let event = Event::default().event("changed").data(seq.to_string());
                    return Some((Ok(event), w));
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
