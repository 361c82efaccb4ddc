//! PostgreSQL backend (`DATABASE_URL=postgres://…`).

use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};

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

store_impl!(PgStore, sqlx::Postgres);
duty_impl!(PgStore, sqlx::Postgres);
blob_store_impl!(PgStore);
admin_impl!(PgStore, sqlx::Postgres);
chain_impl!(PgStore, sqlx::Postgres);
web_impl!(PgStore);
report_store_impl!(PgStore);
