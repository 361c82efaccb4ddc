//! Offline edits, crashes on either side, and reconnect cost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use fieldsync_sdk::{Client, DocId, DocType};

use crate::both_backends;
use crate::support::{Backend, ChildServer, Device, TestServer, TestStorage, all_heads};

fn note(client: &Client, title: &str) -> DocId {
    client
        .create_document(DocType::Note, |tx| {
            tx.put(ROOT, "title", title)?;
            Ok(())
        })
        .unwrap()
}

fn set(client: &Client, id: &DocId, key: &str, value: &str) {
    client
        .change_document(id, |tx| {
            tx.put(ROOT, key, value)?;
            Ok(())
        })
        .unwrap();
}

fn get(client: &Client, id: &DocId, key: &str) -> Option<String> {
    client
        .read_document(id, |d| {
            d.get(ROOT, key)
                .unwrap()
                .and_then(|(v, _)| v.as_str().map(str::to_owned))
        })
        .unwrap()
}

/// Every document's heads on a device.
async fn offline_edits_converge(backend: Backend) {
    let server = TestServer::start(backend).await;
    let a = server.device("demo-volunteer").await;
    let b = server.device("demo-volunteer-2").await;

    let shared = note(&a.client, "stairwell 3-2 handover");
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();
    assert_eq!(
        get(&b.client, &shared, "title").as_deref(),
        Some("stairwell 3-2 handover")
    );

    // Both offline: the same document and different documents.
    set(&a.client, &shared, "door", "F5 fire door propped open");
    set(&b.client, &shared, "light", "F9 light out");
    let only_a = note(&a.client, "from a");
    let only_b = note(&b.client, "from b");
    assert_eq!(a.client.pending_changes().unwrap(), 2);

    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();
    a.client.sync_now().await.unwrap();

    for d in [&a, &b] {
        assert_eq!(
            get(&d.client, &shared, "door").as_deref(),
            Some("F5 fire door propped open")
        );
        assert_eq!(
            get(&d.client, &shared, "light").as_deref(),
            Some("F9 light out")
        );
        assert_eq!(get(&d.client, &only_a, "title").as_deref(), Some("from a"));
        assert_eq!(get(&d.client, &only_b, "title").as_deref(), Some("from b"));
        assert_eq!(d.client.pending_changes().unwrap(), 0);
    }
    assert_eq!(all_heads(&a.client), all_heads(&b.client));

    // The server holds the same: a fresh device pulls identical documents.
    let c = server.device("demo-leader").await;
    c.client.sync_now().await.unwrap();
    assert_eq!(all_heads(&c.client), all_heads(&a.client));
    server.stop().await;
}
both_backends!(
    offline_edits_on_two_devices_converge,
    offline_edits_converge
);

/// Creates `n` notes with a few edits each, offline.
fn make_notes(client: &Client, n: usize) -> Vec<DocId> {
    (0..n)
        .map(|i| {
            let id = note(client, &format!("note {i}"));
            set(client, &id, "status", "open");
            set(client, &id, "body", &format!("entry {i} of the night log"));
            id
        })
        .collect()
}

/// Waits until the outbox shrank below `initial`: the server acked something.
async fn wait_for_first_acks(client: &Arc<Client>, initial: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while client.pending_changes().unwrap() >= initial {
        assert!(tokio::time::Instant::now() < deadline, "no ack within 60 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn server_killed_mid_push(backend: Backend) {
    let storage = TestStorage::new(backend).await;
    let data = storage.dir.path().join("server");
    let db = storage.database_url();
    let server = ChildServer::spawn(&data, db.as_deref(), "127.0.0.1:0");
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut a = Device::login(&server.url, "demo-volunteer").await;

    let docs = make_notes(&a.client, 1500);
    let initial = a.client.pending_changes().unwrap();
    assert_eq!(initial, 4500);

    let client = Arc::new(std::mem::replace(
        &mut a.client,
        Client::open(tempfile::tempdir().unwrap().path(), &a.url).unwrap(),
    ));
    let pusher = {
        let client = client.clone();
        tokio::spawn(async move { client.sync_now().await })
    };
    wait_for_first_acks(&client, initial).await;
    server.kill9();
    let push = pusher.await.unwrap();
    assert!(push.is_err(), "the push was cut by the kill");
    let left = client.pending_changes().unwrap();
    assert!(
        left > 0 && left < initial,
        "killed mid-push: {left} of {initial} change sets unacked"
    );

    // What the device saw acked: documents with nothing left in the outbox.
    let heads_on_device = all_heads(&client);
    let unacked: std::collections::HashSet<DocId> =
        client.unacked_documents().unwrap().into_iter().collect();
    let acked: BTreeMap<_, _> = heads_on_device
        .iter()
        .filter(|(id, _)| !unacked.contains(*id))
        .collect();
    assert!(!acked.is_empty());

    // Restart on the same storage and port; everything acked must be there.
    let server = ChildServer::spawn(&data, db.as_deref(), &addr);
    let probe = Device::login(&server.url, "demo-leader").await;
    probe.client.sync_now().await.unwrap();
    let on_server = all_heads(&probe.client);
    for (id, heads) in &acked {
        assert_eq!(on_server.get(*id), Some(*heads), "acked document {id} lost");
    }

    // The unacked rest arrives on retry.
    client.sync_now().await.unwrap();
    assert_eq!(client.pending_changes().unwrap(), 0);
    probe.client.sync_now().await.unwrap();
    let on_server = all_heads(&probe.client);
    assert_eq!(on_server.len(), docs.len());
    assert_eq!(on_server, all_heads(&client));
    drop(server);
    storage.cleanup().await;
}
both_backends!(
    server_kill9_mid_push_loses_nothing_acked,
    server_killed_mid_push
);

async fn sdk_killed_mid_sync(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut a = server.device("demo-volunteer").await;
    let docs = make_notes(&a.client, 800);
    let expected: BTreeMap<DocId, Option<String>> = docs
        .iter()
        .map(|id| (id.clone(), get(&a.client, id, "body")))
        .collect();
    let initial = a.client.pending_changes().unwrap();

    // Kill the SDK in the middle of its push: abort the task, drop the client.
    let client = Arc::new(std::mem::replace(
        &mut a.client,
        Client::open(tempfile::tempdir().unwrap().path(), &a.url).unwrap(),
    ));
    let task = {
        let client = client.clone();
        tokio::spawn(async move { client.sync_now().await })
    };
    wait_for_first_acks(&client, initial).await;
    task.abort();
    let _ = task.await;
    drop(client);
    a.reopen();

    // Nothing local was lost.
    for (id, body) in &expected {
        assert_eq!(
            &get(&a.client, id, "body"),
            body,
            "document {id} after reopen"
        );
    }
    let left = a.client.pending_changes().unwrap();
    assert!(
        left < initial,
        "some change sets were acked before the kill"
    );
    a.client.sync_now().await.unwrap();
    assert_eq!(a.client.pending_changes().unwrap(), 0);

    // Kill a fresh device in the middle of its pull, reopen, finish.
    let mut b = server.device("demo-leader").await;
    let client_b = Arc::new(std::mem::replace(
        &mut b.client,
        Client::open(tempfile::tempdir().unwrap().path(), &b.url).unwrap(),
    ));
    let pull = {
        let c = client_b.clone();
        tokio::spawn(async move { c.sync_now().await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while client_b.document_ids(None).unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    pull.abort();
    let _ = pull.await;
    drop(client_b);
    b.reopen();
    b.client.sync_now().await.unwrap();
    assert_eq!(all_heads(&b.client), all_heads(&a.client));
    assert_eq!(b.client.document_ids(None).unwrap().len(), docs.len());
    server.stop().await;
}
both_backends!(sdk_killed_mid_sync_loses_nothing_local, sdk_killed_mid_sync);

async fn reconnect_is_cheap(backend: Backend) {
    let server = TestServer::start(backend).await;
    let a = server.device("demo-volunteer").await;
    let b = server.device("demo-leader").await;
    let docs = make_notes(&a.client, 1000);
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();
    assert_eq!(b.client.document_ids(None).unwrap().len(), 1000);

    // Nothing changed: a reconnect is a handshake and an empty page.
    let before = b.client.transport_counters();
    b.client.sync_now().await.unwrap();
    let idle = b.client.transport_counters().total() - before.total();

    set(&a.client, &docs[417], "status", "rectified");
    a.client.sync_now().await.unwrap();
    let before = b.client.transport_counters();
    let report = b.client.sync_now().await.unwrap();
    let after = b.client.transport_counters();
    let bytes = after.total() - before.total();
    assert_eq!(
        get(&b.client, &docs[417], "status").as_deref(),
        Some("rectified")
    );
    assert_eq!(report.pulled_docs, 1);
    // One changed document of 1,000: the handshake (HTTP upgrade and token)
    // plus one document's worth, nowhere near 1,000 documents' worth.
    assert!(
        bytes < 4_000,
        "reconnect with 1 of 1000 changed moved {bytes} bytes (idle reconnect: {idle})"
    );
    assert!(
        bytes < idle + 1_500,
        "the changed document cost {} bytes over an idle reconnect",
        bytes - idle
    );
    server.stop().await;
}
both_backends!(
    reconnect_after_one_change_costs_one_document,
    reconnect_is_cheap
);
