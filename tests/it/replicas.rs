//! Two `fieldsync serve` processes over one PostgreSQL database: devices on
//! different replicas edit the same documents and converge, a change on one
//! reaches a live device on the other within a second, a revocation on one
//! ends a connection on the other, the compliance lease is held once, and
//! when one replica is killed its devices carry on with the other and
//! nothing is lost. With one S3 bucket between them, a photo upload started
//! on one replica resumes on the other.

use std::time::{Duration, Instant};

use fieldsync_proto::ErrorCode;
use fieldsync_sdk::{Client, DocId};
use sqlx::Connection;

use crate::photos::{S3Server, Tus, jpeg, sha256_hex};
use crate::support::{
    ChildServer, Device, PgDb, WeakSignal, all_heads, login_json, raw_session_at,
};

/// The advisory lock key of the compliance engine (`replicas::COMPLIANCE_LEASE`).
const COMPLIANCE_LEASE: i64 = 0x0066_6965_6c64_7301;

/// Posts of route-stairwells that both volunteers check in at.
const POSTS: [&str; 4] = [
    "post-b3-u1-f5",
    "post-b3-u1-f9",
    "post-b3-u2-f5",
    "post-b3-u2-f9",
];

struct Replicas {
    db: PgDb,
    _dirs: tempfile::TempDir,
    a: Option<ChildServer>,
    b: ChildServer,
}

impl Replicas {
    /// Replica A seeds the demo community's people and places; then B
    /// starts on the same database. Both run the compliance engine every
    /// second.
    async fn start() -> Replicas {
        Replicas::start_with("").await
    }

    /// [`Replicas::start`] with more lines of configuration.
    async fn start_with(more_config: &str) -> Replicas {
        let db = PgDb::create().await;
        let dirs = tempfile::tempdir().unwrap();
        let config = dirs.path().join("fieldsync.toml");
        std::fs::write(&config, format!("compliance_tick_secs = 1\n{more_config}")).unwrap();
        // Each replica names its database sessions, so the test can tell
        // which one holds the compliance lease.
        let spawn = |name: &str| {
            let url = format!("{}?application_name=fieldsync-{name}", db.url);
            ChildServer::spawn_with(
                &dirs.path().join(name),
                &[
                    "--listen",
                    "127.0.0.1:0",
                    "--no-demo-documents",
                    "--database-url",
                    &url,
                    "--config",
                    config.to_str().unwrap(),
                ],
            )
        };
        let a = spawn("a");
        let b = spawn("b");
        Replicas {
            db,
            _dirs: dirs,
            a: Some(a),
            b,
        }
    }

    fn a(&self) -> &ChildServer {
        self.a.as_ref().expect("replica A runs")
    }

    async fn stop(mut self) {
        drop(self.a.take());
        drop(self.b);
        self.db.drop_db().await;
    }
}

/// The ids of the patrol's check-ins as `client` holds them.
fn checkin_ids(client: &Client, patrol: &DocId) -> Vec<String> {
    let doc = client.patrol(patrol).unwrap();
    doc.checkins.into_iter().map(|c| c.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_reaches_a_device_on_the_other_within_a_second() {
    let replicas = Replicas::start().await;
    let (mut watcher, _) = raw_session_at(&replicas.b.url, "demo-volunteer-2", "dev-watch-b").await;
    let writer = Device::login(&replicas.a().url, "demo-volunteer").await;

    for round in 0..5 {
        let patrol = writer
            .client
            .start_patrol("team-1", "route-stairwells")
            .unwrap();
        writer.client.sync_now().await.unwrap();
        let took = watcher.announced(&patrol, Duration::from_secs(1)).await;
        println!("round {round}: A's ack to B's announcement {took:?}");
    }

    // The office revokes the watcher's phone on A: B drops its connection.
    let office = login_json(&replicas.a().url, "demo-office", "dev-office-a").await;
    let revoked = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/devices/dev-watch-b/revoke",
            replicas.a().url
        ))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let (code, _) = tokio::time::timeout(Duration::from_secs(1), watcher.expect_error())
        .await
        .expect("B ends the revoked device's connection within a second");
    assert_eq!(code, ErrorCode::DeviceRevoked);
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_two_replicas_edit_the_same_documents_and_converge() {
    let replicas = Replicas::start().await;
    let on_a = Device::login(&replicas.a().url, "demo-volunteer").await;
    let on_b = Device::login(&replicas.b.url, "demo-volunteer-2").await;
    let leader = Device::login(&replicas.b.url, "demo-leader").await;

    let patrol = on_a
        .client
        .start_patrol("team-1", "route-stairwells")
        .unwrap();
    on_a.client.sync_now().await.unwrap();
    on_b.client.sync_now().await.unwrap();

    // Both check in on the one patrol, offline, then sync at the same
    // moment through different replicas: both accept changes to the same
    // document at once, and neither loses the other's.
    let mut made = Vec::new();
    for round in 0..6 {
        for (i, phone) in [&on_a, &on_b].into_iter().enumerate() {
            let post = POSTS[(round + i) % POSTS.len()];
            made.push(
                phone
                    .client
                    .check_in(&patrol, post, None, "sticker torn", None, "")
                    .unwrap(),
            );
            phone
                .client
                .add_patrol_note(&patrol, &format!("round {round} phone {i}"))
                .unwrap();
        }
        let (a, b) = tokio::join!(on_a.client.sync_now(), on_b.client.sync_now());
        a.unwrap();
        b.unwrap();
    }
    // Conflicts are retried: sync until both outboxes are empty.
    for _ in 0..10 {
        let (a, b) = tokio::join!(on_a.client.sync_now(), on_b.client.sync_now());
        a.unwrap();
        b.unwrap();
        if on_a.client.pending_changes().unwrap() == 0
            && on_b.client.pending_changes().unwrap() == 0
        {
            break;
        }
    }
    assert_eq!(on_a.client.pending_changes().unwrap(), 0);
    assert_eq!(on_b.client.pending_changes().unwrap(), 0);
    on_a.client.sync_now().await.unwrap();
    on_b.client.sync_now().await.unwrap();
    leader.client.sync_now().await.unwrap();

    let heads = all_heads(&leader.client);
    assert_eq!(all_heads(&on_a.client)[&patrol], heads[&patrol]);
    assert_eq!(all_heads(&on_b.client)[&patrol], heads[&patrol]);
    let checkins = checkin_ids(&leader.client, &patrol);
    for id in &made {
        assert_eq!(
            checkins.iter().filter(|c| *c == id).count(),
            1,
            "check-in {id} is on the server once"
        );
    }
    assert_eq!(checkins.len(), made.len());

    // The compliance engine runs on one replica: one holds the lease.
    let mut pg = sqlx::PgConnection::connect(&replicas.db.url).await.unwrap();
    assert_eq!(lease_holders(&mut pg).await.len(), 1, "one lease holder");
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_devices_continue_on_the_other_with_nothing_lost() {
    let mut replicas = Replicas::start().await;
    // The phone knows one address, the load balancer's, which sends it to A.
    let balancer = WeakSignal::start(&replicas.a().url, u64::MAX).await;
    let phone = Device::login(&balancer.url, "demo-volunteer").await;
    let patrol = phone
        .client
        .start_patrol("team-1", "route-stairwells")
        .unwrap();
    let first = phone
        .client
        .check_in(&patrol, POSTS[0], None, "sticker torn", None, "")
        .unwrap();
    phone.client.sync_now().await.unwrap();

    // Offline on the stairs; meanwhile replica A dies without a word.
    let later = phone
        .client
        .check_in(&patrol, POSTS[1], None, "sticker torn", None, "")
        .unwrap();
    let mut pg = sqlx::PgConnection::connect(&replicas.db.url).await.unwrap();
    wait_for_lease(&mut pg, "fieldsync-a").await;
    replicas.a.take().unwrap().kill9();
    assert!(phone.client.sync_now().await.is_err(), "A is gone");

    // The balancer sends the phone's next connection to B; its session and
    // outbox carry over.
    balancer.redirect(&replicas.b.url);
    phone.client.sync_now().await.unwrap();
    assert_eq!(phone.client.pending_changes().unwrap(), 0);

    let leader = Device::login(&replicas.b.url, "demo-leader").await;
    leader.client.sync_now().await.unwrap();
    let ids = checkin_ids(&leader.client, &patrol);
    assert!(ids.contains(&first) && ids.contains(&later), "{ids:?}");
    assert_eq!(
        all_heads(&leader.client)[&patrol],
        all_heads(&phone.client)[&patrol]
    );

    // B takes over the compliance engine once A's session is gone.
    wait_for_lease(&mut pg, "fieldsync-b").await;
    replicas.stop().await;
}

/// The sessions (by application name) holding the compliance lease.
async fn lease_holders(pg: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
    )
    .bind(COMPLIANCE_LEASE)
    .fetch_all(pg)
    .await
    .unwrap()
}

async fn wait_for_lease(pg: &mut sqlx::PgConnection, replica: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let holders = lease_holders(pg).await;
        if holders == [replica] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{replica} does not hold the compliance lease: {holders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_upload_started_on_one_replica_resumes_on_the_other() {
    let s3 = S3Server::start().await;
    let bucket = "fieldsync-replicas";
    s3.bucket("create", bucket).await;
    let replicas = Replicas::start_with(&format!(
        "[photos.s3]\nbucket = \"{bucket}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"fieldsync-test\"\nsecret_access_key = \"fieldsync-test\"\n",
        s3.endpoint
    ))
    .await;
    let on_a = Tus::login_at(&replicas.a().url, "demo-volunteer", "phone-tang").await;
    let on_b = on_a.at(&replicas.b.url);
    let photo = jpeg(320, 240, 11);
    let half = photo.len() / 2;

    let location = on_a.create_ok(photo.len(), "").await;
    let first = on_a.patch(&location, 0, &photo[..half], None).await;
    assert_eq!(first.status(), reqwest::StatusCode::NO_CONTENT);
    assert_eq!(
        on_b.offset(&location).await,
        half as u64,
        "B sees A's offset"
    );
    let parts = s3.bucket("list", bucket).await;
    assert_eq!(
        parts
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("upload-parts/"))
            .count(),
        1,
        "the first half is one part in the bucket: {parts}"
    );

    // The phone's signal moves it to B, which has none of the bytes on disk.
    let done = on_b.patch(&location, half, &photo[half..], None).await;
    assert_eq!(done.status(), reqwest::StatusCode::NO_CONTENT);
    let hash = sha256_hex(&photo);
    assert_eq!(done.headers()["fieldsync-blob-hash"], hash.as_str());
    assert_eq!(done.headers()["fieldsync-blob-stored"], "new");

    // A replayed first chunk on A is refused: the offset moved on B.
    let replay = on_a.patch(&location, 0, &photo[..half], None).await;
    assert_eq!(replay.status(), reqwest::StatusCode::CONFLICT);

    // Both replicas serve the photo; the bucket holds its forms, no parts.
    for phone in [&on_a, &on_b] {
        let (_, original) = phone.read(&hash, "original").await;
        let img = image::load_from_memory(&original).unwrap();
        assert_eq!((img.width(), img.height()), (320, 240));
    }
    let objects = s3.bucket("list", bucket).await;
    let keys: Vec<&String> = objects.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("blobs/{hash}/"))),
        "only the photo's forms are left: {keys:?}"
    );
    replicas.stop().await;
}
