//! The authorization matrix: every role × every document type, driven from
//! one table, through real devices and a real server.

use fieldsync_proto::model::Role;
use fieldsync_proto::model::duty::{self, RouteDoc};
use fieldsync_proto::model::hazard::{HazardAction, HazardEvent, Severity};
use fieldsync_proto::model::hazard::{HazardDoc, HazardPlace};
use fieldsync_proto::model::incident::{IncidentAction, IncidentDoc, IncidentEvent};
use fieldsync_proto::model::patrol::PatrolDoc;
use fieldsync_sdk::{DocId, DocType};

use crate::both_backends;
use crate::support::{Backend, Device, TestServer};

const ROLES: [(&str, Role); 6] = [
    ("demo-volunteer", Role::Volunteer),
    ("demo-guard", Role::Guard),
    ("demo-grid", Role::GridWorker),
    ("demo-leader", Role::Leader),
    ("demo-office", Role::Office),
    ("demo-auditor", Role::Auditor),
];

/// May the role create a document of the type? Columns in `ROLES` order:
/// volunteer, guard, grid worker, leader, office, auditor.
const WRITE: [(DocType, [bool; 6]); 8] = [
    (DocType::Places, [false, false, false, false, true, false]),
    (DocType::Route, [false, false, false, true, true, false]),
    (DocType::Roster, [false, false, false, true, true, false]),
    (DocType::Patrol, [true, true, true, true, true, false]),
    (DocType::Hazard, [true, true, true, true, true, false]),
    (DocType::Incident, [true, true, true, true, true, false]),
    (DocType::Alert, [false, false, false, false, false, false]),
    (DocType::Note, [true, true, true, true, true, false]),
];

/// May the role read another user's document of the type, as the matrix
/// writes them (routes, rosters and patrols of team-1 in grid-1; hazards and
/// incidents without a place)? Same columns. Everyone reads their own.
const READ: [(DocType, [bool; 6]); 8] = [
    (DocType::Places, [true, true, true, true, true, true]),
    (DocType::Route, [true, true, true, true, true, true]),
    (DocType::Roster, [true, true, true, true, true, true]),
    (DocType::Patrol, [true, true, true, true, true, true]),
    (DocType::Hazard, [false, false, true, true, true, true]),
    (DocType::Incident, [false, false, true, true, true, true]),
    (DocType::Alert, [false, false, false, false, false, false]),
    (DocType::Note, [true, true, true, true, true, true]),
];

/// Valid content of `doc_type` written by the device's user, so that only the
/// role decides.
fn content(d: &Device, doc_type: DocType, role: Role) -> String {
    let s = d.client.session().unwrap().unwrap();
    let value = match doc_type {
        DocType::Hazard => serde_json::to_value(HazardDoc {
            category: "wiring".into(),
            severity: Severity::General,
            description: "Loose cable in the stairwell".into(),
            place: HazardPlace::default(),
            photos: Vec::new(),
            events: vec![HazardEvent {
                id: "report".into(),
                prev: None,
                at_ms: 1_800_000_000_000,
                by: s.user_id.clone(),
                role,
                device: s.device_id.clone(),
                action: HazardAction::Report {
                    severity: Severity::General,
                    immediate: false,
                },
                note: String::new(),
                photos: Vec::new(),
            }],
        })
        .unwrap(),
        DocType::Patrol => serde_json::to_value(PatrolDoc {
            team: "team-1".into(),
            route: "stairwells".into(),
            started_by: s.user_id.clone(),
            started_at_ms: 1_800_000_000_000,
            ended_at_ms: None,
            members: vec![s.user_id.clone()],
            checkins: Vec::new(),
            breadcrumbs: Vec::new(),
            notes: Vec::new(),
        })
        .unwrap(),
        DocType::Incident => serde_json::to_value(IncidentDoc {
            occurred_at_ms: 1_800_000_000_000,
            place: HazardPlace::default(),
            persons: "two residents".into(),
            cause: "argument over parking".into(),
            handling: String::new(),
            outcome: String::new(),
            reporter: s.user_id.clone(),
            photos: Vec::new(),
            events: vec![IncidentEvent {
                id: "report".into(),
                at_ms: 1_800_000_000_000,
                by: s.user_id.clone(),
                role,
                device: s.device_id.clone(),
                action: IncidentAction::Report,
                note: String::new(),
            }],
        })
        .unwrap(),
        DocType::Route => serde_json::to_value(RouteDoc {
            name: "Stairwells of building 3".into(),
            team: "team-1".into(),
            posts: vec!["post-b3-u1-f5".into(), "post-b3-u1-f9".into()],
            ordered: false,
            interval_min: 120,
            active_from: "20:00".into(),
            active_until: "02:00".into(),
            grace_min: 15,
        })
        .unwrap(),
        DocType::Roster => serde_json::to_value(
            duty::default_week(
                "team-1",
                "2026-11-16",
                std::slice::from_ref(&s.user_id),
                &[],
                &[],
            )
            .unwrap(),
        )
        .unwrap(),
        other => serde_json::json!({ "title": format!("a {} document", other.as_str()) }),
    };
    value.to_string()
}

async fn matrix(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut accepted: Vec<(DocId, DocType, usize)> = Vec::new();
    for (col, (user, role)) in ROLES.iter().enumerate() {
        let d = server.device(user).await;
        let mut expected_rejections = 0;
        let mut created = Vec::new();
        for (doc_type, allowed) in WRITE {
            let id = d
                .client
                .create_document_json(doc_type, &content(&d, doc_type, *role))
                .unwrap();
            created.push((id, doc_type, allowed[col]));
            expected_rejections += usize::from(!allowed[col]);
        }
        let report = d.client.sync_now().await.unwrap();
        assert_eq!(report.rejected, expected_rejections, "{user}");
        for q in d.client.quarantined().unwrap() {
            assert_eq!(q.code, "forbidden", "{user}: {}", q.message);
        }
        for (id, doc_type, allowed) in created {
            assert_eq!(
                server.has_doc(&id).await,
                allowed,
                "{user} writing {}",
                doc_type.as_str()
            );
            if allowed {
                accepted.push((id, doc_type, col));
            }
        }
    }
    // Read: each role's device receives its own documents and what its
    // scope covers, and nothing else.
    for (col, (user, _)) in ROLES.iter().enumerate() {
        let reader = server.device(user).await;
        reader.client.sync_now().await.unwrap();
        let have = reader.client.document_ids(None).unwrap();
        for (id, doc_type, writer) in &accepted {
            let may = *writer == col || READ.iter().any(|(t, r)| t == doc_type && r[col]);
            assert_eq!(
                have.contains(id),
                may,
                "{user} reading a {} of {}",
                doc_type.as_str(),
                ROLES[*writer].0
            );
        }
    }
    server.stop().await;
}
both_backends!(every_role_and_document_type, matrix);

async fn other_teams(backend: Backend) {
    let server = TestServer::start(backend).await;
    let office = server.device("demo-office").await;
    // Team 3 patrols grid 2; the demo volunteer, leader and grid worker are
    // team 1 / grid 1.
    let route = RouteDoc {
        name: "Buildings 4-6".into(),
        team: "team-3".into(),
        posts: vec!["post-b4-u1-f5".into()],
        ordered: false,
        interval_min: 120,
        active_from: "20:00".into(),
        active_until: "02:00".into(),
        grace_min: 15,
    };
    let theirs = office.client.create_route(&route).unwrap();
    let ours = office
        .client
        .create_route(&RouteDoc {
            team: "team-1".into(),
            ..route
        })
        .unwrap();
    let hazard_there = office
        .client
        .report_hazard(fieldsync_sdk::NewHazard {
            category: "wiring".into(),
            severity: Severity::General,
            immediate: false,
            description: "Exposed cable".into(),
            place: HazardPlace {
                post_id: Some("post-b5-u1-f9".into()),
                ..HazardPlace::default()
            },
            photos: Vec::new(),
        })
        .unwrap();
    office.client.sync_now().await.unwrap();
    for (user, reads_theirs) in [
        ("demo-volunteer", false),
        ("demo-leader", false),
        ("demo-grid", false),
        ("demo-auditor", true),
    ] {
        let d = server.device(user).await;
        d.client.sync_now().await.unwrap();
        let have = d.client.document_ids(None).unwrap();
        assert_eq!(
            have.contains(&theirs),
            reads_theirs,
            "{user}: team 3's route"
        );
        assert_eq!(
            have.contains(&hazard_there),
            reads_theirs,
            "{user}: grid 2 hazard"
        );
        assert!(have.contains(&ours), "{user}: team 1's route");
    }
    server.stop().await;
}
both_backends!(other_teams_and_grids_stay_out_of_reach, other_teams);
