//! `fieldsync bench …`: measurements that print a table and write JSON.

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Push N documents, pull them on a fresh device, reconnect after one change
    Sync(SyncArgs),
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Documents to create
    #[arg(long, default_value_t = 1000)]
    pub docs: usize,
    /// Edits per document
    #[arg(long, default_value_t = 5)]
    pub edits: usize,
    /// PostgreSQL URL; embedded SQLite in a temporary directory when absent
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Write the figures as JSON here
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Sync(args) => anyhow::bail!("not yet: {args:?}"),
    }
}
