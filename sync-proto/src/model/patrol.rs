//! Patrols and check-ins (docs/patrols.md). A patrol document holds one shift's
//! walk: who, when, and an append-only list of check-ins. Nobody edits or
//! deletes a check-in, their own included; a correction is a new entry that
//! references the old one. Two phones checking in offline at the same post
//! both keep their entry: automerge list inserts never overwrite each other.

use serde::{Deserialize, Serialize};

/// A GPS fix, when the phone had one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres.
    pub accuracy_m: f64,
}

/// How presence at the post was shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Proof {
    /// The payload of the post's QR code or NFC tag (see [`super::tag`]).
    Tag { payload: String },
    /// No tag could be read; the member says why.
    Manual { reason: String },
}

/// One check-in at a post.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckIn {
    /// Unique within the patrol (a UUID made on the phone).
    pub id: String,
    pub post_id: String,
    #[serde(flatten)]
    pub proof: Proof,
    /// Device clock, ms since the Unix epoch (device clocks lie; the server
    /// keeps its own receive time beside it).
    pub at_ms: i64,
    #[serde(default)]
    pub fix: Option<Fix>,
    /// User id and device of the member checking in.
    pub by: String,
    pub device: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub photos: Vec<String>,
    /// The check-in this one corrects, if any.
    #[serde(default)]
    pub corrects: Option<String>,
}

/// A remark on the round as a whole (schema 2): a handover note, a gate
/// found chained. Append-only and attributed, like check-ins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolNote {
    /// Unique within the patrol (a UUID made on the phone).
    pub id: String,
    /// Device clock, ms since the Unix epoch.
    pub at_ms: i64,
    /// User id and device of the author.
    pub by: String,
    pub device: String,
    pub text: String,
}

/// Longest accepted patrol note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A patrol document (schema 2; schema 1 had no `notes`) as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatrolDoc {
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub route: String,
    /// Who started it.
    pub started_by: String,
    pub started_at_ms: i64,
    #[serde(default)]
    pub ended_at_ms: Option<i64>,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub checkins: Vec<CheckIn>,
    /// GPS breadcrumbs as compact chunks (see [`super::breadcrumbs`]).
    #[serde(default)]
    pub breadcrumbs: Vec<String>,
    /// Notes on the round (schema 2). The list itself is made by the schema
    /// migration ([`super::migrate`]), never written whole, so it is left out
    /// of serialization when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<PatrolNote>,
}

/// Why a change to a patrol's check-ins is refused. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckInError {
    #[error("check-in {0} was edited or deleted; check-ins are append-only")]
    Rewritten(String),
    #[error("duplicate check-in id {0}")]
    Duplicate(String),
    #[error("check-in {0} must be attributed to you")]
    NotYours(String),
    #[error("check-in {0} corrects a check-in this patrol does not have")]
    UnknownCorrection(String),
    #[error("check-in {0} gives neither a tag nor a reason")]
    NoProof(String),
}

impl CheckInError {
    pub fn code(&self) -> &'static str {
        match self {
            CheckInError::Rewritten(_) => "checkin_rewritten",
            CheckInError::Duplicate(_) => "duplicate_checkin",
            CheckInError::NotYours(_) => "checkin_not_yours",
            CheckInError::UnknownCorrection(_) => "unknown_correction",
            CheckInError::NoProof(_) => "no_proof",
        }
    }
}

/// Checks the check-ins of a patrol after a change against those before it:
/// every old entry still there unchanged, new ones unique, attributed to the
/// author, with some proof. Returns the new check-ins.
pub fn check_checkins<'a>(
    before: &[CheckIn],
    after: &'a [CheckIn],
    user_id: &str,
    device_id: &str,
) -> Result<Vec<&'a CheckIn>, CheckInError> {
    let new = super::appended(before, after, |c: &CheckIn| c.id.as_str()).map_err(|e| match e {
        super::AppendError::Rewritten(id) => CheckInError::Rewritten(id),
        super::AppendError::Duplicate(id) => CheckInError::Duplicate(id),
    })?;
    for c in &new {
        if c.by != user_id || c.device != device_id {
            return Err(CheckInError::NotYours(c.id.clone()));
        }
        let proof_ok = match &c.proof {
            Proof::Tag { payload } => !payload.trim().is_empty(),
            Proof::Manual { reason } => !reason.trim().is_empty(),
        };
        if !proof_ok {
            return Err(CheckInError::NoProof(c.id.clone()));
        }
        if let Some(target) = &c.corrects
            && !after.iter().any(|o| &o.id == target && o.id != c.id)
        {
            return Err(CheckInError::UnknownCorrection(c.id.clone()));
        }
    }
    Ok(new)
}

/// Why a change to a patrol's notes is refused. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note {0} was edited or deleted; notes are append-only")]
    Rewritten(String),
    #[error("duplicate note id {0}")]
    Duplicate(String),
    #[error("note {0} must be attributed to you")]
    NotYours(String),
    #[error("note {0} is empty")]
    Empty(String),
    #[error("note {0} is longer than {MAX_NOTE_CHARS} characters")]
    TooLong(String),
}

impl NoteError {
    pub fn code(&self) -> &'static str {
        match self {
            NoteError::Rewritten(_) => "note_rewritten",
            NoteError::Duplicate(_) => "duplicate_note",
            NoteError::NotYours(_) => "note_not_yours",
            NoteError::Empty(_) => "empty_note",
            NoteError::TooLong(_) => "note_too_long",
        }
    }
}

/// Checks a patrol's notes after a change against those before it: old ones
/// unchanged, new ones unique, attributed to the author, with 1 to
/// [`MAX_NOTE_CHARS`] characters of text. Returns the new notes.
pub fn check_notes<'a>(
    before: &[PatrolNote],
    after: &'a [PatrolNote],
    user_id: &str,
    device_id: &str,
) -> Result<Vec<&'a PatrolNote>, NoteError> {
    let new =
        super::appended(before, after, |n: &PatrolNote| n.id.as_str()).map_err(|e| match e {
            super::AppendError::Rewritten(id) => NoteError::Rewritten(id),
            super::AppendError::Duplicate(id) => NoteError::Duplicate(id),
        })?;
    for n in &new {
        if n.by != user_id || n.device != device_id {
            return Err(NoteError::NotYours(n.id.clone()));
        }
        if n.text.trim().is_empty() {
            return Err(NoteError::Empty(n.id.clone()));
        }
        if n.text.chars().count() > MAX_NOTE_CHARS {
            return Err(NoteError::TooLong(n.id.clone()));
        }
    }
    Ok(new)
}

/// Great-circle distance in metres (for the geofence flag).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkin(id: &str, by: &str) -> CheckIn {
        CheckIn {
            id: id.into(),
            post_id: "post-b3-u2-f9".into(),
            proof: Proof::Tag {
                payload: "fs1.post-b3-u2-f9.k1.AAAAAAAAAAAAAAAAAAAAAA".into(),
            },
            at_ms: 1_800_000_000_000,
            fix: None,
            by: by.into(),
            device: format!("dev-{by}"),
            note: String::new(),
            photos: Vec::new(),
            corrects: None,
        }
    }

    #[test]
    fn appending_your_own_check_in_is_fine() {
        let before = vec![checkin("a", "u1")];
        let mut after = before.clone();
        after.push(checkin("b", "u2"));
        let new = check_checkins(&before, &after, "u2", "dev-u2").unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].id, "b");
    }

    #[test]
    fn edits_deletions_and_impostors_are_refused() {
        let before = vec![checkin("a", "u1")];
        let mut edited = before.clone();
        edited[0].post_id = "post-b3-u2-f5".into();
        assert_eq!(
            check_checkins(&before, &edited, "u1", "dev-u1")
                .unwrap_err()
                .code(),
            "checkin_rewritten"
        );
        assert_eq!(
            check_checkins(&before, &[], "u1", "dev-u1")
                .unwrap_err()
                .code(),
            "checkin_rewritten"
        );
        let mut other = before.clone();
        other.push(checkin("b", "u1"));
        assert_eq!(
            check_checkins(&before, &other, "u2", "dev-u2")
                .unwrap_err()
                .code(),
            "checkin_not_yours"
        );
        let mut twice = before.clone();
        twice.push(checkin("a", "u1"));
        assert_eq!(
            check_checkins(&before, &twice, "u1", "dev-u1")
                .unwrap_err()
                .code(),
            "duplicate_checkin"
        );
    }

    #[test]
    fn corrections_reference_existing_check_ins_and_need_proof() {
        let before = vec![checkin("a", "u1")];
        let mut fix = checkin("b", "u1");
        fix.corrects = Some("a".into());
        fix.proof = Proof::Manual {
            reason: "scanned the wrong floor".into(),
        };
        let after = vec![before[0].clone(), fix.clone()];
        assert!(check_checkins(&before, &after, "u1", "dev-u1").is_ok());
        fix.corrects = Some("zzz".into());
        let after = vec![before[0].clone(), fix.clone()];
        assert_eq!(
            check_checkins(&before, &after, "u1", "dev-u1")
                .unwrap_err()
                .code(),
            "unknown_correction"
        );
        fix.corrects = None;
        fix.proof = Proof::Manual { reason: " ".into() };
        let after = vec![before[0].clone(), fix];
        assert_eq!(
            check_checkins(&before, &after, "u1", "dev-u1")
                .unwrap_err()
                .code(),
            "no_proof"
        );
    }

    #[test]
    fn serialized_check_ins_are_flat_and_stable() {
        let v = serde_json::to_value(checkin("a", "u1")).unwrap();
        assert_eq!(v["method"], "tag");
        assert!(v["payload"].as_str().unwrap().starts_with("fs1."));
        let back: CheckIn = serde_json::from_value(v).unwrap();
        assert_eq!(back, checkin("a", "u1"));
    }

    #[test]
    fn distances_are_in_metres() {
        // Two points about 111 m apart (0.001° of latitude).
        let d = distance_m((31.2300, 121.4700), (31.2310, 121.4700));
        assert!((d - 111.2).abs() < 1.0, "{d}");
    }
}
