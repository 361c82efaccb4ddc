//! Smoke tests: the built `fieldsync-bench` runs its benchmarks at a tiny
//! size against the `fieldsync` server built beside it (`target/debug/` under
//! `cargo nextest run`) and writes figures that make sense. They check that
//! the benchmarks work, never how fast anything is.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A benchmark run at smoke size takes seconds; past this it hangs.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn bench_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fieldsync-bench"))
}

/// The `fieldsync` server in the same target directory as the benchmark,
/// where `--server` looks by default. Cargo builds a package's own binaries
/// for its tests, not the server's, hence the explicit message.
fn server_binary() -> PathBuf {
    let path = bench_binary().with_file_name(format!("fieldsync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "no server binary at {}: build it first with `cargo build -p fieldsync-server` \
         (or `cargo build --workspace`)",
        path.display()
    );
    path
}

/// Runs `fieldsync-bench <args>` to completion, killing it after
/// `RUN_TIMEOUT`.
fn run_bench(args: &[&str]) -> Output {
    let mut child = Command::new(bench_binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fieldsync-bench starts");
    let started = Instant::now();
    while child
        .try_wait()
        .expect("waiting for fieldsync-bench")
        .is_none()
    {
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("fieldsync-bench output");
            panic!(
                "fieldsync-bench {args:?} still running after {} s; stderr:\n{}",
                RUN_TIMEOUT.as_secs(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("fieldsync-bench output")
}

/// Runs a benchmark with `--json` against the debug server and returns the
/// figures it wrote.
fn figures_of(bench: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("figures.json");
    let server = server_binary();
    let mut args = bench.to_vec();
    args.extend([
        "--json",
        json.to_str().expect("temp path is UTF-8"),
        "--server",
        server.to_str().expect("target path is UTF-8"),
    ]);
    let out = run_bench(&args);
    assert!(
        out.status.success(),
        "fieldsync-bench {bench:?} failed ({}); stdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    read_json(&json)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the benchmark wrote its JSON");
    serde_json::from_str(&text).expect("the figures are JSON")
}

fn number(figures: &Value, key: &str) -> f64 {
    figures[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key} in {figures:#}"))
}

#[test]
fn sync_pushes_pulls_and_reconnects() {
    let f = figures_of(&["sync", "--docs", "20", "--edits", "2"]);
    assert_eq!(f["backend"], "sqlite", "{f:#}");
    assert_eq!(f["docs"], 20, "{f:#}");
    assert_eq!(f["edits"], 2, "{f:#}");
    assert_eq!(
        f["pulled_docs"], 20,
        "the fresh device pulled every document"
    );
    assert_eq!(
        f["reconnect_pulled_docs"], 1,
        "the reconnect pulled only the changed document"
    );
    for key in ["push_s", "pull_s", "reconnect_ms", "server_peak_rss_mb"] {
        assert!(number(&f, key) > 0.0, "{key} should be positive: {f:#}");
    }
    for key in ["push_bytes", "pull_bytes", "reconnect_bytes"] {
        assert!(number(&f, key) > 0.0, "{key} should be positive: {f:#}");
    }
    // Reconnecting after one change costs more than one with none changed,
    // and far less than pulling everything.
    let (one, none) = (
        number(&f, "reconnect_bytes"),
        number(&f, "idle_reconnect_bytes"),
    );
    assert!(none < one && one < number(&f, "pull_bytes"), "{f:#}");
}

#[test]
fn night_of_team_1() {
    let f = figures_of(&["night"]);
    // 2 patrols, 2 hazards, 1 incident; 8 posts × 3 rounds; 2 phones × 3
    // rounds × 400 points.
    assert_eq!(f["documents"], 5, "{f:#}");
    assert_eq!(f["checkins"], 24, "{f:#}");
    assert_eq!(f["breadcrumbs"], 2400, "{f:#}");
    for key in [
        "members_wire_bytes",
        "leader_wire_bytes",
        "stored_document_bytes",
        "server_db_growth_bytes",
    ] {
        assert!(number(&f, key) > 0.0, "{key} should be positive: {f:#}");
    }
}

#[test]
fn a_missing_server_binary_says_how_to_build_it() {
    let out = run_bench(&["sync", "--docs", "1", "--server", "/nonexistent/fieldsync"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/fieldsync")
            && stderr.contains("cargo build --release -p fieldsync-server"),
        "{stderr}"
    );
}
