//! Incident reports (docs/incidents.md): what happened, where, who was involved,
//! the cause, the handling and the outcome — plus an append-only, attributed
//! list of events (report, updates, acknowledgement by a leader or the
//! office, closing by the office). Like hazards, nothing is silently
//! overwritten: the event list is only ever appended to.

use serde::{Deserialize, Serialize};

use super::Role;
use super::hazard::HazardPlace;

/// What an incident event does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentAction {
    /// The first event, by the reporter.
    Report,
    /// More information (handling, outcome) or a remark.
    Update,
    /// A leader or the office has seen it (stops the 2-hour escalation).
    Acknowledge,
    /// The office closes it.
    Close,
}

/// One attributed entry of an incident's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub id: String,
    pub at_ms: i64,
    pub by: String,
    pub role: Role,
    pub device: String,
    pub action: IncidentAction,
    #[serde(default)]
    pub note: String,
}

/// An incident document (schema 1) as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentDoc {
    /// When it happened (device clock, ms since the Unix epoch).
    pub occurred_at_ms: i64,
    #[serde(default)]
    pub place: HazardPlace,
    /// Persons involved, as free text.
    #[serde(default)]
    pub persons: String,
    #[serde(default)]
    pub cause: String,
    #[serde(default)]
    pub handling: String,
    #[serde(default)]
    pub outcome: String,
    pub reporter: String,
    #[serde(default)]
    pub photos: Vec<String>,
    pub events: Vec<IncidentEvent>,
}

impl IncidentDoc {
    /// Acknowledged by a leader or the office.
    pub fn acknowledged(&self) -> bool {
        self.events.iter().any(|e| {
            matches!(
                e.action,
                IncidentAction::Acknowledge | IncidentAction::Close
            )
        })
    }

    pub fn closed(&self) -> bool {
        self.events
            .iter()
            .any(|e| e.action == IncidentAction::Close)
    }
}

/// Why an incident change is refused. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("an incident starts with exactly one report, by its reporter")]
    BadReport,
    #[error("a {role} may not {action:?} an incident")]
    RoleNotAllowed { role: Role, action: IncidentAction },
    #[error("the incident is closed")]
    Closed,
}

impl IncidentError {
    pub fn code(&self) -> &'static str {
        match self {
            IncidentError::BadReport => "bad_report",
            IncidentError::RoleNotAllowed { .. } => "role_not_allowed",
            IncidentError::Closed => "incident_closed",
        }
    }
}

/// Checks the events a change adds (already known to be append-only and
/// attributed to the author) against the incident as it was before.
pub fn check_new_events(
    before: &[IncidentEvent],
    reporter: &str,
    new: &[&IncidentEvent],
) -> Result<(), IncidentError> {
    let mut closed = before.iter().any(|e| e.action == IncidentAction::Close);
    let mut reported = !before.is_empty();
    for e in new {
        match e.action {
            IncidentAction::Report => {
                if reported || e.by != reporter {
                    return Err(IncidentError::BadReport);
                }
                reported = true;
                continue;
            }
            _ if !reported => return Err(IncidentError::BadReport),
            _ if closed => return Err(IncidentError::Closed),
            IncidentAction::Update => {}
            IncidentAction::Acknowledge if e.role.supervises() => {}
            IncidentAction::Close if e.role == Role::Office => closed = true,
            action => {
                return Err(IncidentError::RoleNotAllowed {
                    role: e.role,
                    action,
                });
            }
        }
    }
    if reported {
        Ok(())
    } else {
        Err(IncidentError::BadReport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, by: &str, role: Role, action: IncidentAction) -> IncidentEvent {
        IncidentEvent {
            id: id.into(),
            at_ms: 1_800_000_000_000,
            by: by.into(),
            role,
            device: format!("dev-{by}"),
            action,
            note: String::new(),
        }
    }

    #[test]
    fn the_report_comes_first_and_from_the_reporter() {
        let r = ev("r", "u1", Role::Volunteer, IncidentAction::Report);
        assert_eq!(check_new_events(&[], "u1", &[&r]), Ok(()));
        assert_eq!(
            check_new_events(&[], "u2", &[&r]),
            Err(IncidentError::BadReport)
        );
        let u = ev("u", "u1", Role::Volunteer, IncidentAction::Update);
        assert_eq!(
            check_new_events(&[], "u1", &[&u]),
            Err(IncidentError::BadReport)
        );
        assert_eq!(
            check_new_events(std::slice::from_ref(&r), "u1", &[&r.clone()]),
            Err(IncidentError::BadReport)
        );
    }

    #[test]
    fn leaders_acknowledge_and_only_the_office_closes() {
        let r = ev("r", "u1", Role::Volunteer, IncidentAction::Report);
        let before = [r];
        let ack = ev("a", "lead", Role::Leader, IncidentAction::Acknowledge);
        assert_eq!(check_new_events(&before, "u1", &[&ack]), Ok(()));
        let vol_ack = ev("a2", "u1", Role::Volunteer, IncidentAction::Acknowledge);
        assert_eq!(
            check_new_events(&before, "u1", &[&vol_ack])
                .unwrap_err()
                .code(),
            "role_not_allowed"
        );
        let lead_close = ev("c", "lead", Role::Leader, IncidentAction::Close);
        assert!(check_new_events(&before, "u1", &[&lead_close]).is_err());
        let close = ev("c", "office", Role::Office, IncidentAction::Close);
        let update = ev("x", "u1", Role::Volunteer, IncidentAction::Update);
        assert_eq!(
            check_new_events(&before, "u1", &[&close, &update]),
            Err(IncidentError::Closed)
        );
    }
}
