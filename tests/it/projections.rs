//! Projections follow every accepted change and can be rebuilt from the
//! documents alone.

use fieldsync_sdk::{Fix, HazardAction, HazardPlace, NewHazard, Severity};
use fieldsync_server::projection;

use crate::both_backends;
use crate::support::{
    Backend, TestServer, get_json_as, get_with_token, login_json, printed_payload,
};

async fn projections_follow_changes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = &server.state.store;
    let volunteer = server.device("demo-volunteer").await;
    let leader = server.device("demo-leader").await;

    let hazard = volunteer
        .client
        .report_hazard(NewHazard {
            category: "exit_sign".into(),
            severity: Severity::General,
            immediate: false,
            description: "Exit sign dark on 9F".into(),
            place: HazardPlace {
                post_id: Some("post-b3-u2-f9".into()),
                ..HazardPlace::default()
            },
            photos: Vec::new(),
        })
        .unwrap();
    let patrol = volunteer
        .client
        .start_patrol("team-1", "stairwells")
        .unwrap();
    let started = fieldsync_server::clock::now_ms();
    // At the post (building 3, stairwell 2 of the demo), with its tag.
    let payload = printed_payload(&server, "post-b3-u2-f9").await;
    let near = Fix {
        lat: 31.2012,
        lon: 121.4006,
        accuracy_m: 8.0,
    };
    volunteer
        .client
        .check_in(&patrol, "post-b3-u2-f9", Some(&payload), "", Some(near), "")
        .unwrap();
    // "At" 5F with a GPS fix a kilometre away.
    let far = Fix {
        lat: 31.2102,
        lon: 121.4006,
        accuracy_m: 15.0,
    };
    volunteer
        .client
        .check_in(&patrol, "post-b3-u2-f5", None, "tag missing", Some(far), "")
        .unwrap();
    volunteer.client.sync_now().await.unwrap();
    leader.client.sync_now().await.unwrap();
    leader
        .client
        .transition_hazard(
            &hazard,
            HazardAction::Assign {
                unit: "Property management".into(),
                person: "Wu Mingyuan".into(),
                deadline_ms: 1_900_000_000_000,
            },
            "",
            Vec::new(),
        )
        .unwrap();
    leader.client.sync_now().await.unwrap();

    let hazards = store.hazard_rows("demo").await.unwrap();
    assert_eq!(hazards.len(), 1);
    assert_eq!(hazards[0].state, "assigned");
    assert_eq!(hazards[0].assigned_person.as_deref(), Some("Wu Mingyuan"));
    assert_eq!(hazards[0].event_count, 2);
    assert!(!hazards[0].in_conflict);

    let patrols = store.patrol_rows("demo").await.unwrap();
    assert_eq!(patrols.len(), 1);
    assert_eq!(patrols[0].checkin_count, 2);

    let checkins = store.checkin_rows("demo").await.unwrap();
    assert_eq!(checkins.len(), 2);
    let at = |post: &str| checkins.iter().find(|c| c.post_id == post).unwrap();
    assert_eq!(at("post-b3-u2-f9").status, "verified");
    assert_eq!(at("post-b3-u2-f9").method, "tag");
    assert_eq!(at("post-b3-u2-f5").status, "flagged");
    let reason = at("post-b3-u2-f5").flag_reason.clone().unwrap();
    assert!(reason.starts_with("far_from_post"), "{reason}");
    for c in &checkins {
        assert!(c.received_at >= started, "server receive time kept");
        assert!(c.device_time > 0, "device time kept");
    }

    // The flagged check-in raises an alert to who made it: a third document.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !store
        .alert_rows("demo")
        .await
        .unwrap()
        .iter()
        .any(|a| a.kind == "flagged")
    {
        assert!(std::time::Instant::now() < deadline, "no flagged alert");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Rebuilt from nothing but the documents, the rows are the same.
    store.clear_projections().await.unwrap();
    assert!(store.hazard_rows("demo").await.unwrap().is_empty());
    let report = projection::rebuild(store).await.unwrap();
    assert_eq!(report.documents, 3);
    assert_eq!(store.hazard_rows("demo").await.unwrap(), hazards);
    assert_eq!(store.patrol_rows("demo").await.unwrap(), patrols);
    // Check-ins keep the time they first arrived: no document holds it.
    assert_eq!(store.checkin_rows("demo").await.unwrap(), checkins);
    server.stop().await;
}
both_backends!(
    projections_follow_changes_and_rebuild,
    projections_follow_changes
);

fn exit_blocked(severity: Severity) -> NewHazard {
    NewHazard {
        category: "exit_blocked".into(),
        severity,
        immediate: false,
        description: "Boxes in front of the fire exit".into(),
        place: HazardPlace {
            post_id: Some("post-b2-u1-f5".into()),
            ..HazardPlace::default()
        },
        photos: Vec::new(),
    }
}

async fn deadlines_overdue_and_recurrence(backend: Backend) {
    let server = TestServer::start(backend).await;
    let volunteer = server.device("demo-volunteer").await;
    let leader = server.device("demo-leader").await;
    let first = volunteer
        .client
        .report_hazard(exit_blocked(Severity::Major))
        .unwrap();
    volunteer.client.sync_now().await.unwrap();
    let second = volunteer
        .client
        .report_hazard(exit_blocked(Severity::General))
        .unwrap();
    volunteer.client.sync_now().await.unwrap();

    let rows = server.state.store.hazard_rows("demo").await.unwrap();
    let row = |id: &fieldsync_sdk::DocId| {
        rows.iter()
            .find(|r| r.doc_id == id.as_str())
            .unwrap()
            .clone()
    };
    let (a, b) = (row(&first), row(&second));
    assert_eq!(
        a.due_at,
        Some(a.reported_at + 30 * 86_400_000),
        "major: 30 days"
    );
    assert_eq!(
        b.due_at,
        Some(b.reported_at + 7 * 86_400_000),
        "general: 7 days"
    );
    assert_eq!(
        b.recurring_of.as_deref(),
        Some(first.as_str()),
        "same post and category"
    );
    assert_eq!(a.recurring_of, None);

    // Assigned with a deadline that has passed: overdue on the office's list.
    leader.client.sync_now().await.unwrap();
    leader
        .client
        .transition_hazard(
            &first,
            HazardAction::Assign {
                unit: "Property management".into(),
                person: "Wu Mingyuan".into(),
                deadline_ms: 1_000,
            },
            "",
            Vec::new(),
        )
        .unwrap();
    leader.client.sync_now().await.unwrap();
    let list = get_json_as(&server.url, "demo-office", "/api/v1/hazards?overdue=true").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["doc_id"], first.as_str());
    assert_eq!(list[0]["overdue"], true);
    assert_eq!(list[0]["state"], "assigned");
    let volunteer_token = login_json(&server.url, "demo-volunteer", "dev-v-ledger").await;
    let denied = get_with_token(
        &server.url,
        volunteer_token["access_token"].as_str().unwrap(),
        "/api/v1/hazards",
    )
    .await;
    assert_eq!(denied.status(), 403);

    // Rebuilt from the documents, the links and deadlines are the same.
    let before = server.state.store.hazard_rows("demo").await.unwrap();
    server.state.store.clear_projections().await.unwrap();
    projection::rebuild(&server.state.store).await.unwrap();
    assert_eq!(
        server.state.store.hazard_rows("demo").await.unwrap(),
        before
    );
    server.stop().await;
}
both_backends!(
    hazard_deadlines_overdue_and_recurrence,
    deadlines_overdue_and_recurrence
);
