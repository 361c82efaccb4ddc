//! Read scopes fail closed: a document whose stored scope is missing or does
//! not parse is readable by the office and auditors only — not by the whole
//! community — in sync and in the REST hazard ledger alike; rebuilding the
//! projections derives it again.

use fieldsync_sdk::{DocId, DocType, HazardPlace, NewHazard, Severity};
use serde_json::Value;

use crate::both_backends;
use crate::support::{Backend, Device, TestServer, get_json_as};

/// A hazard at 1栋1单元 5F: grid 1, which team 1 (the demo volunteer's and
/// leader's) patrols.
fn wiring_in_grid_1() -> NewHazard {
    NewHazard {
        category: "wiring".into(),
        severity: Severity::General,
        immediate: false,
        description: "Loose cable above the meter box".into(),
        place: HazardPlace {
            post_id: Some("post-b1-u1-f5".into()),
            ..HazardPlace::default()
        },
        photos: Vec::new(),
    }
}

/// Whether a fresh device of `username` receives `id` when it syncs.
async fn fresh_device_gets(server: &TestServer, username: &str, id: &DocId) -> bool {
    let device = server.device(username).await;
    device.client.sync_now().await.unwrap();
    device
        .client
        .document_ids(Some(DocType::Hazard))
        .unwrap()
        .contains(id)
}

/// Whether `username`'s REST hazard ledger lists `id`.
async fn ledger_lists(server: &TestServer, username: &str, id: &DocId) -> bool {
    let ledger = get_json_as(&server.url, username, "/api/v1/hazards").await;
    let rows = ledger.as_array().expect("the ledger is a list");
    rows.iter()
        .any(|h| h["doc_id"] == Value::String(id.to_string()))
}

async fn unreadable_scopes_fail_closed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let grid_worker: Device = server.device("demo-grid").await;
    let id = grid_worker
        .client
        .report_hazard(wiring_in_grid_1())
        .unwrap();
    grid_worker.client.sync_now().await.unwrap();

    // As derived on write: team 1's volunteer and leader read it.
    assert!(fresh_device_gets(&server, "demo-volunteer", &id).await);
    assert!(ledger_lists(&server, "demo-leader", &id).await);

    for (what, sql) in [
        (
            "a scope that does not parse",
            "UPDATE documents SET scope = '{\"grid\": ' WHERE id = $1",
        ),
        (
            "no scope at all",
            "UPDATE documents SET scope = NULL WHERE id = $1",
        ),
    ] {
        assert_eq!(server.execute_sql(sql, id.as_str()).await, 1, "{what}");
        assert!(
            !fresh_device_gets(&server, "demo-volunteer", &id).await,
            "{what}: a volunteer's sync must not get it"
        );
        assert!(
            !ledger_lists(&server, "demo-leader", &id).await,
            "{what}: the leader's ledger must not list it"
        );
        assert!(
            fresh_device_gets(&server, "demo-office", &id).await,
            "{what}: the office still syncs it"
        );
        assert!(
            ledger_lists(&server, "demo-office", &id).await,
            "{what}: the office's ledger still lists it"
        );
        assert!(
            ledger_lists(&server, "demo-auditor", &id).await,
            "{what}: auditors still see it"
        );
        // Its reporter, whose own report it is, is told no more than anyone
        // else outside the office until the scope is derived again.
        assert!(
            !fresh_device_gets(&server, "demo-grid", &id).await,
            "{what}"
        );
    }

    // Rebuilding derives the scope from the document again.
    let report = fieldsync_server::projection::rebuild(&server.state.store)
        .await
        .unwrap();
    assert_eq!(report.unreadable, 0);
    assert!(fresh_device_gets(&server, "demo-volunteer", &id).await);
    assert!(ledger_lists(&server, "demo-leader", &id).await);
    server.stop().await;
}
both_backends!(
    a_document_whose_scope_cannot_be_read_is_the_offices_only,
    unreadable_scopes_fail_closed
);

/// How long a live connection may take to announce a document.
const LIVE: std::time::Duration = std::time::Duration::from_secs(10);

/// The office changes something through the admin API.
async fn office_patch(server: &TestServer, path: &str, body: Value) {
    let office = crate::support::login_json(&server.url, "demo-office", "dev-scope-office").await;
    let r = reqwest::Client::new()
        .patch(format!("{}{path}", server.url))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn live_scope_changes(backend: Backend) {
    let server = TestServer::start(backend).await;
    // A hazard in grid 2 (building 4), which team 1 does not patrol.
    let office = server.device("demo-office").await;
    let grid_2 = office
        .client
        .report_hazard(NewHazard {
            place: HazardPlace {
                post_id: Some("post-b4-u1-f5".into()),
                ..HazardPlace::default()
            },
            ..wiring_in_grid_1()
        })
        .unwrap();
    office.client.sync_now().await.unwrap();
    assert!(!fresh_device_gets(&server, "demo-volunteer", &grid_2).await);

    // The volunteer's phone stays connected while the office moves them to
    // team 3 (grid 2): the hazard arrives without a reconnect.
    let (mut raw, _) =
        crate::support::raw_session_as(&server, "demo-volunteer", "dev-scope-live").await;
    office_patch(
        &server,
        "/api/v1/admin/users/user-demo-volunteer",
        serde_json::json!({ "team_id": "team-3" }),
    )
    .await;
    raw.announced(&grid_2, LIVE).await;

    // Then team 3 moves to grid 1: a grid-1 hazard reported meanwhile, which
    // the connection was not told of, arrives too.
    let grid_worker = server.device("demo-grid").await;
    let grid_1 = grid_worker
        .client
        .report_hazard(wiring_in_grid_1())
        .unwrap();
    grid_worker.client.sync_now().await.unwrap();
    office_patch(
        &server,
        "/api/v1/admin/teams/team-3",
        serde_json::json!({ "grid_id": "grid-1" }),
    )
    .await;
    raw.announced(&grid_1, LIVE).await;
    server.stop().await;
}
both_backends!(
    a_live_connection_follows_its_users_new_team_and_grid,
    live_scope_changes
);
