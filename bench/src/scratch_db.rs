//! A scratch PostgreSQL database for one `sync --database-url` run, created
//! on the given server and dropped afterwards.

use anyhow::Context;
use sqlx::Connection;

/// A scratch PostgreSQL database, created for one run.
pub struct ScratchDb {
    admin_url: String,
    name: String,
    /// The URL of the scratch database, for the server under test.
    pub url: String,
}

impl ScratchDb {
    /// Creates a database with a fresh name on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> anyhow::Result<ScratchDb> {
        let name = format!("fieldsync_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {}", without_password(admin_url)))?;
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

    /// Drops the database (and any connection the server left open).
    pub async fn drop_db(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
}

/// `url` fit for an error message: its password (if any) replaced, and
/// nothing of it shown when it does not even parse as a URL.
fn without_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have a password at all.
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "the database URL (which does not parse)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn hides_the_password_only() {
        assert_eq!(
            without_password("postgres://bench:s3cret@db.example:5432/postgres"),
            "postgres://bench:redacted@db.example:5432/postgres"
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1/postgres"),
            "postgres://postgres@127.0.0.1/postgres"
        );
        assert!(!without_password("postgres://u:s3cret@bad host/x").contains("s3cret"));
    }
}
