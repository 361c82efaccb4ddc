//! Compliance and alerts through the real server: rosters and routes made on
//! a leader's phone, check-ins from a volunteer's phone, the engine on its
//! own clock, and alerts arriving on the leader's phone as documents.

use std::time::{Duration, Instant};

use fieldsync_proto::model::alert::AlertKind;
use fieldsync_proto::model::duty::{RosterDoc, RouteDoc, Shift};
use fieldsync_sdk::{DocType, NewIncident};

use crate::both_backends;
use crate::support::{
    Backend, Device, TestServer, get_json_as, printed_payload, walked_demo_shift,
};

pub const F5: &str = "post-b3-u2-f5";
pub const F9: &str = "post-b3-u2-f9";

fn shanghai(ms: i64) -> jiff::Zoned {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
}

fn hms(ms: i64) -> String {
    shanghai(ms).strftime("%H:%M:%S").to_string()
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub async fn user_id(server: &TestServer, username: &str) -> String {
    let d = server.device(username).await;
    d.client.session().unwrap().unwrap().user_id
}

/// Syncs `d` until `done` holds or `within` passes.
async fn sync_until(d: &Device, within: Duration, mut done: impl FnMut(&Device) -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        d.client.sync_now().await.unwrap();
        if done(d) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// A route of one stairwell's two posts whose only window closes
/// `closes_in` from now (no grace: missed at the deadline), and a roster of
/// team 1 with a shift running now (its `routes` still empty); the deadline.
pub async fn tonight(server: &TestServer, closes_in: Duration) -> (RouteDoc, RosterDoc, i64) {
    let now = now_ms();
    let deadline = now + closes_in.as_millis() as i64;
    let route = RouteDoc {
        name: "Building 3, unit 2".into(),
        team: "team-1".into(),
        posts: vec![F5.into(), F9.into()],
        ordered: false,
        interval_min: 600,
        active_from: hms(now - 3_600_000),
        active_until: hms(deadline),
        grace_min: 0,
    };
    let start = shanghai(now - 2 * 3_600_000);
    let monday =
        start.date() - jiff::Span::new().days(i64::from(start.weekday().to_monday_zero_offset()));
    let roster = RosterDoc {
        team: "team-1".into(),
        week_of: monday.to_string(),
        time_zone: "Asia/Shanghai".into(),
        shifts: vec![Shift {
            id: "tonight".into(),
            date: start.date().to_string(),
            start: hms(now - 2 * 3_600_000),
            end: hms(now + 2 * 3_600_000),
            leader: user_id(server, "demo-leader").await,
            deputy: None,
            members: vec![user_id(server, "demo-volunteer").await],
            routes: Vec::new(),
        }],
    };
    (route, roster, deadline)
}

/// [`tonight`], planned on the leader's phone and synced.
async fn plan_night(server: &TestServer, leader: &Device, closes_in: Duration) -> i64 {
    let (route, mut roster, deadline) = tonight(server, closes_in).await;
    let route_id = leader.client.create_route(&route).unwrap();
    roster.shifts[0].routes = vec![route_id.to_string()];
    leader.client.create_roster(&roster).unwrap();
    leader.client.sync_now().await.unwrap();
    deadline
}

/// The volunteer checks in at 5F with the printed tag and skips 9F; an
/// alert reaches the leader's phone (within 30 s), not the volunteer's.
pub async fn skip_f9(server: &TestServer, volunteer: &Device, leader: &Device, route: &str) {
    let patrol = volunteer.client.start_patrol("team-1", route).unwrap();
    let tag = printed_payload(server, F5).await;
    volunteer
        .client
        .check_in(&patrol, F5, Some(&tag), "", None, "")
        .unwrap();
    volunteer.client.sync_now().await.unwrap();
    assert!(volunteer.client.alerts().unwrap().is_empty());
    let arrived = sync_until(leader, Duration::from_secs(30), |d| {
        !d.client.alerts().unwrap().is_empty()
    })
    .await;
    assert!(arrived, "an alert reaches the leader's phone");
}

async fn missed_post_alerts_the_leader(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let leader = server.device("demo-leader").await;
    let volunteer = server.device("demo-volunteer").await;
    let deadline = plan_night(&server, &leader, Duration::from_secs(4)).await;

    skip_f9(&server, &volunteer, &leader, "").await;
    let late_by = now_ms() - deadline;
    assert!(
        late_by < 60_000,
        "alert within one minute of the deadline, took {late_by} ms"
    );
    let alerts = leader.client.alerts().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let (alert_id, alert) = &alerts[0];
    assert_eq!(alert.kind, AlertKind::Missed);
    assert_eq!(alert.post_id.as_deref(), Some(F9));
    assert!(
        alert.title_en.contains("Bldg 3 Unit 2 · 9F"),
        "{}",
        alert.title_en
    );

    // Exactly that post is missed; 5F is on time.
    let rows = server
        .state
        .store
        .compliance_rows("demo", alert.shift_id.as_deref().unwrap())
        .await
        .unwrap();
    let statuses: Vec<_> = rows
        .iter()
        .map(|r| (r.post_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(statuses, [(F5, "on_time"), (F9, "missed")]);
    let attendance = server
        .state
        .store
        .attendance_rows("demo", alert.shift_id.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        attendance.iter().any(|a| a.signed_on.is_some()),
        "{attendance:?}"
    );

    // Later runs raise nothing more.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        server.state.store.alert_rows("demo").await.unwrap().len(),
        1
    );

    // The volunteer may not acknowledge the leader's alert; the leader may.
    volunteer.client.sync_now().await.unwrap();
    assert!(
        volunteer.client.alerts().unwrap().is_empty(),
        "alerts are for their recipients"
    );
    let not_delivered = volunteer
        .client
        .acknowledge_alert(alert_id, "")
        .unwrap_err();
    assert!(
        not_delivered.to_string().contains("no document"),
        "{not_delivered}"
    );
    leader
        .client
        .acknowledge_alert(alert_id, "called Tang, on the way")
        .unwrap();
    let report = leader.client.sync_now().await.unwrap();
    assert_eq!(report.rejected, 0);
    let row = server
        .state
        .store
        .alert_rows("demo")
        .await
        .unwrap()
        .remove(0);
    assert!(row.acked_at.is_some());
    server.stop().await;
}
both_backends!(
    a_missed_post_alerts_the_leader_within_a_minute,
    missed_post_alerts_the_leader
);

async fn unacknowledged_incidents_escalate(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let volunteer = server.device("demo-volunteer").await;
    let office = server.device("demo-office").await;
    let three_hours_ago = now_ms() - 3 * 3_600_000;
    let old = volunteer
        .client
        .file_incident(NewIncident {
            occurred_at_ms: three_hours_ago,
            place: Default::default(),
            persons: "a resident of building 2".into(),
            cause: "smoke in the stairwell".into(),
            handling: String::new(),
            outcome: String::new(),
            photos: Vec::new(),
        })
        .unwrap();
    // The phone was offline for three hours: its report event is that old.
    let mut doc = volunteer.client.document_json(&old).unwrap();
    doc["events"][0]["at_ms"] = three_hours_ago.into();
    let backdated = volunteer
        .client
        .create_document_json(DocType::Incident, &doc.to_string())
        .unwrap();
    let fresh = volunteer
        .client
        .file_incident(NewIncident {
            occurred_at_ms: now_ms(),
            place: Default::default(),
            persons: String::new(),
            cause: "gate left open".into(),
            handling: String::new(),
            outcome: String::new(),
            photos: Vec::new(),
        })
        .unwrap();
    volunteer.client.sync_now().await.unwrap();

    let escalated = sync_until(&office, Duration::from_secs(30), |d| {
        !d.client.alerts().unwrap().is_empty()
    })
    .await;
    assert!(escalated, "the office is alerted");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    office.client.sync_now().await.unwrap();
    let alerts = office.client.alerts().unwrap();
    assert_eq!(
        alerts.len(),
        1,
        "only the old, unacknowledged one: {alerts:?}"
    );
    assert_eq!(alerts[0].1.kind, AlertKind::Escalation);
    assert_eq!(alerts[0].1.doc_id.as_deref(), Some(backdated.as_str()));
    assert_ne!(alerts[0].1.doc_id.as_deref(), Some(fresh.as_str()));
    assert_ne!(alerts[0].1.doc_id.as_deref(), Some(old.as_str()));
    server.stop().await;
}
both_backends!(
    incidents_not_acknowledged_in_two_hours_escalate,
    unacknowledged_incidents_escalate
);

async fn demo_community(backend: Backend) {
    let server = TestServer::start_with(backend, |c| {
        c.demo_documents = true;
        c.compliance_tick_secs = 1;
    })
    .await;
    // The seeded night: team 1 walked its route and skipped one post.
    let walked = walked_demo_shift(&server).await;
    let missed: Vec<_> = walked["posts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "missed")
        .map(|p| p["post_id"].as_str().unwrap())
        .collect();
    assert_eq!(missed, ["post-b2-u2-f9"]);
    let hazards = get_json_as(&server.url, "demo-office", "/api/v1/hazards").await;
    let states: std::collections::BTreeSet<&str> = hazards
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    for state in [
        "reported",
        "assigned",
        "rectifying",
        "rectified",
        "verified",
        "closed",
        "reopened",
    ] {
        assert!(states.contains(state), "no {state} hazard: {states:?}");
    }
    // The leader's phone gets the night's missed post, the escalation and the
    // overdue hazard. Today's shifts of teams 2 and 3 add slot alerts of their
    // own (late or missed, by the time of day the test runs): leave those out.
    let night = walked["posts"][0]["shift_key"].as_str().unwrap().to_owned();
    let leader = server.device("demo-leader").await;
    let of_the_night = |d: &Device| -> std::collections::BTreeSet<(AlertKind, Option<String>)> {
        d.client
            .alerts()
            .unwrap()
            .into_iter()
            .filter(|(_, a)| a.shift_id.as_ref().is_none_or(|s| *s == night))
            .map(|(_, a)| (a.kind, a.post_id))
            .collect()
    };
    let expected: std::collections::BTreeSet<(AlertKind, Option<String>)> = [
        (AlertKind::Missed, Some("post-b2-u2-f9".to_owned())),
        (AlertKind::Overdue, None),
        (AlertKind::Escalation, None),
    ]
    .into();
    let all = sync_until(&leader, Duration::from_secs(30), |d| {
        of_the_night(d) == expected
    })
    .await;
    assert!(
        all,
        "alerts on the leader's phone: {:?}",
        of_the_night(&leader)
    );
    // Team 1's volunteer sees team 1's route and the night's patrol.
    let volunteer = server.device("demo-volunteer").await;
    volunteer.client.sync_now().await.unwrap();
    assert_eq!(
        volunteer
            .client
            .document_ids(Some(DocType::Route))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        volunteer
            .client
            .document_ids(Some(DocType::Patrol))
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}
both_backends!(the_demo_community_has_a_night_of_work, demo_community);
