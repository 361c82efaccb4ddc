//! What the server checks in every incoming change set, beyond the actor and
//! size checks of the session: the document's schema, the hazard transition
//! rules, and the author's role. Shared so the SDK can check the same rules
//! before a volunteer taps "send".

use automerge::ReadDoc;
use serde::Deserialize;

use super::alert::{AlertAck, AlertDoc};
use super::duty::{RosterDoc, RouteDoc};
use super::hazard::{self, HazardDoc, HazardEvent, TransitionError};
use super::incident::{self, IncidentDoc, IncidentEvent};
use super::patrol::{self, CheckIn, CheckInError, PatrolDoc, PatrolNote};
use super::{DocType, Role};
use crate::json::{self, field};
use crate::session::Rejection;
use crate::wire::RejectCode;

/// Hazard categories (docs/hazards.md; labels in docs/glossary.md as `hazard.cat.<name>`).
pub const HAZARD_CATEGORIES: [&str; 20] = [
    "extinguisher",
    "exit_blocked",
    "exit_sign",
    "wiring",
    "heater",
    "ebike",
    "open_flame",
    "rental",
    "gas",
    "security_door",
    "cctv",
    "dangerous_structure",
    "crowd",
    "food",
    "water",
    "construction",
    "suspicious",
    "street_light",
    "fire_lane",
    "other",
];

/// Who is writing: from the access token, never from the document.
#[derive(Clone, Copy, Debug)]
pub struct Author<'a> {
    pub user_id: &'a str,
    pub role: Role,
    pub device_id: &'a str,
}

fn schema(message: impl Into<String>) -> Rejection {
    Rejection {
        code: RejectCode::SchemaViolation,
        message: message.into(),
    }
}

fn forbidden(message: impl Into<String>) -> Rejection {
    Rejection {
        code: RejectCode::Forbidden,
        message: message.into(),
    }
}

/// Reads a hazard document; `Err` says what is wrong with its shape.
pub fn read_hazard(doc: &impl ReadDoc) -> Result<HazardDoc, Rejection> {
    let hazard: HazardDoc = read_as(doc, "hazard")?;
    if !HAZARD_CATEGORIES.contains(&hazard.category.as_str()) {
        return Err(schema(format!(
            "unknown hazard category {:?}",
            hazard.category
        )));
    }
    Ok(hazard)
}

/// What the checks need to know of a stored document before a change.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Prior {
    /// A new document, or a type whose history is not checked.
    #[default]
    Nothing,
    Hazard(Vec<HazardEvent>),
    /// A patrol's check-ins, breadcrumb chunks and notes.
    Patrol(Vec<CheckIn>, Vec<String>, Vec<PatrolNote>),
    Incident(Vec<IncidentEvent>),
    /// An alert as it was: only acknowledgements may be added.
    Alert(Box<AlertDoc>),
}

/// Takes what [`check_change`] needs from a stored document, before the change
/// is applied to it.
pub fn prior(doc_type: DocType, stored: &impl ReadDoc) -> Prior {
    match doc_type {
        DocType::Hazard => Prior::Hazard(hazard_events(stored)),
        DocType::Patrol => Prior::Patrol(
            field(stored, "checkins").unwrap_or_default(),
            field(stored, "breadcrumbs").unwrap_or_default(),
            field(stored, "notes").unwrap_or_default(),
        ),
        DocType::Incident => Prior::Incident(field(stored, "events").unwrap_or_default()),
        DocType::Alert => read_alert(stored).map_or(Prior::Nothing, |a| Prior::Alert(Box::new(a))),
        // Their checks do not depend on what was there before.
        DocType::Route | DocType::Roster | DocType::Places | DocType::Note => Prior::Nothing,
    }
}

/// The events of a stored hazard (empty when the document is new or unreadable).
pub fn hazard_events(doc: &impl ReadDoc) -> Vec<HazardEvent> {
    field(doc, "events").unwrap_or_default()
}

/// Reads a patrol document; `Err` says what is wrong with its shape.
pub fn read_patrol(doc: &impl ReadDoc) -> Result<PatrolDoc, Rejection> {
    read_as(doc, "patrol")
}

/// The whole document as `T`; `Err` says what is wrong with its shape.
fn read_as<T: for<'de> Deserialize<'de>>(doc: &impl ReadDoc, what: &str) -> Result<T, Rejection> {
    serde_json::from_value(json::to_value(doc)).map_err(|e| schema(format!("{what} schema: {e}")))
}

impl Author<'_> {
    /// Refuses a new entry written in someone else's name.
    fn check_attributed(
        &self,
        id: &str,
        by: &str,
        role: Role,
        device: &str,
    ) -> Result<(), Rejection> {
        if by != self.user_id || role != self.role || device != self.device_id {
            return Err(forbidden(format!(
                "event {id} must be attributed to you ({}, {}, {})",
                self.user_id, self.role, self.device_id
            )));
        }
        Ok(())
    }
}

fn checkin_rejection(e: CheckInError) -> Rejection {
    let message = format!("{}: {e}", e.code());
    match e {
        CheckInError::NotYours(_) => forbidden(message),
        _ => schema(message),
    }
}

fn transition_rejection(e: TransitionError) -> Rejection {
    let message = format!("{}: {e}", e.code());
    match e {
        TransitionError::RoleNotAllowed { .. } => forbidden(message),
        _ => schema(message),
    }
}

/// Which roles may write which document types (docs/roles.md, docs/documents.md). Finer
/// rules (who may make which hazard transition, whose check-ins) come on top.
pub fn may_write(role: Role, doc_type: DocType) -> bool {
    use Role::*;
    match doc_type {
        // The community's map is kept by the office.
        DocType::Places => role == Office,
        DocType::Route | DocType::Roster => matches!(role, Leader | Office),
        // Alerts are raised by the server alone; their recipients only add
        // acknowledgements (checked in `check_alert`).
        DocType::Patrol | DocType::Hazard | DocType::Incident | DocType::Note | DocType::Alert => {
            role != Auditor
        }
    }
}

/// A document that passed [`check_change`], as data (read once, for the
/// caller's scope and projections too). One variant per [`DocType`], so a
/// new type is a compile error in every place that must handle it.
#[derive(Clone, Debug, PartialEq)]
pub enum Checked {
    Hazard(HazardDoc),
    Patrol {
        doc: PatrolDoc,
        /// The check-ins this change added.
        new_checkins: Vec<CheckIn>,
    },
    Incident(IncidentDoc),
    Route(RouteDoc),
    Roster(RosterDoc),
    Alert(AlertDoc),
    /// The community's places: written by the office, read by everyone; no
    /// schema of its own yet.
    Places,
    /// A free-form note, read by the whole community; no schema of its own.
    Note,
}

impl Checked {
    /// The same content with nothing counted as new: for a change that added
    /// no entries (only schema migration steps).
    pub fn settled(self) -> Checked {
        match self {
            Checked::Patrol { doc, .. } => Checked::Patrol {
                doc,
                new_checkins: Vec::new(),
            },
            other => other,
        }
    }

    /// The type of the document that was checked.
    pub fn doc_type(&self) -> DocType {
        match self {
            Checked::Hazard(_) => DocType::Hazard,
            Checked::Patrol { .. } => DocType::Patrol,
            Checked::Incident(_) => DocType::Incident,
            Checked::Route(_) => DocType::Route,
            Checked::Roster(_) => DocType::Roster,
            Checked::Alert(_) => DocType::Alert,
            Checked::Places => DocType::Places,
            Checked::Note => DocType::Note,
        }
    }
}

/// Checks a change set: `prior` is what [`prior`] took from the stored
/// document (`Prior::Nothing` for a new one), `after` the document with the
/// change set applied.
pub fn check_change(
    doc_type: DocType,
    prior: &Prior,
    after: &impl ReadDoc,
    author: Author<'_>,
) -> Result<Checked, Rejection> {
    if !may_write(author.role, doc_type) {
        return Err(forbidden(format!(
            "a {} may not write {} documents",
            author.role,
            doc_type.as_str()
        )));
    }
    super::migrate::check_reserved(doc_type, after).map_err(schema)?;
    match doc_type {
        DocType::Hazard => match prior {
            Prior::Hazard(before) => check_hazard(before, after, author),
            _ => check_hazard(&[], after, author),
        },
        DocType::Patrol => match prior {
            Prior::Patrol(before, crumbs, notes) => {
                check_patrol(Some((before, crumbs, notes)), after, author)
            }
            _ => check_patrol(None, after, author),
        },
        DocType::Incident => match prior {
            Prior::Incident(before) => check_incident(before, after, author),
            _ => check_incident(&[], after, author),
        },
        DocType::Route => Ok(Checked::Route(read_route(after)?)),
        DocType::Roster => Ok(Checked::Roster(read_roster(after)?)),
        DocType::Alert => match prior {
            Prior::Alert(before) => check_alert(before, after, author),
            _ => Err(forbidden("alerts are raised by the server")),
        },
        // No schema of their own: the actor, size and write-right checks
        // are what they get.
        DocType::Places => Ok(Checked::Places),
        DocType::Note => Ok(Checked::Note),
    }
}

/// A stored document read from scratch as checked content, the way a
/// rebuild sees it: every check-in counts as new. No author rules apply
/// (it was checked when it was written); the shape is checked again.
pub fn read(doc_type: DocType, doc: &impl ReadDoc) -> Result<Checked, Rejection> {
    Ok(match doc_type {
        DocType::Hazard => Checked::Hazard(read_hazard(doc)?),
        DocType::Patrol => {
            let doc = read_patrol(doc)?;
            Checked::Patrol {
                new_checkins: doc.checkins.clone(),
                doc,
            }
        }
        DocType::Incident => Checked::Incident(read_incident(doc)?),
        DocType::Route => Checked::Route(read_route(doc)?),
        DocType::Roster => Checked::Roster(read_roster(doc)?),
        DocType::Alert => Checked::Alert(read_alert(doc)?),
        DocType::Places => Checked::Places,
        DocType::Note => Checked::Note,
    })
}

/// Reads an incident document; `Err` says what is wrong with its shape.
pub fn read_incident(doc: &impl ReadDoc) -> Result<IncidentDoc, Rejection> {
    read_as(doc, "incident")
}

fn check_incident(
    before: &[IncidentEvent],
    after: &impl ReadDoc,
    author: Author<'_>,
) -> Result<Checked, Rejection> {
    let doc = read_incident(after)?;
    let new = super::appended(before, &doc.events, |e: &IncidentEvent| e.id.as_str()).map_err(
        |e| match e {
            super::AppendError::Rewritten(id) => schema(format!(
                "event_rewritten: incident event {id} was edited or deleted; history is append-only"
            )),
            super::AppendError::Duplicate(id) => {
                schema(format!("duplicate_event: event id {id} appears twice"))
            }
        },
    )?;
    for e in &new {
        author.check_attributed(&e.id, &e.by, e.role, &e.device)?;
    }
    incident::check_new_events(before, &doc.reporter, &new).map_err(|e| {
        let message = format!("{}: {e}", e.code());
        match e {
            incident::IncidentError::RoleNotAllowed { .. } => forbidden(message),
            _ => schema(message),
        }
    })?;
    Ok(Checked::Incident(doc))
}

fn check_patrol(
    before: Option<(&[CheckIn], &[String], &[PatrolNote])>,
    after: &impl ReadDoc,
    author: Author<'_>,
) -> Result<Checked, Rejection> {
    let patrol = read_patrol(after)?;
    let crumbs = before.map(|b| b.1).unwrap_or_default();
    // Chunks have no id and two can be equal (a phone standing still), so
    // compare as multisets: every stored chunk is still there, as often.
    let mut new_crumbs: Vec<&String> = patrol.breadcrumbs.iter().collect();
    for old in crumbs {
        let Some(i) = new_crumbs.iter().position(|c| *c == old) else {
            return Err(schema(
                "breadcrumbs_rewritten: breadcrumb chunks are append-only",
            ));
        };
        new_crumbs.swap_remove(i);
    }
    for chunk in new_crumbs {
        super::breadcrumbs::decode(chunk).map_err(|e| schema(format!("{}: {e}", e.code())))?;
    }
    patrol::check_notes(
        before.map(|b| b.2).unwrap_or_default(),
        &patrol.notes,
        author.user_id,
        author.device_id,
    )
    .map_err(|e| {
        let message = format!("{}: {e}", e.code());
        match e {
            patrol::NoteError::NotYours(_) => forbidden(message),
            _ => schema(message),
        }
    })?;
    let before = before.map(|b| b.0);
    if before.is_none() && patrol.started_by != author.user_id {
        return Err(forbidden("a patrol is started in your own name"));
    }
    let new_checkins = patrol::check_checkins(
        before.unwrap_or_default(),
        &patrol.checkins,
        author.user_id,
        author.device_id,
    )
    .map_err(checkin_rejection)?
    .into_iter()
    .cloned()
    .collect();
    Ok(Checked::Patrol {
        doc: patrol,
        new_checkins,
    })
}

fn check_hazard(
    before: &[HazardEvent],
    after: &impl ReadDoc,
    author: Author<'_>,
) -> Result<Checked, Rejection> {
    let hazard = read_hazard(after)?;
    for e in hazard
        .events
        .iter()
        .filter(|e| !before.iter().any(|b| b.id == e.id))
    {
        author.check_attributed(&e.id, &e.by, e.role, &e.device)?;
    }
    hazard::check_append(before, &hazard.events).map_err(transition_rejection)?;
    Ok(Checked::Hazard(hazard))
}

/// Reads a route document and checks its fields.
pub fn read_route(doc: &impl ReadDoc) -> Result<RouteDoc, Rejection> {
    let route: RouteDoc = read_as(doc, "route")?;
    route
        .check()
        .map_err(|e| schema(format!("{}: {e}", e.code())))?;
    Ok(route)
}

/// Checks that a route names only posts of the community, which only the
/// server knows (`exists` answers for one post id).
pub fn check_route_posts(route: &RouteDoc, exists: impl Fn(&str) -> bool) -> Result<(), Rejection> {
    route
        .check_posts(exists)
        .map_err(|e| schema(format!("{}: {e}", e.code())))
}

/// Reads a roster document and checks that its shifts resolve.
pub fn read_roster(doc: &impl ReadDoc) -> Result<RosterDoc, Rejection> {
    let roster: RosterDoc = read_as(doc, "roster")?;
    roster
        .spans()
        .map_err(|e| schema(format!("{}: {e}", e.code())))?;
    Ok(roster)
}

/// Reads an alert document.
pub fn read_alert(doc: &impl ReadDoc) -> Result<AlertDoc, Rejection> {
    read_as(doc, "alert")
}

/// A device may only acknowledge an alert that is for it: new entries in
/// `acks`, attributed to the author; everything else stays as the server
/// wrote it.
fn check_alert(
    before: &AlertDoc,
    after: &impl ReadDoc,
    author: Author<'_>,
) -> Result<Checked, Rejection> {
    let alert = read_alert(after)?;
    let new =
        super::appended(&before.acks, &alert.acks, |a: &AlertAck| a.id.as_str()).map_err(|e| {
            match e {
                super::AppendError::Rewritten(id) => schema(format!(
                    "ack_rewritten: acknowledgement {id} was edited or deleted"
                )),
                super::AppendError::Duplicate(id) => schema(format!(
                    "duplicate_ack: acknowledgement id {id} appears twice"
                )),
            }
        })?;
    let unchanged = AlertDoc {
        acks: before.acks.clone(),
        ..alert.clone()
    };
    if &unchanged != before {
        return Err(forbidden(
            "alert_rewritten: only acknowledgements may be added to an alert",
        ));
    }
    if !new.is_empty() && !before.is_for(author.user_id, author.role) {
        return Err(forbidden(
            "not_recipient: this alert is not addressed to you",
        ));
    }
    for a in &new {
        author.check_attributed(&a.id, &a.by, a.role, &a.device)?;
    }
    Ok(Checked::Alert(alert))
}
