//! The office's admin API through a real server: who may call what (one
//! table), users that log in and sync and stop when disabled, stairwells
//! with their posts and tags, routes written over REST that reach phones
//! and drive compliance, the audit log, and the OpenAPI spec covering every
//! route.

use std::collections::BTreeSet;
use std::time::Duration;

use fieldsync_proto::model::alert::AlertKind;
use fieldsync_proto::model::tag::Tag;
use fieldsync_sdk::DocType;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::compliance::{F5, F9, now_ms, skip_f9, tonight};
use crate::support::{Backend, Device, PASSWORD, TestServer, login_json};

/// A bearer token's HTTP session with the server.
struct Api {
    url: String,
    token: Option<String>,
}

impl Api {
    /// Logs in as `username` on a fresh device id.
    async fn login(server: &TestServer, username: &str) -> Api {
        let login = login_json(&server.url, username, &format!("dev-admin-{username}")).await;
        Api {
            url: server.url.clone(),
            token: login["access_token"].as_str().map(str::to_owned),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Sends and expects `status`; returns the body.
    async fn expect(&self, status: u16, method: Method, path: &str, body: Value) -> Value {
        let (got, resp) = self.send(method.clone(), path, Some(&body)).await;
        assert_eq!(got, status, "{method} {path} {body}: {resp}");
        resp
    }
}

fn free_post(id: &str) -> Value {
    json!({ "id": id, "label_zh": "东门", "label_en": "East gate",
            "lat": 31.2031, "lon": 121.4012, "radius_m": 30.0, "grid_id": "grid-1" })
}

/// Who may call what: (method, path, body, allowed per role in the order
/// volunteer, guard, grid worker, leader, office, auditor).
fn endpoints() -> Vec<(Method, &'static str, Option<Value>, [bool; 6])> {
    const READ: [bool; 6] = [false, false, false, false, true, true];
    const WRITE: [bool; 6] = [false, false, false, false, true, false];
    let route = json!({ "name": "Gate round", "team": "team-1", "posts": ["post-b1-u1-f5"],
        "interval_min": 120, "active_from": "20:00", "active_until": "02:00" });
    let roster = json!({ "team": "team-1", "week_of": "2026-11-16", "shifts": [
        { "id": "mon", "date": "2026-11-16", "start": "18:00", "end": "08:00", "leader": "user-demo-leader" }] });
    vec![
        (Method::GET, "/api/v1/admin/users", None, READ),
        (
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({ "username": "authz-new",
            "display_name": "Qin Ruolan", "role": "volunteer", "password": PASSWORD, "team_id": "team-1" })),
            WRITE,
        ),
        (
            Method::PATCH,
            "/api/v1/admin/users/user-demo-guard",
            Some(json!({ "display_name": "Pan Lixin (guard, 2nd shift)" })),
            WRITE,
        ),
        (
            Method::POST,
            "/api/v1/admin/users/user-demo-volunteer-2/password",
            Some(json!({ "password": PASSWORD })),
            WRITE,
        ),
        (Method::GET, "/api/v1/admin/devices", None, READ),
        (Method::GET, "/api/v1/admin/teams", None, READ),
        (
            Method::POST,
            "/api/v1/admin/teams",
            Some(json!({ "id": "team-4", "name": "Night patrol D", "grid_id": "grid-2" })),
            WRITE,
        ),
        (
            Method::PATCH,
            "/api/v1/admin/teams/team-2",
            Some(json!({ "name": "Night patrol B (二队)" })),
            WRITE,
        ),
        (Method::GET, "/api/v1/admin/places", None, READ),
        (
            Method::POST,
            "/api/v1/admin/stairwells",
            Some(json!({ "building": "8", "unit": "1", "floors": 11 })),
            WRITE,
        ),
        (
            Method::POST,
            "/api/v1/admin/posts",
            Some(free_post("post-east-gate")),
            WRITE,
        ),
        (
            Method::PATCH,
            "/api/v1/admin/posts/post-east-gate",
            Some(json!({ "radius_m": 25.0 })),
            WRITE,
        ),
        (
            Method::DELETE,
            "/api/v1/admin/posts/post-east-gate",
            None,
            WRITE,
        ),
        (Method::GET, "/api/v1/tag-keys", None, READ),
        (Method::GET, "/api/v1/admin/routes", None, READ),
        (
            Method::POST,
            "/api/v1/admin/routes",
            Some(route.clone()),
            WRITE,
        ),
        (
            Method::PUT,
            "/api/v1/admin/routes/route-authz",
            Some(route),
            WRITE,
        ),
        (Method::GET, "/api/v1/admin/rosters", None, READ),
        (
            Method::POST,
            "/api/v1/admin/rosters",
            Some(roster.clone()),
            WRITE,
        ),
        (
            Method::PUT,
            "/api/v1/admin/rosters/roster-authz",
            Some(roster),
            WRITE,
        ),
        (Method::GET, "/api/v1/admin/audit", None, READ),
    ]
}

const ROLES: [&str; 6] = [
    "demo-volunteer",
    "demo-guard",
    "demo-grid",
    "demo-leader",
    "demo-office",
    "demo-auditor",
];

async fn authorization(backend: Backend) {
    let server = TestServer::start(backend).await;
    let anonymous = Api {
        url: server.url.clone(),
        token: None,
    };
    for (method, path, body, _) in endpoints() {
        let (status, resp) = anonymous.send(method.clone(), path, body.as_ref()).await;
        assert_eq!(status, 401, "{method} {path} without a token: {resp}");
        assert_eq!(resp["error"], "unauthenticated");
    }
    for (col, user) in ROLES.iter().enumerate() {
        let api = Api::login(&server, user).await;
        let audit_before = server
            .state
            .store
            .audit_log("demo", i64::MAX, 1000)
            .await
            .unwrap()
            .len();
        let mut writes = 0;
        for (method, path, body, allowed) in endpoints() {
            let (status, resp) = api.send(method.clone(), path, body.as_ref()).await;
            if allowed[col] {
                assert!(
                    (200..300).contains(&status),
                    "{user}: {method} {path}: {status} {resp}"
                );
                writes += usize::from(method != Method::GET);
            } else {
                assert_eq!(status, 403, "{user}: {method} {path}: {resp}");
                assert_eq!(resp["error"], "forbidden", "{user}: {method} {path}");
            }
        }
        // Every accepted write is in the audit log; refused ones are not.
        let audit = server
            .state
            .store
            .audit_log("demo", i64::MAX, 1000)
            .await
            .unwrap();
        assert_eq!(audit.len() - audit_before, writes, "{user}: {audit:?}");
    }
    let actions: BTreeSet<String> = server
        .state
        .store
        .audit_log("demo", i64::MAX, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for action in [
        "user.create",
        "user.update",
        "user.password",
        "team.create",
        "team.update",
        "stairwell.create",
        "post.create",
        "post.update",
        "post.delete",
        "route.put",
        "roster.put",
    ] {
        assert!(
            actions.contains(action),
            "{action} missing from {actions:?}"
        );
    }

    // Another community's office sees nothing of this one.
    let store = &server.state.store;
    store
        .insert_community("hill", "Hillside (fictional)", "Asia/Shanghai", 0)
        .await
        .unwrap();
    let demo_office = store
        .user_by_username("demo-office")
        .await
        .unwrap()
        .unwrap();
    store
        .insert_user(
            &fieldsync_server::store::UserRow {
                id: "user-hill-office".into(),
                community_id: "hill".into(),
                username: "hill-office".into(),
                display_name: "Gu Wanqing (office)".into(),
                role: "office".into(),
                password_hash: demo_office.password_hash,
                disabled: 0,
            },
            0,
        )
        .await
        .unwrap();
    let hill = Api::login(&server, "hill-office").await;
    let users = hill.get("/api/v1/admin/users").await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(hill.get("/api/v1/admin/places").await, json!([]));
    for (method, path, body) in [
        (
            Method::PATCH,
            "/api/v1/admin/users/user-demo-volunteer",
            json!({ "disabled": true }),
        ),
        (
            Method::POST,
            "/api/v1/admin/users/user-demo-volunteer/password",
            json!({ "password": "taken-over-1" }),
        ),
        (
            Method::PATCH,
            "/api/v1/admin/teams/team-1",
            json!({ "name": "ours now" }),
        ),
        (
            Method::PATCH,
            "/api/v1/admin/posts/post-b1-u1-f5",
            json!({ "label_en": "ours now" }),
        ),
        (
            Method::DELETE,
            "/api/v1/admin/posts/post-b1-u1-f9",
            json!(null),
        ),
        (
            Method::POST,
            "/api/v1/devices/dev-admin-demo-volunteer/revoke",
            json!(null),
        ),
    ] {
        let resp = hill.expect(404, method, path, body).await;
        assert_eq!(resp["error"], "not_found");
    }
    assert_eq!(
        store
            .user_by_username("demo-volunteer")
            .await
            .unwrap()
            .unwrap()
            .disabled,
        0
    );
    assert!(store.post("demo", "post-b1-u1-f9").await.unwrap().is_some());
    server.stop().await;
}
both_backends!(only_the_office_writes_and_auditors_read, authorization);

async fn users(backend: Backend) {
    let server = TestServer::start(backend).await;
    let office = Api::login(&server, "demo-office").await;
    let store = &server.state.store;
    let user_count = || async { store.admin_users("demo").await.unwrap().len() };
    let before = user_count().await;

    // Bad input: a clear 4xx with a code, and nothing stored.
    let new = |username: &str, role: &str, team: &str| {
        json!({ "username": username, "display_name": "He Zhiyuan", "role": role,
                "password": PASSWORD, "team_id": team })
    };
    for (body, status, code) in [
        (new("he-zhiyuan", "captain", "team-1"), 400, "unknown_role"),
        (
            new("he-zhiyuan", "volunteer", "team-9"),
            422,
            "unknown_team",
        ),
        (
            new("demo-leader", "volunteer", "team-1"),
            409,
            "username_taken",
        ),
        (new("", "volunteer", "team-1"), 400, "invalid_request"),
        (
            json!({ "username": "he-zhiyuan", "display_name": "He", "role": "volunteer", "password": "short" }),
            400,
            "weak_password",
        ),
        (json!({ "username": "he-zhiyuan" }), 400, "invalid_json"),
    ] {
        let resp = office
            .expect(status, Method::POST, "/api/v1/admin/users", body)
            .await;
        assert_eq!(resp["error"], code, "{resp}");
        assert_eq!(
            user_count().await,
            before,
            "rejected with {code}: nothing stored"
        );
    }

    // A new volunteer of team 1 logs in, syncs, and sees team 1's routes only.
    let created = office
        .expect(
            201,
            Method::POST,
            "/api/v1/admin/users",
            new("he-zhiyuan", "volunteer", "team-1"),
        )
        .await;
    assert_eq!(created["team_id"], "team-1");
    assert_eq!(created["disabled"], false);
    let user_id = created["id"].as_str().unwrap().to_owned();
    let stored = store.user(&user_id).await.unwrap().unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2"),
        "hashed like the others"
    );
    let route = |team: &str| {
        json!({ "name": format!("Round of {team}"), "team": team, "posts": ["post-b4-u1-f5"],
                "interval_min": 120, "active_from": "20:00", "active_until": "02:00" })
    };
    let ours = office
        .expect(201, Method::POST, "/api/v1/admin/routes", route("team-1"))
        .await;
    let theirs = office
        .expect(201, Method::POST, "/api/v1/admin/routes", route("team-3"))
        .await;
    let phone = Device::login(&server.url, "he-zhiyuan").await;
    phone.client.sync_now().await.unwrap();
    let routes: Vec<String> = phone
        .client
        .document_ids(Some(DocType::Route))
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(routes, [ours["id"].as_str().unwrap()], "not {theirs}");
    let listed = office.get("/api/v1/admin/users").await;
    let me = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == user_id.as_str())
        .unwrap();
    assert_eq!(me["devices"], 1);
    let devices = office
        .get(&format!("/api/v1/admin/devices?user_id={user_id}"))
        .await;
    assert_eq!(devices.as_array().unwrap().len(), 1, "{devices}");

    // Moving them to team 3 changes what they read.
    office
        .expect(
            200,
            Method::PATCH,
            &format!("/api/v1/admin/users/{user_id}"),
            json!({ "team_id": "team-3" }),
        )
        .await;
    let fresh = Device::login(&server.url, "he-zhiyuan").await;
    fresh.client.sync_now().await.unwrap();
    let routes = fresh.client.document_ids(Some(DocType::Route)).unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].to_string(), theirs["id"].as_str().unwrap());

    // Disabled: the phone can no longer sync, and nobody can log in as them.
    let disabled = office
        .expect(
            200,
            Method::PATCH,
            &format!("/api/v1/admin/users/{user_id}"),
            json!({ "disabled": true }),
        )
        .await;
    assert_eq!(disabled["disabled"], true);
    assert_eq!(disabled["devices"], 0);
    assert!(
        phone.client.sync_now().await.is_err(),
        "a disabled user's phone does not sync"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({ "username": "he-zhiyuan", "password": PASSWORD,
                       "device_id": "dev-after-disable", "device_name": "test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Nobody disables themselves by mistake.
    let office_id = store
        .user_by_username("demo-office")
        .await
        .unwrap()
        .unwrap()
        .id;
    let resp = office
        .expect(
            409,
            Method::PATCH,
            &format!("/api/v1/admin/users/{office_id}"),
            json!({ "disabled": true }),
        )
        .await;
    assert_eq!(resp["error"], "cannot_disable_self");

    // A new password works, the old one does not.
    office
        .expect(
            204,
            Method::POST,
            &format!("/api/v1/admin/users/{user_id}/password"),
            json!({ "password": "night-owl-2026" }),
        )
        .await;
    office
        .expect(
            200,
            Method::PATCH,
            &format!("/api/v1/admin/users/{user_id}"),
            json!({ "disabled": false }),
        )
        .await;
    let login = |password: &'static str| {
        let url = server.url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/api/v1/auth/login"))
                .json(&json!({ "username": "he-zhiyuan", "password": password,
                               "device_id": "dev-new-phone", "device_name": "test" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(login(PASSWORD).await, 401);
    assert_eq!(login("night-owl-2026").await, 200);

    // The auditor reads the log of all of it, without passwords.
    let auditor = Api::login(&server, "demo-auditor").await;
    let log = auditor.get("/api/v1/admin/audit").await;
    let entries: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == user_id.as_str())
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["device_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let office_dev = "dev-admin-demo-office".to_owned();
    assert_eq!(
        entries,
        [
            ("user.update".to_owned(), office_dev.clone()),
            ("user.password".to_owned(), office_dev.clone()),
            ("user.update".to_owned(), office_dev.clone()),
            ("user.update".to_owned(), office_dev.clone()),
            ("user.create".to_owned(), office_dev),
        ]
    );
    assert!(
        !log.to_string().contains("night-owl-2026"),
        "no password in the log"
    );
    assert!(
        !log.to_string().contains(PASSWORD),
        "no password in the log"
    );
    server.stop().await;
}
both_backends!(users_log_in_sync_and_stop_when_disabled, users);

async fn places(backend: Backend) {
    let server = TestServer::start(backend).await;
    let office = Api::login(&server, "demo-office").await;
    let store = &server.state.store;
    let post_count = || async { store.posts("demo", None).await.unwrap().len() };
    let before = post_count().await;

    for (body, status, code) in [
        (
            json!({ "building": "7", "unit": "1", "floors": 4 }),
            422,
            "no_post_floors",
        ),
        (
            json!({ "building": "7", "unit": "1", "floors": 11, "lat": 31.2 }),
            422,
            "invalid_coordinate",
        ),
        (
            json!({ "building": "7 ", "unit": "1", "floors": 11 }),
            400,
            "invalid_id",
        ),
        (
            json!({ "building": "7", "unit": "1", "floors": 11, "lat": 95.0, "lon": 121.4 }),
            400,
            "invalid_coordinate",
        ),
        (
            json!({ "building": "3", "unit": "2", "floors": 11 }),
            409,
            "post_exists",
        ),
    ] {
        let resp = office
            .expect(status, Method::POST, "/api/v1/admin/stairwells", body)
            .await;
        assert_eq!(resp["error"], code, "{resp}");
        assert_eq!(post_count().await, before, "{code}: nothing stored");
    }

    // A stairwell gets its posts on floors 5 and 9; a low one only on 5.
    let posts = office
        .expect(
            201,
            Method::POST,
            "/api/v1/admin/stairwells",
            json!({ "building": "7", "unit": "2",
            "floors": 11, "grid_id": "grid-2", "lat": 31.2032, "lon": 121.4006, "radius_m": 40.0 }),
        )
        .await;
    let ids: Vec<&str> = posts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["post-b7-u2-f5", "post-b7-u2-f9"]);
    assert_eq!(posts[1]["label_zh"], "7栋2单元 9F");
    assert_eq!(posts[1]["label_en"], "Bldg 7 Unit 2 · 9F");
    let low = office
        .expect(
            201,
            Method::POST,
            "/api/v1/admin/stairwells",
            json!({ "building": "9", "unit": "1", "floors": 6, "post_floors": [5] }),
        )
        .await;
    assert_eq!(low.as_array().unwrap().len(), 1);
    let volunteer = Api::login(&server, "demo-volunteer").await;
    let listed = volunteer.get("/api/v1/posts?building=7").await;
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["post-b7-u2-f5", "post-b7-u2-f9"]);

    // Their printed tags verify against the community's key.
    let tags = office.get("/api/v1/posts/tags?building=7").await;
    let keys = store.tag_keys("demo").await.unwrap();
    for t in tags.as_array().unwrap() {
        let tag = Tag::parse(t["payload"].as_str().unwrap()).unwrap();
        let key = keys.iter().find(|k| k.id == t["key_id"]).unwrap();
        tag.verify(&key.secret, "demo").unwrap();
        assert_eq!(tag.post_id, t["post_id"].as_str().unwrap());
    }
    let key_list = office.get("/api/v1/tag-keys").await;
    assert_eq!(key_list.as_array().unwrap().len(), keys.len());
    assert!(key_list[0].get("secret").is_none(), "never the secret");

    // The tree: grid 2 holds building 7's stairwell 2 with both posts.
    let tree = office.get("/api/v1/admin/places").await;
    let grid2 = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grid_id"] == "grid-2")
        .unwrap();
    let b7 = grid2["buildings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["building"] == "7")
        .unwrap();
    assert_eq!(b7["units"][0]["unit"], "2");
    assert_eq!(b7["units"][0]["posts"][1]["floor"], 9);

    // A free-standing post, moved and renamed; its id stays.
    office
        .expect(
            201,
            Method::POST,
            "/api/v1/admin/posts",
            free_post("post-bike-shed"),
        )
        .await;
    let resp = office
        .expect(
            409,
            Method::POST,
            "/api/v1/admin/posts",
            free_post("post-bike-shed"),
        )
        .await;
    assert_eq!(resp["error"], "post_exists");
    let moved = office
        .expect(
            200,
            Method::PATCH,
            "/api/v1/admin/posts/post-bike-shed",
            json!({ "label_en": "Bike shed", "lat": 31.2040 }),
        )
        .await;
    assert_eq!(moved["id"], "post-bike-shed");
    assert_eq!(moved["lat"], 31.2040);
    assert_eq!(
        store
            .post("demo", "post-bike-shed")
            .await
            .unwrap()
            .unwrap()
            .label_en,
        "Bike shed"
    );
    let resp = office
        .expect(
            400,
            Method::PATCH,
            "/api/v1/admin/posts/post-bike-shed",
            json!({ "radius_m": 0.0 }),
        )
        .await;
    assert_eq!(resp["error"], "invalid_coordinate");
    assert_eq!(
        store
            .post("demo", "post-bike-shed")
            .await
            .unwrap()
            .unwrap()
            .radius_m,
        Some(30.0)
    );

    // A post a route names is not deleted; one no route names is.
    office
        .expect(
            201,
            Method::POST,
            "/api/v1/admin/routes",
            json!({ "name": "Building 7", "team": "team-3",
            "posts": ["post-b7-u2-f5", "post-b7-u2-f9"], "interval_min": 120,
            "active_from": "20:00", "active_until": "02:00" }),
        )
        .await;
    let resp = office
        .expect(
            409,
            Method::DELETE,
            "/api/v1/admin/posts/post-b7-u2-f9",
            json!(null),
        )
        .await;
    assert_eq!(resp["error"], "post_in_use");
    assert!(
        store.post("demo", "post-b7-u2-f9").await.unwrap().is_some(),
        "still there"
    );
    office
        .expect(
            204,
            Method::DELETE,
            "/api/v1/admin/posts/post-bike-shed",
            json!(null),
        )
        .await;
    assert!(
        store
            .post("demo", "post-bike-shed")
            .await
            .unwrap()
            .is_none()
    );
    server.stop().await;
}
both_backends!(stairwells_posts_and_their_tags, places);

async fn rest_routes(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let office = Api::login(&server, "demo-office").await;
    let store = &server.state.store;

    // A route the checks refuse is refused with their code and message, and
    // nothing is stored.
    let docs_before = store.doc_count("demo").await.unwrap();
    let bad = |posts: Value, from: &str| {
        json!({ "name": "Bad", "team": "team-1", "posts": posts, "interval_min": 60,
                "active_from": from, "active_until": "02:00" })
    };
    for (body, prefix) in [
        (
            bad(json!(["post-b3-u2-f5", "post-nowhere"]), "20:00"),
            "unknown_post",
        ),
        (bad(json!([F5]), "25:00"), "invalid_time"),
        (bad(json!([]), "20:00"), "invalid_duty"),
    ] {
        let resp = office
            .expect(422, Method::POST, "/api/v1/admin/routes", body)
            .await;
        assert_eq!(resp["error"], "schema_violation", "{resp}");
        assert!(
            resp["message"].as_str().unwrap().starts_with(prefix),
            "{resp}"
        );
        let resp = office
            .expect(
                422,
                Method::PUT,
                "/api/v1/admin/routes/route-bad",
                bad(json!([F5]), "7pm"),
            )
            .await;
        assert_eq!(resp["error"], "schema_violation");
    }
    let resp = office
        .expect(
            422,
            Method::POST,
            "/api/v1/admin/rosters",
            json!({ "team": "team-1", "week_of": "2026-11-17", "shifts": [] }),
        )
        .await;
    assert!(
        resp["message"].as_str().unwrap().contains("not a Monday"),
        "{resp}"
    );
    assert_eq!(store.doc_count("demo").await.unwrap(), docs_before);
    assert!(store.routes("demo").await.unwrap().is_empty());

    // Tonight's route and roster, written over REST by the office.
    let leader = server.device("demo-leader").await;
    let volunteer = server.device("demo-volunteer").await;
    let (route, mut roster, deadline) = tonight(&server, Duration::from_secs(4)).await;
    let put = office
        .expect(
            200,
            Method::PUT,
            "/api/v1/admin/routes/route-b3-u2",
            serde_json::to_value(&route).unwrap(),
        )
        .await;
    assert_eq!(put["id"], "route-b3-u2");
    roster.shifts[0].routes = vec!["route-b3-u2".into()];
    office
        .expect(
            201,
            Method::POST,
            "/api/v1/admin/rosters",
            serde_json::to_value(&roster).unwrap(),
        )
        .await;
    let listed = office.get("/api/v1/admin/routes").await;
    assert_eq!(listed[0]["route"]["posts"], json!([F5, F9]));
    assert_eq!(
        office
            .get("/api/v1/admin/rosters")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let wrong = office
        .expect(
            409,
            Method::PUT,
            &format!("/api/v1/admin/rosters/{}", "route-b3-u2"),
            serde_json::to_value(&roster).unwrap(),
        )
        .await;
    assert_eq!(wrong["error"], "wrong_type");

    // It reaches the leader's phone like a route made on a phone.
    leader.client.sync_now().await.unwrap();
    let on_phone = leader.client.document_ids(Some(DocType::Route)).unwrap();
    assert_eq!(on_phone.len(), 1);
    assert_eq!(on_phone[0].to_string(), "route-b3-u2");

    // And it drives compliance: 5F checked in, 9F missed, the leader alerted.
    skip_f9(&server, &volunteer, &leader, "route-b3-u2").await;
    assert!(now_ms() - deadline < 60_000);
    let alerts = leader.client.alerts().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].1.kind, AlertKind::Missed);
    assert_eq!(alerts[0].1.post_id.as_deref(), Some(F9));

    // Replacing the route is a new version of the same document.
    let mut longer = route.clone();
    longer.name = "Building 3, unit 2 (both floors, hourly)".into();
    longer.interval_min = 60;
    office
        .expect(
            200,
            Method::PUT,
            "/api/v1/admin/routes/route-b3-u2",
            serde_json::to_value(&longer).unwrap(),
        )
        .await;
    leader.client.sync_now().await.unwrap();
    let routes = store.routes("demo").await.unwrap();
    assert_eq!(routes.len(), 1);
    assert!(routes[0].body.contains("hourly"), "{}", routes[0].body);
    let audit: Vec<String> = store
        .audit_log("demo", i64::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| format!("{} {}", a.action, a.subject))
        .collect();
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "route.put route-b3-u2")
            .count(),
        2,
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|a| a.starts_with("roster.put roster-")),
        "{audit:?}"
    );
    server.stop().await;
}
both_backends!(rest_routes_reach_phones_and_drive_compliance, rest_routes);

/// The spec is OpenAPI 3.1 JSON, served without a token, and names exactly
/// the methods and paths the server serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_spec_covers_every_route() {
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.photos.max_upload_bytes = 5 << 20).await;
    let spec: Value = reqwest::get(format!("{}/api/v1/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        spec["openapi"]
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(
                operation_ids.insert(op["operationId"].as_str().unwrap()),
                "{method} {path}: operationId {} is taken",
                op["operationId"]
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path}");
            if op.get("security").is_some() {
                for code in ["401", "403"] {
                    let schema = &responses[code]["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    let served: BTreeSet<(String, String)> = fieldsync_server::api::served_routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the spec: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in the spec but not served: {unserved:?}"
    );
    assert!(served.len() > 40, "{served:?}");
    // Every schema it refers to is in it.
    let text = spec.to_string();
    for name in text.split("\"#/components/schemas/").skip(1) {
        let name = &name[..name.find('"').unwrap()];
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "the spec refers to a schema it lacks: {name}"
        );
    }
    // The spec is this server's: it names its upload limit.
    let create = &spec["paths"]["/api/v1/uploads"]["post"];
    let length = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Upload-Length")
        .unwrap();
    assert_eq!(length["schema"]["maximum"], 5 << 20, "{length}");
    assert_eq!(length["schema"]["minimum"], 1, "{length}");
    for schema in [
        "ErrorBody",
        "UserView",
        "RouteDoc",
        "RosterDoc",
        "PostRow",
        "TokenResponse",
    ] {
        assert!(
            spec["components"]["schemas"].get(schema).is_some(),
            "{schema}"
        );
    }
    server.stop().await;
}
