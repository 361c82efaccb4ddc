//! The SDK's photo queue against a real server: a photo taken offline
//! reaches the office exactly once, intact, however often its upload is cut.

use std::sync::Arc;
use std::time::Duration;

use fieldsync_sdk::{Client, NewHazard, PhotoState, Severity, SyncEvent};

use crate::both_backends;
use crate::photos::{sha256_hex, stored_files};
use crate::support::{Backend, Device, TestServer, WeakSignal, get_with_token, login_json};

/// A phone camera's photo: noise-textured, so it stays above 5 MB as JPEG.
fn camera_jpeg() -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(2400, 1800, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state % 96) as u8;
        let base = ((x / 8 + y / 8) % 64) as u8;
        image::Rgb([base + n, 80 + n / 2, 160 - n])
    });
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, 95,
    ))
    .unwrap();
    out
}

/// Waits for an upload progress event at least `beyond` bytes in; panics if
/// the upload finishes first.
async fn progress_beyond(
    events: &mut tokio::sync::broadcast::Receiver<SyncEvent>,
    beyond: u64,
) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("upload progress within a minute")
            .unwrap();
        match event {
            SyncEvent::PhotoProgress { sent, total, .. } if sent >= beyond => {
                assert!(sent < total, "the upload must still be running");
                return sent;
            }
            SyncEvent::PhotoUploaded { .. } => panic!("finished before it could be cut"),
            _ => {}
        }
    }
}

/// Kills the app in the middle of an upload pass, once the upload is
/// `beyond` bytes in, and opens its store again; returns how far it got.
async fn kill_mid_upload(phone: &mut Device, url: &str, beyond: u64) -> u64 {
    let client = Arc::new(std::mem::replace(
        &mut phone.client,
        Client::open(tempfile::tempdir().unwrap().path(), url).unwrap(),
    ));
    let mut events = client.subscribe();
    let upload = {
        let c = client.clone();
        tokio::spawn(async move { c.upload_photos_now().await })
    };
    let reached = progress_beyond(&mut events, beyond).await;
    upload.abort();
    let _ = upload.await;
    drop(events);
    drop(client);
    phone.reopen();
    reached
}

async fn photo_taken_offline_survives_two_kills(backend: Backend) {
    let server = TestServer::start(backend).await;
    // A basement: 1 MiB/s when there is signal at all.
    let signal = WeakSignal::start(&server.url, 1 << 20).await;
    let mut phone = Device::login(&signal.url, "demo-grid").await;
    let camera = tempfile::tempdir().unwrap();
    let photo = camera_jpeg();
    assert!(
        (5_000_000..20_000_000).contains(&photo.len()),
        "a 5 MB photo: {} bytes",
        photo.len()
    );
    let path = camera.path().join("IMG_0042.jpg");
    std::fs::write(&path, &photo).unwrap();

    // Offline: the photo goes into the store and the hazard records its hash.
    signal.set_online(false);
    let hash = phone.client.import_photo(&path).unwrap();
    assert_eq!(hash, sha256_hex(&photo));
    std::fs::remove_file(&path).unwrap(); // the app may discard its own copy
    let hazard = phone
        .client
        .report_hazard(NewHazard {
            category: "wiring".into(),
            severity: Severity::Major,
            immediate: false,
            description: "Water dripping onto the distribution board".into(),
            place: fieldsync_sdk::HazardPlace {
                post_id: Some("post-b2-u1-f5".into()),
                ..Default::default()
            },
            photos: vec![hash.clone()],
        })
        .unwrap();
    assert!(phone.client.sync_now().await.is_err(), "offline");
    let offline = phone.client.upload_photos_now().await.unwrap();
    assert_eq!((offline.uploaded, offline.waiting), (0, 1));
    let queued = phone.client.photo_uploads().unwrap();
    assert_eq!(queued[0].attempts, 1);
    assert!(queued[0].last_error.is_some());

    // Back in signal: the hazard syncs at once, without its photo.
    signal.set_online(true);
    phone.client.sync_now().await.unwrap();
    assert!(
        server
            .state
            .store
            .load_doc("demo", &hazard)
            .await
            .unwrap()
            .is_some()
    );

    // The app is killed twice in the middle of the upload.
    let mut reached = 0;
    for kill in 1..=2 {
        reached = kill_mid_upload(&mut phone, &signal.url, reached + (1 << 20)).await;
        let q = phone.client.photo_uploads().unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].state, PhotoState::Pending, "kill {kill}");
        assert!(q[0].sent >= reached - (1 << 20), "kill {kill}: {q:?}");
    }

    // Reopened once more: it resumes and finishes.
    let before = signal.bytes_sent();
    let done = phone.client.upload_photos_now().await.unwrap();
    assert_eq!(
        (done.uploaded, done.failed, done.waiting),
        (1, 0, 0),
        "{:?}",
        phone.client.photo_uploads()
    );
    assert_eq!(
        phone.client.photo_uploads().unwrap()[0].state,
        PhotoState::Uploaded
    );
    let last_leg = signal.bytes_sent() - before;
    assert!(
        last_leg < photo.len() as u64 - reached + (1 << 20),
        "the last run resumed from the server's offset: sent {last_leg} of {} after {reached}",
        photo.len()
    );
    assert!(
        signal.bytes_sent() < photo.len() as u64 * 13 / 10,
        "every run resumed; {} bytes went up for a {}-byte photo",
        signal.bytes_sent(),
        photo.len()
    );

    // Exactly one blob, with the photo's hash.
    let blob = server
        .state
        .store
        .blob("demo", &hash)
        .await
        .unwrap()
        .expect("the blob");
    assert_eq!(blob.size, photo.len() as i64);
    assert_eq!(stored_files(&server).len(), 3, "original, display, thumb");

    // The office sees the hazard with its photo.
    let office = login_json(&server.url, "demo-office", "office-pc").await;
    let token = office["access_token"].as_str().unwrap();
    let meta: serde_json::Value =
        get_with_token(&server.url, token, &format!("/api/v1/blobs/{hash}/meta"))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        meta["linked_documents"],
        serde_json::json!([hazard.to_string()])
    );
    let link: serde_json::Value = get_with_token(
        &server.url,
        token,
        &format!("/api/v1/blobs/{hash}/url?variant=display"),
    )
    .await
    .json()
    .await
    .unwrap();
    let shown = reqwest::get(format!("{}{}", server.url, link["url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let img = image::load_from_memory(&shown).unwrap();
    assert_eq!((img.width(), img.height()), (1280, 960));
    let leader = server.device("demo-leader").await;
    leader.client.sync_now().await.unwrap();
    assert_eq!(
        leader.client.hazard(&hazard).unwrap().doc.photos,
        vec![hash]
    );
    server.stop().await;
}
both_backends!(
    photo_taken_offline_survives_two_kills,
    photo_taken_offline_survives_two_kills
);

/// The background uploader runs beside sync, and a photo the server refuses
/// is marked failed for good instead of being retried forever.
async fn background_uploads_and_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = server.device("demo-volunteer").await;
    let mut events = phone.client.subscribe();
    phone.client.start_sync();
    let good = phone
        .client
        .import_photo_bytes(&crate::photos::jpeg(120, 90, 1))
        .unwrap();
    // JPEG magic, then nothing decodable: the server refuses it.
    let mut broken = vec![0xFF, 0xD8, 0xFF, 0xE0];
    broken.extend(b"the rest of this file was lost");
    let bad = phone.client.import_photo_bytes(&broken).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut uploaded, mut refused) = (Vec::new(), Vec::new());
    while uploaded.is_empty() || refused.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("both photos settle within 30 s")
            .unwrap()
        {
            SyncEvent::PhotoUploaded { hash } => uploaded.push(hash),
            SyncEvent::PhotoFailed {
                hash,
                retrying: false,
                message,
            } => refused.push((hash, message)),
            _ => {}
        }
    }
    assert_eq!(uploaded, vec![good.clone()]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, bad);
    assert!(refused[0].1.contains("image"), "{}", refused[0].1);
    let queue = phone.client.photo_uploads().unwrap();
    let state_of = |h: &str| queue.iter().find(|p| p.hash == h).unwrap().state;
    assert_eq!(state_of(&good), PhotoState::Uploaded);
    assert_eq!(state_of(&bad), PhotoState::Failed);
    assert!(
        server
            .state
            .store
            .blob("demo", &bad)
            .await
            .unwrap()
            .is_none()
    );
    phone.client.stop_sync();
    server.stop().await;
}
both_backends!(
    background_uploads_and_refusals,
    background_uploads_and_refusals
);

/// An upload that another request still holds when the phone comes back
/// (its own previous connection, cut by a restart before the server noticed)
/// is picked up in the same pass once that request ends: the phone asks where
/// the upload stands and goes on from there, instead of giving up until the
/// next retry.
async fn a_held_upload_resumes_in_the_same_pass(backend: Backend) {
    let server = TestServer::start(backend).await;
    let signal = WeakSignal::start(&server.url, 1 << 20).await;
    let mut phone = Device::login(&signal.url, "demo-grid").await;
    let camera = tempfile::tempdir().unwrap();
    let path = camera.path().join("IMG_0043.jpg");
    std::fs::write(&path, camera_jpeg()).unwrap();
    let hash = phone.client.import_photo(&path).unwrap();

    // A first pass, cut 1 MiB in: the upload exists on the server.
    kill_mid_upload(&mut phone, &signal.url, 1 << 20).await;

    // Another request holds the upload for a moment when the phone resumes.
    let ids = server
        .state
        .store
        .uploads_idle_since(i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // The cut request may still hold it a moment, until the server notices.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let held = loop {
        if let Some(lock) = server.state.photos.lock_upload(&ids[0]) {
            break lock;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cut request never let go"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(held);
    });
    let done = phone.client.upload_photos_now().await.unwrap();
    release.await.unwrap();
    assert_eq!(
        (done.uploaded, done.failed, done.waiting),
        (1, 0, 0),
        "{:?}",
        phone.client.photo_uploads()
    );
    let meta = server.state.store.blob("demo", &hash).await.unwrap();
    assert!(meta.is_some(), "the server holds the photo");
    server.stop().await;
}
both_backends!(
    an_upload_held_by_another_request_resumes_in_the_same_pass,
    a_held_upload_resumes_in_the_same_pass
);
