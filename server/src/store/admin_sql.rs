//! SQL of the office's administration (users, devices, teams, posts, the
//! audit log), written once for both backends like `sql.rs`. Every write
//! appends its audit entry in the same transaction, so the log never misses
//! a change and never records one that did not happen.

/// Binds a post's row as `$1` community, `$2` id, `$3`… label_zh, label_en,
/// building, unit, floor, lat, lon, radius_m, `$11` grid_id.
macro_rules! bind_post {
    ($query:expr, $community:expr, $p:expr) => {
        $query
            .bind($community)
            .bind(&$p.id)
            .bind(&$p.label_zh)
            .bind(&$p.label_en)
            .bind(&$p.building)
            .bind(&$p.unit)
            .bind($p.floor)
            .bind($p.lat)
            .bind($p.lon)
            .bind($p.radius_m)
            .bind(&$p.grid_id)
    };
}

macro_rules! admin_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn audit_in<'c>(conn: &mut sqlx::Transaction<'c, $db>, community: &str, e: &$crate::store::AuditEntry) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO admin_audit (community_id, at, user_id, device_id, action, subject, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(community)
                .bind(e.at)
                .bind(&e.user_id)
                .bind(&e.device_id)
                .bind(&e.action)
                .bind(&e.subject)
                .bind(e.detail.to_string())
                .execute(&mut **conn)
                .await?;
                let record = $crate::audit::Record {
                    kind: "admin".into(),
                    user_id: e.user_id.clone(),
                    device_id: e.device_id.clone(),
                    actor: String::new(),
                    subject: e.subject.clone(),
                    action: e.action.clone(),
                    detail: e.detail.to_string(),
                };
                Self::chain_in(conn, community, e.at, vec![record]).await?;
                Ok(())
            }

            /// Records the write and commits when it changed something;
            /// otherwise rolls back and says so.
            async fn audited<'c>(mut tx: sqlx::Transaction<'c, $db>, changed: bool, community: &str, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                if !changed {
                    return Ok(false);
                }
                Self::audit_in(&mut tx, community, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// Inserts a post unless its id exists; whether it did.
            async fn insert_post_in<'c>(conn: &mut sqlx::Transaction<'c, $db>, community: &str, p: &$crate::store::PostRow, now: i64) -> $crate::store::Result<bool> {
                Ok($crate::store::admin_sql::bind_post!(sqlx::query(
                    "INSERT INTO posts (community_id, id, label_zh, label_en, building, unit, floor, lat, lon, radius_m, grid_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                ), community, p)
                .bind(now)
                .execute(&mut **conn)
                .await?
                .rows_affected() == 1)
            }

            pub async fn append_audit(&self, community: &str, e: &$crate::store::AuditEntry) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                Self::audit_in(&mut tx, community, e).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn audit_log(&self, community: &str, before: i64, limit: i64) -> $crate::store::Result<Vec<$crate::store::AuditRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, at, user_id, device_id, action, subject, detail FROM admin_audit \
                     WHERE community_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(community)
                .bind(before)
                .bind(limit)
                .fetch_all(&self.read)
                .await?)
            }

            /// Audit entries that match `f`, newest first, with the names
            /// of who made them and from which device.
            pub async fn audit_search(&self, community: &str, f: &$crate::store::AuditFilter, before: i64, limit: i64) -> $crate::store::Result<Vec<$crate::store::AuditLine>> {
                Ok(sqlx::query_as(
                    "SELECT a.id, a.at, a.user_id, u.display_name, a.device_id, d.name AS device_name, \
                     a.action, a.subject, a.detail FROM admin_audit a \
                     LEFT JOIN users u ON u.id = a.user_id LEFT JOIN devices d ON d.id = a.device_id \
                     WHERE a.community_id = $1 AND a.id < $2 \
                     AND ($4 IS NULL OR a.user_id = $4) AND ($5 IS NULL OR a.action = $5) \
                     AND ($6 IS NULL OR a.at >= $6) AND ($7 IS NULL OR a.at < $7) \
                     ORDER BY a.id DESC LIMIT $3",
                )
                .bind(community)
                .bind(before)
                .bind(limit)
                .bind(&f.user_id)
                .bind(&f.action)
                .bind(f.from_ms)
                .bind(f.until_ms)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn admin_users(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::AdminUserRow>> {
                Ok(sqlx::query_as(
                    "SELECT u.id, u.username, u.display_name, u.role, u.team_id, u.grids, u.disabled, \
                     (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL) AS devices \
                     FROM users u WHERE u.community_id = $1 ORDER BY u.username",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn admin_user(&self, community: &str, id: &str) -> $crate::store::Result<Option<$crate::store::AdminUserRow>> {
                Ok(sqlx::query_as(
                    "SELECT u.id, u.username, u.display_name, u.role, u.team_id, u.grids, u.disabled, \
                     (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL) AS devices \
                     FROM users u WHERE u.community_id = $1 AND u.id = $2",
                )
                .bind(community)
                .bind(id)
                .fetch_optional(&self.write)
                .await?)
            }

            /// Creates a user; false when the username is taken.
            pub async fn admin_create_user(&self, u: &$crate::store::UserRow, scope: &$crate::store::UserScope, now: i64, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let n = sqlx::query(
                    "INSERT INTO users (id, community_id, username, display_name, role, password_hash, disabled, created_at, team_id, grids) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(&u.id)
                .bind(&u.community_id)
                .bind(&u.username)
                .bind(&u.display_name)
                .bind(&u.role)
                .bind(&u.password_hash)
                .bind(u.disabled)
                .bind(now)
                .bind(&scope.team_id)
                .bind(&scope.grids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                Self::audited(tx, n > 0, &u.community_id, audit).await
            }

            /// Stores a user's new profile; disabling revokes every device
            /// of theirs (returned, so live connections can be cut).
            pub async fn admin_update_user(&self, community: &str, u: &$crate::store::AdminUserRow, now: i64, audit: &$crate::store::AuditEntry) -> $crate::store::Result<Vec<String>> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "UPDATE users SET display_name = $3, role = $4, team_id = $5, grids = $6, disabled = $7 \
                     WHERE community_id = $1 AND id = $2",
                )
                .bind(community)
                .bind(&u.id)
                .bind(&u.display_name)
                .bind(&u.role)
                .bind(&u.team_id)
                .bind(&u.grids)
                .bind(u.disabled)
                .execute(&mut *tx)
                .await?;
                let mut revoked = Vec::new();
                if u.disabled != 0 {
                    revoked = sqlx::query_scalar(
                        "UPDATE devices SET revoked_at = $2, token_generation = token_generation + 1 \
                         WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
                    )
                    .bind(&u.id)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE refresh_tokens SET used_at = $2 WHERE used_at IS NULL \
                         AND device_id IN (SELECT id FROM devices WHERE user_id = $1)",
                    )
                    .bind(&u.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Self::audit_in(&mut tx, community, audit).await?;
                tx.commit().await?;
                Ok(revoked)
            }

            pub async fn admin_set_password(&self, community: &str, user: &str, hash: &str, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let n = sqlx::query("UPDATE users SET password_hash = $3 WHERE community_id = $1 AND id = $2")
                    .bind(community)
                    .bind(user)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                Self::audited(tx, n > 0, community, audit).await
            }

            pub async fn admin_devices(&self, community: &str, user: Option<&str>) -> $crate::store::Result<Vec<$crate::store::AdminDeviceRow>> {
                Ok(sqlx::query_as(
                    "SELECT d.id, d.user_id, u.username, d.name, d.created_at, d.last_login_at, d.revoked_at \
                     FROM devices d JOIN users u ON u.id = d.user_id \
                     WHERE d.community_id = $1 AND ($2 IS NULL OR d.user_id = $2) ORDER BY u.username, d.id",
                )
                .bind(community)
                .bind(user)
                .fetch_all(&self.read)
                .await?)
            }

            /// Creates or renames a team; false when `create` meets an
            /// existing id or an update meets none.
            pub async fn admin_put_team(&self, community: &str, team: &$crate::store::TeamRow, create: bool, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let sql = if create {
                    "INSERT INTO teams (community_id, id, name, grid_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
                } else {
                    "UPDATE teams SET name = $3, grid_id = $4 WHERE community_id = $1 AND id = $2"
                };
                let n = sqlx::query(sql)
                    .bind(community)
                    .bind(&team.id)
                    .bind(&team.name)
                    .bind(&team.grid_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                Self::audited(tx, n > 0, community, audit).await
            }

            /// Creates posts, all or none; false when one of their ids exists.
            pub async fn admin_create_posts(&self, community: &str, posts: &[$crate::store::PostRow], now: i64, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                for p in posts {
                    if !Self::insert_post_in(&mut tx, community, p, now).await? {
                        return Ok(false);
                    }
                }
                Self::audited(tx, true, community, audit).await
            }

            /// Stores a post's new labels, place and grid (its id stays).
            pub async fn admin_update_post(&self, community: &str, p: &$crate::store::PostRow, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let n = $crate::store::admin_sql::bind_post!(sqlx::query(
                    "UPDATE posts SET label_zh = $3, label_en = $4, building = $5, unit = $6, floor = $7, lat = $8, \
                     lon = $9, radius_m = $10, grid_id = $11 WHERE community_id = $1 AND id = $2",
                ), community, p)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                Self::audited(tx, n > 0, community, audit).await
            }

            pub async fn admin_delete_post(&self, community: &str, id: &str, audit: &$crate::store::AuditEntry) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let n = sqlx::query("DELETE FROM posts WHERE community_id = $1 AND id = $2")
                    .bind(community)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                Self::audited(tx, n > 0, community, audit).await
            }

            /// Every roster of a community, by week and team.
            pub async fn all_rosters(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::RosterRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, team, week_of, body FROM roster_projection WHERE community_id = $1 \
                     ORDER BY week_of, team, doc_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }
        }
    };
}

pub(crate) use {admin_impl, bind_post};
