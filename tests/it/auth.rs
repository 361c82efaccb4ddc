//! Login and refresh-token rotation over HTTP.

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer, login_json};

async fn refresh_rotation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let http = reqwest::Client::new();
    let refresh = |token: serde_json::Value| {
        let http = http.clone();
        let url = format!("{}/api/v1/auth/refresh", server.url);
        async move {
            http.post(url)
                .json(&serde_json::json!({ "refresh_token": token }))
                .send()
                .await
                .unwrap()
        }
    };

    let wrong = http
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&serde_json::json!({ "username": "demo-volunteer", "password": "nope", "device_id": "d1", "device_name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = http
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&serde_json::json!({ "username": "demo-volunteer", "password": PASSWORD, "device_id": "", "device_name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    let first = login_json(&server.url, "demo-volunteer", "dev-rotate").await;
    let resp = refresh(first["refresh_token"].clone()).await;
    assert_eq!(resp.status(), 200);
    let second: serde_json::Value = resp.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);

    // Replaying the used token revokes the device's tokens, the new one included.
    let replay = refresh(first["refresh_token"].clone()).await;
    assert_eq!(replay.status(), 401);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "refresh_token_reused");
    assert_eq!(refresh(second["refresh_token"].clone()).await.status(), 401);
    let revoke = http
        .post(format!("{}/api/v1/devices/dev-rotate/revoke", server.url))
        .bearer_auth(second["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoke.status(),
        401,
        "access tokens issued before the reuse are dead too"
    );

    // Logging in again restores the device.
    let third = login_json(&server.url, "demo-volunteer", "dev-rotate").await;
    assert_eq!(refresh(third["refresh_token"].clone()).await.status(), 200);
    server.stop().await;
}
both_backends!(refresh_tokens_rotate_and_reuse_revokes, refresh_rotation);

/// A phone revoked while its background sync runs hears exactly that, as a
/// permanent error, not as something to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_a_live_background_sync_as_permanent() {
    let server = TestServer::start(Backend::Sqlite).await;
    let phone = server.device("demo-volunteer").await;
    phone.client.start_sync();
    phone
        .client
        .sync_now()
        .await
        .expect("live session up to date");
    let device = phone.client.device_id().unwrap();
    let office = login_json(&server.url, "demo-office", "dev-office-revoker").await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/devices/{device}/revoke", server.url))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    phone
        .client
        .create_document(fieldsync_sdk::DocType::Note, |tx| {
            use automerge::transaction::Transactable;
            tx.put(automerge::ROOT, "title", "written after the revocation")?;
            Ok(())
        })
        .unwrap();
    let err = phone.client.sync_now().await.unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(
        matches!(
            &err,
            fieldsync_sdk::Error::Server {
                code: fieldsync_sdk::ErrorCode::DeviceRevoked,
                ..
            } | fieldsync_sdk::Error::Auth { .. }
        ),
        "{err:?}"
    );
    assert_eq!(
        phone.client.pending_changes().unwrap(),
        1,
        "the edit is kept"
    );
    phone.client.stop_sync();
    server.stop().await;
}

/// Guessing passwords locks the account for a while; others are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_throttled() {
    let server = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    let attempt = |username: &'static str, password: &'static str| {
        let http = http.clone();
        let url = format!("{}/api/v1/auth/login", server.url);
        async move {
            http.post(url)
                .json(&serde_json::json!({
                    "username": username, "password": password,
                    "device_id": format!("dev-guess-{username}"), "device_name": "x",
                }))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("demo-guard", "guess").await.status(), 401);
    }
    let locked = attempt("demo-guard", PASSWORD).await;
    assert_eq!(locked.status(), 429, "even the right password waits");
    let body: serde_json::Value = locked.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    assert_eq!(attempt("demo-grid", PASSWORD).await.status(), 200);
    server.stop().await;
}
