//! `fieldsync-bench`: measurements of the fieldsync server and the SDK that
//! print a table and write JSON.
//!
//! The server runs as a child process (the `fieldsync` binary, see
//! `--server`), so its memory and CPU are measured apart from the clients';
//! the clients are real SDK devices with their own SQLite stores. This crate
//! links the SDK and never the server.

mod demo;
mod night;
mod proc_stats;
mod scratch_db;
mod sdk;
mod server;
mod sync;
mod uploads;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;

// The figures in README.md and docs/ were measured with the clients (and the
// `sdk-probe` process) on the server's allocator; keeping it keeps them
// comparable.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "fieldsync-bench",
    version,
    about = "Benchmarks of the fieldsync server and SDK: print a table, write JSON"
)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Push N documents, pull them on a fresh device, reconnect after one change
    Sync(sync::SyncArgs),
    /// The phone side: a fresh device pulls N documents, then the app restarts
    /// and opens and syncs its store; memory and times of the SDK process
    Sdk(sdk::SdkArgs),
    /// One SDK process for `sdk` (internal): open, log in if asked, sync,
    /// print figures as one JSON line
    #[command(hide = true)]
    SdkProbe(sdk::ProbeArgs),
    /// What one night of a demo team costs in documents and bytes
    Night(night::NightArgs),
    /// Photo uploads through the tus endpoint: one photo, then many at once;
    /// throughput and the server's peak memory
    Uploads(uploads::UploadArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // SDK warnings (a sync session that ended, paused uploads) explain odd
    // figures, so they go to stderr beside the table.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Sync(args) => {
            let figures = sync::run(&args).await?;
            sync::print(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::Sdk(args) => {
            let figures = sdk::run(&args).await?;
            sdk::print(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::Night(args) => {
            let figures = night::run(&args).await?;
            night::print(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::Uploads(args) => {
            let figures = uploads::run(&args).await?;
            uploads::print(&figures);
            write_json(args.json.as_deref(), &figures)
        }
        BenchCommand::SdkProbe(args) => {
            let figures = sdk::probe(&args).await?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
    }
}

/// Writes a benchmark's figures as JSON when `--json` was given.
fn write_json(path: Option<&std::path::Path>, figures: &impl Serialize) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
