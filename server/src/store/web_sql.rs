//! SQL of the dashboard's sessions, written once for both backends like
//! `sql.rs`.

macro_rules! web_impl {
    ($store:ty) => {
        impl $store {
            pub async fn insert_web_session(&self, s: &$crate::store::WebSessionRow) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO web_sessions (token_hash, community_id, user_id, device_id, csrf, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&s.token_hash)
                .bind(&s.community_id)
                .bind(&s.user_id)
                .bind(&s.device_id)
                .bind(&s.csrf)
                .bind(s.created_at)
                .bind(s.expires_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            pub async fn web_session(&self, token_hash: &str) -> $crate::store::Result<Option<$crate::store::WebSessionRow>> {
                Ok(sqlx::query_as(
                    "SELECT s.token_hash, s.community_id, s.user_id, s.device_id, s.csrf, s.created_at, s.expires_at, \
                     u.role, u.display_name, u.disabled, d.revoked_at \
                     FROM web_sessions s JOIN users u ON u.id = s.user_id JOIN devices d ON d.id = s.device_id \
                     WHERE s.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.read)
                .await?)
            }

            /// Deletes one session, and every one that has expired.
            pub async fn delete_web_session(&self, token_hash: &str, now: i64) -> $crate::store::Result<()> {
                sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1 OR expires_at <= $2")
                    .bind(token_hash)
                    .bind(now)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use web_impl;
