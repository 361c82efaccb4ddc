//! Routes, rosters and alerts on the phone: leaders plan routes and rosters;
//! everyone sees their route's posts with today's status (computed with the
//! server's own rules from the documents on the device, so it works offline)
//! and the alerts addressed to them, and acknowledges those; their check-ins
//! the server flagged.

use std::collections::HashSet;

use fieldsync_proto::model::alert::{AlertAck, AlertDoc, AlertKind};
use fieldsync_proto::model::duty::{self, CheckinFact, RosterDoc, RouteDoc, Slot};
use fieldsync_proto::model::patrol::Proof;
use fieldsync_proto::model::validate;

use crate::error::{Error, Result};
use crate::now_ms;
use crate::{Client, DocId, DocType};

/// One post of my route in one window of my current shift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostStatus {
    pub route_id: String,
    pub post_id: String,
    pub slot: Slot,
}

/// A check-in of mine the server stored flagged: kept as evidence, never
/// counted as verified (its tag did not verify, or it was made away from the
/// post). The phone learns of it from the alert the server addresses to the
/// check-in's author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlaggedCheckIn {
    pub patrol_id: String,
    pub checkin_id: String,
    pub post_id: String,
    /// Why, `code: explanation` (several joined by `; `).
    pub reason: String,
    pub flagged_at_ms: i64,
}

impl Client {
    /// Creates a route (leader, office); checked like the server checks it.
    pub fn create_route(&self, route: &RouteDoc) -> Result<DocId> {
        route
            .check()
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.create_from(DocType::Route, route)
    }

    /// Creates a roster (leader, office); its shifts must resolve.
    pub fn create_roster(&self, roster: &RosterDoc) -> Result<DocId> {
        roster
            .spans()
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.create_from(DocType::Roster, roster)
    }

    /// The alerts on this device addressed to me (by name or by role),
    /// newest first.
    pub fn alerts(&self) -> Result<Vec<(DocId, AlertDoc)>> {
        let author = self.author()?;
        let mut out = Vec::new();
        for id in self.document_ids(Some(DocType::Alert))? {
            let Ok(alert) = self.read_document(&id, validate::read_alert)? else {
                continue;
            };
            if alert.is_for(&author.user_id, author.role) {
                out.push((id, alert));
            }
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.1.raised_at_ms));
        Ok(out)
    }

    /// My check-ins the server stored flagged, as synced to this device,
    /// newest first.
    pub fn flagged_checkins(&self) -> Result<Vec<FlaggedCheckIn>> {
        let me = self.author()?.user_id;
        Ok(self
            .alerts()?
            .into_iter()
            .filter(|(_, a)| a.kind == AlertKind::Flagged && a.recipients.contains(&me))
            .filter_map(|(_, a)| {
                Some(FlaggedCheckIn {
                    patrol_id: a.doc_id?,
                    checkin_id: a.checkin_id?,
                    post_id: a.post_id.unwrap_or_default(),
                    reason: a.reason.unwrap_or_default(),
                    flagged_at_ms: a.raised_at_ms,
                })
            })
            .collect())
    }

    /// Acknowledges an alert addressed to me; works offline.
    pub fn acknowledge_alert(&self, id: &DocId, note: &str) -> Result<()> {
        let author = self.author()?;
        let alert = self
            .read_document(id, validate::read_alert)?
            .map_err(|r| Error::Document(r.message))?;
        if !alert.is_for(&author.user_id, author.role) {
            return Err(Error::InvalidInput(
                "not_recipient: this alert is not addressed to you".into(),
            ));
        }
        let ack = AlertAck {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at_ms: now_ms(),
            by: author.user_id,
            role: author.role,
            device: author.device_id,
            note: note.to_owned(),
        };
        self.append_to(id, "acks", &ack)
    }

    /// The posts of every route of my shifts running at `at_ms`, with their
    /// status in every window of the shift as of `at_ms` (windows still to
    /// come are pending), from the rosters, routes and
    /// patrols on this device. Tag check-ins count as verified here until
    /// the server flags them ([`Client::flagged_checkins`]): it has the
    /// last word once they arrive.
    pub fn my_route_status(&self, at_ms: i64) -> Result<Vec<PostStatus>> {
        let author = self.author()?;
        let flagged: HashSet<String> = self
            .flagged_checkins()?
            .into_iter()
            .map(|f| f.checkin_id)
            .collect();
        let mut checkins = Vec::new();
        for id in self.document_ids(Some(DocType::Patrol))? {
            let Ok(p) = self.read_document(&id, validate::read_patrol)? else {
                continue;
            };
            checkins.extend(p.checkins.into_iter().map(|c| CheckinFact {
                verified: matches!(c.proof, Proof::Tag { .. }) && !flagged.contains(&c.id),
                id: c.id,
                post_id: c.post_id,
                at_ms: c.at_ms,
                by: c.by,
            }));
        }
        let mut out = Vec::new();
        for roster_id in self.document_ids(Some(DocType::Roster))? {
            let Ok(roster) = self.read_document(&roster_id, validate::read_roster)? else {
                continue;
            };
            let (Ok(tz), Ok(spans)) = (duty::time_zone(&roster.time_zone), roster.spans()) else {
                continue;
            };
            for span in spans.iter().filter(|s| {
                s.is_on_duty(&author.user_id) && (s.starts_at_ms..s.ends_at_ms).contains(&at_ms)
            }) {
                for route_id in &span.shift.routes {
                    let Ok(id) = DocId::new(route_id.clone()) else {
                        continue;
                    };
                    let Ok(Ok(route)) = self.read_document(&id, validate::read_route) else {
                        continue;
                    };
                    let slots = duty::evaluate(span, route_id, &route, &tz, &checkins, at_ms)
                        .map_err(|e| Error::Document(e.to_string()))?;
                    out.extend(slots.into_iter().map(|slot| PostStatus {
                        route_id: route_id.clone(),
                        post_id: slot.post_id.clone(),
                        slot,
                    }));
                }
            }
        }
        Ok(out)
    }
}
