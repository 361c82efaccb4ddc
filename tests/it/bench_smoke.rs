//! The benchmarks work: `fieldsync-bench`'s sync, night, reports, simulate and benchmarks, run at a tiny
//! size against the server binary as a child process, produce figures that
//! make sense. Nothing here checks how fast anything is.

use std::path::PathBuf;
use std::time::Duration;

use fieldsync_bench::benchmarks::{self, BenchmarksArgs};
use fieldsync_bench::night::{self, NightArgs};
use fieldsync_bench::reports::{self, ReportsArgs};
use fieldsync_bench::server::ServerArgs;
use fieldsync_bench::simulate::{self, SimulateArgs};
use fieldsync_bench::sync::{self, SyncArgs};

/// A benchmark at smoke size takes seconds; past this it hangs.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// The server binary this package's tests get built: the `fieldsync`
/// command line under another name.
fn server() -> ServerArgs {
    ServerArgs {
        server: Some(PathBuf::from(env!("CARGO_BIN_EXE_fieldsync-test-server"))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_pushes_pulls_and_reconnects() {
    let args = SyncArgs {
        docs: 20,
        edits: 2,
        database_url: None,
        json: None,
        server: server(),
    };
    let f = tokio::time::timeout(RUN_TIMEOUT, sync::run(&args))
        .await
        .expect("the benchmark ends")
        .expect("the benchmark succeeds");
    assert_eq!((f.backend, f.docs, f.edits), ("sqlite", 20, 2));
    assert_eq!(f.pulled_docs, 20, "the fresh device pulled every document");
    assert_eq!(
        f.reconnect_pulled_docs, 1,
        "the reconnect pulled only the changed document"
    );
    for (name, v) in [
        ("push_s", f.push_s),
        ("pull_s", f.pull_s),
        ("reconnect_ms", f.reconnect_ms),
        ("server_peak_rss_mb", f.server_peak_rss_mb),
    ] {
        assert!(v > 0.0, "{name} should be positive: {f:?}");
    }
    // Reconnecting after one change costs more than one with none changed,
    // and far less than pulling everything.
    assert!(
        f.idle_reconnect_bytes < f.reconnect_bytes && f.reconnect_bytes < f.pull_bytes,
        "{f:?}"
    );
    assert!(f.push_bytes > 0, "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_of_team_1() {
    let args = NightArgs {
        json: None,
        server: server(),
    };
    let f = tokio::time::timeout(RUN_TIMEOUT, night::run(&args))
        .await
        .expect("the benchmark ends")
        .expect("the benchmark succeeds");
    // 2 patrols, 2 hazards, 1 incident; 8 posts × 3 rounds; 2 phones × 3
    // rounds × 400 points.
    assert_eq!((f.documents, f.checkins, f.breadcrumbs), (5, 24, 2400));
    assert!(f.members_wire_bytes > 0 && f.leader_wire_bytes > 0, "{f:?}");
    assert!(
        f.stored_document_bytes > 0 && f.server_db_growth_bytes > 0,
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_reports_on_postgres() {
    let args = ReportsArgs {
        checkins: 2_400,
        repeat: 1,
        admin_url: crate::support::admin_url(),
        json: None,
        server: server(),
    };
    let f = tokio::time::timeout(RUN_TIMEOUT, reports::run(&args))
        .await
        .expect("the benchmark ends")
        .expect("the benchmark succeeds");
    assert_eq!(
        f.report_checkins, 2_400,
        "the report counts what was loaded"
    );
    assert_eq!(f.export_rows, 2_400, "the export holds every check-in");
    assert_eq!(f.requests.len(), 5);
    assert!(
        f.requests.iter().all(|r| r.bytes > 0 && r.median_s > 0.0),
        "{f:?}"
    );
}

#[test]
fn a_missing_server_binary_says_how_to_build_it() {
    let args = ServerArgs {
        server: Some(PathBuf::from("/nonexistent/fieldsync")),
    };
    let message = args.binary().unwrap_err().to_string();
    assert!(
        message.contains("/nonexistent/fieldsync")
            && message.contains("cargo build --release -p fieldsync-server"),
        "{message}"
    );
}

/// A simulation of `devices` phones in teams of `team_size`, two check-ins a
/// second for `secs` and two offline, a hazard with a photo every
/// `hazard_every` check-ins, after `stored_docs` stored documents.
async fn simulated(
    devices: usize,
    team_size: usize,
    secs: u64,
    hazard_every: u64,
    stored_docs: usize,
) -> simulate::SimulateFigures {
    let args = SimulateArgs {
        devices,
        team_size,
        rate: 2.0,
        secs,
        offline_checkins: 2,
        hazard_every,
        stored_docs,
        database_url: None,
        json: None,
        quiet: true,
        server: server(),
    };
    tokio::time::timeout(RUN_TIMEOUT, simulate::run(&args))
        .await
        .expect("the simulation ends")
        .expect("the simulation succeeds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_drives_phones_through_a_night_an_outage_and_the_storm() {
    let f = simulated(12, 4, 2, 3, 0).await;
    assert_eq!((f.devices, f.teams), (12, 3));
    assert_eq!(f.connections_held, 12, "{f:?}");
    assert_eq!(f.failed_devices, 0, "{f:?}");
    assert_eq!(f.unacked_checkins, 0, "every check-in was acknowledged");
    // At least 3 ticks of the night each: one hazard with a photo each.
    assert_eq!(f.photo_hazards, 12, "{f:?}");
    assert!(f.photo_upload_p99_ms >= f.photo_upload_p50_ms && f.photo_upload_p50_ms > 0.0);
    // Two a second for two seconds (4 or 5 ticks each), plus the outage's 2.
    assert!(
        (12 * 5..=12 * 7).contains(&f.checkins),
        "check-ins made: {f:?}"
    );
    assert!(
        f.acks_per_s > 0.0 && f.ack_p50_ms > 0.0 && f.ack_p99_ms >= f.ack_p50_ms,
        "{f:?}"
    );
    assert!(f.storm_s > 0.0 && f.server_peak_rss_mb > 0.0, "{f:?}");
    assert!(
        f.night_commits > 0 && f.change_queries_per_commit > 0.0,
        "the night's queries and commits were counted: {f:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_stores_documents_no_phone_reads_before_the_phones_come() {
    let f = simulated(6, 3, 1, 0, 40).await;
    assert_eq!((f.stored_docs, f.connections_held), (40, 6), "{f:?}");
    assert_eq!((f.failed_devices, f.unacked_checkins), (0, 0), "{f:?}");
}

/// A probe that prints the line the physical-limit probe prints, and fails
/// unless it was asked for the documents and edits of the sync runs.
const FAKE_PROBE: &str = "#!/bin/sh\n[ \"$1 $2\" = \"20 2\" ] || exit 3\n\
echo 'n=20 k=2 create=0.01s save=0.02s wire=0.1MB (482 B/doc) server_load_save_store=0.03s \
pull_load=0.04s initial_rounds=2 reconnect_1doc=600B/6msgs/1ms syncstate=100B'\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmarks_writes_every_target_and_keeps_the_hand_written_part() {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("limit");
    std::fs::write(&probe, FAKE_PROBE).unwrap();
    let mut permissions = std::fs::metadata(&probe).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&probe, permissions).unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    std::fs::write(
        &out,
        format!(
            "# stale\n\n{}\n\n## Where the time goes\nA profile.\n",
            benchmarks::HAND_WRITTEN
        ),
    )
    .unwrap();
    let args = BenchmarksArgs {
        out: out.clone(),
        limit_probe: Some(probe),
        database_url: None,
        smoke: true,
        json: None,
        quiet: true,
        server: server(),
    };
    let figures = tokio::time::timeout(Duration::from_secs(170), benchmarks::run(&args))
        .await
        .expect("the benchmarks end")
        .expect("the benchmarks succeed");
    benchmarks::write(&figures, &out).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("# stale"), "the generated part is new");
    assert!(
        text.ends_with("## Where the time goes\nA profile.\n"),
        "the hand-written part is kept: {text}"
    );
    for target in [
        "an idle device ≤ 24 KB",
        "16 idle devices < 300 MB",
        "30 stored documents and 8 devices online < 150 MB",
        "check-in ack p99 < 100 ms, 12 devices",
        "one commit costs O(1) change queries",
        "16-device reconnect storm < 60 s",
        "push of 20 documents × 2 edits within 1.5× the probe",
        "fresh pull of 20 documents × 2 edits within 1.5× the probe",
        "reconnect after one change < 1 KB",
    ] {
        assert!(text.contains(&format!("| {target}")), "{target}: {text}");
    }
    let probe = figures.probe.expect("the probe ran");
    assert!((probe.push_s - 0.05).abs() < 1e-9, "{probe:?}");
    let push = figures.sync_sqlite.push_s / 0.05;
    assert!(
        text.contains(&format!(
            "SQLite {:.2} s ({push:.1}×)",
            figures.sync_sqlite.push_s
        )),
        "the push beside its ratio to the probe: {text}"
    );
    assert!(text.contains("probe with a saved sync state: 600 B in 6 messages"));
    assert!(text.contains("A smoke run"), "a smoke run says so");
}
