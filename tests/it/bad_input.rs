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

/// A new document written by the actor the server registered at `login`.
fn doc_of(login: &serde_json::Value) -> Automerge {
    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(hex_bytes(
        login["actor_id"].as_str().unwrap(),
    )));
    doc
}

/// `len` letters that do not compress, so stored sizes are real.
fn noise(len: u32) -> String {
    (0..len)
        .map(|i| char::from(b'a' + ((i.wrapping_mul(2654435761) >> 13) % 26) as u8))
        .collect()
}

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
    let mut doc = doc_of(&login);
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
    let mut honest = doc_of(&login);
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
    let mut doc = doc_of(&login);
    // Incompressible text, so the stored size really exceeds the limit.
    let noise = noise(20_000);
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

/// The next reply to a sync message, past change announcements.
async fn reply(raw: &mut RawClient) -> Option<ServerMsg> {
    loop {
        match raw.recv().await {
            Some(ServerMsg::Changed { .. }) => continue,
            other => return other,
        }
    }
}

/// Waits for the server to close `raw`'s connection (an error message
/// first, if it sends one); `None` if it is still open after `within`.
async fn closed_within(raw: &mut RawClient, within: std::time::Duration) -> Option<Vec<ServerMsg>> {
    let mut said = Vec::new();
    tokio::time::timeout(within, async {
        while let Some(m) = raw.recv().await {
            said.push(m);
        }
    })
    .await
    .ok()
    .map(|_| said)
}

async fn truncated_and_unknown_frames(backend: Backend) {
    let server = TestServer::start(backend).await;
    let note = Automerge::new();
    let whole = ClientMsg::Sync {
        header: DocHeader::new(DocId::new("note-cut").unwrap(), DocType::Note),
        message: push_message(&note),
    }
    .encode();
    // A valid frame cut short, and a well-formed CBOR message of a type
    // the protocol does not have.
    let mut unknown = Vec::new();
    ciborium::into_writer(
        &std::collections::BTreeMap::from([("teleport", "now")]),
        &mut unknown,
    )
    .unwrap();
    for (what, bytes) in [
        ("truncated", whole[..whole.len() / 2].to_vec()),
        ("unknown type", unknown),
    ] {
        let (mut raw, _) = raw_session(&server, &format!("dev-{}", what.replace(' ', "-"))).await;
        raw.send_bytes(bytes).await;
        let (code, message) = raw.expect_error().await;
        assert_eq!(code, ErrorCode::Malformed, "{what}: {message}");
    }
    assert_eq!(server.state.store.doc_count("demo").await.unwrap(), 0);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(
    truncated_and_unknown_frames_are_refused,
    truncated_and_unknown_frames
);

/// 100 MB in one frame, at the default limits: refused before it is
/// buffered whole, and nothing is stored.
async fn hundred_megabyte_frame(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (raw, _) = raw_session(&server, "dev-100mb").await;
    let (code, message) = raw
        .send_refused(vec![0x5a; 100 << 20])
        .await
        .expect("the server says why it refuses the frame");
    assert_eq!(code, ErrorCode::FrameTooLarge, "{message}");
    assert_eq!(server.state.store.doc_count("demo").await.unwrap(), 0);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(a_hundred_megabyte_frame_is_refused, hundred_megabyte_frame);

/// A token whose header says `alg: none`, unsigned: never accepted.
async fn unsigned_token(backend: Backend) {
    use base64::Engine;
    let server = TestServer::start(backend).await;
    let login = login_json(&server.url, "demo-volunteer", "dev-alg-none").await;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = jsonwebtoken_now();
    let token = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(serde_json::json!({
            "sub": login["user"]["id"], "dev": "dev-alg-none", "com": "demo",
            "role": "office", "gen": 0, "iat": now, "exp": now + 3600,
        }))
    );
    let mut raw = RawClient::connect(&server.url).await;
    raw.send(&hello("dev-alg-none", &token)).await;
    assert_eq!(raw.expect_error().await.0, ErrorCode::Unauthenticated);
    let rest = crate::support::get_with_token(&server.url, &token, "/api/v1/hazards").await;
    assert_eq!(rest.status(), 401, "nor over REST");
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(an_unsigned_alg_none_token_is_refused, unsigned_token);

/// A sync for a stored note that calls it a hazard.
async fn wrong_document_type(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut raw, login) = raw_session(&server, "dev-wrong-type").await;
    let mut doc = doc_of(&login);
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "title", "a note").map(|_| ())
    })
    .unwrap();
    let id = DocId::new("note-typed").unwrap();
    raw.send(&ClientMsg::Sync {
        header: DocHeader::new(id.clone(), DocType::Note),
        message: push_message(&doc),
    })
    .await;
    assert!(matches!(
        reply(&mut raw).await,
        Some(ServerMsg::Sync { .. })
    ));
    let stored = server.stored_doc(&id).await.get_heads();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "title", "now a hazard?").map(|_| ())
    })
    .unwrap();
    raw.send(&ClientMsg::Sync {
        header: DocHeader::new(id.clone(), DocType::Hazard),
        message: push_message(&doc),
    })
    .await;
    match reply(&mut raw).await {
        Some(ServerMsg::Reject { code, message, .. }) => {
            assert_eq!(code, RejectCode::InvalidHeader);
            assert!(message.contains("note"), "{message}");
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    assert_eq!(
        server.stored_doc(&id).await.get_heads(),
        stored,
        "nothing stored"
    );
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(
    a_change_under_the_wrong_document_type_is_rejected,
    wrong_document_type
);

/// 10,000 changes in one message: stored whole and acknowledged, while
/// another device syncs.
async fn ten_thousand_changes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut raw, login) = raw_session(&server, "dev-10k").await;
    let mut doc = doc_of(&login);
    for i in 0..10_000 {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "count", i as i64).map(|_| ())
        })
        .unwrap();
    }
    let id = DocId::new("note-10k").unwrap();
    raw.send(&ClientMsg::Sync {
        header: DocHeader::new(id.clone(), DocType::Note),
        message: push_message(&doc),
    })
    .await;
    assert_still_serving(&server).await;
    match reply(&mut raw).await {
        Some(ServerMsg::Sync { durable_heads, .. }) => {
            assert_eq!(
                fieldsync_proto::wire::from_wire_heads(&durable_heads),
                doc.get_heads()
            );
        }
        other => panic!("expected the ack, got {other:?}"),
    }
    let stored = server.stored_doc(&id).await;
    assert_eq!(stored.get_changes(&[]).len(), 10_000, "every change stored");
    server.stop().await;
}
both_backends!(
    ten_thousand_changes_in_one_message_are_stored_whole,
    ten_thousand_changes
);

/// A WebSocket opened and never greeted, and one whose Hello dribbles in
/// slower than the handshake allows: both are closed at the handshake
/// timeout, and others sync meanwhile.
async fn slowloris(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.limits.handshake_timeout_secs = 1).await;
    let mut silent = RawClient::connect(&server.url).await;
    let login = login_json(&server.url, "demo-volunteer", "dev-slow").await;
    let hello_bytes = hello("dev-slow", login["access_token"].as_str().unwrap()).encode();
    // Raw TCP: the upgrade, then the Hello frame one byte at a time.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(
        format!(
            "GET /api/v1/sync HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101", "upgraded");
    // A masked binary frame carrying the Hello, sent a byte per 300 ms.
    let mut frame = vec![0x82u8];
    let n = hello_bytes.len();
    assert!(n < 65_536);
    if n < 126 {
        frame.push(0x80 | n as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(n as u16).to_be_bytes());
    }
    let mask = [1u8, 2, 3, 4];
    frame.extend_from_slice(&mask);
    frame.extend(hello_bytes.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let started = std::time::Instant::now();
    let dribble = tokio::spawn(async move {
        for b in frame {
            if tcp.write_all(&[b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        // Sent it all: read whether the server answered or closed.
        let mut buf = [0u8; 256];
        matches!(tcp.read(&mut buf).await, Ok(0) | Err(_))
    });
    assert_still_serving(&server).await;
    assert!(
        closed_within(&mut silent, std::time::Duration::from_secs(5))
            .await
            .is_some(),
        "the silent socket is closed"
    );
    assert!(dribble.await.unwrap(), "the dribbling socket is closed");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(
    slowloris_sockets_are_closed_at_the_handshake_timeout,
    slowloris
);

/// A client that asks for a lot and never reads: once its queue is full
/// the server stops reading from it (backpressure, so its memory stays
/// bounded) and goes on serving everyone else; dropping it frees the
/// connection.
async fn never_reads(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut raw, login) = raw_session(&server, "dev-never-reads").await;
    let mut doc = doc_of(&login);
    let noise = noise(100_000);
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "body", noise.as_str()).map(|_| ())
    })
    .unwrap();
    let header = DocHeader::new(DocId::new("note-big").unwrap(), DocType::Note);
    raw.send(&ClientMsg::Sync {
        header: header.clone(),
        message: push_message(&doc),
    })
    .await;
    assert!(matches!(
        reply(&mut raw).await,
        Some(ServerMsg::Sync { .. })
    ));
    // Ask for the whole 100 KB document over and over, reading nothing.
    let ask = push_message(&Automerge::new());
    let mut sent = 0;
    let stalled = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        for _ in 0..200_000 {
            raw.send(&ClientMsg::Sync {
                header: header.clone(),
                message: ask.clone(),
            })
            .await;
            sent += 1;
        }
    })
    .await
    .is_err();
    println!("the server stopped reading after {sent} requests");
    assert!(stalled, "the server read all {sent} requests");
    assert!(sent < 200_000);
    assert_still_serving(&server).await;
    drop(raw);
    assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(a_client_that_never_reads_does_not_stall_others, never_reads);

/// The disk fills up (SQLite's page cap): a push is refused as retryable,
/// nothing is acknowledged or stored, and the same phone's changes go
/// through once space returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_as_retryable_and_recovers() {
    let server = TestServer::start(Backend::Sqlite).await;
    let phone = server.device("demo-volunteer").await;
    let patrol = phone
        .client
        .start_patrol("team-1", "route-stairwells")
        .unwrap();
    phone.client.sync_now().await.unwrap();
    server.state.store.cap_pages(Some(1)).await.unwrap();
    // Enough incompressible text that the database has to grow.
    let noise = noise(200_000);
    phone
        .client
        .check_in(
            &patrol,
            "post-b3-u2-f5",
            None,
            "tag torn",
            None,
            &noise[..1000],
        )
        .unwrap();
    let note = phone
        .client
        .create_document(fieldsync_sdk::DocType::Note, |tx| {
            tx.put(ROOT, "body", noise.as_str())?;
            Ok(())
        })
        .unwrap();
    let err = phone.client.sync_now().await.unwrap_err();
    let said = err.to_string();
    assert!(said.contains("storage_full"), "{said}");
    assert!(phone.client.pending_changes().unwrap() > 0, "nothing acked");
    assert!(
        phone.client.quarantined().unwrap().is_empty(),
        "nothing refused for good"
    );
    assert!(!server.has_doc(&note).await, "nothing stored");

    server.state.store.cap_pages(None).await.unwrap();
    phone.client.sync_now().await.unwrap();
    assert_eq!(phone.client.pending_changes().unwrap(), 0);
    assert!(server.has_doc(&note).await);
    let p =
        fieldsync_proto::model::validate::read_patrol(&server.stored_doc(&patrol).await).unwrap();
    assert_eq!(p.checkins.len(), 1);
    assert_still_serving(&server).await;
    server.stop().await;
}
