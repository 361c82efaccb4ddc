//! The `fieldsync-bench` command line; the benchmarks are the library's
//! modules.

use std::process::ExitCode;

use fieldsync_bench::{
    benchmarks, dashboard, night, report, reports, sdk, simulate, sync, uploads,
};

use clap::{Parser, Subcommand};

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
    /// The dashboard's pages over PostgreSQL loaded with a million check-ins
    /// and a hundred thousand hazards: p50 and p95 per page
    Dashboard(dashboard::DashboardArgs),
    /// The monthly report and the month's check-in export over PostgreSQL
    /// loaded with a month of a million check-ins: time and server memory
    Reports(reports::ReportsArgs),
    /// Many phones at once: connect, idle, a night of check-ins at floors 5
    /// and 9, an outage and the reconnect storm; memory per connection, ack
    /// latency, storm time
    Simulate(simulate::SimulateArgs),
    /// Every scale benchmark and the physical-limit probe in one session:
    /// writes BENCHMARKS.md, each target beside its figure and reference
    Benchmarks(benchmarks::BenchmarksArgs),
    /// Photo uploads through the tus endpoint: one photo, then many at once;
    /// throughput and the server's peak memory
    Uploads(uploads::UploadArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // SDK warnings (a sync session that ended, paused uploads) explain odd
    // figures, so they go to stderr beside the table; RUST_LOG overrides.
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli.command).await {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Sync(args) => {
            report(sync::run(&args).await?, sync::print, args.json.as_deref())
        }
        BenchCommand::Dashboard(args) => report(
            dashboard::run(&args).await?,
            dashboard::print,
            args.json.as_deref(),
        ),
        BenchCommand::Reports(args) => report(
            reports::run(&args).await?,
            reports::print,
            args.json.as_deref(),
        ),
        BenchCommand::Sdk(args) => report(sdk::run(&args).await?, sdk::print, args.json.as_deref()),
        BenchCommand::Night(args) => {
            report(night::run(&args).await?, night::print, args.json.as_deref())
        }
        BenchCommand::Uploads(args) => report(
            uploads::run(&args).await?,
            uploads::print,
            args.json.as_deref(),
        ),
        BenchCommand::Simulate(args) => report(
            simulate::run(&args).await?,
            simulate::print,
            args.json.as_deref(),
        ),
        BenchCommand::Benchmarks(args) => {
            let figures = benchmarks::run(&args).await?;
            benchmarks::write(&figures, &args.out)?;
            if let Some(path) = &args.json {
                std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        BenchCommand::SdkProbe(args) => {
            let figures = sdk::probe(&args).await?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
    }
}
