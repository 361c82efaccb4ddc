//! Signing in to the dashboard, over plain HTTP against a real server: who
//! gets a session, what its cookie is, CSRF on every form, the API's login
//! throttling, sessions that end when the user is disabled or signs out, the
//! language switch, and the headers every page carries.

use reqwest::StatusCode;

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer, login_json};
use crate::web_client::{browser, csrf_field, get_as, post_as, session_of, set_cookie, sign_in};

async fn signing_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;

    // No session: every page goes to the sign-in form.
    let resp = browser().get(format!("{url}/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/login");

    // The form itself, with the headers every dashboard response has.
    let resp = browser().get(format!("{url}/login")).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let html = resp.text().await.unwrap();
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    assert!(
        !html.contains("<script>") && !html.contains("style=\""),
        "no inline script or style"
    );

    // Volunteers, guards and grid workers use the phone app.
    for user in ["demo-volunteer", "demo-guard", "demo-grid"] {
        let resp = sign_in(url, user, PASSWORD).await;
        assert_eq!(resp.status(), 200, "{user}");
        assert!(
            set_cookie(&resp, "fs_session").is_none(),
            "{user} got a session"
        );
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("手机应用"),
            "{user} is told to use the phone app"
        );
    }

    // A form without its CSRF token signs nobody in.
    let resp = browser()
        .post(format!("{url}/login"))
        .form(&[
            ("username", "demo-office"),
            ("password", PASSWORD),
            ("csrf", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&resp, "fs_session").is_none());

    // The office, leaders and auditors get a session; the page knows them.
    for (user, name) in [
        ("demo-office", "Lin Qiao"),
        ("demo-leader", "Zhou Mingyuan"),
        ("demo-auditor", "Xu Wending"),
    ] {
        let session = session_of(url, user).await;
        let resp = get_as(url, &session, "/").await;
        assert_eq!(resp.status(), 200, "{user}");
        assert!(resp.headers().contains_key("content-security-policy"));
        let html = resp.text().await.unwrap();
        assert!(html.contains(name), "{user}'s page names them");
        assert!(html.contains("<html lang=\"zh-CN\">"), "zh-CN by default");
    }
    server.stop().await;
}
both_backends!(dashboard_sign_in_and_refusals, signing_in);

async fn throttled(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;
    for _ in 0..5 {
        let resp = sign_in(url, "demo-leader", "not the password").await;
        assert_eq!(resp.status(), 200);
        assert!(resp.text().await.unwrap().contains("用户名或密码错误"));
    }
    // The dashboard and the API share one throttle.
    let resp = sign_in(url, "demo-leader", PASSWORD).await;
    assert!(set_cookie(&resp, "fs_session").is_none());
    assert!(resp.text().await.unwrap().contains("登录失败次数过多"));
    let api = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "username": "demo-leader", "password": PASSWORD,
            "device_id": "dev-throttle", "device_name": "phone",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}
both_backends!(dashboard_sign_in_is_throttled_with_the_api, throttled);

async fn sessions_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;

    // Signing out needs the page's token; then the session is gone.
    let session = session_of(url, "demo-leader").await;
    let html = get_as(url, &session, "/").await.text().await.unwrap();
    let csrf = csrf_field(&html);
    let forged = browser()
        .post(format!("{url}/logout"))
        .header("cookie", format!("fs_session={session}"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get_as(url, &session, "/").await.status(),
        200,
        "still signed in"
    );
    let out = browser()
        .post(format!("{url}/logout"))
        .header("cookie", format!("fs_session={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get_as(url, &session, "/").await.status(),
        StatusCode::SEE_OTHER
    );

    // Disabling the user ends their open session at its next request.
    let session = session_of(url, "demo-leader").await;
    assert_eq!(get_as(url, &session, "/").await.status(), 200);
    let office = login_json(url, "demo-office", "dev-office-admin").await;
    let users: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/admin/users"))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let leader = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "demo-leader")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = reqwest::Client::new()
        .patch(format!("{url}/api/v1/admin/users/{leader}"))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .json(&serde_json::json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    let after = get_as(url, &session, "/").await;
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the disabled user's session ended"
    );
    assert_eq!(after.headers()["location"], "/login");
    server.stop().await;
}
both_backends!(dashboard_sessions_end_on_sign_out_and_disable, sessions_end);

#[tokio::test]
async fn the_language_switch_sticks() {
    let server = TestServer::start(Backend::Sqlite).await;
    let url = &server.url;
    let session = session_of(url, "demo-office").await;
    let resp = browser()
        .get(format!("{url}/lang?to=en&back=/"))
        .header("cookie", format!("fs_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/");
    let (lang, header) = set_cookie(&resp, "fs_lang").unwrap();
    assert_eq!(lang, "en");
    assert!(header.contains("Max-Age="), "it sticks: {header}");
    let html = browser()
        .get(format!("{url}/"))
        .header("cookie", format!("fs_session={session}; fs_lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Sign out"),
        "English"
    );
    assert!(html.contains("中文"), "the switch back is offered");
    // Never a way off the site.
    let resp = browser()
        .get(format!("{url}/lang?to=en&back=//elsewhere.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/");
    server.stop().await;
}

/// An open missed-post alert, once the compliance engine has raised the demo
/// night's.
async fn open_missed_alert(server: &TestServer) -> fieldsync_server::store::AlertRow {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let open = server
            .state
            .store
            .alert_rows("demo")
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.acked_at.is_none() && a.kind == "missed");
        if let Some(alert) = open {
            return alert;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo night's missed post raised no alert"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn acknowledging(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.demo_documents = true).await;
    let url = &server.url;
    let missed = open_missed_alert(&server).await;
    let path = format!("/alerts/{}/ack", missed.doc_id);

    // An auditor sees no button, and a forged request changes nothing.
    let auditor = session_of(url, "demo-auditor").await;
    let html = get_as(url, &auditor, "/").await.text().await.unwrap();
    assert!(html.contains("漏签"), "the auditor sees the alert");
    assert!(!html.contains(&path), "but no acknowledge button");
    let csrf = csrf_field(&html);
    assert_eq!(
        post_as(url, &auditor, &path, &csrf).await.status(),
        StatusCode::FORBIDDEN
    );

    // The leader's page has the button; without the token nothing happens.
    let leader = session_of(url, "demo-leader").await;
    let html = get_as(url, &leader, "/").await.text().await.unwrap();
    assert!(html.contains(&path), "the leader may acknowledge");
    assert_eq!(
        post_as(url, &leader, &path, "forged").await.status(),
        StatusCode::FORBIDDEN
    );
    let still = server.state.store.alert_rows("demo").await.unwrap();
    assert!(
        still
            .iter()
            .any(|a| a.doc_id == missed.doc_id && a.acked_at.is_none())
    );

    // With it, the acknowledgement is the leader's, from their browser.
    let done = post_as(url, &leader, &path, &csrf_field(&html)).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let id = fieldsync_sdk::DocId::new(missed.doc_id.clone()).unwrap();
    let doc = server.stored_doc(&id).await;
    let alert = fieldsync_proto::model::validate::read_alert(&doc).unwrap();
    assert_eq!(alert.acks.len(), 1);
    let ack = &alert.acks[0];
    assert_eq!(ack.by, "user-demo-leader");
    assert!(
        ack.device.starts_with("web-"),
        "the browser session signed it: {}",
        ack.device
    );
    let html = get_as(url, &leader, "/").await.text().await.unwrap();
    assert!(
        !html.contains(&path),
        "an acknowledged alert leaves the list"
    );

    // The leader's phone gets the acknowledgement by sync.
    let phone = server.device("demo-leader").await;
    phone.client.sync_now().await.unwrap();
    let on_phone = phone.client.document_json(&id).unwrap();
    assert_eq!(on_phone["acks"][0]["by"], "user-demo-leader", "{on_phone}");
    server.stop().await;
}
both_backends!(acknowledging_an_alert_from_the_dashboard, acknowledging);
