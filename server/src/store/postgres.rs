//! PostgreSQL backend (`DATABASE_URL=postgres://…`).

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgConnection, Pool, Postgres};

use super::admin_sql::admin_impl;
use super::blobs::blob_store_impl;
use super::chain_sql::chain_impl;
use super::duty_sql::duty_impl;
use super::reports::report_store_impl;
use super::sql::store_impl;
use super::web_sql::web_impl;

/// The PostgreSQL store. Reads and writes share one pool.
#[derive(Clone)]
pub struct PgStore {
    read: Pool<Postgres>,
    write: Pool<Postgres>,
}

impl PgStore {
    /// Connects and applies migrations.
    pub async fn connect(url: &str) -> super::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            read: pool.clone(),
            write: pool,
        })
    }
}

impl PgStore {
    /// Sends `notice` on the replicas' channel.
    pub async fn notify(&self, notice: &crate::replicas::notice::Notice) -> super::Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::replicas::notice::CHANNEL)
            .bind(notice.payload())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Sends `notice` when (and only if) `tx` commits.
    async fn notify_in(
        tx: &mut sqlx::Transaction<'_, Postgres>,
        notice: &crate::replicas::notice::Notice,
    ) -> super::Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::replicas::notice::CHANNEL)
            .bind(notice.payload())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A connection listening on `channel`.
    pub async fn listener(&self, channel: &str) -> super::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.read).await?;
        listener.listen(channel).await?;
        Ok(listener)
    }

    /// A connection of its own holding the session advisory lock `key`;
    /// `None` when another session holds it.
    pub async fn try_lock(&self, key: i64) -> super::Result<Option<PgConnection>> {
        let mut conn = self.write.acquire().await?.detach();
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        Ok(got.then_some(conn))
    }
}

store_impl!(PgStore, sqlx::Postgres);
duty_impl!(PgStore, sqlx::Postgres);
blob_store_impl!(PgStore);
admin_impl!(PgStore, sqlx::Postgres);
chain_impl!(PgStore, sqlx::Postgres);
web_impl!(PgStore);
report_store_impl!(PgStore);
