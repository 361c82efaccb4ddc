//! `fieldsync-bench sync`: one device creates N hazard documents offline and
//! pushes them, a fresh device pulls them, then a reconnect after one change
//! and one with nothing changed; times, bytes on the wire, server memory and
//! CPU.

use std::time::Instant;

use anyhow::{Context, bail};
use automerge::ROOT;
use automerge::transaction::Transactable;
use fieldsync_proto::DocId;
use fieldsync_proto::model::hazard::HazardPlace;
use fieldsync_proto::model::hazard::Severity;
use fieldsync_sdk::{Client, NewHazard, SyncReport};
use serde::Serialize;

use crate::demo;
use crate::scratch_db::ScratchDb;
use crate::server::{ChildServer, ServerArgs};

/// Flags of `fieldsync-bench sync`.
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
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The figures of one `sync` run.
#[derive(Debug, Serialize)]
pub struct SyncFigures {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Documents created, pushed and pulled.
    pub docs: usize,
    /// Edits per document.
    pub edits: usize,
    /// Creating the documents offline on the device (not part of push).
    pub create_s: f64,
    /// The writer's sync that sends every document.
    pub push_s: f64,
    /// A fresh device's sync that gets every document.
    pub pull_s: f64,
    /// Documents the fresh device holds after it (the run fails unless all).
    pub pulled_docs: usize,
    /// Bytes of the reader's reconnect after one document changed.
    pub reconnect_bytes: u64,
    /// Time of that reconnect.
    pub reconnect_ms: f64,
    /// Documents that reconnect pulled (the run fails unless exactly one).
    pub reconnect_pulled_docs: usize,
    /// Bytes of a reconnect with nothing changed (handshake only).
    pub idle_reconnect_bytes: u64,
    /// Bytes both ways on the writer's connection during push.
    pub push_bytes: u64,
    /// Bytes both ways on the reader's connection during the fresh pull.
    pub pull_bytes: u64,
    /// Server resident set at the end, in MB.
    pub server_rss_mb: f64,
    /// Server peak resident set (VmHWM), in MB.
    pub server_peak_rss_mb: f64,
    /// Server CPU seconds spent in push and in pull.
    pub server_push_cpu_s: f64,
    /// See `server_push_cpu_s`.
    pub server_pull_cpu_s: f64,
}

/// Reports `docs` hazards offline and edits each description `edits - 1` times.
pub fn create_hazards(client: &Client, docs: usize, edits: usize) -> anyhow::Result<Vec<DocId>> {
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

/// Prints the figures as a table.
pub fn print(f: &SyncFigures) {
    println!(
        "fieldsync-bench sync — {} docs × {} edits, {}",
        f.docs, f.edits, f.backend
    );
    crate::print_rows(
        34,
        [
            ("create offline (s)", format!("{:.2}", f.create_s)),
            ("push (s)", format!("{:.3}", f.push_s)),
            ("fresh pull (s)", format!("{:.3}", f.pull_s)),
            (
                "reconnect, 1 changed (bytes)",
                f.reconnect_bytes.to_string(),
            ),
            (
                "reconnect, 1 changed (ms)",
                format!("{:.1}", f.reconnect_ms),
            ),
            (
                "reconnect, none changed (bytes)",
                f.idle_reconnect_bytes.to_string(),
            ),
            ("push on the wire (bytes)", f.push_bytes.to_string()),
            ("pull on the wire (bytes)", f.pull_bytes.to_string()),
            ("server RSS now (MB)", format!("{:.1}", f.server_rss_mb)),
            (
                "server peak RSS (MB)",
                format!("{:.1}", f.server_peak_rss_mb),
            ),
        ],
    );
}

/// Runs the benchmark, on a scratch PostgreSQL database with
/// `--database-url`, else on the server's SQLite.
pub async fn run(args: &SyncArgs) -> anyhow::Result<SyncFigures> {
    if args.docs == 0 || args.edits == 0 {
        bail!("--docs and --edits must be at least 1");
    }
    let binary = args.server.binary()?;
    let scratch = match &args.database_url {
        Some(url) => Some(ScratchDb::create(url).await?),
        None => None,
    };
    let result = run_on(args, &binary, scratch.as_ref().map(|s| s.url.as_str())).await;
    if let Some(s) = scratch {
        s.drop_db().await;
    }
    result
}

async fn run_on(
    args: &SyncArgs,
    binary: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<SyncFigures> {
    let dir = tempfile::tempdir()?;
    let server = ChildServer::spawn(binary, &dir.path().join("server"), database_url)?;

    let writer = Client::open(dir.path().join("writer"), &server.url)?;
    demo::login(&writer, demo::VOLUNTEER).await?;
    let t = Instant::now();
    let ids = create_hazards(&writer, args.docs, args.edits)?;
    let create_s = t.elapsed().as_secs_f64();

    let push = timed_sync(&writer, &server, "push").await?;
    if writer.pending_changes()? != 0 {
        bail!(
            "push left {} change sets unacknowledged",
            writer.pending_changes()?
        );
    }

    let reader = Client::open(dir.path().join("reader"), &server.url)?;
    demo::login(&reader, demo::LEADER).await?;
    let pull = timed_sync(&reader, &server, "pull").await?;
    let pulled = reader.document_ids(None)?.len();
    if pulled != args.docs {
        bail!("fresh pull got {pulled} of {} documents", args.docs);
    }

    let idle = timed_sync(&reader, &server, "idle reconnect").await?;

    writer.change_document(&ids[ids.len() / 2], |tx| {
        tx.put(ROOT, "description", "bikes moved, exit clear")?;
        Ok(())
    })?;
    writer.sync_now().await.context("push one change")?;
    let reconnect = timed_sync(&reader, &server, "reconnect").await?;
    if reconnect.report.pulled_docs != 1 {
        bail!(
            "reconnect pulled {} documents, expected 1",
            reconnect.report.pulled_docs
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
        push_s: push.secs,
        pull_s: pull.secs,
        pulled_docs: pulled,
        reconnect_bytes: reconnect.bytes,
        reconnect_ms: reconnect.secs * 1000.0,
        reconnect_pulled_docs: reconnect.report.pulled_docs,
        idle_reconnect_bytes: idle.bytes,
        push_bytes: push.bytes,
        pull_bytes: pull.bytes,
        server_rss_mb,
        server_peak_rss_mb,
        server_push_cpu_s: push.server_cpu_s,
        server_pull_cpu_s: pull.server_cpu_s,
    })
}

/// One `sync_now` and what it cost.
struct TimedSync {
    report: SyncReport,
    /// Wall time of the sync.
    secs: f64,
    /// Server CPU seconds meanwhile.
    server_cpu_s: f64,
    /// Bytes both ways on the client's connection.
    bytes: u64,
}

/// Runs `client.sync_now()` and measures it; `what` names it in errors.
async fn timed_sync(
    client: &Client,
    server: &ChildServer,
    what: &'static str,
) -> anyhow::Result<TimedSync> {
    let before = client.transport_counters();
    let cpu = server.cpu_s();
    let t = Instant::now();
    let report = client.sync_now().await.context(what)?;
    let secs = t.elapsed().as_secs_f64();
    Ok(TimedSync {
        report,
        secs,
        server_cpu_s: server.cpu_s() - cpu,
        bytes: client.transport_counters().total() - before.total(),
    })
}
