//! The v2 migration path, end to end: patrol documents of schema 1 (no notes)
//! stored by the previous release and held by an offline phone, upgraded on
//! every replica on its own, merge into one document with one notes list.
//! Clients of the previous release keep writing; forged migration keys are
//! refused.

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT, ReadDoc};
use fieldsync_proto::model::validate::{self, Author};
use fieldsync_proto::model::{Role, migrate};
use fieldsync_proto::{ClientMsg, DocHeader, DocId, DocType, RejectCode, ServerMsg};
use fieldsync_server::clock::now_ms;
use fieldsync_server::commit::{Outcome, Write};

use crate::both_backends;
use crate::support::{
    Backend, RawClient, TestServer, hex_bytes, push_message, raw_session, raw_session_as,
};

const F5: &str = "post-b3-u2-f5";
const F9: &str = "post-b3-u2-f9";

/// A check-in as the previous release wrote it.
fn checkin_json(id: &str, post: &str, by: &str, device: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "post_id": post, "method": "manual", "reason": "tag worn off",
        "at_ms": now_ms(), "by": by, "device": device,
    })
}

/// A schema 1 patrol, written with the old app's actor.
fn patrol_v1(actor: &ActorId, user: &str, device: &str) -> Automerge {
    let content = serde_json::json!({
        "team": "team-1", "route": "route-stairwells", "started_by": user,
        "started_at_ms": now_ms(), "members": [user],
        "checkins": [checkin_json("ci-old-f5", F5, user, device)],
        "breadcrumbs": [],
    });
    let mut doc = Automerge::new();
    doc.set_actor(actor.clone());
    doc.transact(|tx| fieldsync_proto::json::fill(tx, content.as_object().unwrap()))
        .unwrap();
    doc
}

/// Stores `doc` as the previous release did: checked, scoped, projected, at
/// schema 1, through the server's one commit path.
async fn store_as_previous_release(server: &TestServer, id: &DocId, doc: &Automerge, user: &str) {
    let checked = validate::check_change(
        DocType::Patrol,
        &validate::Prior::Nothing,
        doc,
        Author {
            user_id: user,
            role: Role::Volunteer,
            device_id: "dev-old-app",
        },
    )
    .unwrap();
    let write = Write {
        header: DocHeader {
            id: id.clone(),
            doc_type: DocType::Patrol,
            schema_version: 1,
        },
        expected_seq: None,
        chunk: doc.save(),
        heads: doc.get_heads(),
        record: fieldsync_server::audit::Record::change(
            user,
            "dev-old-app",
            id.as_str(),
            "patrol",
            doc,
            &[],
        ),
        checked,
        snapshot: None,
    };
    let out = server
        .state
        .commits
        .commit("demo", vec![write])
        .await
        .unwrap();
    assert!(matches!(out[0], Outcome::Stored { .. }), "{out:?}");
}

async fn stored_version(server: &TestServer, id: &DocId) -> i64 {
    let stored = server.state.store.load_doc("demo", id).await.unwrap();
    stored.expect("stored").row.schema_version
}

fn note_texts(p: &fieldsync_proto::model::patrol::PatrolDoc) -> Vec<&str> {
    let mut t: Vec<&str> = p.notes.iter().map(|n| n.text.as_str()).collect();
    t.sort();
    t
}

/// The next reply to a push, past announcements of other commits.
async fn reply(raw: &mut RawClient) -> Option<ServerMsg> {
    loop {
        match raw.recv().await {
            Some(ServerMsg::Changed { .. }) => continue,
            other => return other,
        }
    }
}

/// The old app pushes `doc` (header schema 1) and expects the server to
/// take it; returns the server's reply applied to `doc`.
async fn old_app_push(raw: &mut RawClient, id: &DocId, doc: &mut Automerge) {
    use automerge::sync::SyncDoc;
    raw.send(&ClientMsg::Sync {
        header: DocHeader {
            id: id.clone(),
            doc_type: DocType::Patrol,
            schema_version: 1,
        },
        message: push_message(doc),
    })
    .await;
    match reply(raw).await {
        Some(ServerMsg::Sync {
            doc: d, message, ..
        }) => {
            assert_eq!(&d, id);
            if let Some(m) = message {
                let mut state = automerge::sync::State::new();
                doc.receive_sync_message(&mut state, automerge::sync::Message::decode(&m).unwrap())
                    .unwrap();
            }
        }
        other => panic!("the old app's change is accepted, got {other:?}"),
    }
}

async fn upgrade_everywhere(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut old_app, login) = raw_session(&server, "dev-old-app").await;
    let volunteer = login["user"]["id"].as_str().unwrap().to_owned();
    let old_actor = ActorId::from(hex_bytes(login["actor_id"].as_str().unwrap()));

    // The previous release stored a schema 1 patrol with one check-in.
    let id = DocId::new("patrol-from-release-1").unwrap();
    let mut old_copy = patrol_v1(&old_actor, &volunteer, "dev-old-app");
    store_as_previous_release(&server, &id, &old_copy, &volunteer).await;
    assert_eq!(stored_version(&server, &id).await, 1);

    // The leader's phone syncs it, still at schema 1, then loses signal.
    let mut leader = server.device("demo-leader").await;
    leader.client.sync_now().await.unwrap();
    let held = leader
        .client
        .read_document(&id, |d| migrate::version_of(DocType::Patrol, d))
        .unwrap();
    assert_eq!(held, 1, "the phone holds the document as stored");

    // Offline, after an app update (the store reopened), the leader leaves a
    // handover note: the phone upgrades its own copy first.
    leader.reopen();
    leader
        .client
        .add_patrol_note(&id, "handover: gate B chained, key with the guard")
        .unwrap();
    let local = leader.client.patrol(&id).unwrap();
    assert_eq!(local.notes.len(), 1);
    assert_eq!(local.checkins.len(), 1, "schema 1 content kept");
    assert_eq!(
        leader
            .client
            .read_document(&id, |d| migrate::version_of(DocType::Patrol, d))
            .unwrap(),
        2
    );

    // Meanwhile a volunteer's phone (this release) syncs the schema 1
    // document, checks in at 9F and notes a broken light: the server gets
    // the same step change from it.
    let phone = server.device("demo-volunteer-2").await;
    phone.client.sync_now().await.unwrap();
    phone
        .client
        .check_in(&id, F9, None, "tag missing", None, "")
        .unwrap();
    phone
        .client
        .add_patrol_note(&id, "stairwell light out on 7F")
        .unwrap();
    let report = phone.client.sync_now().await.unwrap();
    assert_eq!(report.rejected, 0);
    assert_eq!(stored_version(&server, &id).await, 2);
    // The phone refuses to write the notes list whole, as the server would.
    for attempt in [
        phone.client.update_document_json(&id, r#"{"notes": []}"#),
        phone
            .client
            .create_document_json(DocType::Patrol, r#"{"started_by": "x", "notes": []}"#)
            .map(|_| ()),
    ] {
        match attempt {
            Err(fieldsync_sdk::Error::InvalidInput(m)) => {
                assert!(m.starts_with("reserved_key: `notes`"), "{m}")
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(phone.client.pending_changes().unwrap(), 0, "nothing queued");
    assert_eq!(phone.client.patrol(&id).unwrap().notes.len(), 1);

    // The old app, still on schema 1, checks in again: accepted, and it is
    // sent the step change with the rest.
    old_copy
        .transact(|tx| {
            let item = checkin_json("ci-old-f5-2", F5, &volunteer, "dev-old-app");
            fieldsync_proto::json::append(tx, "checkins", &item)
        })
        .unwrap();
    old_app_push(&mut old_app, &id, &mut old_copy).await;
    assert_eq!(migrate::version_of(DocType::Patrol, &old_copy), 2);
    assert!(validate::read_patrol(&old_copy).is_ok());

    // The leader comes back online: nothing is rejected or quarantined.
    let report = leader.client.sync_now().await.unwrap();
    assert_eq!(report.rejected, 0);
    phone.client.sync_now().await.unwrap();
    leader.client.sync_now().await.unwrap();
    assert!(leader.client.quarantined().unwrap().is_empty());
    assert!(phone.client.quarantined().unwrap().is_empty());

    let stored = server.stored_doc(&id).await;
    assert_eq!(
        stored.get_all(ROOT, "notes").unwrap().len(),
        1,
        "one notes list"
    );
    migrate::check_reserved(DocType::Patrol, &stored).unwrap();
    let on_server = validate::read_patrol(&stored).unwrap();
    assert_eq!(
        note_texts(&on_server),
        [
            "handover: gate B chained, key with the guard",
            "stairwell light out on 7F"
        ]
    );
    let mut checkins: Vec<&str> = on_server.checkins.iter().map(|c| c.id.as_str()).collect();
    checkins.sort();
    assert_eq!(checkins.len(), 3, "{checkins:?}");
    assert!(checkins.contains(&"ci-old-f5") && checkins.contains(&"ci-old-f5-2"));
    for d in [&leader, &phone] {
        let p = d.client.patrol(&id).unwrap();
        assert_eq!(note_texts(&p), note_texts(&on_server));
        assert_eq!(p.checkins.len(), 3);
        let heads = d.client.read_document(&id, |doc| doc.get_heads()).unwrap();
        assert_eq!(
            heads,
            stored.get_heads(),
            "every replica holds the same document"
        );
    }
    assert_eq!(stored_version(&server, &id).await, 2);
    server.stop().await;
}
both_backends!(
    schema_1_patrols_upgrade_on_every_replica_and_merge,
    upgrade_everywhere
);

/// What only the step may do, refused from everyone else; and a push of the
/// step alone is taken from anyone who may read the document, even an
/// auditor, who may write nothing.
async fn migration_keys_guarded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mut old_app, login) = raw_session(&server, "dev-old-app").await;
    let volunteer = login["user"]["id"].as_str().unwrap().to_owned();
    let actor = ActorId::from(hex_bytes(login["actor_id"].as_str().unwrap()));

    // A schema 1 client makes its own `notes` list.
    let forged_id = DocId::new("patrol-own-notes").unwrap();
    let mut forged = patrol_v1(&actor, &volunteer, "dev-old-app");
    forged
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put_object(ROOT, "notes", ObjType::List).map(|_| ())
        })
        .unwrap();
    old_app
        .send(&ClientMsg::Sync {
            header: DocHeader {
                id: forged_id.clone(),
                doc_type: DocType::Patrol,
                schema_version: 1,
            },
            message: push_message(&forged),
        })
        .await;
    match reply(&mut old_app).await {
        Some(ServerMsg::Reject { code, message, .. }) => {
            assert_eq!(code, RejectCode::SchemaViolation);
            assert!(message.starts_with("reserved_key: `notes`"), "{message}");
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    assert!(!server.has_doc(&forged_id).await, "nothing stored");

    // A change under a step's actor with other content is someone's forgery.
    let step_actor = ActorId::from(&b"fieldsync-migrate:patrol:v2"[..]);
    let mut impostor = patrol_v1(&step_actor, &volunteer, "dev-old-app");
    impostor.set_actor(step_actor);
    let impostor_id = DocId::new("patrol-step-actor").unwrap();
    old_app
        .send(&ClientMsg::Sync {
            header: DocHeader::new(impostor_id.clone(), DocType::Patrol),
            message: push_message(&impostor),
        })
        .await;
    match reply(&mut old_app).await {
        Some(ServerMsg::Reject { code, .. }) => assert_eq!(code, RejectCode::ForeignActor),
        other => panic!("expected a reject, got {other:?}"),
    }
    assert!(!server.has_doc(&impostor_id).await);

    // An auditor's client pushes the step change alone for a stored schema 1
    // patrol: it is nobody's edit, so it is taken.
    let id = DocId::new("patrol-audited").unwrap();
    let v1 = patrol_v1(&actor, &volunteer, "dev-old-app");
    store_as_previous_release(&server, &id, &v1, &volunteer).await;
    let (mut auditor, auditor_login) = raw_session_as(&server, "demo-auditor", "dev-auditor").await;
    let mut upgraded = v1.fork();
    migrate::upgrade(DocType::Patrol, &mut upgraded).unwrap();
    auditor
        .send(&ClientMsg::Sync {
            header: DocHeader::new(id.clone(), DocType::Patrol),
            message: push_message(&upgraded),
        })
        .await;
    match reply(&mut auditor).await {
        Some(ServerMsg::Sync { durable_heads, .. }) => {
            let durable: HashSet<_> = durable_heads.into_iter().collect();
            let expected: HashSet<_> = fieldsync_proto::wire::to_wire_heads(&upgraded.get_heads())
                .into_iter()
                .collect();
            assert_eq!(durable, expected);
        }
        other => panic!("the step alone is taken, got {other:?}"),
    }
    assert_eq!(stored_version(&server, &id).await, 2);
    // But the auditor still writes nothing else.
    let mut edited = upgraded.fork();
    edited.set_actor(ActorId::from(hex_bytes(
        auditor_login["actor_id"].as_str().unwrap(),
    )));
    edited
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "ended_at_ms", now_ms()).map(|_| ())
        })
        .unwrap();
    let before = server.stored_doc(&id).await.get_heads();
    auditor
        .send(&ClientMsg::Sync {
            header: DocHeader::new(id.clone(), DocType::Patrol),
            message: push_message(&edited),
        })
        .await;
    match reply(&mut auditor).await {
        Some(ServerMsg::Reject { code, .. }) => assert_eq!(code, RejectCode::Forbidden),
        other => panic!("expected a reject, got {other:?}"),
    }
    assert_eq!(server.stored_doc(&id).await.get_heads(), before);
    server.stop().await;
}
both_backends!(migration_keys_are_the_steps_alone, migration_keys_guarded);
