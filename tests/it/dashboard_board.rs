//! The dashboard's compliance board, patrol pages and incidents over plain
//! HTTP against a real server with the demo community: the seeded night's
//! missed 9F post on the board and its drill-down, what a leader may open,
//! and incidents acknowledged and closed from the dashboard arriving on a
//! phone by sync, attributed to the people and their browser sessions.

use fieldsync_sdk::{HazardPlace, IncidentAction, NewIncident};
use reqwest::StatusCode;

use crate::both_backends;
use crate::support::{Backend, TestServer, get_json_as, walked_demo_shift};
use crate::web_client::{csrf_field, get_as, post_as, post_form_as, session_of};

/// The key of the demo night team 1 walked.
async fn walked_shift(server: &TestServer) -> String {
    walked_demo_shift(server).await["shift_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The key of some shift of `team` in the past or coming days (the demo's
/// rosters of teams 2 and 3 start tonight, which before 18:00 local time is
/// still to come).
async fn a_shift_of(server: &TestServer, team: &str) -> String {
    let now = jiff::Timestamp::now().as_millisecond();
    let day = 24 * 3_600_000;
    let shifts = server
        .state
        .store
        .shifts_between("demo", now - 4 * day, now + 2 * day)
        .await
        .unwrap();
    shifts
        .iter()
        .find(|s| s.team == team)
        .map(|s| s.shift_key.clone())
        .unwrap_or_else(|| panic!("no shift of {team}: {shifts:?}"))
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The cells (`<td>…</td>`) of the board row headed `place`.
fn board_row<'a>(html: &'a str, place: &str) -> Vec<&'a str> {
    let head = format!("<th scope=\"row\">{place}</th>");
    let at = html.find(&head).unwrap_or_else(|| panic!("no row {place}"));
    let row = &html[at + head.len()..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>").skip(1).collect()
}

async fn page(url: &str, session: &str, path: &str) -> (StatusCode, String) {
    let resp = get_as(url, session, path).await;
    (resp.status(), resp.text().await.unwrap())
}

async fn the_board(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.demo_documents = true).await;
    let url = &server.url;
    let office = session_of(url, "demo-office").await;
    let shift = walked_shift(&server).await;

    let (status, html) = page(
        url,
        &office,
        &format!("/compliance?shift={}", encode(&shift)),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<th scope=\"col\">5F</th><th scope=\"col\">9F</th>"));
    // 2-2 9F was skipped in the last round: missed, in words and in red.
    let row = board_row(&html, "2栋2单元");
    assert_eq!(row.len(), 2, "{row:?}");
    assert!(!row[0].contains("漏签"), "5F was walked: {}", row[0]);
    assert!(
        row[1].contains("漏签") && row[1].contains("data-status=\"bad\""),
        "9F is missed: {}",
        row[1]
    );
    assert!(
        row[1].matches("按时").count() == 2,
        "9F's first two rounds were on time: {}",
        row[1]
    );
    for place in ["1栋1单元", "1栋2单元", "2栋1单元"] {
        let row = board_row(&html, place);
        assert!(
            row.iter().all(|c| !c.contains("漏签")),
            "{place} was walked"
        );
    }
    // Attendance, and the next shift (the demo's rosters begin with this
    // night), whose board has nothing walked.
    assert!(html.contains("Tang Xiaohe"), "the volunteer's attendance");
    let at = html.find("\" rel=\"next\"").expect("a next shift");
    let next = html[..at]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .replace("&#38;", "&");
    let (status, later) = page(url, &office, &next).await;
    assert_eq!(status, 200, "{next}");
    assert!(later.contains("rel=\"prev\"") && !later.contains("data-status=\"ok\""));

    // The drill-down: two check-ins, device and receive time side by side.
    let (status, html) = page(
        url,
        &office,
        &format!(
            "/compliance/post?shift={}&post=post-b2-u2-f9",
            encode(&shift)
        ),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("2栋2单元 9F"));
    assert_eq!(html.matches("data-label=\"手机时间\"").count(), 2, "{html}");
    assert_eq!(html.matches("data-label=\"服务器收到\"").count(), 2);
    assert!(html.contains("扫码") && html.contains("已验证") && html.contains("Tang Xiaohe"));
    assert!(html.contains("漏签"), "the third round is missed");

    // Without a shift, the board opens; an unknown shift is not found.
    assert_eq!(page(url, &office, "/compliance").await.0, 200);
    assert_eq!(
        page(url, &office, "/compliance?shift=roster-x%2Fnope")
            .await
            .0,
        404
    );
    assert_eq!(
        page(
            url,
            &office,
            &format!("/compliance/post?shift={}&post=nope", encode(&shift))
        )
        .await
        .0,
        404
    );

    // A leader sees their team's shifts, not another team's.
    let leader = session_of(url, "demo-leader").await;
    assert_eq!(
        page(
            url,
            &leader,
            &format!("/compliance?shift={}", encode(&shift))
        )
        .await
        .0,
        200
    );
    let theirs = a_shift_of(&server, "team-2").await;
    assert_eq!(
        page(
            url,
            &office,
            &format!("/compliance?shift={}", encode(&theirs))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        page(
            url,
            &leader,
            &format!("/compliance?shift={}", encode(&theirs))
        )
        .await
        .0,
        404
    );
    let (_, html) = page(url, &leader, "/compliance").await;
    assert!(!html.contains(&theirs), "team 2's shifts are not offered");
    server.stop().await;
}
both_backends!(the_compliance_board_shows_the_missed_post, the_board);

async fn patrol_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;
    // The guard walks for team 2 tonight: team 1's leader may not look.
    let guard = server.device("demo-guard").await;
    let theirs = guard.client.start_patrol("team-2", "route-gates").unwrap();
    let volunteer = server.device("demo-volunteer").await;
    let ours = volunteer
        .client
        .start_patrol("team-1", "route-team-1")
        .unwrap();
    let tag = crate::support::printed_payload(&server, "post-b3-u2-f9").await;
    volunteer
        .client
        .check_in(&ours, "post-b3-u2-f9", Some(&tag), "", None, "")
        .unwrap();
    guard.client.sync_now().await.unwrap();
    volunteer.client.sync_now().await.unwrap();

    let leader = session_of(url, "demo-leader").await;
    let office = session_of(url, "demo-office").await;
    let (status, html) = page(url, &leader, &format!("/patrols/{ours}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Tang Xiaohe") && html.contains("3栋2单元 9F"));
    assert!(html.contains("巡逻中"), "still out");
    let (status, html) = page(url, &leader, &format!("/patrols/{theirs}")).await;
    assert_eq!(status, 404, "another team's patrol: {html}");
    assert_eq!(
        page(url, &office, &format!("/patrols/{theirs}")).await.0,
        200
    );
    assert_eq!(page(url, &leader, "/patrols/no-such-patrol").await.0, 404);
    // A document of another type under the patrol URL is not a patrol.
    let hazards = get_json_as(url, "demo-office", "/api/v1/hazards").await;
    if let Some(h) = hazards.as_array().and_then(|a| a.first()) {
        let path = format!("/patrols/{}", h["doc_id"].as_str().unwrap());
        assert_eq!(page(url, &office, &path).await.0, 404);
    }
    server.stop().await;
}
both_backends!(a_leader_opens_only_their_teams_patrols, patrol_pages);

async fn incidents(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;
    let phone = server.device("demo-volunteer").await;
    let id = phone
        .client
        .file_incident(NewIncident {
            occurred_at_ms: 1_800_000_000_000,
            place: HazardPlace {
                post_id: Some("post-b3-u2-f9".into()),
                ..HazardPlace::default()
            },
            persons: "Two residents".into(),
            cause: "<img src=x onerror=alert(1)>".into(),
            handling: "Calmed them down".into(),
            outcome: String::new(),
            photos: Vec::new(),
        })
        .unwrap();
    phone.client.sync_now().await.unwrap();

    let leader = session_of(url, "demo-leader").await;
    let (status, html) = page(url, &leader, "/incidents").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/incidents/{id}")), "listed");
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62;") && !html.contains("<img src=x"),
        "the phone's text is shown as text: {html}"
    );
    let detail = format!("/incidents/{id}");
    let (status, html) = page(url, &leader, &detail).await;
    assert_eq!(status, 200);
    assert!(html.contains("3栋2单元 9F") && html.contains("待处理"));
    assert!(
        !html.contains("<img src=x"),
        "escaped on the detail page too"
    );
    let csrf = csrf_field(&html);

    // No token, no change.
    let resp = post_as(url, &leader, &format!("{detail}/acknowledge"), "").await;
    assert_eq!(resp.status(), 403);
    // The leader acknowledges; closing is the office's.
    let resp = post_as(url, &leader, &format!("{detail}/acknowledge"), &csrf).await;
    assert_eq!(resp.status(), 303);
    let resp = post_as(url, &leader, &format!("{detail}/close"), &csrf).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text().await.unwrap().contains("may not"),
        "the rule's message"
    );

    // The auditor reads and has no buttons; a forged action is refused.
    let auditor = session_of(url, "demo-auditor").await;
    let (status, html) = page(url, &auditor, &detail).await;
    assert_eq!(status, 200);
    assert!(!html.contains("/close\"") && !html.contains("/acknowledge\""));
    let auditor_csrf = csrf_field(&html);
    let resp = post_as(url, &auditor, &format!("{detail}/close"), &auditor_csrf).await;
    assert_eq!(resp.status(), 403);

    // The office closes with a note.
    let office = session_of(url, "demo-office").await;
    let (_, html) = page(url, &office, &detail).await;
    let office_csrf = csrf_field(&html);
    let resp = post_form_as(
        url,
        &office,
        &format!("{detail}/close"),
        &[
            ("csrf", &office_csrf),
            ("note", "Handled with the property manager"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let (_, html) = page(url, &office, &detail).await;
    assert!(html.contains("已办结"));
    assert!(html.contains("Zhou Mingyuan") && html.contains("Lin Qiao"));
    assert!(html.contains("Handled with the property manager"));
    assert!(!html.contains("/close\""), "nothing is left to do");

    // The phone receives both, as the people and their browser sessions.
    phone.client.sync_now().await.unwrap();
    let doc = phone.client.incident(&id).unwrap();
    let actions: Vec<(IncidentAction, &str)> = doc
        .events
        .iter()
        .map(|e| (e.action, e.by.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (IncidentAction::Report, "user-demo-volunteer"),
            (IncidentAction::Acknowledge, "user-demo-leader"),
            (IncidentAction::Close, "user-demo-office"),
        ]
    );
    for e in &doc.events[1..] {
        assert!(e.device.starts_with("web-"), "a browser session: {e:?}");
        assert!(html.contains(&e.device), "the history names the device");
    }
    // A remark after the close is refused by the rules.
    let resp = post_form_as(
        url,
        &office,
        &format!("{detail}/update"),
        &[("csrf", &office_csrf), ("note", "late remark")],
    )
    .await;
    assert_eq!(resp.status(), 400);
    server.stop().await;
}
both_backends!(
    incidents_are_acknowledged_and_closed_from_the_dashboard,
    incidents
);
