//! Incident reports across real devices and a real server.

use fieldsync_sdk::{DocId, HazardPlace, IncidentAction, NewIncident};

use crate::both_backends;
use crate::support::{Backend, TestServer, edit_first_entry};

async fn stored_events(server: &TestServer, id: &DocId) -> usize {
    fieldsync_proto::model::validate::read_incident(&server.stored_doc(id).await)
        .unwrap()
        .events
        .len()
}

async fn incident_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let volunteer = server.device("demo-volunteer").await;
    let leader = server.device("demo-leader").await;
    let office = server.device("demo-office").await;

    // Filed offline on the phone.
    let id = volunteer
        .client
        .file_incident(NewIncident {
            occurred_at_ms: 1_800_000_000_000,
            place: HazardPlace {
                building: Some("3".into()),
                ..HazardPlace::default()
            },
            persons: "two residents of building 5".into(),
            cause: "dispute over a blocked fire lane".into(),
            handling: "talked them down, car moved".into(),
            outcome: "resolved on the spot".into(),
            photos: Vec::new(),
        })
        .unwrap();
    // A volunteer may not acknowledge or close: refused on the phone.
    let err = volunteer
        .client
        .add_incident_event(&id, IncidentAction::Close, "")
        .unwrap_err();
    assert!(err.to_string().contains("role_not_allowed"), "{err}");
    volunteer.client.sync_now().await.unwrap();

    leader.client.sync_now().await.unwrap();
    leader
        .client
        .add_incident_event(&id, IncidentAction::Acknowledge, "seen")
        .unwrap();
    leader.client.sync_now().await.unwrap();

    // Rewriting the report afterwards is refused by the server.
    volunteer.client.sync_now().await.unwrap();
    edit_first_entry(&volunteer.client, &id, "events", "note", "never happened");
    let report = volunteer.client.sync_now().await.unwrap();
    assert_eq!(report.rejected, 1);
    let q = volunteer.client.quarantined().unwrap();
    assert!(q[0].message.contains("event_rewritten"), "{}", q[0].message);
    assert_eq!(stored_events(&server, &id).await, 2);

    office.client.sync_now().await.unwrap();
    office
        .client
        .add_incident_event(&id, IncidentAction::Close, "filed")
        .unwrap();
    office.client.sync_now().await.unwrap();
    volunteer.client.sync_now().await.unwrap();
    let seen = volunteer.client.incident(&id).unwrap();
    assert!(seen.acknowledged() && seen.closed());
    assert_eq!(seen.events.len(), 3);
    assert_eq!(stored_events(&server, &id).await, 3);
    server.stop().await;
}
both_backends!(incidents_are_filed_acknowledged_and_closed, incident_flow);
