//! The hazard ledger across real devices and a real server: the transition
//! rules hold on the server whatever a device sends, history is append-only,
//! and concurrent offline transitions are all kept and flagged.

use automerge::{ROOT, ReadDoc};
use fieldsync_proto::model::hazard::{self, HazardEvent};
use fieldsync_proto::model::validate;
use fieldsync_sdk::{
    DocId, HazardAction, HazardPlace, HazardState, NewHazard, RejectCode, Severity,
};

use crate::both_backends;
use crate::support::{Backend, Device, TestServer, edit_first_entry};

fn blocked_exit() -> NewHazard {
    NewHazard {
        category: "exit_blocked".into(),
        severity: Severity::General,
        immediate: false,
        description: "Bikes chained across the fire exit".into(),
        place: HazardPlace {
            post_id: Some("post-b3-u2-f5".into()),
            ..HazardPlace::default()
        },
        photos: Vec::new(),
    }
}

fn assign() -> HazardAction {
    HazardAction::Assign {
        unit: "Property management".into(),
        person: "Wu Mingyuan".into(),
        deadline_ms: 1_900_000_000_000,
    }
}

/// The hazard's events as the server stored them.
async fn server_events(server: &TestServer, id: &DocId) -> Vec<HazardEvent> {
    validate::hazard_events(&server.stored_doc(id).await)
}

async fn sync(d: &Device) -> fieldsync_sdk::SyncReport {
    d.client.sync_now().await.expect("sync")
}

fn state(d: &Device, id: &DocId) -> Option<HazardState> {
    d.client.hazard(id).unwrap().folded.current.map(|s| s.state)
}

/// Appends `event` to the hazard's history with the generic document API,
/// skipping the SDK's own rule check (what a modified app could do).
fn append_raw(d: &Device, id: &DocId, event: &HazardEvent) {
    let json = serde_json::to_string(event).unwrap();
    d.client.append_document_json(id, "events", &json).unwrap();
}

/// An event by the device's user after the hazard's current head.
fn next_event(d: &Device, id: &DocId, action: HazardAction) -> HazardEvent {
    let session = d.client.session().unwrap().unwrap();
    let view = d.client.hazard(id).unwrap();
    HazardEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        prev: view.folded.head,
        at_ms: 1_800_000_000_000,
        by: session.user_id,
        role: fieldsync_proto::model::Role::parse(&session.role).unwrap(),
        device: session.device_id,
        action,
        note: String::new(),
        photos: Vec::new(),
    }
}

/// Sends a rule-breaking event and checks it is refused with `code`, nothing
/// of it is stored, and the device is back at the accepted state.
async fn assert_refused(
    server: &TestServer,
    d: &Device,
    id: &DocId,
    event: HazardEvent,
    code: RejectCode,
    needle: &str,
) {
    let stored_before = server_events(server, id).await;
    let state_before = state(d, id);
    append_raw(d, id, &event);
    let report = sync(d).await;
    assert_eq!(report.rejected, 1, "{needle}");
    let q = d.client.quarantined().unwrap();
    let last = q.last().expect("quarantined");
    assert_eq!(last.doc_id, id.as_str());
    assert!(
        last.message.contains(needle),
        "{needle}: got {}",
        last.message
    );
    let code_name = serde_json::to_value(code).unwrap();
    assert_eq!(last.code, code_name.as_str().unwrap(), "{needle}");
    assert_eq!(server_events(server, id).await, stored_before, "{needle}");
    assert_eq!(state(d, id), state_before, "{needle}: device restored");
    assert_eq!(d.client.pending_changes().unwrap(), 0);
}

async fn lifecycle(backend: Backend) {
    let server = TestServer::start(backend).await;
    let office = server.device("demo-office").await;
    let leader = server.device("demo-leader").await;
    let grid = server.device("demo-grid").await;
    let volunteer = server.device("demo-volunteer").await;

    let id = office.client.report_hazard(blocked_exit()).unwrap();
    sync(&office).await;
    sync(&volunteer).await;
    // A volunteer may not assign: refused on the phone, and on the server.
    let err = volunteer
        .client
        .transition_hazard(&id, assign(), "", Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("role_not_allowed"), "{err}");
    let forged = next_event(&volunteer, &id, assign());
    assert_refused(
        &server,
        &volunteer,
        &id,
        forged,
        RejectCode::Forbidden,
        "role_not_allowed",
    )
    .await;
    // Nobody writes in someone else's name.
    let mut impostor = next_event(&volunteer, &id, HazardAction::Comment);
    impostor.by = office.client.session().unwrap().unwrap().user_id;
    assert_refused(
        &server,
        &volunteer,
        &id,
        impostor,
        RejectCode::Forbidden,
        "attributed to you",
    )
    .await;

    sync(&leader).await;
    leader
        .client
        .transition_hazard(&id, assign(), "by Friday", Vec::new())
        .unwrap();
    sync(&leader).await;
    sync(&grid).await;
    for action in [HazardAction::StartRectifying, HazardAction::Rectify] {
        grid.client
            .transition_hazard(&id, action, "", vec!["ab".repeat(32)])
            .unwrap();
    }
    sync(&grid).await;

    // The reporter may not verify: refused locally, and on the server.
    sync(&office).await;
    assert_eq!(state(&office, &id), Some(HazardState::Rectified));
    let err = office
        .client
        .transition_hazard(&id, HazardAction::Verify, "", Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("self_verification"), "{err}");
    let forged = next_event(&office, &id, HazardAction::Verify);
    assert_refused(
        &server,
        &office,
        &id,
        forged,
        RejectCode::SchemaViolation,
        "self_verification",
    )
    .await;

    // The leader verifies, only the office closes.
    sync(&leader).await;
    leader
        .client
        .transition_hazard(&id, HazardAction::Verify, "exit clear", Vec::new())
        .unwrap();
    sync(&leader).await;
    sync(&office).await;
    office
        .client
        .transition_hazard(&id, HazardAction::Close, "", Vec::new())
        .unwrap();
    sync(&office).await;
    let stored = hazard::fold(&server_events(&server, &id).await);
    assert_eq!(stored.current.as_ref().unwrap().state, HazardState::Closed);
    assert!(!stored.in_conflict());
    server.stop().await;
}
both_backends!(hazard_rules_hold_on_the_server, lifecycle);

async fn history_is_append_only(backend: Backend) {
    let server = TestServer::start(backend).await;
    let volunteer = server.device("demo-volunteer").await;
    let id = volunteer.client.report_hazard(blocked_exit()).unwrap();
    sync(&volunteer).await;
    let before = server_events(&server, &id).await;
    edit_first_entry(
        &volunteer.client,
        &id,
        "events",
        "note",
        "it was never there",
    );
    let report = sync(&volunteer).await;
    assert_eq!(report.rejected, 1);
    let q = volunteer.client.quarantined().unwrap();
    assert!(
        q[0].message.contains("history_rewritten"),
        "{}",
        q[0].message
    );
    assert_eq!(server_events(&server, &id).await, before);
    let note = volunteer
        .client
        .read_document(&id, |d| {
            let (_, events) = d.get(ROOT, "events").unwrap().unwrap();
            let (_, first) = d.get(&events, 0).unwrap().unwrap();
            d.get(&first, "note")
                .unwrap()
                .and_then(|(v, _)| v.as_str().map(str::to_owned))
        })
        .unwrap();
    assert_eq!(
        note.as_deref(),
        Some(""),
        "the device shows the accepted entry"
    );
    server.stop().await;
}
both_backends!(editing_a_history_entry_is_rejected, history_is_append_only);

async fn concurrent_offline_transitions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let volunteer = server.device("demo-volunteer").await;
    let leader = server.device("demo-leader").await;
    let grid = server.device("demo-grid").await;
    let id = volunteer.client.report_hazard(blocked_exit()).unwrap();
    sync(&volunteer).await;
    sync(&leader).await;
    leader
        .client
        .transition_hazard(&id, assign(), "", Vec::new())
        .unwrap();
    sync(&leader).await;
    sync(&grid).await;
    grid.client
        .transition_hazard(&id, HazardAction::Rectify, "", Vec::new())
        .unwrap();
    sync(&grid).await;
    sync(&leader).await;

    // Offline, at the same moment: the leader verifies, the grid worker finds
    // the exit blocked again.
    leader
        .client
        .transition_hazard(&id, HazardAction::Verify, "looked fine", Vec::new())
        .unwrap();
    grid.client
        .transition_hazard(&id, HazardAction::Reopen, "bikes are back", Vec::new())
        .unwrap();
    sync(&leader).await;
    sync(&grid).await;
    sync(&leader).await;

    let on_server = hazard::fold(&server_events(&server, &id).await);
    for d in [&leader, &grid] {
        let view = d.client.hazard(&id).unwrap();
        assert_eq!(view.folded, on_server, "every replica folds the same");
        assert_eq!(view.doc.events.len(), 5, "both transitions kept");
    }
    assert_eq!(
        on_server.current.as_ref().unwrap().state,
        HazardState::Reopened
    );
    assert!(on_server.in_conflict());
    assert_eq!(on_server.conflicts[0].not_followed.len(), 1);
    server.stop().await;
}
both_backends!(
    concurrent_offline_transitions_are_kept_and_flagged,
    concurrent_offline_transitions
);

/// The same ledger through the FFI surface the Kotlin and Swift apps use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hazards_through_the_ffi_surface() {
    use fieldsync_ffi::{FieldsyncError, NewHazard as FfiNewHazard};
    let server = TestServer::start(Backend::Sqlite).await;
    let (phone, _dir) = server.ffi_phone("demo-volunteer").await;
    let new = FfiNewHazard {
        category: "ebike".into(),
        severity: Severity::Major,
        immediate: false,
        description: "E-bike charging on a fly-line from the 5th floor".into(),
        post_id: Some("post-b3-u2-f5".into()),
        building: Some("3".into()),
        unit: Some("2".into()),
        floor: Some(5),
        lat: None,
        lon: None,
        photos: Vec::new(),
    };
    let id = phone.report_hazard(new.clone()).await.unwrap();
    let err = phone
        .transition_hazard(id.clone(), HazardAction::Verify, String::new(), Vec::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FieldsyncError::InvalidInput { reason } if reason.contains("role_not_allowed")),
        "{err:?}"
    );
    let bad = phone
        .report_hazard(FfiNewHazard {
            category: "ufo".into(),
            ..new
        })
        .await
        .unwrap_err();
    assert!(
        matches!(bad, FieldsyncError::InvalidInput { .. }),
        "{bad:?}"
    );
    phone.sync_now().await.unwrap();

    let leader = server.device("demo-leader").await;
    sync(&leader).await;
    let doc_id = DocId::new(id.clone()).unwrap();
    assert_eq!(state(&leader, &doc_id), Some(HazardState::Reported));
    let open = phone.open_hazards().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, id);
    assert_eq!(open[0].severity, Severity::Major);
    assert_eq!(open[0].state, Some(HazardState::Reported));
    phone.shutdown();
    server.stop().await;
}
