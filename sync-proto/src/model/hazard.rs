//! The hazard ledger (docs/hazards.md): an append-only list of attributed events
//! and a deterministic fold to the current state.
//!
//! Every transition event names `prev`, the transition it was made after (the
//! head of the author's fold at the time). Events with the same `prev` were
//! made concurrently — typically offline on two phones. The fold walks the
//! chain from the report; where several valid transitions share a `prev` it
//! follows one by a fixed rule ([`Hazard::conflicts`] keeps the others) and the
//! hazard is marked in conflict for a leader to resolve with a new event.
//! Nothing is dropped: every event stays in the history, and the fold is the
//! same on every replica whatever order the events arrived in.
//!
//! # Invariants
//! - `fold` depends only on the set of events, never on their order.
//! - An event is checked against the state *its author saw* (the state at
//!   `prev`), so a phone that was offline is judged by what it knew.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Role;

/// Where a hazard is in its closed loop (排查 → 上报 → 交办 → 整改 → 验收 → 销号).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardState {
    Reported,
    Assigned,
    Rectifying,
    Rectified,
    Verified,
    Closed,
    Reopened,
}

impl HazardState {
    /// Still needs work (not closed).
    pub fn is_open(self) -> bool {
        self != HazardState::Closed
    }
}

/// Where a hazard is.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct HazardPlace {
    #[serde(default)]
    pub post_id: Option<String>,
    #[serde(default)]
    pub building: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub floor: Option<i64>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
}

/// A hazard document (schema 1) as data.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct HazardDoc {
    pub category: String,
    pub severity: Severity,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub place: HazardPlace,
    #[serde(default)]
    pub photos: Vec<String>,
    pub events: Vec<HazardEvent>,
}

/// General or major (重大隐患); decides the rectification deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    General,
    Major,
}

impl Severity {
    /// The rectification deadline a hazard gets from its severity alone
    /// (immediate ones: 24 h; general: 7 days; major: 30 days), counted from
    /// the report; an assignment's deadline replaces it.
    pub fn sla_ms(self, immediate: bool) -> i64 {
        match (immediate, self) {
            (true, _) => DAY_MS,
            (false, Severity::Major) => 30 * DAY_MS,
            (false, Severity::General) => 7 * DAY_MS,
        }
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How far back an earlier report of the same category at the same post
/// makes a new one the same hazard coming back ("recurring").
pub const RECURRENCE_WINDOW_MS: i64 = 90 * DAY_MS;

/// What an event does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum HazardAction {
    /// The first event: someone found it. `immediate` hazards may be rectified
    /// on the spot without an assignment.
    Report { severity: Severity, immediate: bool },
    /// A leader or the office hands it to a unit and a person with a deadline.
    Assign {
        unit: String,
        person: String,
        /// Deadline, milliseconds since the Unix epoch (UTC).
        deadline_ms: i64,
    },
    /// Work started.
    StartRectifying,
    /// Work done, with evidence photos (blob hashes).
    Rectify,
    /// Someone other than the reporter and the rectifier checked the work.
    Verify,
    /// The office closes it (销号).
    Close,
    /// Failed verification or found again on re-inspection (回头看).
    Reopen,
    /// A remark; changes no state and never conflicts.
    Comment,
}

impl HazardAction {
    /// The glossary key suffix (`hazard.action.<name>`) and the stable name.
    pub fn name(&self) -> &'static str {
        match self {
            HazardAction::Report { .. } => "report",
            HazardAction::Assign { .. } => "assign",
            HazardAction::StartRectifying => "start_rectifying",
            HazardAction::Rectify => "rectify",
            HazardAction::Verify => "verify",
            HazardAction::Close => "close",
            HazardAction::Reopen => "reopen",
            HazardAction::Comment => "comment",
        }
    }

    /// Which of several concurrent transitions the fold follows: the most
    /// cautious one (keeping a hazard open beats declaring it fixed).
    fn precedence(&self) -> u8 {
        match self {
            HazardAction::Reopen => 7,
            HazardAction::Assign { .. } => 6,
            HazardAction::StartRectifying => 5,
            HazardAction::Rectify => 4,
            HazardAction::Verify => 3,
            HazardAction::Close => 2,
            HazardAction::Report { .. } | HazardAction::Comment => 0,
        }
    }
}

/// One attributed entry of a hazard's history. Never edited or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardEvent {
    /// Unique within the hazard (a UUID made on the device).
    pub id: String,
    /// The transition this one was made after; `None` only for the report.
    pub prev: Option<String>,
    /// Device clock, milliseconds since the Unix epoch. Informational: device
    /// clocks lie, so the fold never orders by it alone.
    pub at_ms: i64,
    /// User id of the author, and their role when they acted.
    pub by: String,
    pub role: Role,
    pub device: String,
    #[serde(flatten)]
    pub action: HazardAction,
    #[serde(default)]
    pub note: String,
    /// Photo blob hashes (sha256, hex).
    #[serde(default)]
    pub photos: Vec<String>,
}

/// Why an event is not a valid transition where it stands. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{action} is not possible from {from:?}")]
    InvalidFrom {
        action: &'static str,
        from: Option<HazardState>,
    },
    #[error("a {role} may not {action} a hazard")]
    RoleNotAllowed { role: Role, action: &'static str },
    #[error("the verifier must be neither the reporter nor the rectifier")]
    SelfVerification,
    #[error("event {0} follows an event this hazard does not have")]
    UnknownPrev(String),
    #[error("a hazard has exactly one report, and it comes first")]
    MisplacedReport,
    #[error("duplicate event id {0}")]
    DuplicateId(String),
    #[error("history entry {0} was edited or deleted; history is append-only")]
    HistoryRewritten(String),
}

impl TransitionError {
    /// Stable code for reject messages and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::InvalidFrom { .. } => "invalid_transition",
            TransitionError::RoleNotAllowed { .. } => "role_not_allowed",
            TransitionError::SelfVerification => "self_verification",
            TransitionError::UnknownPrev(_) => "unknown_prev",
            TransitionError::MisplacedReport => "misplaced_report",
            TransitionError::DuplicateId(_) => "duplicate_event",
            TransitionError::HistoryRewritten(_) => "history_rewritten",
        }
    }
}

/// The state at one point of the chain: what the next event is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub state: HazardState,
    pub severity: Severity,
    pub immediate: bool,
    pub reporter: String,
    /// Author of the latest `Rectify` on the chain, if any.
    pub rectifier: Option<String>,
    /// The latest assignment on the chain: (unit, person, deadline).
    pub assignment: Option<(String, String, i64)>,
}

/// Checks that `event` may follow `at` (`None`: the hazard does not exist yet).
pub fn check_transition(at: Option<&Snapshot>, event: &HazardEvent) -> Result<(), TransitionError> {
    use HazardAction as A;
    use HazardState as S;
    let action = event.action.name();
    let from = at.map(|s| s.state);
    let role_may = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(TransitionError::RoleNotAllowed {
                role: event.role,
                action,
            })
        }
    };
    let from_ok = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(TransitionError::InvalidFrom { action, from })
        }
    };
    if event.role == Role::Auditor {
        return role_may(false);
    }
    let Some(at) = at else {
        return match event.action {
            A::Report { .. } if event.prev.is_none() => Ok(()),
            _ => Err(TransitionError::MisplacedReport),
        };
    };
    match &event.action {
        A::Report { .. } => Err(TransitionError::MisplacedReport),
        A::Comment => Ok(()),
        A::Assign { .. } => {
            role_may(event.role.supervises())?;
            from_ok(matches!(
                at.state,
                S::Reported | S::Assigned | S::Rectifying | S::Reopened
            ))
        }
        A::StartRectifying => {
            role_may(event.role != Role::Volunteer)?;
            from_ok(at.state == S::Assigned)
        }
        A::Rectify => {
            let on_the_spot = at.immediate && matches!(at.state, S::Reported | S::Reopened);
            from_ok(on_the_spot || matches!(at.state, S::Assigned | S::Rectifying))?;
            role_may(event.role != Role::Volunteer)
        }
        A::Verify => {
            role_may(event.role.supervises())?;
            from_ok(at.state == S::Rectified)?;
            if event.by == at.reporter || at.rectifier.as_deref() == Some(event.by.as_str()) {
                return Err(TransitionError::SelfVerification);
            }
            Ok(())
        }
        A::Close => {
            role_may(event.role == Role::Office)?;
            from_ok(at.state == S::Verified)
        }
        A::Reopen => {
            role_may(event.role.supervises() || event.role == Role::GridWorker)?;
            from_ok(at.state != S::Reported && at.state != S::Reopened)
        }
    }
}

/// Applies a checked event to a snapshot.
fn apply(at: Option<&Snapshot>, event: &HazardEvent) -> Snapshot {
    use HazardAction as A;
    use HazardState as S;
    let Some(at) = at else {
        let (severity, immediate) = match event.action {
            A::Report {
                severity,
                immediate,
            } => (severity, immediate),
            _ => (Severity::General, false),
        };
        return Snapshot {
            state: S::Reported,
            severity,
            immediate,
            reporter: event.by.clone(),
            rectifier: None,
            assignment: None,
        };
    };
    let mut next = at.clone();
    match &event.action {
        A::Report { .. } | A::Comment => {}
        A::Assign {
            unit,
            person,
            deadline_ms,
        } => {
            next.state = S::Assigned;
            next.assignment = Some((unit.clone(), person.clone(), *deadline_ms));
        }
        A::StartRectifying => next.state = S::Rectifying,
        A::Rectify => {
            next.state = S::Rectified;
            next.rectifier = Some(event.by.clone());
        }
        A::Verify => next.state = S::Verified,
        A::Close => next.state = S::Closed,
        A::Reopen => {
            next.state = S::Reopened;
            next.rectifier = None;
        }
    }
    next
}

/// Concurrent transitions the fold did not follow, and the one it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The transition all of them were made after.
    pub after: String,
    pub followed: String,
    pub not_followed: Vec<String>,
}

/// A hazard's current state, folded from its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hazard {
    /// `None` when the history holds no valid report.
    pub current: Option<Snapshot>,
    /// Id of the transition the current state results from.
    pub head: Option<String>,
    /// Unresolved forks: while non-empty the hazard shows "conflict".
    pub conflicts: Vec<Conflict>,
    /// Events that are not valid where they stand (kept, never applied), with why.
    pub invalid: Vec<(String, TransitionError)>,
}

impl Hazard {
    /// True when concurrent transitions are waiting for a leader.
    pub fn in_conflict(&self) -> bool {
        !self.conflicts.is_empty()
    }
}

/// Folds a hazard's events, in any order, to its current state.
pub fn fold(events: &[HazardEvent]) -> Hazard {
    // The set of events by id. Two different events under one id are both
    // set aside (whichever came first would depend on arrival order).
    let mut by_id: BTreeMap<&str, &HazardEvent> = BTreeMap::new();
    let mut clashing: BTreeSet<&str> = BTreeSet::new();
    for e in events {
        match by_id.get(e.id.as_str()) {
            Some(prior) if *prior != e => {
                clashing.insert(&e.id);
            }
            Some(_) => {}
            None => {
                by_id.insert(&e.id, e);
            }
        }
    }
    let mut invalid = Vec::new();
    for id in clashing {
        by_id.remove(id);
        invalid.push((id.to_owned(), TransitionError::DuplicateId(id.to_owned())));
    }
    let mut children: BTreeMap<Option<&str>, Vec<&HazardEvent>> = BTreeMap::new();
    for e in by_id.values() {
        if e.action != HazardAction::Comment {
            children.entry(e.prev.as_deref()).or_default().push(e);
        }
    }

    let mut current: Option<Snapshot> = None;
    let mut head: Option<String> = None;
    // (chain position of the followed event, the fork)
    let mut forks: Vec<(usize, Conflict)> = Vec::new();
    let mut chain: Vec<&HazardEvent> = Vec::new();
    let mut visited: BTreeSet<&str> = BTreeSet::new();
    loop {
        let candidates = children.get(&head.as_deref()).cloned().unwrap_or_default();
        let mut valid: Vec<&HazardEvent> = Vec::new();
        for e in candidates {
            match check_transition(current.as_ref(), e) {
                Ok(()) => valid.push(e),
                Err(err) => invalid.push((e.id.clone(), err)),
            }
        }
        // Most cautious action first; then earliest device time; then id.
        valid.sort_by(|a, b| {
            b.action
                .precedence()
                .cmp(&a.action.precedence())
                .then(a.at_ms.cmp(&b.at_ms))
                .then(a.id.cmp(&b.id))
        });
        let Some(&winner) = valid.first() else { break };
        if !visited.insert(&winner.id) {
            break;
        }
        if valid.len() > 1 {
            forks.push((
                chain.len(),
                Conflict {
                    after: head.clone().unwrap_or_default(),
                    followed: winner.id.clone(),
                    not_followed: valid[1..].iter().map(|e| e.id.clone()).collect(),
                },
            ));
        }
        chain.push(winner);
        current = Some(apply(current.as_ref(), winner));
        head = Some(winner.id.clone());
    }
    // A leader or the office resolves a fork by acting after it.
    let conflicts = forks
        .into_iter()
        .filter(|(i, _)| !chain[i + 1..].iter().any(|e| e.role.supervises()))
        .map(|(_, c)| c)
        .collect();
    invalid.sort_by(|a, b| a.0.cmp(&b.0));
    Hazard {
        current,
        head,
        conflicts,
        invalid,
    }
}

/// The state at event `id` of the history (what an author acting after `id`
/// saw), following `prev` links back to the report.
pub fn snapshot_at(events: &[HazardEvent], id: &str) -> Result<Snapshot, TransitionError> {
    let by_id: BTreeMap<&str, &HazardEvent> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut chain = Vec::new();
    let mut cursor = Some(id);
    while let Some(c) = cursor {
        let e = by_id
            .get(c)
            .ok_or_else(|| TransitionError::UnknownPrev(c.to_owned()))?;
        if chain.len() > by_id.len() {
            return Err(TransitionError::UnknownPrev(c.to_owned()));
        }
        chain.push(*e);
        cursor = e.prev.as_deref();
    }
    let mut snap: Option<Snapshot> = None;
    for e in chain.into_iter().rev() {
        check_transition(snap.as_ref(), e)?;
        snap = Some(apply(snap.as_ref(), e));
    }
    snap.ok_or(TransitionError::MisplacedReport)
}

/// Checks the events a device appended to a stored history: the old events
/// are all still there unchanged, and each new one is valid against the state
/// its author saw. This is what the server runs before storing a change.
pub fn check_append(old: &[HazardEvent], new: &[HazardEvent]) -> Result<(), TransitionError> {
    let old_ids: BTreeMap<&str, &HazardEvent> = old.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut seen = BTreeSet::new();
    for e in new {
        if !seen.insert(e.id.as_str()) {
            return Err(TransitionError::DuplicateId(e.id.clone()));
        }
    }
    for (id, e) in &old_ids {
        if new.iter().find(|n| n.id == *id) != Some(*e) {
            return Err(TransitionError::HistoryRewritten((*id).to_owned()));
        }
    }
    if new.iter().filter(|e| e.prev.is_none()).count() > 1 {
        return Err(TransitionError::MisplacedReport);
    }
    for e in new.iter().filter(|e| !old_ids.contains_key(e.id.as_str())) {
        if e.prev.is_none() && !matches!(e.action, HazardAction::Report { .. }) {
            return Err(TransitionError::MisplacedReport);
        }
        let at = match &e.prev {
            None => None,
            Some(p) => Some(snapshot_at(new, p)?),
        };
        if e.action == HazardAction::Comment {
            if e.role == Role::Auditor {
                return Err(TransitionError::RoleNotAllowed {
                    role: e.role,
                    action: "comment",
                });
            }
            continue;
        }
        check_transition(at.as_ref(), e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
