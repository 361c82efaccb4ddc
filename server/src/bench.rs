//! `fieldsync bench …`: measurements that print a table and write JSON.
//!
//! The server runs as a child process (this same binary, `serve`), so its
//! memory is measured apart from the clients'; the clients are real SDK
//! devices with their own SQLite stores.

mod night;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use automerge::ROOT;
use automerge::transaction::Transactable;
use fieldsync_sdk::{Client, HazardPlace, NewHazard, Severity};
use serde::Serialize;
use sqlx::Connection;

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Push N documents, pull them on a fresh device, reconnect after one change
    Sync(SyncArgs),
    /// The phone side: a fresh device pulls N documents, then the app restarts
    /// and opens and syncs its store; memory and times of the SDK process
    Sdk(SdkArgs),
    /// One SDK process for `bench sdk` (internal): open, log in if asked, sync,
    /// print figures as one JSON line
    #[command(hide = true)]
    SdkProbe(ProbeArgs),
    /// What one night of a demo team costs in documents and bytes
    Night(night::NightArgs),
    /// Photo uploads through the tus endpoint: one photo, then many at once;
    /// throughput and the server's peak memory
    Uploads(crate::photos::bench::UploadArgs),
}

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
}

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    #[arg(long)]
    pub data_dir: std::path::PathBuf,
    #[arg(long)]
    pub server_url: String,
    /// Log in as this demo user first (a fresh device)
    #[arg(long)]
    pub login: Option<String>,
}

/// What one SDK process measured.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ProbeFigures {
    pub open_ms: f64,
    pub sync_ms: f64,
    pub docs: usize,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
}

/// The figures of one `bench sdk` run.
#[derive(Debug, Serialize)]
pub struct SdkFigures {
    pub docs: usize,
    pub edits: usize,
    /// A fresh device logging in and pulling every document.
    pub fresh_pull: ProbeFigures,
    /// The app restarted: open the existing store and sync (nothing changed).
    pub reopen: ProbeFigures,
    /// Size of the device's SQLite store on disk.
    pub store_mb: f64,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Documents to create
    #[arg(long, default_value_t = 1000)]
    pub docs: usize,
    /// Edits per document
    #[arg(long, default_value_t = 5)]
    pub edits: usize,
    /// PostgreSQL server to use (a scratch database is created on it and
    /// dropped afterwards); embedded SQLite when absent
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Write the figures as JSON here
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// The figures of one `bench sync` run.
#[derive(Debug, Serialize)]
pub struct SyncFigures {
    pub backend: &'static str,
    pub docs: usize,
    pub edits: usize,
    /// Creating the documents offline on the device (not part of push).
    pub create_s: f64,
    pub push_s: f64,
    pub pull_s: f64,
    pub reconnect_bytes: u64,
    pub reconnect_ms: f64,
    /// Bytes of a reconnect with nothing changed (handshake only).
    pub idle_reconnect_bytes: u64,
    pub push_bytes: u64,
    pub pull_bytes: u64,
    pub server_rss_mb: f64,
    pub server_peak_rss_mb: f64,
    /// Server CPU seconds spent in push and in pull.
    pub server_push_cpu_s: f64,
    pub server_pull_cpu_s: f64,
}

/// Writes a benchmark's figures as JSON when `--json` was given.
pub(crate) fn write_json(
    path: Option<&std::path::Path>,
    figures: &impl Serialize,
) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Sync(args) => {
            let figures = bench_sync(&args).await?;
            print_table(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::Sdk(args) => {
            let figures = bench_sdk(&args).await?;
            print_sdk_table(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::Night(args) => {
            let figures = night::run(&args).await?;
            night::print(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::Uploads(args) => crate::photos::bench::run(&args).await,
        BenchCommand::SdkProbe(args) => {
            let figures = sdk_probe(&args).await?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
    }
}

fn print_sdk_table(f: &SdkFigures) {
    println!(
        "fieldsync bench sdk — {} docs × {} edits in the device store",
        f.docs, f.edits
    );
    let row = |name: &str, v: String| println!("  {name:<34} {v:>12}");
    row(
        "fresh device: pull (s)",
        format!("{:.2}", f.fresh_pull.sync_ms / 1000.0),
    );
    row(
        "fresh device: peak RSS (MB)",
        format!("{:.1}", f.fresh_pull.peak_rss_mb),
    );
    row(
        "restart: open store (ms)",
        format!("{:.1}", f.reopen.open_ms),
    );
    row(
        "restart: sync, nothing new (ms)",
        format!("{:.1}", f.reopen.sync_ms),
    );
    row(
        "restart: RSS after sync (MB)",
        format!("{:.1}", f.reopen.rss_mb),
    );
    row(
        "restart: peak RSS (MB)",
        format!("{:.1}", f.reopen.peak_rss_mb),
    );
    row("store on disk (MB)", format!("{:.1}", f.store_mb));
}

/// (current, peak) resident set size in MB of process `pid`, from /proc.
pub(crate) fn rss_mb_of(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn sdk_probe(args: &ProbeArgs) -> anyhow::Result<ProbeFigures> {
    let t = Instant::now();
    let client = Client::open(&args.data_dir, &args.server_url)?;
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    if let Some(user) = &args.login {
        client.login(user, crate::demo::PASSWORD).await?;
    }
    let t = Instant::now();
    client.sync_now().await.context("sync")?;
    let sync_ms = t.elapsed().as_secs_f64() * 1000.0;
    let docs = client.document_ids(None)?.len();
    let (rss_mb, peak_rss_mb) = rss_mb_of("self");
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
    let exe = std::env::current_exe().context("locating the fieldsync binary")?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "bench",
        "sdk-probe",
        "--server-url",
        server_url,
        "--data-dir",
    ])
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

async fn bench_sdk(args: &SdkArgs) -> anyhow::Result<SdkFigures> {
    if args.docs == 0 || args.edits == 0 {
        bail!("--docs and --edits must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let server = ChildServer::spawn(&dir.path().join("server"), None)?;
    let writer = Client::open(dir.path().join("writer"), &server.url)?;
    writer
        .login("demo-volunteer", crate::demo::PASSWORD)
        .await?;
    create_hazards(&writer, args.docs, args.edits)?;
    writer.sync_now().await.context("push")?;

    let phone = dir.path().join("phone");
    let fresh_pull = run_probe(&phone, &server.url, Some("demo-leader"))?;
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

/// Reports `docs` hazards offline and edits each description `edits - 1` times.
fn create_hazards(
    client: &Client,
    docs: usize,
    edits: usize,
) -> anyhow::Result<Vec<fieldsync_sdk::DocId>> {
    let mut ids = Vec::with_capacity(docs);
    for i in 0..docs {
        let id = client.report_hazard(NewHazard {
            category: "exit_blocked".into(),
            severity: Severity::General,
            immediate: false,
            description: format!("Bikes in stairwell {} blocking the exit", i % 24),
            place: HazardPlace {
                // Buildings 1-3: grid 1, which the demo leader reads.
                post_id: Some(format!("post-b{}-u{}-f5", i % 3 + 1, i % 2 + 1)),
                ..HazardPlace::default()
            },
            photos: Vec::new(),
        })?;
        for e in 1..edits {
            client.change_document(&id, |tx| {
                tx.put(ROOT, "description", format!("edit {e}"))?;
                Ok(())
            })?;
        }
        ids.push(id);
    }
    Ok(ids)
}

fn print_table(f: &SyncFigures) {
    println!(
        "fieldsync bench sync — {} docs × {} edits, {}",
        f.docs, f.edits, f.backend
    );
    println!(
        "  {:<34} {:>12}",
        "create offline (s)",
        format!("{:.2}", f.create_s)
    );
    println!("  {:<34} {:>12}", "push (s)", format!("{:.3}", f.push_s));
    println!(
        "  {:<34} {:>12}",
        "fresh pull (s)",
        format!("{:.3}", f.pull_s)
    );
    println!(
        "  {:<34} {:>12}",
        "reconnect, 1 changed (bytes)", f.reconnect_bytes
    );
    println!(
        "  {:<34} {:>12}",
        "reconnect, 1 changed (ms)",
        format!("{:.1}", f.reconnect_ms)
    );
    println!(
        "  {:<34} {:>12}",
        "reconnect, none changed (bytes)", f.idle_reconnect_bytes
    );
    println!("  {:<34} {:>12}", "push on the wire (bytes)", f.push_bytes);
    println!("  {:<34} {:>12}", "pull on the wire (bytes)", f.pull_bytes);
    println!(
        "  {:<34} {:>12}",
        "server RSS now (MB)",
        format!("{:.1}", f.server_rss_mb)
    );
    println!(
        "  {:<34} {:>12}",
        "server peak RSS (MB)",
        format!("{:.1}", f.server_peak_rss_mb)
    );
}

/// A scratch PostgreSQL database, created for one run.
struct ScratchDb {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDb {
    async fn create(admin_url: &str) -> anyhow::Result<ScratchDb> {
        let name = format!("fieldsync_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {}", crate::config::redact_url(admin_url)))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let (base, _) = admin_url
            .rsplit_once('/')
            .context("database URL has no database name")?;
        Ok(ScratchDb {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    async fn drop_db(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
}

/// The server as a child process.
pub(crate) struct ChildServer {
    child: Child,
    pub(crate) url: String,
}

impl ChildServer {
    pub(crate) fn spawn(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<ChildServer> {
        let exe = std::env::current_exe().context("locating the fieldsync binary")?;
        let mut cmd = Command::new(exe);
        cmd.args([
            "serve",
            "--no-demo-documents",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("starting the server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let Some(line) = lines.next() else {
                bail!("the server exited before listening")
            };
            if let Some(rest) = line?.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(ChildServer { child, url })
    }

    /// CPU seconds (user + system) the server used so far, from /proc.
    pub(crate) fn cpu_s(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
        let ticks: f64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|t| t.parse::<f64>().ok())
            .sum();
        ticks / 100.0
    }

    /// (current, peak) resident set size in MB, from /proc.
    pub(crate) fn rss_mb(&self) -> (f64, f64) {
        rss_mb_of(&self.child.id().to_string())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn bench_sync(args: &SyncArgs) -> anyhow::Result<SyncFigures> {
    if args.docs == 0 || args.edits == 0 {
        bail!("--docs and --edits must be at least 1");
    }
    let scratch = match &args.database_url {
        Some(url) => Some(ScratchDb::create(url).await?),
        None => None,
    };
    let result = bench_sync_on(args, scratch.as_ref().map(|s| s.url.as_str())).await;
    if let Some(s) = scratch {
        s.drop_db().await;
    }
    result
}

async fn bench_sync_on(args: &SyncArgs, database_url: Option<&str>) -> anyhow::Result<SyncFigures> {
    let dir = tempfile::tempdir()?;
    let server = ChildServer::spawn(&dir.path().join("server"), database_url)?;
    let password = crate::demo::PASSWORD;

    let writer = Client::open(dir.path().join("writer"), &server.url)?;
    writer.login("demo-volunteer", password).await?;
    let t = Instant::now();
    let ids = create_hazards(&writer, args.docs, args.edits)?;
    let create_s = t.elapsed().as_secs_f64();

    let before = writer.transport_counters();
    let cpu = server.cpu_s();
    let t = Instant::now();
    writer.sync_now().await.context("push")?;
    let push_s = t.elapsed().as_secs_f64();
    let server_push_cpu_s = server.cpu_s() - cpu;
    let push_bytes = writer.transport_counters().total() - before.total();
    if writer.pending_changes()? != 0 {
        bail!(
            "push left {} change sets unacknowledged",
            writer.pending_changes()?
        );
    }

    let reader = Client::open(dir.path().join("reader"), &server.url)?;
    reader.login("demo-leader", password).await?;
    let before = reader.transport_counters();
    let cpu = server.cpu_s();
    let t = Instant::now();
    reader.sync_now().await.context("pull")?;
    let pull_s = t.elapsed().as_secs_f64();
    let server_pull_cpu_s = server.cpu_s() - cpu;
    let pull_bytes = reader.transport_counters().total() - before.total();
    let pulled = reader.document_ids(None)?.len();
    if pulled != args.docs {
        bail!("fresh pull got {pulled} of {} documents", args.docs);
    }

    let before = reader.transport_counters();
    reader.sync_now().await.context("idle reconnect")?;
    let idle_reconnect_bytes = reader.transport_counters().total() - before.total();

    writer.change_document(&ids[ids.len() / 2], |tx| {
        tx.put(ROOT, "description", "bikes moved, exit clear")?;
        Ok(())
    })?;
    writer.sync_now().await.context("push one change")?;
    let before = reader.transport_counters();
    let t = Instant::now();
    let report = reader.sync_now().await.context("reconnect")?;
    let reconnect_ms = t.elapsed().as_secs_f64() * 1000.0;
    let reconnect_bytes = reader.transport_counters().total() - before.total();
    if report.pulled_docs != 1 {
        bail!(
            "reconnect pulled {} documents, expected 1",
            report.pulled_docs
        );
    }
    let (server_rss_mb, server_peak_rss_mb) = server.rss_mb();
    Ok(SyncFigures {
        backend: if database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        docs: args.docs,
        edits: args.edits,
        create_s,
        push_s,
        pull_s,
        reconnect_bytes,
        reconnect_ms,
        idle_reconnect_bytes,
        push_bytes,
        pull_bytes,
        server_rss_mb,
        server_peak_rss_mb,
        server_push_cpu_s,
        server_pull_cpu_s,
    })
}
