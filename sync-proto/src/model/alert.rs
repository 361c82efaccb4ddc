//! Alerts (docs/alerts.md): raised by the server alone — a missed or late
//! check-in, an overdue hazard, a major hazard or incident nobody
//! acknowledged within two hours, a check-in stored flagged — and delivered
//! as documents to the people they concern. Recipients acknowledge them by appending to `acks`; nothing
//! else in an alert ever changes.

use serde::{Deserialize, Serialize};

use super::Role;

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A post was not checked in by the end of the grace period.
    Missed,
    /// A post's deadline passed without a check-in (grace period running).
    Late,
    /// A hazard is past its rectification deadline.
    Overdue,
    /// A major hazard or an incident was not acknowledged within 2 hours.
    Escalation,
    /// A check-in was stored flagged: its tag did not verify (forged,
    /// revoked or unknown key, another post's tag) or it was made away from
    /// the post. Addressed to who made it.
    Flagged,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Missed => "missed",
            AlertKind::Late => "late",
            AlertKind::Overdue => "overdue",
            AlertKind::Escalation => "escalation",
            AlertKind::Flagged => "flagged",
        }
    }
}

/// One acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAck {
    pub id: String,
    pub at_ms: i64,
    pub by: String,
    pub role: Role,
    pub device: String,
    #[serde(default)]
    pub note: String,
}

/// An alert document (schema 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertDoc {
    pub kind: AlertKind,
    /// What it is about, stable: the same subject never raises the same kind twice.
    pub subject: String,
    /// Server time it was raised.
    pub raised_at_ms: i64,
    /// User ids it is addressed to.
    pub recipients: Vec<String>,
    /// Roles that see it too (the office's dashboard).
    #[serde(default)]
    pub roles: Vec<Role>,
    pub title_zh: String,
    pub title_en: String,
    #[serde(default)]
    pub post_id: Option<String>,
    #[serde(default)]
    pub shift_id: Option<String>,
    /// The check-in deadline or rectification deadline it is about.
    #[serde(default)]
    pub due_at_ms: Option<i64>,
    /// The hazard, incident or patrol it is about.
    #[serde(default)]
    pub doc_id: Option<String>,
    /// A flagged check-in (of the patrol `doc_id`): its id and why it did not
    /// verify, `code: explanation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub acks: Vec<AlertAck>,
}

impl AlertDoc {
    /// Whether `user` in `role` is one the alert is for.
    pub fn is_for(&self, user: &str, role: Role) -> bool {
        self.recipients.iter().any(|r| r == user) || self.roles.contains(&role)
    }

    /// Whether anyone has acknowledged it.
    pub fn acknowledged(&self) -> bool {
        !self.acks.is_empty()
    }
}
