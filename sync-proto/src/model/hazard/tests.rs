use proptest::prelude::*;

use super::*;

/// Builds histories tersely: each call appends an event after `prev`.
struct History {
    events: Vec<HazardEvent>,
}

fn who(user: &str) -> Role {
    match user {
        "vol" | "vol2" => Role::Volunteer,
        "guard" => Role::Guard,
        "grid" => Role::GridWorker,
        "lead" | "lead2" => Role::Leader,
        "office" => Role::Office,
        _ => Role::Auditor,
    }
}

impl History {
    fn reported(by: &str, immediate: bool) -> History {
        let mut h = History { events: Vec::new() };
        h.push(
            "r",
            None,
            by,
            HazardAction::Report {
                severity: Severity::General,
                immediate,
            },
        );
        h
    }

    fn push(&mut self, id: &str, prev: Option<&str>, by: &str, action: HazardAction) -> &mut Self {
        self.events.push(HazardEvent {
            id: id.into(),
            prev: prev.map(Into::into),
            at_ms: 1_700_000_000_000 + self.events.len() as i64 * 60_000,
            by: by.into(),
            role: who(by),
            device: format!("dev-{by}"),
            action,
            note: String::new(),
            photos: Vec::new(),
        });
        self
    }

    fn then(&mut self, id: &str, prev: &str, by: &str, action: HazardAction) -> &mut Self {
        self.push(id, Some(prev), by, action)
    }

    fn state(&self) -> Option<HazardState> {
        fold(&self.events).current.map(|s| s.state)
    }
}

fn assign() -> HazardAction {
    HazardAction::Assign {
        unit: "Property management".into(),
        person: "Wu Mingyuan".into(),
        deadline_ms: 1_700_600_000_000,
    }
}

/// reported → assigned → rectifying → rectified (by grid).
fn rectified() -> History {
    let mut h = History::reported("vol", false);
    h.then("a", "r", "lead", assign())
        .then("s", "a", "grid", HazardAction::StartRectifying)
        .then("x", "s", "grid", HazardAction::Rectify);
    h
}

#[test]
fn the_closed_loop_folds_to_closed() {
    let mut h = rectified();
    assert_eq!(h.state(), Some(HazardState::Rectified));
    h.then("v", "x", "lead", HazardAction::Verify)
        .then("c", "v", "office", HazardAction::Close);
    let f = fold(&h.events);
    assert_eq!(f.current.as_ref().unwrap().state, HazardState::Closed);
    assert_eq!(f.head.as_deref(), Some("c"));
    assert!(!f.in_conflict());
    assert!(f.invalid.is_empty());
}

#[test]
fn immediate_hazards_may_be_rectified_on_the_spot_by_a_guard() {
    let mut h = History::reported("vol", true);
    h.then("x", "r", "guard", HazardAction::Rectify);
    assert_eq!(h.state(), Some(HazardState::Rectified));
    // Not so for an ordinary one.
    let mut h = History::reported("vol", false);
    h.then("x", "r", "guard", HazardAction::Rectify);
    assert_eq!(h.state(), Some(HazardState::Reported));
    assert_eq!(fold(&h.events).invalid[0].1.code(), "invalid_transition");
}

#[test]
fn the_reporter_may_not_verify() {
    let mut h = History::reported("lead", false);
    h.then("a", "r", "lead2", assign())
        .then("x", "a", "grid", HazardAction::Rectify)
        .then("v", "x", "lead", HazardAction::Verify);
    let f = fold(&h.events);
    assert_eq!(f.current.unwrap().state, HazardState::Rectified);
    assert_eq!(
        f.invalid,
        vec![("v".into(), TransitionError::SelfVerification)]
    );
}

#[test]
fn the_rectifier_may_not_verify() {
    let mut h = History::reported("vol", false);
    h.then("a", "r", "lead", assign())
        .then("x", "a", "lead2", HazardAction::Rectify)
        .then("v", "x", "lead2", HazardAction::Verify);
    assert_eq!(
        check_append(&h.events[..3], &h.events),
        Err(TransitionError::SelfVerification)
    );
}

#[test]
fn only_supervisors_assign_and_only_the_office_closes() {
    for (by, ok) in [
        ("vol", false),
        ("guard", false),
        ("grid", false),
        ("lead", true),
        ("office", true),
    ] {
        let mut h = History::reported("vol2", false);
        h.then("a", "r", by, assign());
        assert_eq!(
            check_append(&h.events[..1], &h.events).is_ok(),
            ok,
            "{by} assigns"
        );
    }
    for (by, ok) in [("lead", false), ("grid", false), ("office", true)] {
        let mut h = rectified();
        h.then("v", "x", "lead2", HazardAction::Verify)
            .then("c", "v", by, HazardAction::Close);
        let n = h.events.len();
        assert_eq!(
            check_append(&h.events[..n - 1], &h.events).is_ok(),
            ok,
            "{by} closes"
        );
    }
}

#[test]
fn auditors_write_nothing() {
    let mut h = History::reported("vol", false);
    h.then("n", "r", "auditor", HazardAction::Comment);
    assert!(matches!(
        check_append(&h.events[..1], &h.events),
        Err(TransitionError::RoleNotAllowed {
            role: Role::Auditor,
            ..
        })
    ));
}

#[test]
fn history_is_append_only() {
    let h = rectified();
    let mut edited = h.events.clone();
    edited[1].note = "changed afterwards".into();
    assert_eq!(
        check_append(&h.events, &edited),
        Err(TransitionError::HistoryRewritten("a".into()))
    );
    let deleted: Vec<_> = h.events.iter().filter(|e| e.id != "s").cloned().collect();
    assert_eq!(
        check_append(&h.events, &deleted),
        Err(TransitionError::HistoryRewritten("s".into()))
    );
}

#[test]
fn verify_against_reopen_keeps_both_and_flags_a_conflict() {
    // Offline: the leader verifies while the grid worker finds it again.
    let mut h = rectified();
    h.then("v", "x", "lead", HazardAction::Verify)
        .then("o", "x", "grid", HazardAction::Reopen);
    let f = fold(&h.events);
    // The cautious transition wins: the hazard stays open.
    assert_eq!(f.current.as_ref().unwrap().state, HazardState::Reopened);
    assert!(f.in_conflict());
    assert_eq!(
        f.conflicts,
        vec![Conflict {
            after: "x".into(),
            followed: "o".into(),
            not_followed: vec!["v".into()],
        }]
    );
    // Both events are in the history and both were valid where their authors stood.
    assert!(check_append(&h.events[..4], &h.events).is_ok());
    // A leader acting after the fork resolves it.
    h.then("a2", "o", "lead", assign());
    let f = fold(&h.events);
    assert!(!f.in_conflict());
    assert_eq!(f.current.unwrap().state, HazardState::Assigned);
}

#[test]
fn concurrent_assignments_pick_a_deterministic_winner() {
    let mut h = History::reported("vol", false);
    h.then("a1", "r", "lead", assign()).then(
        "a2",
        "r",
        "office",
        HazardAction::Assign {
            unit: "Street office".into(),
            person: "He Jinyu".into(),
            deadline_ms: 1_700_900_000_000,
        },
    );
    let f = fold(&h.events);
    // Same precedence: the earlier device time wins (a1 was pushed first).
    assert_eq!(f.head.as_deref(), Some("a1"));
    assert_eq!(f.conflicts[0].not_followed, vec!["a2".to_owned()]);
}

#[test]
fn comments_never_conflict_and_change_nothing() {
    let mut h = rectified();
    h.then("n1", "x", "vol", HazardAction::Comment)
        .then("n2", "x", "vol2", HazardAction::Comment);
    let f = fold(&h.events);
    assert_eq!(f.current.as_ref().unwrap().state, HazardState::Rectified);
    assert!(!f.in_conflict());
}

#[test]
fn events_after_unknown_or_missing_events_are_rejected() {
    let mut h = History::reported("vol", false);
    h.then("a", "nope", "lead", assign());
    assert_eq!(
        check_append(&h.events[..1], &h.events),
        Err(TransitionError::UnknownPrev("nope".into()))
    );
    let mut h = History::reported("vol", false);
    h.push(
        "r2",
        None,
        "vol2",
        HazardAction::Report {
            severity: Severity::Major,
            immediate: false,
        },
    );
    assert_eq!(
        check_append(&h.events[..1], &h.events),
        Err(TransitionError::MisplacedReport)
    );
}

#[test]
fn events_serialize_with_stable_names() {
    let h = rectified();
    let json = serde_json::to_value(&h.events[1]).unwrap();
    assert_eq!(json["action"], "assign");
    assert_eq!(json["role"], "leader");
    assert_eq!(json["unit"], "Property management");
    let back: HazardEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, h.events[1]);
}

/// Random histories: a report, then events after random earlier events, by
/// random users — valid or not, concurrent or not.
fn history() -> impl Strategy<Value = Vec<HazardEvent>> {
    let users = [
        "vol", "vol2", "guard", "grid", "lead", "lead2", "office", "auditor",
    ];
    let actions = prop_oneof![
        Just(assign()),
        Just(HazardAction::StartRectifying),
        Just(HazardAction::Rectify),
        Just(HazardAction::Verify),
        Just(HazardAction::Close),
        Just(HazardAction::Reopen),
        Just(HazardAction::Comment),
    ];
    (
        any::<bool>(),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                0..users.len(),
                actions,
                0..5i64,
            ),
            0..14,
        ),
    )
        .prop_map(move |(immediate, steps)| {
            let mut h = History::reported("vol", immediate);
            for (i, (prev, user, action, skew)) in steps.into_iter().enumerate() {
                let prev = h.events[prev.index(h.events.len())].id.clone();
                h.then(&format!("e{i}"), &prev, users[user], action);
                // Device clocks disagree.
                h.events.last_mut().unwrap().at_ms -= skew * 3_600_000;
            }
            h.events
        })
}

proptest! {
    #[test]
    fn any_arrival_order_folds_the_same(
        events in history(),
        seed in any::<u64>(),
    ) {
        let reference = fold(&events);
        let mut shuffled = events.clone();
        // A deterministic shuffle from the seed (Fisher–Yates with an LCG).
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(fold(&shuffled), reference);
    }

    #[test]
    fn the_fold_follows_only_valid_transitions(events in history()) {
        let f = fold(&events);
        // Replaying the followed chain from the head gives the same state.
        if let Some(head) = &f.head {
            prop_assert_eq!(snapshot_at(&events, head).ok(), f.current.clone());
        }
        // The report is always valid here, so there is always a state.
        prop_assert!(f.current.is_some());
    }
}

#[test]
fn two_different_events_under_one_id_are_both_set_aside() {
    let mut h = rectified();
    h.then("v", "x", "lead", HazardAction::Verify);
    let mut clash = h.events.last().unwrap().clone();
    clash.action = HazardAction::Reopen;
    clash.by = "grid".into();
    clash.role = Role::GridWorker;
    let mut a = h.events.clone();
    a.push(clash.clone());
    let mut b = vec![clash];
    b.extend(h.events.iter().cloned());
    let (fa, fb) = (fold(&a), fold(&b));
    assert_eq!(fa, fb);
    assert_eq!(fa.current.unwrap().state, HazardState::Rectified);
    assert_eq!(fa.invalid[0].1.code(), "duplicate_event");
}
