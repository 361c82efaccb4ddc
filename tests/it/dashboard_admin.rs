//! The dashboard's admin and audit pages over plain HTTP against a real
//! server: the office creates, changes, disables users and revokes devices
//! through the same path as the admin API; tag keys rotate and revoke; the
//! tag sheet prints; auditors read without forms and cannot write; leaders
//! are refused; no write happens without the session's CSRF token; the
//! audit page names who did what and filters and pages.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer, login_json};
use crate::web_client::{csrf_field, get_as, post_as, post_form_as, session_of};

async fn page(url: &str, session: &str, path: &str) -> String {
    let resp = get_as(url, session, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

async fn api_login(url: &str, username: &str, password: &str, device: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({
            "username": username, "password": password,
            "device_id": device, "device_name": "phone",
        }))
        .send()
        .await
        .unwrap()
}

async fn user_id(server: &TestServer, username: &str) -> Option<String> {
    server
        .state
        .store
        .admin_users("demo")
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == username)
        .map(|u| u.id)
}

async fn administering_users(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;
    let office = session_of(url, "demo-office").await;
    let html = page(url, &office, "/admin/users").await;
    assert!(html.contains("Zhou Mingyuan") && html.contains("demo-leader"));
    assert!(
        html.contains("action=\"/admin/users\""),
        "the office gets the form"
    );
    let csrf = csrf_field(&html);
    let new_user = |csrf: &'static str| {
        [
            ("csrf", csrf),
            ("username", "night-lead-2"),
            ("display_name", "Qin <b>Yao</b>"),
            ("role", "leader"),
            ("password", "a long password"),
            ("team", "team-2"),
            ("grids", ""),
        ]
    };

    // Without the session's token nothing is created.
    let forged = post_form_as(url, &office, "/admin/users", &new_user("forged")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(user_id(&server, "night-lead-2").await, None);

    // With it, the user exists and logs in through the API.
    let csrf: &'static str = csrf.leak();
    let created = post_form_as(url, &office, "/admin/users", &new_user(csrf)).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let id = user_id(&server, "night-lead-2").await.expect("created");
    assert_eq!(
        location(&created),
        format!("/admin/users/{id}?done=created")
    );
    let html = page(url, &office, &location(&created)).await;
    assert!(
        html.contains("Qin &#60;b&#62;Yao") || html.contains("Qin &lt;b&gt;Yao"),
        "user text is escaped"
    );
    assert!(!html.contains("<b>Yao</b>"));
    assert!(html.contains("用户已创建"), "the notice shows");
    let login = api_login(url, "night-lead-2", "a long password", "dev-qin").await;
    assert_eq!(login.status(), 200, "the new user logs in via the API");

    // A refused form says why, in the page's language, and stores nothing.
    let taken = post_form_as(url, &office, "/admin/users", &new_user(csrf)).await;
    assert_eq!(taken.status(), StatusCode::BAD_REQUEST);
    assert!(taken.text().await.unwrap().contains("该用户名已被占用"));

    // Role, team and grids change from the user's page.
    let changed = post_form_as(
        url,
        &office,
        &format!("/admin/users/{id}"),
        &[
            ("csrf", csrf),
            ("display_name", "Qin Yao"),
            ("role", "grid_worker"),
            ("team", ""),
            ("grids", "grid-1, grid-2"),
        ],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    let row = server
        .state
        .store
        .admin_user("demo", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.role.as_str(), row.team_id, row.grids.as_str()),
        ("grid_worker", None, r#"["grid-1","grid-2"]"#)
    );

    // A new password works; the old one does not.
    let reset = post_form_as(
        url,
        &office,
        &format!("/admin/users/{id}/password"),
        &[("csrf", csrf), ("password", "another long one")],
    )
    .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api_login(url, "night-lead-2", "a long password", "dev-qin")
            .await
            .status(),
        401
    );
    assert_eq!(
        api_login(url, "night-lead-2", "another long one", "dev-qin")
            .await
            .status(),
        200
    );

    // Disabling the leader ends their dashboard session and phone tokens.
    let leader = session_of(url, "demo-leader").await;
    let phone = login_json(url, "demo-leader", "dev-leader-phone").await;
    assert_eq!(get_as(url, &leader, "/").await.status(), 200);
    let no_token = post_as(url, &office, "/admin/users/user-demo-leader/disable", "").await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get_as(url, &leader, "/").await.status(),
        200,
        "not disabled"
    );
    let disabled = post_as(url, &office, "/admin/users/user-demo-leader/disable", csrf).await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    let after = get_as(url, &leader, "/").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "their session ended");
    assert_eq!(location(&after), "/login");
    let refresh = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": phone["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 401, "their phone is signed out too");
    let html = page(url, &office, "/admin/users/user-demo-leader").await;
    assert!(html.contains("已停用") && html.contains("/enable"));
    let enabled = post_as(url, &office, "/admin/users/user-demo-leader/enable", csrf).await;
    assert_eq!(enabled.status(), StatusCode::SEE_OTHER);
    session_of(url, "demo-leader").await;

    // The office cannot lock itself out.
    let own = post_as(url, &office, "/admin/users/user-demo-office/disable", csrf).await;
    assert_eq!(own.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}
both_backends!(dashboard_office_administers_users, administering_users);

async fn devices_and_keys(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;
    let office = session_of(url, "demo-office").await;
    let csrf = csrf_field(&page(url, &office, "/admin/users").await);

    // Revoking the leader's browser session's device ends that session.
    let leader = session_of(url, "demo-leader").await;
    let html = page(url, &office, "/admin/users/user-demo-leader").await;
    assert!(
        html.contains("Dashboard ("),
        "the browser session is listed"
    );
    let device = server
        .state
        .store
        .admin_devices("demo", Some("user-demo-leader"))
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id.starts_with("web-") && d.revoked_at.is_none())
        .expect("the session's device")
        .id;
    let path = format!("/admin/devices/{device}/revoke");
    assert!(html.contains(&path), "with a revoke button");
    assert_eq!(
        post_as(url, &office, &path, "forged").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(get_as(url, &leader, "/").await.status(), 200);
    let revoked = post_as(url, &office, &path, &csrf).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&revoked),
        "/admin/users/user-demo-leader?done=revoked"
    );
    assert_eq!(
        get_as(url, &leader, "/").await.status(),
        StatusCode::SEE_OTHER,
        "the revoked session ended"
    );

    // A new key signs the next prints; the old one is revoked.
    let html = page(url, &office, "/admin/tag-keys").await;
    assert!(html.contains("k1") && !html.contains(">k2<"));
    assert_eq!(
        post_as(url, &office, "/admin/tag-keys", "").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(server.state.store.tag_keys("demo").await.unwrap().len(), 1);
    let rotated = post_as(url, &office, "/admin/tag-keys", &csrf).await;
    assert_eq!(rotated.status(), StatusCode::SEE_OTHER);
    let sheet = page(url, &office, "/admin/places/tags?building=3").await;
    assert!(sheet.contains("<svg") && sheet.contains("3栋2单元 9F"));
    assert!(
        sheet.contains("post-b3-u2-f9 · k2"),
        "signed with the new key"
    );
    assert!(!sheet.contains("post-b4-"), "one building only");
    assert!(!sheet.contains("style=\"") && !sheet.contains("<style"));
    let revoke_k1 = post_as(url, &office, "/admin/tag-keys/k1/revoke", &csrf).await;
    assert_eq!(revoke_k1.status(), StatusCode::SEE_OTHER);
    let keys = server.state.store.tag_keys("demo").await.unwrap();
    assert!(keys.iter().any(|k| k.id == "k1" && k.revoked_at.is_some()));
    assert!(keys.iter().any(|k| k.id == "k2" && k.revoked_at.is_none()));

    // The places page lists the stairwells' posts on floors 5 and 9.
    let places = page(url, &office, "/admin/places").await;
    for label in ["1栋1单元 5F", "1栋1单元 9F", "6栋2单元 9F"] {
        assert!(places.contains(label), "{label}");
    }
    assert!(places.contains("/admin/places/tags?building=6"));
    let duty = page(url, &office, "/admin/duty").await;
    assert!(duty.contains("夜巡一队") || duty.contains("还没有巡逻路线"));
    server.stop().await;
}
both_backends!(
    dashboard_revokes_devices_and_rotates_tag_keys,
    devices_and_keys
);

async fn who_reads(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;

    // Auditors read every admin page and the audit log, without a form.
    let auditor = session_of(url, "demo-auditor").await;
    let home = page(url, &auditor, "/").await;
    assert!(home.contains("href=\"/admin/users\"") && home.contains("href=\"/audit\""));
    for path in [
        "/admin/users",
        "/admin/users/user-demo-leader",
        "/admin/places",
        "/admin/tag-keys",
        "/admin/duty",
        "/audit",
    ] {
        let html = page(url, &auditor, path).await;
        assert!(
            !html.contains("<form method=\"post\" action=\"/admin"),
            "{path} has no admin form for an auditor"
        );
    }
    let csrf = csrf_field(&page(url, &auditor, "/admin/users").await);
    // The tag codes prove presence: only the office prints them.
    assert_eq!(
        get_as(url, &auditor, "/admin/places/tags").await.status(),
        StatusCode::FORBIDDEN
    );
    // A forged form with the auditor's own token changes nothing.
    let forged = post_form_as(
        url,
        &auditor,
        "/admin/users",
        &[
            ("csrf", csrf.as_str()),
            ("username", "by-auditor"),
            ("display_name", "Nobody"),
            ("role", "office"),
            ("password", "a long password"),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(user_id(&server, "by-auditor").await, None);
    for path in [
        "/admin/tag-keys",
        "/admin/tag-keys/k1/revoke",
        "/admin/users/user-demo-leader/disable",
    ] {
        assert_eq!(
            post_as(url, &auditor, path, &csrf).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let keys = server.state.store.tag_keys("demo").await.unwrap();
    assert!(keys.len() == 1 && keys[0].revoked_at.is_none());
    assert!(
        server
            .state
            .store
            .audit_log("demo", i64::MAX, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was written"
    );

    // Leaders get neither the menu entries nor the pages.
    let leader = session_of(url, "demo-leader").await;
    let home = page(url, &leader, "/").await;
    assert!(!home.contains("href=\"/admin/users\"") && !home.contains("href=\"/audit\""));
    for path in ["/admin/users", "/admin/places", "/admin/tag-keys", "/audit"] {
        assert_eq!(
            get_as(url, &leader, path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let csrf = csrf_field(&home);
    assert_eq!(
        post_as(url, &leader, "/admin/tag-keys", &csrf)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    server.stop().await;
}
both_backends!(
    dashboard_admin_is_read_by_auditors_refused_to_leaders,
    who_reads
);

async fn audit_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = &server.url;
    let office = session_of(url, "demo-office").await;
    let csrf = csrf_field(&page(url, &office, "/admin/users").await);
    let created = post_form_as(
        url,
        &office,
        "/admin/users",
        &[
            ("csrf", csrf.as_str()),
            ("username", "audited-user"),
            ("display_name", "Audited"),
            ("role", "volunteer"),
            ("password", "a long password"),
            ("team", "team-1"),
            ("grids", ""),
        ],
    )
    .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let rotated = post_as(url, &office, "/admin/tag-keys", &csrf).await;
    assert_eq!(rotated.status(), StatusCode::SEE_OTHER);

    // Both writes are on record as the office user, from the browser.
    let html = page(url, &office, "/audit").await;
    assert!(html.contains("data-action=\"user.create\"") && html.contains("创建用户"));
    assert!(html.contains("data-action=\"tag_key.rotate\""));
    assert!(html.contains("Lin Qiao"), "named by the office user");
    assert!(
        html.contains("Dashboard ("),
        "from the browser session's device"
    );
    assert!(!html.contains(PASSWORD) && !html.contains("a long password"));
    let entries = server
        .state
        .store
        .audit_log("demo", i64::MAX, 10)
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.user_id == "user-demo-office" && e.device_id.starts_with("web-"))
    );

    // Filtered by action, person and date.
    let html = page(url, &office, "/audit?action=tag_key.rotate").await;
    assert!(html.contains("data-action=\"tag_key.rotate\""));
    assert!(!html.contains("data-action=\"user.create\""));
    let html = page(url, &office, "/audit?user=user-demo-auditor").await;
    assert!(!html.contains("data-action="), "the auditor did nothing");
    assert!(html.contains("没有符合条件的记录"));
    let html = page(
        url,
        &office,
        "/audit?user=user-demo-office&from=2000-01-01&to=2999-12-31",
    )
    .await;
    assert!(html.contains("data-action=\"user.create\""));
    let html = page(url, &office, "/audit?from=2999-01-01").await;
    assert!(!html.contains("data-action="));
    assert_eq!(
        get_as(url, &office, "/audit?from=soon").await.status(),
        StatusCode::BAD_REQUEST
    );

    // Fifty a page, the older ones a link away, the filter kept.
    for i in 0..55 {
        let entry = fieldsync_server::store::AuditEntry {
            at: 1_000 + i,
            user_id: "user-demo-office".into(),
            device_id: "dev-office".into(),
            action: "post.update".into(),
            subject: format!("post-{i}"),
            detail: json!({}),
        };
        server
            .state
            .store
            .append_audit("demo", &entry)
            .await
            .unwrap();
    }
    let html = page(url, &office, "/audit?action=post.update").await;
    assert_eq!(html.matches("data-action=\"post.update\"").count(), 50);
    let at = html.find("rel=\"next\"").expect("an older page");
    let href = html[..at].rsplit("href=\"").next().unwrap();
    let href = href
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(href.contains("action=post.update"), "{href}");
    let older = page(url, &office, &href).await;
    assert_eq!(
        older.matches("data-action=\"post.update\"").count(),
        5,
        "{href}"
    );
    assert!(!older.contains("rel=\"next\""));
    assert!(older.contains(">post-0<") && !html.contains(">post-0<"));
    server.stop().await;
}
both_backends!(dashboard_audit_page_names_filters_and_pages, audit_page);
