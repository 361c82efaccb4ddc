//! Bad input gets a clear error, nothing is stored, and the server keeps
//! serving everyone else.

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT};
use fieldsync_proto::{ClientMsg, DocHeader, DocId, DocType, ErrorCode, RejectCode, ServerMsg};
use fieldsync_server::auth::{Claims, JwtKeys};

use crate::both_backends;
use crate::support::{
    Backend, JWT_SECRET, RawClient, TestServer, assert_still_serving, hello, hex_bytes, login_json,
    push_message, raw_session,
};

async fn malformed_frame(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut raw, _) = raw_session(&server, "dev-malformed").await;
    raw.send_bytes(vec![0xff, 0x00, 0x13, 0x37]).await;
    let (code, message) = raw.expect_error().await;
    assert_eq!(code, ErrorCode::Malformed);
    assert!(message.contains("malformed"), "{message}");
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(malformed_frame_is_refused, malformed_frame);

async fn frame_over_limit(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.limits.max_frame_bytes = 64 * 1024).await;
    let (mut raw, _) = raw_session(&server, "dev-big-frame").await;
    raw.send_bytes(vec![0u8; 100 * 1024]).await;
    let (code, message) = raw.expect_error().await;
    assert_eq!(code, ErrorCode::FrameTooLarge);
    assert!(message.contains("65536"), "{message}");
    assert_eq!(server.state.store.doc_count("demo").await.unwrap(), 0);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(frame_over_the_limit_is_refused, frame_over_limit);

async fn unknown_protocol_version(backend: Backend) {
    let server = TestServer::start(backend).await;
    let login = login_json(&server.url, "demo-volunteer", "dev-version").await;
    let mut raw = RawClient::connect(&server.url).await;
    raw.send(&ClientMsg::Hello {
        protocol_version: 99,
        device_id: "dev-version".into(),
        token: login["access_token"].as_str().unwrap().into(),
        cursor: 0,
    })
    .await;
    let (code, message) = raw.expect_error().await;
    assert_eq!(code, ErrorCode::UnsupportedVersion);
    assert!(message.contains("99"), "{message}");
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(
    unknown_protocol_version_is_refused,
    unknown_protocol_version
);

async fn bad_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let login = login_json(&server.url, "demo-volunteer", "dev-tokens").await;
    let now = jsonwebtoken_now();
    let claims = |exp: i64| Claims {
        sub: login["user"]["id"].as_str().unwrap().into(),
        dev: "dev-tokens".into(),
        com: "demo".into(),
        role: "volunteer".into(),
        generation: 0,
        iat: now - 7200,
        exp,
    };
    let cases = [
        ("missing", String::new(), ErrorCode::Unauthenticated),
        (
            "expired",
            JwtKeys::new(JWT_SECRET.as_bytes()).issue(&claims(now - 3600)),
            ErrorCode::TokenExpired,
        ),
        (
            "forged",
            JwtKeys::new(b"not the server's secret").issue(&claims(now + 3600)),
            ErrorCode::Unauthenticated,
        ),
        (
            "garbage",
            "not.a.jwt".to_owned(),
            ErrorCode::Unauthenticated,
        ),
    ];
    for (what, token, expected) in cases {
        let mut raw = RawClient::connect(&server.url).await;
        raw.send(&hello("dev-tokens", &token)).await;
        let (code, _) = raw.expect_error().await;
        assert_eq!(code, expected, "{what} token");
    }
    // A valid token presented by another device id.
    let mut raw = RawClient::connect(&server.url).await;
    raw.send(&hello(
        "someone-else",
        login["access_token"].as_str().unwrap(),
    ))
    .await;
    assert_eq!(raw.expect_error().await.0, ErrorCode::DeviceMismatch);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(missing_expired_and_forged_tokens_are_refused, bad_tokens);

fn jsonwebtoken_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn revoked_device(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut live, login) = raw_session(&server, "dev-lost-phone").await;
    let office = login_json(&server.url, "demo-office", "dev-office").await;
    let http = reqwest::Client::new();

    // A volunteer may not revoke devices.
    let resp = http
        .post(format!("{}/api/v1/devices/dev-office/revoke", server.url))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let resp = http
        .post(format!(
            "{}/api/v1/devices/dev-lost-phone/revoke",
            server.url
        ))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The live connection is cut on its next frame (or sooner).
    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(hex_bytes(
        login["actor_id"].as_str().unwrap(),
    )));
    doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "k", "v").map(|_| ()))
        .unwrap();
    live.send(&ClientMsg::Sync {
        header: DocHeader::new(DocId::new("note-after-revoke").unwrap(), DocType::Note),
        message: push_message(&doc),
    })
    .await;
    assert_eq!(live.expect_error().await.0, ErrorCode::DeviceRevoked);
    assert_eq!(
        server.state.store.doc_count("demo").await.unwrap(),
        0,
        "nothing stored after revocation"
    );

    // A new connection with the old token, a refresh, and a new login all fail.
    let mut raw = RawClient::connect(&server.url).await;
    raw.send(&hello(
        "dev-lost-phone",
        login["access_token"].as_str().unwrap(),
    ))
    .await;
    assert_eq!(raw.expect_error().await.0, ErrorCode::DeviceRevoked);
    let resp = http
        .post(format!("{}/api/v1/auth/refresh", server.url))
        .json(&serde_json::json!({ "refresh_token": login["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
    let resp = http
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&serde_json::json!({
            "username": "demo-volunteer", "password": crate::support::PASSWORD,
            "device_id": "dev-lost-phone", "device_name": "x",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "device_revoked");
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(revoked_device_is_cut_off, revoked_device);

async fn foreign_actor(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut raw, login) = raw_session(&server, "dev-impostor").await;
    let registered = ActorId::from(hex_bytes(login["actor_id"].as_str().unwrap()));
    let mut doc = Automerge::new();
    let someone_else = ActorId::random();
    assert!(!HashSet::from([registered]).contains(&someone_else));
    doc.set_actor(someone_else);
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "title", "written as someone else").map(|_| ())
    })
    .unwrap();
    let id = DocId::new("note-forged").unwrap();
    raw.send(&ClientMsg::Sync {
        header: DocHeader::new(id.clone(), DocType::Note),
        message: push_message(&doc),
    })
    .await;
    match raw.recv().await {
        Some(ServerMsg::Reject { doc, code, message }) => {
            assert_eq!(doc, id);
            assert_eq!(code, RejectCode::ForeignActor);
            assert!(message.contains("not registered"), "{message}");
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    assert!(!server.has_doc(&id).await, "nothing stored");
    // The connection itself stays usable for honest changes.
    let mut honest = Automerge::new();
    honest.set_actor(ActorId::from(hex_bytes(
        login["actor_id"].as_str().unwrap(),
    )));
    honest
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "title", "honest").map(|_| ())
        })
        .unwrap();
    let ok_id = DocId::new("note-honest").unwrap();
    raw.send(&ClientMsg::Sync {
        header: DocHeader::new(ok_id.clone(), DocType::Note),
        message: push_message(&honest),
    })
    .await;
    assert!(matches!(raw.recv().await, Some(ServerMsg::Sync { doc, .. }) if doc == ok_id));
    assert!(server.has_doc(&ok_id).await);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(change_from_a_foreign_actor_is_rejected, foreign_actor);

async fn document_over_limit(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.limits.max_document_bytes = 4 * 1024).await;
    let (mut raw, login) = raw_session(&server, "dev-big-doc").await;
    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(hex_bytes(
        login["actor_id"].as_str().unwrap(),
    )));
    // Incompressible text, so the stored size really exceeds the limit.
    let noise: String = (0..20_000u32)
        .map(|i| char::from(b'a' + ((i.wrapping_mul(2654435761) >> 13) % 26) as u8))
        .collect();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "body", noise.as_str()).map(|_| ())
    })
    .unwrap();
    let id = DocId::new("note-huge").unwrap();
    raw.send(&ClientMsg::Sync {
        header: DocHeader::new(id.clone(), DocType::Note),
        message: push_message(&doc),
    })
    .await;
    match raw.recv().await {
        Some(ServerMsg::Reject { code, message, .. }) => {
            assert_eq!(code, RejectCode::DocumentTooLarge);
            assert!(message.contains("4096"), "{message}");
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    assert!(!server.has_doc(&id).await);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(
    document_over_the_size_limit_is_rejected,
    document_over_limit
);
