//! Backup and restore of the embedded store: `fieldsync backup` while devices
//! sync, `fieldsync restore` into a fresh data dir, and devices whose cursors
//! are ahead of the restored server giving it back what it lost, with nothing
//! lost or duplicated.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use fieldsync_proto::model::validate;
use fieldsync_sdk::DocId;

use crate::support::{Backend, Device, TestServer};

const POST5: &str = "post-b3-u2-f5";

/// Runs the server binary with `args` (off the async reactor).
async fn fieldsync(args: Vec<std::ffi::OsString>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync-test-server"))
            .args(args)
            .env("FIELDSYNC_JWT_SECRET", crate::support::JWT_SECRET)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn backup(file: &Path, data_dir: &Path) -> Output {
    fieldsync(vec![
        "backup".into(),
        file.into(),
        "--data-dir".into(),
        data_dir.into(),
    ])
    .await
}

async fn restore(file: &Path, data_dir: &Path) -> Output {
    fieldsync(vec![
        "restore".into(),
        file.into(),
        "--data-dir".into(),
        data_dir.into(),
    ])
    .await
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Check-in ids and note ids of a patrol as the server stored it; panics on
/// a duplicate.
async fn stored_patrol(server: &TestServer, id: &DocId) -> (BTreeSet<String>, BTreeSet<String>) {
    let p = validate::read_patrol(&server.stored_doc(id).await).unwrap();
    let checkins: BTreeSet<String> = p.checkins.iter().map(|c| c.id.clone()).collect();
    assert_eq!(checkins.len(), p.checkins.len(), "no check-in twice");
    let notes: BTreeSet<String> = p.notes.iter().map(|n| n.id.clone()).collect();
    assert_eq!(notes.len(), p.notes.len(), "no note twice");
    (checkins, notes)
}

fn device_patrol(d: &Device, id: &DocId) -> (BTreeSet<String>, BTreeSet<String>) {
    let p = d.client.patrol(id).unwrap();
    (
        p.checkins.into_iter().map(|c| c.id).collect(),
        p.notes.into_iter().map(|n| n.id).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_older_backup_gets_back_what_it_lost_from_the_devices() {
    let work = tempfile::tempdir().unwrap();
    let server = TestServer::start(Backend::Sqlite).await;
    let a = server.device("demo-volunteer").await;
    let b = server.device("demo-volunteer-2").await;
    let patrol = a.client.start_patrol("team-1", "route-stairwells").unwrap();
    a.client
        .check_in(&patrol, POST5, None, "before the backup", None, "")
        .unwrap();
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();

    // The backup is taken while A keeps checking in and syncing.
    let file = work.path().join("fieldsync-backup.zip");
    let during = patrol.clone();
    let syncing = tokio::spawn(async move {
        for i in 0..8 {
            a.client
                .check_in(&during, POST5, None, &format!("during {i}"), None, "")
                .unwrap();
            a.client.sync_now().await.unwrap();
        }
        a
    });
    let out = backup(&file, &server.data_dir()).await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("backed up"), "{}", said(&out));
    let a = syncing.await.unwrap();

    // After the backup: more check-ins, a handover note, a new patrol, all
    // acknowledged by the server.
    for i in 0..3 {
        a.client
            .check_in(&patrol, POST5, None, &format!("after {i}"), None, "")
            .unwrap();
    }
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();
    b.client
        .add_patrol_note(&patrol, "stairwell light out on 9F")
        .unwrap();
    let second = b.client.start_patrol("team-1", "route-stairwells").unwrap();
    b.client
        .check_in(&second, POST5, None, "second round", None, "")
        .unwrap();
    b.client.sync_now().await.unwrap();
    a.client.sync_now().await.unwrap();
    for d in [&a, &b] {
        assert_eq!(d.client.pending_changes().unwrap(), 0, "all acknowledged");
    }
    let expected = stored_patrol(&server, &patrol).await;
    assert_eq!(expected.0.len(), 12);
    assert_eq!(expected.1.len(), 1);
    assert_eq!(device_patrol(&a, &patrol), expected);

    // Restore into a fresh data dir; a dir with a database is refused.
    let restored = work.path().join("restored");
    let out = restore(&file, &restored).await;
    assert!(out.status.success(), "{}", said(&out));
    let again = restore(&file, &restored).await;
    assert!(!again.status.success());
    assert!(
        said(&again).contains("already holds a database"),
        "{}",
        said(&again)
    );
    let server = server.restart_on(restored).await;
    let (lost_checkins, lost_notes) = stored_patrol(&server, &patrol).await;
    assert!(lost_checkins.is_subset(&expected.0));
    assert!(
        lost_checkins.len() < expected.0.len(),
        "the backup is older"
    );
    assert!(lost_notes.is_empty());
    assert!(!server.has_doc(&second).await, "made after the backup");

    // The devices notice the server is behind them and give it back what
    // it lost, each its own changes (the server takes no one else's): B
    // first, whose note waits for A's check-ins it was written after.
    let rb = b.client.sync_now().await.unwrap();
    assert!(rb.resynced_all);
    assert!(server.has_doc(&second).await, "B's own patrol is back");
    assert!(
        stored_patrol(&server, &patrol).await.1.is_empty(),
        "the note waits for A's check-ins"
    );
    let ra = a.client.sync_now().await.unwrap();
    assert!(ra.resynced_all);
    assert_eq!(stored_patrol(&server, &patrol).await.0, expected.0);
    b.client.sync_now().await.unwrap();
    a.client.sync_now().await.unwrap();
    for (d, r) in [(&a, &ra), (&b, &rb)] {
        assert_eq!(r.rejected, 0);
        assert!(
            d.client.quarantined().unwrap().is_empty(),
            "nothing refused"
        );
    }
    assert_eq!(stored_patrol(&server, &patrol).await, expected);
    assert!(server.has_doc(&second).await);
    let second_stored = validate::read_patrol(&server.stored_doc(&second).await).unwrap();
    assert_eq!(second_stored.checkins.len(), 1);
    for d in [&a, &b] {
        assert_eq!(device_patrol(d, &patrol), expected);
        let heads = server.stored_doc(&patrol).await.get_heads();
        let mut mine = d.client.document_heads(&patrol).unwrap();
        let mut theirs: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
        mine.sort();
        theirs.sort();
        assert_eq!(mine, theirs, "device and server hold the same document");
    }
    // And from then on, syncing is ordinary again.
    assert!(!a.client.sync_now().await.unwrap().resynced_all);
    assert_eq!(
        fieldsync_server::audit::verify_stored(&server.state.store, "demo")
            .await
            .unwrap()
            .map(|_| ()),
        Ok(()),
        "the restored chain continues unbroken"
    );

    // A damaged backup is refused before anything is put in place.
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0xff;
    let damaged = work.path().join("damaged.zip");
    std::fs::write(&damaged, bytes).unwrap();
    let fresh = work.path().join("fresh");
    let out = restore(&damaged, &fresh).await;
    assert!(!out.status.success(), "{}", said(&out));
    assert!(!fresh.join("fieldsync.db").exists(), "nothing restored");
    server.stop().await;
}
