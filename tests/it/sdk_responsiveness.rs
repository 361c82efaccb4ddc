//! The phone stays responsive while it applies a large pull: what the app
//! asks the SDK (the pending-change badge, a document on screen) is answered
//! at once, not after the sync loop's current batch of store writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT};
use fieldsync_proto::{ClientMsg, DocHeader, ServerMsg};
use fieldsync_sdk::{Client, DocId, DocType};

use crate::support::{
    Backend, PASSWORD, RawClient, TestServer, hex_bytes, push_message, raw_session_as,
};

/// Documents the phone pulls in one `sync_now`.
const PULLED_DOCS: usize = 5_000;
/// Entries in each pulled note's log: a night's two rounds of a 24-post
/// stairwell route.
const LOG_ENTRIES: usize = 48;
/// Pushes the test keeps unanswered at once (the server's outbound queue is
/// bounded; past it the server stops reading).
const PUSH_WINDOW: usize = 128;
/// The slowest answer the app may get while the pull runs: three frames of
/// a 60 Hz screen. Before store work moved off the runtime and app reads got
/// their own connection, a call waited for the sync loop's current batch of
/// writes: 80 to 100 ms with these documents in a debug build on 2 cores
/// (a batch holds up to the session's window of documents, and a call waits
/// longer when the next batch takes the lock first). Now a call waits for
/// its own read only: under 10 ms measured, with kotlinc compiling beside
/// the test.
const SLOWEST_ANSWER: Duration = Duration::from_millis(50);

/// What the app saw while the pull ran.
#[derive(Debug, Default)]
struct Probes {
    calls: usize,
    slowest_pending: Duration,
    slowest_read: Duration,
}

/// Asks what an app screen asks, again and again until `done`, and times
/// each answer. Runs on its own thread, as an app's UI thread would.
fn probe_until(client: &Client, beacon: &DocId, done: &AtomicBool) -> Probes {
    let mut probes = Probes::default();
    while !done.load(Ordering::SeqCst) {
        let started = Instant::now();
        let pending = client.pending_changes().expect("pending changes");
        let pending_took = started.elapsed();
        assert_eq!(pending, 0, "the phone made no edits");
        let started = Instant::now();
        let beacon_doc = client.document_json(beacon).expect("the beacon note");
        let read_took = started.elapsed();
        assert_eq!(beacon_doc["title"], beacon.as_str());
        probes.calls += 1;
        probes.slowest_pending = probes.slowest_pending.max(pending_took);
        probes.slowest_read = probes.slowest_read.max(read_took);
        std::thread::sleep(Duration::from_millis(1));
    }
    probes
}

/// A note with a log of `entries` post visits, made by `actor`: what a
/// patrol member's phone would have pushed.
fn round_note(actor: &ActorId, title: &str, entries: usize) -> Automerge {
    let mut doc = Automerge::new();
    doc.set_actor(actor.clone());
    doc.transact::<_, _, AutomergeError>(|tx| {
        tx.put(ROOT, "title", title)?;
        let log = tx.put_object(ROOT, "log", ObjType::List)?;
        for i in 0..entries {
            let entry = tx.insert_object(&log, i, ObjType::Map)?;
            tx.put(&entry, "post", format!("post-b3-u2-f{}", i % 24))?;
            tx.put(&entry, "at_ms", 1_800_000_000_000_i64 + i as i64 * 60_000)?;
            tx.put(&entry, "text", "stairwell lights checked, all doors shut")?;
        }
        Ok(())
    })
    .expect("a new note takes any content");
    doc
}

/// Pushes notes over the wire protocol, as another member's phone would,
/// and waits until the server acknowledged each: far cheaper than making
/// thousands of documents in an SDK store first.
async fn push_notes(raw: &mut RawClient, actor: &ActorId, notes: Vec<(DocId, usize)>) {
    let total = notes.len();
    let mut notes = notes.into_iter();
    let (mut sent, mut acked) = (0, 0);
    while acked < total {
        while sent - acked < PUSH_WINDOW
            && let Some((id, entries)) = notes.next()
        {
            let doc = round_note(actor, id.as_str(), entries);
            raw.send(&ClientMsg::Sync {
                header: DocHeader::new(id, DocType::Note),
                message: push_message(&doc),
            })
            .await;
            sent += 1;
        }
        match raw.recv().await {
            Some(ServerMsg::Sync { .. }) => acked += 1,
            Some(ServerMsg::Changed { .. }) => {}
            other => panic!("the server takes every note, got {other:?}"),
        }
    }
}

/// One backend is enough: the behaviour under test is the phone's own
/// store, so this runs on SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_stay_responsive_during_a_large_pull() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (mut member, login) = raw_session_as(&server, "demo-volunteer", "dev-member").await;
    let actor = ActorId::from(hex_bytes(login["actor_id"].as_str().unwrap()));
    let beacon = DocId::new("note-beacon").unwrap();
    push_notes(&mut member, &actor, vec![(beacon.clone(), 0)]).await;

    // The phone has the beacon note, as an app has the documents it shows
    // before the next big pull.
    let dir = tempfile::tempdir().unwrap();
    let phone = Arc::new(Client::open(dir.path(), &server.url).unwrap());
    phone.login("demo-leader", PASSWORD).await.unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(
        phone.document_json(&beacon).unwrap()["title"],
        beacon.as_str()
    );

    let pushed = Instant::now();
    let notes = (0..PULLED_DOCS)
        .map(|i| (DocId::new(format!("note-round-{i}")).unwrap(), LOG_ENTRIES))
        .collect();
    push_notes(&mut member, &actor, notes).await;
    println!(
        "{PULLED_DOCS} notes pushed in {:.1} s",
        pushed.elapsed().as_secs_f64()
    );

    let done = Arc::new(AtomicBool::new(false));
    let prober = {
        let (phone, beacon, done) = (phone.clone(), beacon.clone(), done.clone());
        std::thread::spawn(move || probe_until(&phone, &beacon, &done))
    };
    let started = Instant::now();
    let pulled = phone.sync_now().await;
    let pull_took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let probes = prober.join().expect("the probing thread");
    let report = pulled.unwrap();
    println!(
        "pulled {} documents in {:.2} s; {} probes, slowest pending_changes {:.1} ms, \
         slowest document read {:.1} ms",
        report.pulled_docs,
        pull_took.as_secs_f64(),
        probes.calls,
        probes.slowest_pending.as_secs_f64() * 1e3,
        probes.slowest_read.as_secs_f64() * 1e3,
    );

    assert_eq!(report.pulled_docs, PULLED_DOCS);
    assert_eq!(
        phone.document_ids(Some(DocType::Note)).unwrap().len(),
        PULLED_DOCS + 1
    );
    assert!(
        probes.calls >= 10,
        "the app asked only {} times during the pull: {probes:?}",
        probes.calls
    );
    assert!(
        probes.slowest_pending < SLOWEST_ANSWER && probes.slowest_read < SLOWEST_ANSWER,
        "the app waited too long while the pull ran: {probes:?}"
    );
    server.stop().await;
}
