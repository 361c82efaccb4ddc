//! The dashboard's hazard ledger over plain HTTP against a real server with
//! the demo community: filters and pages, read scopes (a leader sees their
//! team's grid only), who is offered which action and what a forged or
//! token-less post gets, escaping of what phones send, and a dashboard
//! assignment reaching a phone by sync, attributed to the office user and
//! their browser.

use std::collections::BTreeSet;

use fieldsync_proto::model::hazard::HazardEvent;
use fieldsync_proto::model::validate;
use fieldsync_sdk::{DocId, HazardAction, HazardPlace, NewHazard, Severity};
use reqwest::StatusCode;

use crate::both_backends;
use crate::support::{Backend, TestServer, get_json_as};
use crate::web_client::{csrf_field, get_as, post_form_as, session_of};

async fn demo(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| c.demo_documents = true).await
}

/// The hazard ids a ledger page lists, in order.
fn listed(html: &str) -> Vec<String> {
    html.match_indices("class=\"hazard-row\" data-id=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

async fn ledger(url: &str, session: &str, query: &str) -> (Vec<String>, String) {
    let resp = get_as(url, session, &format!("/hazards{query}")).await;
    assert_eq!(resp.status(), 200, "{query}");
    let html = resp.text().await.unwrap();
    (listed(&html), html)
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| format!("hazard-demo-{s}")).collect()
}

fn as_set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// The next-page link of a ledger page, if any.
fn next_link(html: &str) -> Option<String> {
    let at = html.find("class=\"next\" href=\"")? + 19;
    Some(html[at..].split('"').next().unwrap().replace("&amp;", "&"))
}

async fn stored_events(server: &TestServer, id: &str) -> Vec<HazardEvent> {
    validate::hazard_events(&server.stored_doc(&DocId::new(id).unwrap()).await)
}

async fn filters_and_scopes(backend: Backend) {
    let server = demo(backend).await;
    let url = &server.url;
    let office = session_of(url, "demo-office").await;
    let all = set(&[
        "reported",
        "assigned",
        "rectifying",
        "rectified",
        "verified",
        "closed",
        "reopened",
        "major",
    ]);
    let (ids, html) = ledger(url, &office, "").await;
    assert_eq!(as_set(ids.clone()), all, "the office sees every hazard");
    assert_eq!(ids[0], "hazard-demo-major", "newest first");
    assert!(
        html.contains("href=\"/hazards\" aria-current=\"page\""),
        "the menu has the ledger"
    );
    assert!(
        html.contains("已销号") && html.contains("隐患台账"),
        "in the glossary's terms"
    );

    for (query, expected) in [
        ("?state=closed", set(&["closed"])),
        ("?category=gas", set(&["major"])),
        ("?severity=major", set(&["major"])),
        ("?grid=grid-2", set(&["reopened", "major"])),
        ("?building=3", set(&["verified", "closed"])),
        ("?state=assigned&grid=grid-2", set(&[])),
        ("?state=&category=&grid=", all.clone()),
    ] {
        assert_eq!(
            as_set(ledger(url, &office, query).await.0),
            expected,
            "{query}"
        );
    }
    // Overdue is the API's overdue.
    let api = get_json_as(url, "demo-office", "/api/v1/hazards?overdue=true").await;
    let overdue: BTreeSet<String> = api
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(overdue.contains("hazard-demo-reported"), "{overdue:?}");
    let (ids, html) = ledger(url, &office, "?overdue=1").await;
    assert_eq!(as_set(ids), overdue);
    assert!(
        html.contains("class=\"tag overdue\">逾期未整改"),
        "overdue says so in words"
    );

    // A phone reports the same thing at the same post again: recurring.
    let phone = server.device("demo-volunteer").await;
    let mut new_ids = Vec::new();
    for i in 0..60 {
        let post = if i % 2 == 0 {
            "post-b1-u1-f5"
        } else {
            "post-b5-u1-f9"
        };
        new_ids.push(
            phone
                .client
                .report_hazard(NewHazard {
                    category: "ebike".into(),
                    severity: Severity::General,
                    immediate: false,
                    description: format!("E-bike in the stairwell, night {i}"),
                    place: HazardPlace {
                        post_id: Some(post.into()),
                        ..HazardPlace::default()
                    },
                    photos: Vec::new(),
                })
                .unwrap(),
        );
    }
    assert_eq!(phone.client.sync_now().await.unwrap().rejected, 0);
    let (recurring, _) = ledger(url, &office, "?recurring=1&grid=grid-1").await;
    assert!(
        recurring.len() >= 29,
        "the repeats at post-b1-u1-f5 recur: {}",
        recurring.len()
    );
    assert!(!recurring.iter().any(|id| id.starts_with("hazard-demo")));

    // 68 hazards: two pages of at most 50, nothing twice, nothing missing.
    let (first, html) = ledger(url, &office, "").await;
    assert_eq!(first.len(), 50);
    let next = next_link(&html).expect("a next page");
    let (second, html) = ledger(url, &office, next.trim_start_matches("/hazards")).await;
    assert_eq!(second.len(), 18);
    assert!(next_link(&html).is_none(), "the last page");
    let both: BTreeSet<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(both.len(), 68);
    // Filters carry over to the next page.
    let (ebikes, html) = ledger(url, &office, "?category=ebike").await;
    assert_eq!(ebikes.len(), 50);
    let next = next_link(&html).unwrap();
    assert!(next.contains("category=ebike"), "{next}");
    let (more, _) = ledger(url, &office, next.trim_start_matches("/hazards")).await;
    assert_eq!(more.len(), 11, "60 new and the demo's one");

    // The leader (team 1, grid 1) sees grid 1 only, on every page.
    let leader = session_of(url, "demo-leader").await;
    let (first, html) = ledger(url, &leader, "").await;
    let mut seen = first.clone();
    if let Some(next) = next_link(&html) {
        seen.extend(
            ledger(url, &leader, next.trim_start_matches("/hazards"))
                .await
                .0,
        );
    }
    let grid_1: BTreeSet<String> = set(&[
        "reported",
        "assigned",
        "rectifying",
        "rectified",
        "verified",
        "closed",
    ])
    .into_iter()
    .chain(new_ids.iter().step_by(2).map(|id| id.as_str().to_owned()))
    .collect();
    assert_eq!(as_set(seen), grid_1, "the leader sees their grid");
    assert!(as_set(ledger(url, &leader, "?grid=grid-2").await.0).is_empty());
    for id in [
        "hazard-demo-major",
        "hazard-demo-reopened",
        new_ids[1].as_str(),
    ] {
        let resp = get_as(url, &leader, &format!("/hazards/{id}")).await;
        assert_eq!(
            resp.status(),
            StatusCode::NOT_FOUND,
            "{id} is not the leader's"
        );
    }
    let resp = get_as(url, &leader, "/hazards/hazard-demo-nothing").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Nor may they act on it: the same 404, and nothing is stored.
    let page = get_as(url, &leader, "/hazards").await.text().await.unwrap();
    let csrf = csrf_field(&page);
    let before = stored_events(&server, "hazard-demo-major").await;
    let resp = post_form_as(
        url,
        &leader,
        "/hazards/hazard-demo-major/act",
        &[("csrf", &csrf), ("action", "comment"), ("note", "seen")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(stored_events(&server, "hazard-demo-major").await, before);
    server.stop().await;
}
both_backends!(
    dashboard_ledger_filters_pages_and_scopes,
    filters_and_scopes
);

async fn actions_by_role(backend: Backend) {
    let server = demo(backend).await;
    let url = &server.url;
    let id = "hazard-demo-verified";
    let path = format!("/hazards/{id}");
    let act = format!("/hazards/{id}/act");
    let before = stored_events(&server, id).await;

    // The auditor reads it all and is offered nothing; a forged post is 403.
    let auditor = session_of(url, "demo-auditor").await;
    let html = get_as(url, &auditor, &path).await.text().await.unwrap();
    assert!(
        html.contains("已验收") && html.contains("Zhou Mingyuan (leader)"),
        "the history"
    );
    assert!(
        !html.contains(&format!("action=\"{act}\"")),
        "no action form for the auditor"
    );
    let csrf = csrf_field(&html);
    let resp = post_form_as(url, &auditor, &act, &[("csrf", &csrf), ("action", "close")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post_form_as(
        url,
        &auditor,
        &act,
        &[("csrf", &csrf), ("action", "comment"), ("note", "x")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        stored_events(&server, id).await,
        before,
        "the auditor changed nothing"
    );

    // The office is offered close; without the session's token it is 403.
    let office = session_of(url, "demo-office").await;
    let html = get_as(url, &office, &path).await.text().await.unwrap();
    assert!(
        html.contains("class=\"act close\""),
        "the office may close a verified hazard"
    );
    assert!(
        !html.contains("class=\"act verify\""),
        "not verify it again"
    );
    for csrf in ["", "forged"] {
        let resp = post_form_as(url, &office, &act, &[("csrf", csrf), ("action", "close")]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    assert_eq!(
        stored_events(&server, id).await,
        before,
        "no token, no change"
    );

    // The leader is not offered close, and the rules refuse a forged one.
    let leader = session_of(url, "demo-leader").await;
    let html = get_as(url, &leader, &path).await.text().await.unwrap();
    assert!(
        !html.contains("class=\"act close\""),
        "leaders do not close"
    );
    assert!(html.contains("class=\"act reopen\""), "leaders reopen");
    let csrf = csrf_field(&html);
    let resp = post_form_as(url, &leader, &act, &[("csrf", &csrf), ("action", "close")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("class=\"notice\"") && html.contains("may not close"),
        "the rule's message is shown"
    );
    assert_eq!(stored_events(&server, id).await, before);
    // An assignment without a deadline is refused with what is missing.
    let resp = post_form_as(
        url,
        &leader,
        "/hazards/hazard-demo-reported/act",
        &[
            ("csrf", &csrf),
            ("action", "assign"),
            ("unit", "物业"),
            ("person", "user-demo-grid"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("class=\"notice\" role=\"alert\">未办理：交办需填写"),
        "says what is missing"
    );

    // The office closes it: the page and the history say who did.
    let csrf = csrf_field(&get_as(url, &office, &path).await.text().await.unwrap());
    let resp = post_form_as(
        url,
        &office,
        &act,
        &[
            ("csrf", &csrf),
            ("action", "close"),
            ("note", "checked on site"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], path.as_str());
    let html = get_as(url, &office, &path).await.text().await.unwrap();
    assert!(
        html.contains("class=\"state state-closed\">已销号"),
        "closed"
    );
    assert!(html.contains("checked on site") && html.contains("Lin Qiao (office)"));
    let events = stored_events(&server, id).await;
    assert_eq!(events.len(), before.len() + 1);
    let close = events.last().unwrap();
    assert_eq!(close.by, "user-demo-office");
    assert!(close.device.starts_with("web-"), "{}", close.device);
    server.stop().await;
}
both_backends!(dashboard_hazard_actions_by_role, actions_by_role);

async fn escaped(backend: Backend) {
    let server = demo(backend).await;
    let url = &server.url;
    let phone = server.device("demo-grid").await;
    let attack = "<img src=x onerror=alert(1)>";
    let id = phone
        .client
        .report_hazard(NewHazard {
            category: "wiring".into(),
            severity: Severity::General,
            immediate: false,
            description: attack.into(),
            place: HazardPlace {
                post_id: Some("post-b2-u1-f9".into()),
                ..HazardPlace::default()
            },
            photos: Vec::new(),
        })
        .unwrap();
    phone
        .client
        .transition_hazard(
            &id,
            HazardAction::Comment,
            "<script>alert(2)</script>",
            Vec::new(),
        )
        .unwrap();
    assert_eq!(phone.client.sync_now().await.unwrap().rejected, 0);
    let office = session_of(url, "demo-office").await;
    let html = get_as(url, &office, &format!("/hazards/{}", id.as_str()))
        .await
        .text()
        .await
        .unwrap();
    // askama escapes `<` and `>` as numeric references; either form is text.
    let shown = |text: &str| {
        html.contains(&text.replace('<', "&lt;").replace('>', "&gt;"))
            || html.contains(&text.replace('<', "&#60;").replace('>', "&#62;"))
    };
    assert!(shown(attack), "the description, escaped");
    assert!(shown("<script>alert(2)</script>"), "the note, escaped");
    for tag in ["<img src=x", "<script>alert"] {
        assert!(!html.contains(tag), "{tag} never reaches the page as a tag");
    }
    server.stop().await;
}
both_backends!(dashboard_hazards_escape_what_phones_send, escaped);

async fn assignment_reaches_the_phone(backend: Backend) {
    let server = demo(backend).await;
    let url = &server.url;
    let office = session_of(url, "demo-office").await;
    let path = "/hazards/hazard-demo-reported";
    let html = get_as(url, &office, path).await.text().await.unwrap();
    assert!(html.contains("class=\"act assign\""));
    assert!(html.contains("<option value=\"user-demo-grid\">Fang Yunzhi (grid worker)</option>"));
    let resp = post_form_as(
        url,
        &office,
        "/hazards/hazard-demo-reported/act",
        &[
            ("csrf", &csrf_field(&html)),
            ("action", "assign"),
            ("unit", "物业公司"),
            ("person", "user-demo-grid"),
            ("deadline", "2030-01-15"),
            ("note", "before the inspection"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let html = get_as(url, &office, path).await.text().await.unwrap();
    assert!(html.contains("class=\"state state-assigned\">已交办"));
    assert!(html.contains("物业公司 · Fang Yunzhi (grid worker) · 2030-01-15"));

    // The assignee's phone gets it by sync, signed by the office's browser.
    let phone = server.device("demo-grid").await;
    phone.client.sync_now().await.unwrap();
    let view = phone
        .client
        .hazard(&DocId::new("hazard-demo-reported").unwrap())
        .unwrap();
    let assign = view.doc.events.last().unwrap();
    assert_eq!(
        assign.action,
        HazardAction::Assign {
            unit: "物业公司".into(),
            person: "user-demo-grid".into(),
            // 2030-01-15 23:59:59 in Asia/Shanghai.
            deadline_ms: 1_894_723_199_000,
        }
    );
    assert_eq!(assign.by, "user-demo-office");
    assert_eq!(assign.role, fieldsync_proto::model::Role::Office);
    assert_eq!(assign.note, "before the inspection");
    assert!(
        assign.device.starts_with("web-"),
        "the browser, not the server: {}",
        assign.device
    );
    assert!(
        html.contains(&format!(
            "<span class=\"device\">设备 {}</span>",
            assign.device
        )),
        "the history names the browser device"
    );
    assert_eq!(view.folded.head.as_deref(), Some(assign.id.as_str()));
    server.stop().await;
}
both_backends!(
    dashboard_assignment_reaches_the_phone,
    assignment_reaches_the_phone
);
