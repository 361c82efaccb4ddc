//! `fieldsync-bench sdk`: the phone side in its own process. A writer pushes
//! N hazards; then a fresh device (a `sdk-probe` child process) logs in and
//! pulls them, and the app restarts: a second probe opens the same store and
//! syncs with nothing new. Times, memory of each probe, store size.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use fieldsync_sdk::Client;
use serde::{Deserialize, Serialize};

use crate::demo;
use crate::server::{ChildServer, ServerArgs};

/// Flags of `fieldsync-bench sdk`.
#[derive(Debug, clap::Args)]
pub struct SdkArgs {
    /// Documents in the device's store
    #[arg(long, default_value_t = 5000)]
    pub docs: usize,
    /// Edits per document
    #[arg(long, default_value_t = 5)]
    pub edits: usize,
    /// Write the figures as JSON here
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of the hidden `sdk-probe`, which `sdk` runs as a child process.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The device's store
    #[arg(long)]
    pub data_dir: std::path::PathBuf,
    /// The running server
    #[arg(long)]
    pub server_url: String,
    /// Log in as this demo user first (a fresh device)
    #[arg(long)]
    pub login: Option<String>,
}

/// What one SDK process measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProbeFigures {
    /// Opening the store (`Client::open`).
    pub open_ms: f64,
    /// One `sync_now`.
    pub sync_ms: f64,
    /// Documents in the store after the sync.
    pub docs: usize,
    /// The process's resident set after the sync, in MB.
    pub rss_mb: f64,
    /// Its peak resident set (VmHWM), in MB.
    pub peak_rss_mb: f64,
}

/// The figures of one `sdk` run.
#[derive(Debug, Serialize)]
pub struct SdkFigures {
    /// Documents in the device's store.
    pub docs: usize,
    /// Edits per document.
    pub edits: usize,
    /// A fresh device logging in and pulling every document.
    pub fresh_pull: ProbeFigures,
    /// The app restarted: open the existing store and sync (nothing changed).
    pub reopen: ProbeFigures,
    /// Size of the device's SQLite store on disk.
    pub store_mb: f64,
}

/// Prints the figures as a table.
pub fn print(f: &SdkFigures) {
    println!(
        "fieldsync-bench sdk — {} docs × {} edits in the device store",
        f.docs, f.edits
    );
    let (fresh, reopen) = (&f.fresh_pull, &f.reopen);
    crate::print_rows(
        34,
        [
            (
                "fresh device: pull (s)",
                format!("{:.2}", fresh.sync_ms / 1000.0),
            ),
            (
                "fresh device: peak RSS (MB)",
                format!("{:.1}", fresh.peak_rss_mb),
            ),
            ("restart: open store (ms)", format!("{:.1}", reopen.open_ms)),
            (
                "restart: sync, nothing new (ms)",
                format!("{:.1}", reopen.sync_ms),
            ),
            (
                "restart: RSS after sync (MB)",
                format!("{:.1}", reopen.rss_mb),
            ),
            (
                "restart: peak RSS (MB)",
                format!("{:.1}", reopen.peak_rss_mb),
            ),
            ("store on disk (MB)", format!("{:.1}", f.store_mb)),
        ],
    );
}

/// `sdk-probe`: opens the store, logs in if asked, syncs once, and measures.
pub async fn probe(args: &ProbeArgs) -> anyhow::Result<ProbeFigures> {
    let t = Instant::now();
    let client = Client::open(&args.data_dir, &args.server_url)?;
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    if let Some(user) = &args.login {
        demo::login(&client, user).await?;
    }
    let t = Instant::now();
    client.sync_now().await.context("sync")?;
    let sync_ms = t.elapsed().as_secs_f64() * 1000.0;
    let docs = client.document_ids(None)?.len();
    let (rss_mb, peak_rss_mb) = crate::proc_stats::rss_mb("self");
    Ok(ProbeFigures {
        open_ms,
        sync_ms,
        docs,
        rss_mb,
        peak_rss_mb,
    })
}

fn run_probe(
    data_dir: &std::path::Path,
    server_url: &str,
    login: Option<&str>,
) -> anyhow::Result<ProbeFigures> {
    let exe = std::env::current_exe().context("locating the fieldsync-bench executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(["sdk-probe", "--server-url", server_url, "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
    if let Some(user) = login {
        cmd.args(["--login", user]);
    }
    let out = cmd.output().context("running the SDK probe")?;
    if !out.status.success() {
        bail!("the SDK probe failed ({})", out.status);
    }
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).context("reading the SDK probe's figures")
}

/// Runs the benchmark.
pub async fn run(args: &SdkArgs) -> anyhow::Result<SdkFigures> {
    if args.docs == 0 || args.edits == 0 {
        bail!("--docs and --edits must be at least 1");
    }
    let binary = args.server.binary()?;
    let dir = tempfile::tempdir()?;
    let server = ChildServer::spawn(&binary, &dir.path().join("server"), None)?;
    let writer = Client::open(dir.path().join("writer"), &server.url)?;
    demo::login(&writer, demo::VOLUNTEER).await?;
    crate::sync::create_hazards(&writer, args.docs, args.edits)?;
    writer.sync_now().await.context("push")?;

    let phone = dir.path().join("phone");
    let fresh_pull = run_probe(&phone, &server.url, Some(demo::LEADER))?;
    if fresh_pull.docs != args.docs {
        bail!(
            "fresh pull got {} of {} documents",
            fresh_pull.docs,
            args.docs
        );
    }
    let reopen = run_probe(&phone, &server.url, None)?;
    let store_mb = std::fs::read_dir(&phone)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / (1024.0 * 1024.0);
    Ok(SdkFigures {
        docs: args.docs,
        edits: args.edits,
        fresh_pull,
        reopen,
        store_mb,
    })
}
