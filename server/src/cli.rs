//! Command line: `fieldsync [serve]`, `fieldsync rebuild-projections`,
//! `fieldsync verify-evidence <pack.zip>`, `fieldsync audit verify`,
//! `fieldsync backup FILE`, `fieldsync restore FILE`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ServeArgs};

#[derive(Parser)]
#[command(
    name = "fieldsync",
    version,
    about = "Offline-first sync server for neighbourhood patrols"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `fieldsync --listen …` is `fieldsync serve --listen …`.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default)
    Serve(ServeArgs),
    /// Recompute the projection tables (hazards, patrols, check-ins) from the
    /// stored documents; same storage flags as `serve`
    RebuildProjections(ServeArgs),
    /// Check an auditors' evidence pack (zip): every file against its
    /// sha256, every issued report against the hash kept when it was issued
    VerifyEvidence {
        /// The pack, as downloaded.
        pack: std::path::PathBuf,
    },
    /// Write a consistent backup of the embedded store (database and photo
    /// blobs) to FILE, while the server runs; same storage flags as `serve`
    Backup {
        /// The backup file to write (a zip).
        file: std::path::PathBuf,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Restore a backup into a fresh data dir (`--data-dir`), checking every
    /// file against its sha256
    Restore {
        /// The backup file, as `fieldsync backup` wrote it.
        file: std::path::PathBuf,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// The audit chain of every community
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every link of every community's audit chain and report the
    /// first broken one; same storage flags as `serve`
    Verify(ServeArgs),
}

/// Parses arguments and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colour only for a person at a terminal: a log file or a journal gets
    // plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
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
    let result = runtime.block_on(async {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::RebuildProjections(args)) => rebuild_projections(args).await,
            Some(Command::VerifyEvidence { pack }) => verify_evidence(&pack),
            Some(Command::Backup { file, args }) => backup(&file, args).await,
            Some(Command::Restore { file, args }) => restore(&file, args).await,
            Some(Command::Audit {
                command: AuditCommand::Verify(args),
            }) => audit_verify(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn verify_evidence(pack: &std::path::Path) -> anyhow::Result<()> {
    let v = crate::reports::evidence::verify(pack)?;
    for p in &v.problems {
        println!("MISMATCH {p}");
    }
    println!(
        "{}: {} files, {} issued reports, {} photos listed",
        pack.display(),
        v.files,
        v.issued,
        v.photos
    );
    if v.problems.is_empty() {
        println!("ok: every file and every issued report is as the server wrote it");
        Ok(())
    } else {
        anyhow::bail!("{} mismatches: the pack was altered", v.problems.len())
    }
}

/// The embedded store's data dir; PostgreSQL has its own tools.
fn embedded_data_dir(args: &ServeArgs) -> anyhow::Result<std::path::PathBuf> {
    let config = Config::load(args)?;
    if config.database_url.is_some() {
        anyhow::bail!(
            "the store is PostgreSQL: back it up with pg_dump and the blobs with the object store's tools (docs/storage.md)"
        );
    }
    Ok(config.data_dir)
}

async fn backup(file: &std::path::Path, args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = embedded_data_dir(&args)?;
    let s = crate::backup::backup(&data_dir, file).await?;
    println!(
        "backed up {} to {}: {} files, {} bytes",
        data_dir.display(),
        file.display(),
        s.files,
        s.bytes
    );
    Ok(())
}

async fn restore(file: &std::path::Path, args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = embedded_data_dir(&args)?;
    let s = crate::backup::restore(file, &data_dir).await?;
    println!(
        "restored {} into {}: {} files, {} bytes; start the server on it",
        file.display(),
        data_dir.display(),
        s.files,
        s.bytes
    );
    Ok(())
}

async fn audit_verify(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    let store = crate::store::Store::open(config.database_url.as_deref(), &config.data_dir).await?;
    let mut broken = 0;
    for community in store.community_ids().await? {
        match crate::audit::verify_stored(&store, &community).await? {
            Ok(n) => {
                let head = store.audit_head(&community).await?;
                println!("{community}: ok, {n} entries, head {}", head.hash);
            }
            Err(e) => {
                broken += 1;
                println!("{community}: BROKEN at {e}");
            }
        }
    }
    store.close().await;
    if broken > 0 {
        anyhow::bail!("{broken} audit chains are broken");
    }
    Ok(())
}

async fn rebuild_projections(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    let store = crate::store::Store::open(config.database_url.as_deref(), &config.data_dir).await?;
    store.clear_projections().await?;
    let report = crate::projection::rebuild(&store).await?;
    println!(
        "rebuilt projections of {} documents ({} unreadable, left out)",
        report.documents, report.unreadable
    );
    store.close().await;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    tracing::debug!(?config, "configuration");
    let listen = config.listen;
    let storage = match &config.database_url {
        Some(url) => format!("postgres {}", crate::config::redact_url(url)),
        None => format!("sqlite {}", config.data_dir.join("fieldsync.db").display()),
    };
    let server = crate::Server::start(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    if crate::demo::present(&server.state().store).await? {
        print!("{}", crate::demo::logins_text());
    }
    // Tests and the benchmark read this line to find the port.
    println!(
        "fieldsync {} listening on http://{addr} (storage: {storage})",
        env!("CARGO_PKG_VERSION")
    );
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        signal.cancel();
    });
    server.serve(listener, shutdown).await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
