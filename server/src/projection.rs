//! Projections: the query tables' rows derived from documents (hazards,
//! patrols and check-ins, routes, rosters and shifts, incidents, alerts, photo
//! links), written in the same transaction as the change they come from, and
//! rebuildable from the documents alone.

use fieldsync_proto::DocId;
use fieldsync_proto::model::alert::AlertDoc;
use fieldsync_proto::model::duty::RosterDoc;
use fieldsync_proto::model::hazard;
use std::collections::HashMap;

use fieldsync_proto::model::hazard::{HazardAction, HazardDoc, HazardEvent};
use fieldsync_proto::model::incident::{IncidentAction, IncidentDoc};
use fieldsync_proto::model::patrol::{self, CheckIn, Proof};
use fieldsync_proto::model::photo::is_photo_hash;
use fieldsync_proto::model::validate::{self, Checked};

use crate::scope::{self, Grids};
use crate::store::{
    AlertRow, BlobLink, CheckinRow, HazardRow, IncidentRow, PatrolRow, PostRow, ProjectionRows,
    RosterRow, RouteRow, ShiftRow, Store, StoreError, TagKeyRow,
};

/// The incident's row: its state from the events.
pub fn incident_row(doc_id: &DocId, doc: &IncidentDoc) -> IncidentRow {
    let first = |action| {
        doc.events
            .iter()
            .filter(|e| e.action == action)
            .map(|e| e.at_ms)
            .min()
    };
    let acknowledged_at = first(IncidentAction::Acknowledge);
    let state = if first(IncidentAction::Close).is_some() {
        "closed"
    } else if acknowledged_at.is_some() {
        "acknowledged"
    } else {
        "open"
    };
    IncidentRow {
        doc_id: doc_id.to_string(),
        reporter: doc.reporter.clone(),
        occurred_at: doc.occurred_at_ms,
        reported_at: first(IncidentAction::Report).unwrap_or(doc.occurred_at_ms),
        state: state.to_owned(),
        acknowledged_at,
        event_count: doc.events.len() as i64,
    }
}

/// The alert's row.
pub fn alert_row(doc_id: &DocId, doc: &AlertDoc) -> AlertRow {
    let first_ack = doc.acks.iter().min_by_key(|a| a.at_ms);
    AlertRow {
        doc_id: doc_id.to_string(),
        kind: doc.kind.as_str().to_owned(),
        subject: doc.subject.clone(),
        raised_at: doc.raised_at_ms,
        recipients: serde_json::to_string(&doc.recipients).unwrap_or_default(),
        acked_at: first_ack.map(|a| a.at_ms),
        acked_by: first_ack.map(|a| a.by.clone()),
    }
}

fn json_body<T: serde::Serialize>(doc: &T) -> String {
    serde_json::to_string(doc).expect("documents serialize to JSON")
}

/// The roster's row and one row per shift (the roster passed its checks, so
/// its shifts resolve).
pub fn roster_rows(doc_id: &DocId, doc: &RosterDoc) -> (RosterRow, Vec<ShiftRow>) {
    let shifts = doc
        .spans()
        .unwrap_or_default()
        .into_iter()
        .map(|s| ShiftRow {
            shift_key: format!("{doc_id}/{}", s.shift.id),
            roster_id: doc_id.to_string(),
            team: s.team,
            leader: s.shift.leader,
            starts_at: s.starts_at_ms,
            ends_at: s.ends_at_ms,
        })
        .collect();
    let row = RosterRow {
        doc_id: doc_id.to_string(),
        team: doc.team.clone(),
        week_of: doc.week_of.clone(),
        body: json_body(doc),
    };
    (row, shifts)
}

fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The hazard's row: its folded state.
pub fn hazard_row(doc_id: &DocId, doc: &HazardDoc) -> HazardRow {
    let folded = hazard::fold(&doc.events);
    let report = doc.events.iter().find(|e| e.prev.is_none());
    let current = folded.current.as_ref();
    let chain = followed(&doc.events, folded.head.as_deref());
    HazardRow {
        doc_id: doc_id.to_string(),
        category: doc.category.clone(),
        severity: name(&doc.severity),
        state: current.map(|s| name(&s.state)).unwrap_or_default(),
        in_conflict: folded.in_conflict(),
        reporter: current.map(|s| s.reporter.clone()).unwrap_or_default(),
        reported_at: report.map(|e| e.at_ms).unwrap_or_default(),
        post_id: doc.place.post_id.clone(),
        assigned_person: current.and_then(|s| s.assignment.as_ref().map(|a| a.1.clone())),
        deadline_at: current.and_then(|s| s.assignment.as_ref().map(|a| a.2)),
        event_count: doc.events.len() as i64,
        due_at: current.map(|s| {
            s.assignment.as_ref().map_or_else(
                || report.map(|e| e.at_ms).unwrap_or_default() + doc.severity.sla_ms(s.immediate),
                |a| a.2,
            )
        }),
        recurring_of: None,
        rectified_at: chain
            .iter()
            .find(|e| e.action == HazardAction::Rectify)
            .map(|e| e.at_ms),
        closed_at: chain
            .first()
            .filter(|e| e.action == HazardAction::Close)
            .map(|e| e.at_ms),
    }
}

/// The followed history of a folded hazard, from `head` back to the report,
/// newest first.
fn followed<'a>(events: &'a [HazardEvent], head: Option<&str>) -> Vec<&'a HazardEvent> {
    let by_id: HashMap<&str, &HazardEvent> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out = Vec::new();
    let mut at = head;
    while let Some(e) = at.and_then(|id| by_id.get(id)) {
        if out.len() > events.len() {
            break;
        }
        out.push(*e);
        at = e.prev.as_deref();
    }
    out
}

/// The photo blobs a hazard references, in its report and its events.
fn hazard_photos(doc: &HazardDoc) -> Vec<String> {
    blob_hashes(
        doc.photos
            .iter()
            .chain(doc.events.iter().flat_map(|e| &e.photos)),
    )
}

/// Each blob hash once, sorted; strings that are not blob hashes are left out.
fn blob_hashes<'a>(refs: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut photos: Vec<String> = refs.filter(|h| is_photo_hash(h)).cloned().collect();
    photos.sort();
    photos.dedup();
    photos
}

/// Links from document `doc_id` to the photos it references.
fn links(doc_id: &str, photos: &[String]) -> Vec<BlobLink> {
    photos
        .iter()
        .map(|hash| BlobLink {
            hash: hash.clone(),
            doc_id: doc_id.to_owned(),
        })
        .collect()
}

/// What new check-ins are judged against: the community's posts (the
/// geofence) and its tag keys (their proofs).
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    pub community: &'a str,
    pub posts: &'a [PostRow],
    pub keys: &'a [TagKeyRow],
}

/// The rows a document that passed the checks writes besides itself, in the
/// same transaction; `received_at` gives when the server took each new
/// check-in (by its id).
pub fn rows(
    id: &DocId,
    checked: Checked,
    judge: Judge<'_>,
    received_at: impl Fn(&str) -> i64,
) -> ProjectionRows {
    match checked {
        Checked::Hazard(h) => ProjectionRows {
            blob_links: links(id.as_str(), &hazard_photos(&h)),
            hazard: Some(hazard_row(id, &h)),
            ..Default::default()
        },
        Checked::Patrol { doc, new_checkins } => ProjectionRows {
            checkins: new_checkins
                .iter()
                .map(|c| checkin_row(id.as_str(), c, judge, received_at(&c.id)))
                .collect(),
            // Check-ins are append-only: earlier ones were linked when they came.
            blob_links: links(
                id.as_str(),
                &blob_hashes(new_checkins.iter().flat_map(|c| &c.photos)),
            ),
            patrol: Some(PatrolRow {
                doc_id: id.to_string(),
                checkin_count: doc.checkins.len() as i64,
                team: doc.team,
                route: doc.route,
                started_by: doc.started_by,
                started_at: doc.started_at_ms,
                ended_at: doc.ended_at_ms,
            }),
            ..Default::default()
        },
        Checked::Incident(i) => ProjectionRows {
            blob_links: links(id.as_str(), &blob_hashes(i.photos.iter())),
            incident: Some(incident_row(id, &i)),
            ..Default::default()
        },
        Checked::Alert(a) => ProjectionRows {
            alert: Some(alert_row(id, &a)),
            ..Default::default()
        },
        Checked::Route(r) => ProjectionRows {
            route: Some(RouteRow {
                doc_id: id.to_string(),
                team: r.team.clone(),
                name: r.name.clone(),
                body: json_body(&r),
            }),
            ..Default::default()
        },
        Checked::Roster(r) => ProjectionRows {
            roster: Some(roster_rows(id, &r)),
            ..Default::default()
        },
        // Nothing is queried from them but the document itself.
        Checked::Places | Checked::Note => ProjectionRows::default(),
    }
}

/// A check-in's row: verified by its tag, unverified when manual; flagged,
/// with the reasons, when its tag does not verify (`crate::tags::flag`) or a
/// GPS fix puts the phone clearly away from the post.
pub fn checkin_row(patrol_id: &str, c: &CheckIn, judge: Judge<'_>, received_at: i64) -> CheckinRow {
    let method = match c.proof {
        Proof::Tag { .. } => "tag",
        Proof::Manual { .. } => "manual",
    };
    let mut reasons: Vec<String> =
        crate::tags::flag(judge.community, judge.posts, judge.keys, c, received_at)
            .into_iter()
            .collect();
    let post = judge.posts.iter().find(|p| p.id == c.post_id);
    if let (Some(fix), Some(post)) = (&c.fix, post)
        && let (Some(lat), Some(lon)) = (post.lat, post.lon)
    {
        let distance = patrol::distance_m((fix.lat, fix.lon), (lat, lon));
        let allowed = post.radius_m.unwrap_or(50.0) + fix.accuracy_m.max(0.0);
        if distance > allowed {
            reasons.push(format!(
                "far_from_post: {distance:.0} m from the post (allowed {allowed:.0} m)"
            ));
        }
    }
    let status = match (reasons.is_empty(), method) {
        (false, _) => "flagged",
        (true, "tag") => "verified",
        (true, _) => "unverified",
    };
    let flag_reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    CheckinRow {
        patrol_id: patrol_id.to_owned(),
        checkin_id: c.id.clone(),
        post_id: c.post_id.clone(),
        member: c.by.clone(),
        device_id: c.device.clone(),
        method: method.to_owned(),
        device_time: c.at_ms,
        received_at,
        lat: c.fix.as_ref().map(|f| f.lat),
        lon: c.fix.as_ref().map(|f| f.lon),
        accuracy_m: c.fix.as_ref().map(|f| f.accuracy_m),
        status: status.to_owned(),
        flag_reason,
    }
}

/// Recomputes every projection row and every document's read scope, of
/// every community, from the documents. Check-ins already projected keep
/// their first receive time.
pub async fn rebuild(store: &Store) -> Result<RebuildReport, StoreError> {
    let mut report = RebuildReport::default();
    let now = crate::clock::now_ms();
    let mut hazards = Vec::new();
    for community in store.community_ids().await? {
        let posts = store.posts(&community, None).await?;
        let keys = store.tag_keys(&community).await?;
        let judge = Judge {
            community: &community,
            posts: &posts,
            keys: &keys,
        };
        // A check-in's proof is judged as of when the server first took it.
        let received: HashMap<(String, String), i64> = store
            .checkin_rows(&community)
            .await?
            .into_iter()
            .map(|c| ((c.patrol_id, c.checkin_id), c.received_at))
            .collect();
        let grids = Grids::new(&posts, &store.teams(&community).await?);
        let mut cursor = 0;
        loop {
            let changed = store.changed_since(&community, cursor, 500).await?;
            let Some(last) = changed.last() else { break };
            cursor = last.seq;
            let ids: Vec<DocId> = changed
                .iter()
                .filter_map(|r| DocId::new(r.id.clone()).ok())
                .collect();
            let docs = store.load_docs(&community, &ids).await?;
            for (id, stored) in docs {
                let Ok(header) = stored.row.header() else {
                    report.unreadable += 1;
                    continue;
                };
                let Ok(doc) = automerge::Automerge::load(&stored.chunks.concat()) else {
                    report.unreadable += 1;
                    continue;
                };
                // Every check-in counts as new: its row keeps the receive
                // time it has, if it has one.
                let Ok(checked) = validate::read(header.doc_type, &doc) else {
                    report.unreadable += 1;
                    continue;
                };
                let scope = grids.resolve(&scope::seed(&checked));
                store.set_scope(&community, &id, &scope).await?;
                let projected = rows(&id, checked, judge, |checkin| {
                    received
                        .get(&(id.to_string(), checkin.to_owned()))
                        .copied()
                        .unwrap_or(now)
                });
                store.write_projection(&community, &projected).await?;
                if projected.hazard.is_some() {
                    hazards.push(projected);
                }
                report.documents += 1;
            }
        }
        // Again, now that every hazard has a row: a recurrence link needs the
        // earlier hazard's row, whatever order the documents came in.
        for rows in hazards.drain(..) {
            store.write_projection(&community, &rows).await?;
        }
    }
    Ok(report)
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub documents: usize,
    pub unreadable: usize,
}
