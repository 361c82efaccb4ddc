//! The compliance engine (docs/duty.md, docs/alerts.md): from rosters, routes and
//! check-ins, the status of every post in every window of every recent shift
//! (on time / late / missed / unverified / out of order) and attendance; and
//! the alerts that follow from them and from hazards and incidents — missed
//! and late check-ins to the shift's leader, overdue hazards, major hazards
//! and incidents nobody acknowledged within two hours.
//!
//! It runs every `compliance_tick_secs` and whenever a patrol, route or
//! roster is committed, so an alert is raised within one tick of its
//! deadline. Alerts are committed like any other document
//! (`crate::commit`).
//!
//! # Invariants
//! - An alert is raised at most once per (kind, subject): its document id is
//!   derived from both, and the store refuses a second document of that id.
//! - Alerts are documents written by the server, delivered by the ordinary
//!   sync path; their recipients may only append acknowledgements.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use fieldsync_proto::model::Role;
use fieldsync_proto::model::alert::{AlertDoc, AlertKind};
use fieldsync_proto::model::duty::{
    self, CheckinFact, PatrolFact, RosterDoc, RouteDoc, ShiftSpan, Slot,
};
use fieldsync_proto::model::validate::Checked;
use fieldsync_proto::{DocHeader, DocId, DocType};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::now_ms;
use crate::commit::{Committer, Outcome};
use crate::documents;
use crate::reports;
use crate::store::{AttendanceRow, ComplianceRow, PostRow, Store, StoreError};

const HOUR_MS: i64 = 3_600_000;
/// Shifts that ended longer ago than this are final and not evaluated again.
const LOOKBACK_MS: i64 = 8 * 24 * HOUR_MS;
/// A missed or late post older than this is recorded but raises no alert
/// (a roster entered after the fact must not flood the leader's phone).
pub const ALERT_MAX_AGE_MS: i64 = 48 * HOUR_MS;
/// Major hazards and incidents must be acknowledged within this time.
pub const ESCALATE_AFTER_MS: i64 = 2 * HOUR_MS;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Keys of the shifts evaluated.
    pub evaluated: BTreeSet<String>,
    pub shifts: usize,
    pub slots: usize,
    pub alerts_raised: usize,
}

/// Runs the engine on `tasks` until `shutdown`: every `tick`, and when a
/// committed patrol, route or roster asks for it; on one replica at a time.
pub fn spawn(commits: Committer, tick: Duration, shutdown: CancellationToken, tasks: &TaskTracker) {
    tasks.spawn(async move {
        // Of several replicas, the one holding the lease runs the engine
        // (`crate::replicas`); the others keep trying at each tick.
        let mut lease: Option<crate::store::Lease> = None;
        loop {
            if let Some(held) = &mut lease
                && !held.alive().await
            {
                tracing::warn!("lost the compliance lease");
                lease = None;
            }
            if lease.is_none() {
                lease = commits
                    .store()
                    .lease(crate::replicas::COMPLIANCE_LEASE)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "cannot take the compliance lease");
                        None
                    });
            }
            let communities: Vec<String> = if lease.is_some() {
                commits.store().community_ids().await.unwrap_or_default()
            } else {
                Vec::new()
            };
            for community in communities {
                let now = now_ms();
                let started = std::time::Instant::now();
                let ran = run(&commits, &community, now).await;
                crate::metrics::observe_since(&crate::metrics::METRICS.compliance_seconds, started);
                match ran {
                    // Reports are issued from figures the engine has just
                    // brought up to date.
                    Ok(done) => {
                        if let Err(e) = reports::issue::issue_due(
                            commits.store(),
                            &community,
                            &done.evaluated,
                            now,
                        )
                        .await
                        {
                            tracing::warn!(%community, error = %e, "issuing reports failed");
                        }
                    }
                    Err(e) => tracing::warn!(%community, error = %e, "compliance run failed"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(tick) => {}
                _ = commits.duty_changed() => {}
            }
        }
    });
}

/// Evaluates one community as of `now` and raises the alerts that are due.
pub async fn run(commits: &Committer, community: &str, now: i64) -> Result<Report, StoreError> {
    let store = commits.store();
    let mut report = Report::default();
    let shifts = store
        .shifts_between(community, now - LOOKBACK_MS, now + 1)
        .await?;
    let roster_ids: Vec<String> = shifts
        .iter()
        .map(|s| s.roster_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut spans: Vec<(String, ShiftSpan, jiff::tz::TimeZone)> = Vec::new();
    for roster in store.rosters(community, &roster_ids).await? {
        let Ok(doc) = serde_json::from_str::<RosterDoc>(&roster.body) else {
            continue;
        };
        let (Ok(tz), Ok(all)) = (duty::time_zone(&doc.time_zone), doc.spans()) else {
            continue;
        };
        for span in all {
            let key = format!("{}/{}", roster.doc_id, span.shift.id);
            if shifts.iter().any(|s| s.shift_key == key) {
                spans.push((key, span, tz.clone()));
            }
        }
    }
    let routes: HashMap<String, RouteDoc> = store
        .routes(community)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.doc_id, serde_json::from_str(&r.body).ok()?)))
        .collect();
    let posts = store.posts(community, None).await?;
    let mut existing: HashSet<(String, String)> = store
        .alert_rows(community)
        .await?
        .into_iter()
        .map(|a| (a.kind, a.subject))
        .collect();
    let mut alerts = Vec::new();

    if let (Some(from), Some(to)) = (
        spans.iter().map(|s| s.1.starts_at_ms).min(),
        spans.iter().map(|s| s.1.ends_at_ms).max(),
    ) {
        let max_grace = routes.values().map(|r| r.grace_min).max().unwrap_or(0);
        let to = to + i64::from(max_grace) * 60_000;
        let checkins: Vec<CheckinFact> = store
            .checkins_between(community, from, to)
            .await?
            .into_iter()
            .map(|c| CheckinFact {
                verified: c.status == "verified",
                id: c.checkin_id,
                post_id: c.post_id,
                at_ms: c.device_time,
                by: c.member,
            })
            .collect();
        let patrols: Vec<PatrolFact> = store
            .patrols_between(community, from, to)
            .await?
            .into_iter()
            .map(|p| PatrolFact {
                started_by: p.started_by,
                started_at_ms: p.started_at,
                ended_at_ms: p.ended_at,
            })
            .collect();
        let by: HashMap<&str, &str> = checkins
            .iter()
            .map(|c| (c.id.as_str(), c.by.as_str()))
            .collect();
        for (key, span, tz) in &spans {
            let mut slots = Vec::new();
            for route_id in &span.shift.routes {
                let Some(route) = routes.get(route_id) else {
                    continue;
                };
                match duty::evaluate(span, route_id, route, tz, &checkins, now) {
                    Ok(s) => slots.extend(s),
                    Err(e) => {
                        tracing::warn!(%community, route = %route_id, error = %e, "route not evaluated")
                    }
                }
            }
            let rows: Vec<ComplianceRow> =
                slots.iter().map(|s| compliance_row(key, s, &by)).collect();
            let attendance: Vec<AttendanceRow> = duty::attendance(span, &patrols, &checkins)
                .into_iter()
                .map(|a| AttendanceRow {
                    shift_key: key.to_string(),
                    user_id: a.user,
                    signed_on: a.signed_on_ms,
                    signed_off: a.signed_off_ms,
                })
                .collect();
            if store.compliance_rows(community, key).await? != rows
                || store.attendance_rows(community, key).await? != attendance
            {
                store
                    .replace_compliance(community, key, &rows, &attendance, now)
                    .await?;
            }
            let fresh = |s: &&Slot| {
                let since = if s.status == duty::SlotStatus::Missed {
                    s.grace_until_ms
                } else {
                    s.deadline_ms
                };
                now - since <= ALERT_MAX_AGE_MS
            };
            for slot in slots.iter().filter(|s| s.status.alerts()).filter(fresh) {
                let alert = slot_alert(key, span, slot, &posts, tz, now);
                if existing.insert((alert.kind.as_str().to_owned(), alert.subject.clone())) {
                    alerts.push(alert);
                }
            }
            report.evaluated.insert(key.to_string());
            report.shifts += 1;
            report.slots += slots.len();
        }
    }

    let mut others = flag_alerts(store, community, &posts, now).await?;
    others.extend(hazard_alerts(store, community, now).await?);
    for alert in others {
        if existing.insert((alert.kind.as_str().to_owned(), alert.subject.clone())) {
            alerts.push(alert);
        }
    }
    report.alerts_raised = raise(commits, community, alerts).await?;
    Ok(report)
}

fn compliance_row(shift_key: &str, s: &Slot, by: &HashMap<&str, &str>) -> ComplianceRow {
    ComplianceRow {
        decided_by: s
            .checkin_id
            .as_deref()
            .and_then(|id| by.get(id))
            .map(|u| u.to_string()),
        shift_key: shift_key.to_owned(),
        route_id: s.route_id.clone(),
        post_id: s.post_id.clone(),
        window_start: s.window_start_ms,
        deadline: s.deadline_ms,
        grace_until: s.grace_until_ms,
        status: s.status.as_str().to_owned(),
        checkin_id: s.checkin_id.clone(),
        checked_at: s.checked_at_ms,
    }
}

/// Local wall-clock time of `ms`, `HH:MM`.
fn local_hm(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M").to_string())
        .unwrap_or_default()
}

/// A post's Chinese and English labels for alert titles; its id when the
/// post is unknown.
fn post_labels<'a>(posts: &'a [PostRow], id: &'a str) -> (&'a str, &'a str) {
    posts
        .iter()
        .find(|p| p.id == id)
        .map_or((id, id), |p| (p.label_zh.as_str(), p.label_en.as_str()))
}

fn slot_alert(
    shift_key: &str,
    span: &ShiftSpan,
    slot: &Slot,
    posts: &[PostRow],
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> AlertDoc {
    let kind = if slot.status == duty::SlotStatus::Missed {
        AlertKind::Missed
    } else {
        AlertKind::Late
    };
    let (label_zh, label_en) = post_labels(posts, &slot.post_id);
    let due = local_hm(slot.deadline_ms, tz);
    let (zh, en) = match kind {
        AlertKind::Missed => ("漏巡", "Missed check-in"),
        _ => ("巡查逾时", "Late check-in"),
    };
    let mut recipients = vec![span.shift.leader.clone()];
    recipients.extend(span.shift.deputy.clone());
    AlertDoc {
        kind,
        subject: format!(
            "slot:{shift_key}:{}:{}:{}",
            slot.route_id, slot.post_id, slot.window_start_ms
        ),
        raised_at_ms: now,
        recipients,
        roles: vec![Role::Office],
        title_zh: format!("{label_zh} {zh}（截止 {due}）"),
        title_en: format!("{en}: {label_en} (due {due})"),
        post_id: Some(slot.post_id.clone()),
        shift_id: Some(shift_key.to_owned()),
        due_at_ms: Some(slot.deadline_ms),
        doc_id: None,
        checkin_id: None,
        reason: None,
        acks: Vec::new(),
    }
}

/// Check-ins stored flagged in the last [`ALERT_MAX_AGE_MS`], to whoever
/// made them (the office sees them too): the phone cannot check a tag
/// offline, so this is how its owner learns that a scan did not count.
async fn flag_alerts(
    store: &Store,
    community: &str,
    posts: &[PostRow],
    now: i64,
) -> Result<Vec<AlertDoc>, StoreError> {
    let flagged = store
        .flagged_checkins(community, now - ALERT_MAX_AGE_MS)
        .await?;
    Ok(flagged
        .into_iter()
        .map(|c| {
            let (label_zh, label_en) = post_labels(posts, &c.post_id);
            let reason = c.flag_reason.unwrap_or_default();
            let (why_zh, why_en): (Vec<_>, Vec<_>) = crate::tags::flag_codes(&reason)
                .map(crate::tags::flag_title)
                .unzip();
            AlertDoc {
                kind: AlertKind::Flagged,
                subject: format!("checkin:{}:{}:{}", c.patrol_id, c.checkin_id, c.post_id),
                raised_at_ms: now,
                recipients: vec![c.member],
                roles: vec![Role::Office],
                title_zh: format!("{label_zh} 打卡存疑：{}", why_zh.join("，")),
                title_en: format!("Check-in flagged: {label_en} ({})", why_en.join(", ")),
                post_id: Some(c.post_id),
                shift_id: None,
                due_at_ms: None,
                doc_id: Some(c.patrol_id),
                checkin_id: Some(c.checkin_id),
                reason: Some(reason),
                acks: Vec::new(),
            }
        })
        .collect())
}

/// Overdue hazards; major hazards and incidents not acknowledged in time.
async fn hazard_alerts(
    store: &Store,
    community: &str,
    now: i64,
) -> Result<Vec<AlertDoc>, StoreError> {
    let mut out = Vec::new();
    let alert = |kind,
                 subject: String,
                 doc: &str,
                 due: Option<i64>,
                 zh: String,
                 en: String,
                 recipients: Vec<String>| AlertDoc {
        kind,
        subject,
        raised_at_ms: now,
        recipients,
        roles: vec![Role::Office, Role::Leader],
        title_zh: zh,
        title_en: en,
        post_id: None,
        shift_id: None,
        due_at_ms: due,
        doc_id: Some(doc.to_owned()),
        checkin_id: None,
        reason: None,
        acks: Vec::new(),
    };
    for h in store.hazard_rows(community).await? {
        if h.is_overdue(now) {
            let due = h.due_at.unwrap_or_default();
            out.push(alert(
                AlertKind::Overdue,
                format!("hazard:{}:due:{due}", h.doc_id),
                &h.doc_id,
                Some(due),
                format!("隐患逾期未整改：{}", h.doc_id),
                format!("Hazard overdue for rectification: {}", h.doc_id),
                h.assigned_person.clone().into_iter().collect(),
            ));
        }
        if h.severity == "major"
            && h.state == "reported"
            && now >= h.reported_at + ESCALATE_AFTER_MS
        {
            out.push(alert(
                AlertKind::Escalation,
                format!("hazard:{}", h.doc_id),
                &h.doc_id,
                Some(h.reported_at + ESCALATE_AFTER_MS),
                format!("重大隐患 2 小时未处理：{}", h.doc_id),
                format!("Major hazard not acknowledged within 2 hours: {}", h.doc_id),
                Vec::new(),
            ));
        }
    }
    for i in store.incident_rows(community).await? {
        if i.state == "open" && now >= i.reported_at + ESCALATE_AFTER_MS {
            out.push(alert(
                AlertKind::Escalation,
                format!("incident:{}", i.doc_id),
                &i.doc_id,
                Some(i.reported_at + ESCALATE_AFTER_MS),
                format!("事件 2 小时未确认：{}", i.doc_id),
                format!("Incident not acknowledged within 2 hours: {}", i.doc_id),
                Vec::new(),
            ));
        }
    }
    Ok(out)
}

/// The id of the alert of `kind` about `subject`: the same pair always gets
/// the same id, so it is raised once however often the engine runs.
pub fn alert_id(kind: AlertKind, subject: &str) -> DocId {
    let hash = Sha256::digest(format!("{}\n{subject}", kind.as_str()));
    DocId::new(format!("alert-{}", hex::encode(&hash[..12]))).expect("hex ids are valid")
}

/// Writes alert documents through the commit path (one transaction);
/// returns how many were new.
async fn raise(
    commits: &Committer,
    community: &str,
    alerts: Vec<AlertDoc>,
) -> Result<usize, StoreError> {
    if alerts.is_empty() {
        return Ok(0);
    }
    let writes = alerts
        .iter()
        .map(|a| {
            let id = alert_id(a.kind, &a.subject);
            let json = serde_json::to_value(a).expect("alerts serialize");
            documents::created(
                DocHeader::new(id, DocType::Alert),
                &json,
                Checked::Alert(a.clone()),
            )
        })
        .collect();
    let mut raised = 0;
    // An alert raised before is a conflict: its id is taken.
    for (a, outcome) in alerts.iter().zip(commits.commit(community, writes).await?) {
        if matches!(outcome, Outcome::Stored { .. }) {
            raised += 1;
            tracing::info!(%community, kind = a.kind.as_str(), subject = %a.subject, "alert raised");
        }
    }
    Ok(raised)
}
