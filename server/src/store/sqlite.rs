//! SQLite backend: one file under the data dir, WAL, one writer connection and
//! a pool of readers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::admin_sql::admin_impl;
use super::blobs::blob_store_impl;
use super::chain_sql::chain_impl;
use super::duty_sql::duty_impl;
use super::reports::report_store_impl;
use super::sql::store_impl;
use super::web_sql::web_impl;

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    read: Pool<Sqlite>,
    write: Pool<Sqlite>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> super::Result<Self> {
        Self::open_with(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a `sqlite://` URL.
    pub async fn open_url(url: &str) -> super::Result<Self> {
        Self::open_with(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open_with(opts: SqliteConnectOptions) -> super::Result<Self> {
        // FULL: an ack means the change survives power loss, not only a crash.
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(SqliteStore { read, write })
    }
}

impl SqliteStore {
    /// `PRAGMA max_page_count` on the writer (the largest it can be when
    /// `None`); see `Store::cap_pages`.
    pub async fn cap_pages(&self, pages: Option<u64>) -> super::Result<()> {
        let pages = pages.unwrap_or(u64::from(u32::MAX - 1));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

impl SqliteStore {
    /// The embedded store has no other replicas to tell.
    async fn notify_in(
        _tx: &mut sqlx::Transaction<'_, Sqlite>,
        _notice: &crate::replicas::notice::Notice,
    ) -> super::Result<()> {
        Ok(())
    }
}

store_impl!(SqliteStore, sqlx::Sqlite);
duty_impl!(SqliteStore, sqlx::Sqlite);
blob_store_impl!(SqliteStore);
admin_impl!(SqliteStore, sqlx::Sqlite);
chain_impl!(SqliteStore, sqlx::Sqlite);
web_impl!(SqliteStore);
report_store_impl!(SqliteStore);
