//! The SQL both backends run. SQLite and PostgreSQL both accept `$N`
//! placeholders, so one text serves both; [`store_impl!`] instantiates it for a
//! store type with `read` and `write` pools of one database.

macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn close(&self) {
                self.write.close().await;
                self.read.close().await;
            }

            pub async fn secret(&self, name: &str) -> $crate::store::Result<Option<Vec<u8>>> {
                Ok(sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.read)
                    .await?)
            }

            pub async fn secret_or_insert(&self, name: &str, value: &[u8]) -> $crate::store::Result<Vec<u8>> {
                sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(value)
                    .execute(&self.write)
                    .await?;
                Ok(sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.write)
                    .await?)
            }

            pub async fn community_count(&self) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM communities").fetch_one(&self.read).await?)
            }

            pub async fn insert_community(&self, id: &str, name: &str, time_zone: &str, now: i64) -> $crate::store::Result<()> {
                sqlx::query("INSERT INTO communities (id, name, time_zone, change_seq, created_at) VALUES ($1, $2, $3, 0, $4)")
                    .bind(id)
                    .bind(name)
                    .bind(time_zone)
                    .bind(now)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            /// Inserts a post; one whose id exists is left as it is.
            pub async fn insert_post(&self, community: &str, p: &$crate::store::PostRow, now: i64) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                Self::insert_post_in(&mut tx, community, p, now).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn posts(&self, community: &str, building: Option<&str>) -> $crate::store::Result<Vec<$crate::store::PostRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, label_zh, label_en, building, unit, floor, lat, lon, radius_m, grid_id FROM posts \
                     WHERE community_id = $1 AND ($2 IS NULL OR building = $2) ORDER BY building, unit, floor, id",
                )
                .bind(community)
                .bind(building)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn post(&self, community: &str, id: &str) -> $crate::store::Result<Option<$crate::store::PostRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, label_zh, label_en, building, unit, floor, lat, lon, radius_m, grid_id FROM posts \
                     WHERE community_id = $1 AND id = $2",
                )
                .bind(community)
                .bind(id)
                .fetch_optional(&self.read)
                .await?)
            }

            pub async fn insert_tag_key(&self, community: &str, id: &str, secret: &[u8], now: i64) -> $crate::store::Result<()> {
                sqlx::query("INSERT INTO tag_keys (community_id, id, secret, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(community)
                    .bind(id)
                    .bind(secret)
                    .bind(now)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            pub async fn tag_keys(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::TagKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, secret, created_at, revoked_at FROM tag_keys WHERE community_id = $1 ORDER BY created_at, id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn revoke_tag_key(&self, community: &str, id: &str, now: i64) -> $crate::store::Result<bool> {
                Ok(sqlx::query("UPDATE tag_keys SET revoked_at = $3 WHERE community_id = $1 AND id = $2 AND revoked_at IS NULL")
                    .bind(community)
                    .bind(id)
                    .bind(now)
                    .execute(&self.write)
                    .await?
                    .rows_affected() == 1)
            }

            pub async fn community_ids(&self) -> $crate::store::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM communities ORDER BY id")
                    .fetch_all(&self.read)
                    .await?)
            }

            /// Writes projection rows in their own transaction (rebuilds).
            pub async fn write_projection(&self, community: &str, rows: &$crate::store::ProjectionRows) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                Self::project(&mut tx, community, rows).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn set_scope(&self, community: &str, id: &fieldsync_proto::DocId, scope: &str) -> $crate::store::Result<()> {
                sqlx::query("UPDATE documents SET scope = $3 WHERE community_id = $1 AND id = $2")
                    .bind(community)
                    .bind(id.as_str())
                    .bind(scope)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn project<'c>(conn: &mut sqlx::Transaction<'c, $db>, community: &str, rows: &$crate::store::ProjectionRows) -> $crate::store::Result<()> {
                if let Some(h) = &rows.hazard {
                    sqlx::query(
                        "INSERT INTO hazard_projection (community_id, doc_id, category, severity, state, in_conflict, reporter, \
                         reported_at, post_id, assigned_person, deadline_at, event_count, due_at, rectified_at, closed_at, recurring_of) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $16, \
                         (SELECT p.doc_id FROM hazard_projection p WHERE p.community_id = $1 AND p.doc_id <> $2 \
                          AND p.post_id = $9 AND p.category = $3 AND p.reported_at <= $8 AND p.reported_at > $8 - $14 \
                          ORDER BY p.reported_at DESC LIMIT 1)) \
                         ON CONFLICT (community_id, doc_id) DO UPDATE SET category = excluded.category, \
                         severity = excluded.severity, state = excluded.state, in_conflict = excluded.in_conflict, \
                         reporter = excluded.reporter, reported_at = excluded.reported_at, post_id = excluded.post_id, \
                         assigned_person = excluded.assigned_person, deadline_at = excluded.deadline_at, \
                         event_count = excluded.event_count, due_at = excluded.due_at, \
                         rectified_at = excluded.rectified_at, closed_at = excluded.closed_at, \
                         recurring_of = COALESCE(hazard_projection.recurring_of, excluded.recurring_of)",
                    )
                    .bind(community)
                    .bind(&h.doc_id)
                    .bind(&h.category)
                    .bind(&h.severity)
                    .bind(&h.state)
                    .bind(h.in_conflict)
                    .bind(&h.reporter)
                    .bind(h.reported_at)
                    .bind(&h.post_id)
                    .bind(&h.assigned_person)
                    .bind(h.deadline_at)
                    .bind(h.event_count)
                    .bind(h.due_at)
                    .bind(fieldsync_proto::model::hazard::RECURRENCE_WINDOW_MS)
                    .bind(h.rectified_at)
                    .bind(h.closed_at)
                    .execute(&mut **conn)
                    .await?;
                }
                if let Some(p) = &rows.patrol {
                    sqlx::query(
                        "INSERT INTO patrol_projection (community_id, doc_id, team, route, started_by, started_at, ended_at, \
                         checkin_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (community_id, doc_id) DO UPDATE SET team = excluded.team, route = excluded.route, \
                         started_by = excluded.started_by, started_at = excluded.started_at, \
                         ended_at = excluded.ended_at, checkin_count = excluded.checkin_count",
                    )
                    .bind(community)
                    .bind(&p.doc_id)
                    .bind(&p.team)
                    .bind(&p.route)
                    .bind(&p.started_by)
                    .bind(p.started_at)
                    .bind(p.ended_at)
                    .bind(p.checkin_count)
                    .execute(&mut **conn)
                    .await?;
                }
                for link in &rows.blob_links {
                    sqlx::query($crate::store::blobs::INSERT_BLOB_LINK)
                        .bind(community)
                        .bind(&link.hash)
                        .bind(&link.doc_id)
                        .execute(&mut **conn)
                        .await?;
                }
                for c in &rows.checkins {
                    // A check-in keeps the receive time of its first arrival.
                    sqlx::query(
                        "INSERT INTO checkin_projection (community_id, patrol_id, checkin_id, post_id, member, device_id, \
                         method, device_time, received_at, lat, lon, accuracy_m, status, flag_reason) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT (community_id, patrol_id, checkin_id) DO UPDATE SET status = excluded.status, \
                         flag_reason = excluded.flag_reason",
                    )
                    .bind(community)
                    .bind(&c.patrol_id)
                    .bind(&c.checkin_id)
                    .bind(&c.post_id)
                    .bind(&c.member)
                    .bind(&c.device_id)
                    .bind(&c.method)
                    .bind(c.device_time)
                    .bind(c.received_at)
                    .bind(c.lat)
                    .bind(c.lon)
                    .bind(c.accuracy_m)
                    .bind(&c.status)
                    .bind(&c.flag_reason)
                    .execute(&mut **conn)
                    .await?;
                }
                Self::project_duty(conn, community, rows).await
            }

            pub async fn hazard_rows(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::HazardRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, category, severity, state, in_conflict, reporter, reported_at, post_id, \
                     assigned_person, deadline_at, event_count, due_at, recurring_of FROM hazard_projection \
                     WHERE community_id = $1 ORDER BY doc_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn hazard_ledger(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::ScopedHazardRow>> {
                Ok(sqlx::query_as(
                    "SELECT h.doc_id, h.category, h.severity, h.state, h.in_conflict, h.reporter, h.reported_at, h.post_id, \
                     h.assigned_person, h.deadline_at, h.event_count, h.due_at, h.recurring_of, d.scope \
                     FROM hazard_projection h LEFT JOIN documents d ON d.community_id = h.community_id AND d.id = h.doc_id \
                     WHERE h.community_id = $1 ORDER BY h.doc_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn hazard_row(&self, community: &str, id: &str) -> $crate::store::Result<Option<$crate::store::HazardRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, category, severity, state, in_conflict, reporter, reported_at, post_id, \
                     assigned_person, deadline_at, event_count, due_at, recurring_of FROM hazard_projection \
                     WHERE community_id = $1 AND doc_id = $2",
                )
                .bind(community)
                .bind(id)
                .fetch_optional(&self.read)
                .await?)
            }

            /// One page of the ledger, newest first (`HazardLedgerQuery`).
            pub async fn hazard_ledger_page(&self, community: &str, q: &$crate::store::HazardLedgerQuery) -> $crate::store::Result<Vec<$crate::store::HazardLedgerRow>> {
                let (before_at, before_id) = q.before.clone().unzip();
                Ok(sqlx::query_as(
                    "SELECT h.doc_id, h.category, h.severity, h.state, h.in_conflict, h.reporter, h.reported_at, h.post_id, \
                     h.assigned_person, h.deadline_at, h.event_count, h.due_at, h.recurring_of, d.scope, p.building \
                     FROM hazard_projection h \
                     LEFT JOIN documents d ON d.community_id = h.community_id AND d.id = h.doc_id \
                     LEFT JOIN posts p ON p.community_id = h.community_id AND p.id = h.post_id \
                     WHERE h.community_id = $1 \
                     AND ($2 IS NULL OR h.state = $2) AND ($3 IS NULL OR h.category = $3) \
                     AND ($4 IS NULL OR h.severity = $4) AND ($5 IS NULL OR p.grid_id = $5) \
                     AND ($6 IS NULL OR p.building = $6) \
                     AND ($7 IS NULL OR (h.state IN ('reported', 'assigned', 'rectifying', 'reopened') AND h.due_at < $7)) \
                     AND (NOT $8 OR h.recurring_of IS NOT NULL) \
                     AND ($9 IS NULL OR h.reported_at < $9 OR (h.reported_at = $9 AND h.doc_id < $10)) \
                     ORDER BY h.reported_at DESC, h.doc_id DESC LIMIT $11",
                )
                .bind(community)
                .bind(&q.state)
                .bind(&q.category)
                .bind(&q.severity)
                .bind(&q.grid)
                .bind(&q.building)
                .bind(q.overdue_at)
                .bind(q.recurring)
                .bind(before_at)
                .bind(before_id)
                .bind(q.limit)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn patrol_rows(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::PatrolRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, team, route, started_by, started_at, ended_at, checkin_count \
                     FROM patrol_projection WHERE community_id = $1 ORDER BY doc_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn checkin_rows(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::CheckinRow>> {
                Ok(sqlx::query_as(
                    "SELECT patrol_id, checkin_id, post_id, member, device_id, method, device_time, received_at, lat, lon, \
                     accuracy_m, status, flag_reason FROM checkin_projection WHERE community_id = $1 \
                     ORDER BY patrol_id, checkin_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            /// Deletes every projection row (before a rebuild from scratch).
            pub async fn clear_projections(&self) -> $crate::store::Result<()> {
                // Not check-ins: their first receive time is kept nowhere else
                // (a rebuild updates their status in place). Not compliance and
                // attendance: the engine recomputes recent shifts only.
                for table in [
                    "hazard_projection", "patrol_projection", "route_projection", "roster_projection",
                    "shift_projection", "incident_projection", "alert_projection",
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                        .execute(&self.write)
                        .await?;
                }
                Ok(())
            }

            pub async fn insert_user(&self, u: &$crate::store::UserRow, now: i64) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO users (id, community_id, username, display_name, role, password_hash, disabled, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&u.id)
                .bind(&u.community_id)
                .bind(&u.username)
                .bind(&u.display_name)
                .bind(&u.role)
                .bind(&u.password_hash)
                .bind(u.disabled)
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            pub async fn user_by_username(&self, username: &str) -> $crate::store::Result<Option<$crate::store::UserRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, community_id, username, display_name, role, password_hash, disabled FROM users WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.read)
                .await?)
            }

            pub async fn user(&self, id: &str) -> $crate::store::Result<Option<$crate::store::UserRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, community_id, username, display_name, role, password_hash, disabled FROM users WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.read)
                .await?)
            }

            pub async fn device(&self, id: &str) -> $crate::store::Result<Option<$crate::store::DeviceRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, user_id, community_id, name, revoked_at, token_generation FROM devices WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.write)
                .await?)
            }

            pub async fn register_login(&self, d: &$crate::store::DeviceRow, actor_id: &str, now: i64) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO devices (id, user_id, community_id, name, created_at, last_login_at, token_generation) \
                     VALUES ($1, $2, $3, $4, $5, $5, 0) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, last_login_at = excluded.last_login_at",
                )
                .bind(&d.id)
                .bind(&d.user_id)
                .bind(&d.community_id)
                .bind(&d.name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO device_actors (actor_id, device_id, created_at) VALUES ($1, $2, $3)")
                    .bind(actor_id)
                    .bind(&d.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn device_actors(&self, device_id: &str) -> $crate::store::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT actor_id FROM device_actors WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_all(&self.write)
                    .await?)
            }

            pub async fn revoke_device(&self, device_id: &str, now: i64) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let n = sqlx::query(
                    "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2), token_generation = token_generation + 1 WHERE id = $1",
                )
                .bind(device_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE device_id = $1 AND used_at IS NULL")
                    .bind(device_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(n > 0)
            }

            pub async fn devices_revoked_since(&self, since: i64) -> $crate::store::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM devices WHERE revoked_at >= $1")
                    .bind(since)
                    .fetch_all(&self.read)
                    .await?)
            }

            pub async fn revoke_device_tokens(&self, device_id: &str) -> $crate::store::Result<()> {
                sqlx::query("UPDATE devices SET token_generation = token_generation + 1 WHERE id = $1")
                    .bind(device_id)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            pub async fn insert_refresh_token(&self, hash: &str, device_id: &str, generation: i64, now: i64, expires_at: i64) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, device_id, generation, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(hash)
                .bind(device_id)
                .bind(generation)
                .bind(now)
                .bind(expires_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            pub async fn use_refresh_token(&self, hash: &str, now: i64) -> $crate::store::Result<Option<$crate::store::RefreshRow>> {
                Ok(sqlx::query_as(
                    "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     RETURNING device_id, generation, expires_at, used_at",
                )
                .bind(hash)
                .bind(now)
                .fetch_optional(&self.write)
                .await?)
            }

            pub async fn refresh_token(&self, hash: &str) -> $crate::store::Result<Option<$crate::store::RefreshRow>> {
                Ok(sqlx::query_as("SELECT device_id, generation, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.write)
                    .await?)
            }

            pub async fn load_doc(&self, community: &str, id: &fieldsync_proto::DocId) -> $crate::store::Result<Option<$crate::store::StoredDoc>> {
                let row: Option<$crate::store::DocRow> = sqlx::query_as(
                    "SELECT id, doc_type, schema_version, seq, heads, stored_bytes, chunk_count, scope FROM documents \
                     WHERE community_id = $1 AND id = $2",
                )
                .bind(community)
                .bind(id.as_str())
                .fetch_optional(&self.read)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let chunks: Vec<Vec<u8>> = sqlx::query_scalar(
                    "SELECT data FROM document_chunks WHERE community_id = $1 AND doc_id = $2 ORDER BY chunk_id",
                )
                .bind(community)
                .bind(id.as_str())
                .fetch_all(&self.read)
                .await?;
                Ok(Some($crate::store::StoredDoc { row, chunks }))
            }

            /// Loads many documents with two queries (instead of two per document).
            pub async fn load_docs(&self, community: &str, ids: &[fieldsync_proto::DocId]) -> $crate::store::Result<std::collections::HashMap<fieldsync_proto::DocId, $crate::store::StoredDoc>> {
                use sqlx::Row;
                let mut out = std::collections::HashMap::with_capacity(ids.len());
                for part in ids.chunks(500) {
                    let list = (0..part.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
                    let mut conn = self.read.acquire().await?;
                    let sql = format!(
                        "SELECT id, doc_type, schema_version, seq, heads, stored_bytes, chunk_count, scope FROM documents \
                         WHERE community_id = $1 AND id IN ({list})"
                    );
                    let mut q = sqlx::query_as::<_, $crate::store::DocRow>(sqlx::AssertSqlSafe(sql)).bind(community);
                    for id in part {
                        q = q.bind(id.as_str());
                    }
                    let rows = q.fetch_all(&mut *conn).await?;
                    if rows.is_empty() {
                        continue;
                    }
                    let sql = format!(
                        "SELECT doc_id, data FROM document_chunks WHERE community_id = $1 AND doc_id IN ({list}) \
                         ORDER BY doc_id, chunk_id"
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(community);
                    for id in part {
                        q = q.bind(id.as_str());
                    }
                    let mut chunks: std::collections::HashMap<String, Vec<Vec<u8>>> = std::collections::HashMap::new();
                    for r in q.fetch_all(&mut *conn).await? {
                        chunks.entry(r.try_get::<String, _>(0)?).or_default().push(r.try_get::<Vec<u8>, _>(1)?);
                    }
                    for row in rows {
                        let Ok(id) = fieldsync_proto::DocId::new(row.id.clone()) else { continue };
                        let c = chunks.remove(&row.id).unwrap_or_default();
                        out.insert(id, $crate::store::StoredDoc { row, chunks: c });
                    }
                }
                Ok(out)
            }

            pub async fn commit(&self, community: &str, writes: &[$crate::store::DocWrite], now: i64, wake: bool) -> $crate::store::Result<Vec<$crate::store::WriteOutcome>> {
                use $crate::store::WriteOutcome;
                if writes.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.write.begin().await?;
                // Taking the community row first serialises writers per community,
                // so sequences become visible in the order they were assigned.
                let last: i64 = sqlx::query_scalar(
                    "UPDATE communities SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq",
                )
                .bind(community)
                .bind(writes.len() as i64)
                .fetch_one(&mut *tx)
                .await?;
                let first = last - writes.len() as i64 + 1;
                let mut out = Vec::with_capacity(writes.len());
                let mut stored = Vec::with_capacity(writes.len());
                for (i, w) in writes.iter().enumerate() {
                    let seq = first + i as i64;
                    let len = w.chunk.len() as i64;
                    // RETURNING yields no row when the insert met an existing
                    // document or the update met a newer sequence: a conflict.
                    let chunk_count: Option<i64> = match w.expected_seq {
                        None => sqlx::query_scalar(
                            "INSERT INTO documents (community_id, id, doc_type, schema_version, seq, heads, stored_bytes, \
                             chunk_count, last_device_id, created_at, updated_at, scope) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9, $10) ON CONFLICT (community_id, id) DO NOTHING \
                             RETURNING chunk_count",
                        )
                        .bind(community)
                        .bind(w.header.id.as_str())
                        .bind(w.header.doc_type.as_str())
                        .bind(w.header.schema_version as i64)
                        .bind(seq)
                        .bind(&w.heads)
                        .bind(len)
                        .bind(&w.device_id)
                        .bind(now)
                        .bind(&w.scope)
                        .fetch_optional(&mut *tx)
                        .await?,
                        Some(expected) => sqlx::query_scalar(
                            "UPDATE documents SET seq = $3, heads = $4, stored_bytes = stored_bytes + $5, \
                             chunk_count = chunk_count + 1, last_device_id = $6, updated_at = $7, \
                             scope = $9, schema_version = $10 \
                             WHERE community_id = $1 AND id = $2 AND seq = $8 RETURNING chunk_count",
                        )
                        .bind(community)
                        .bind(w.header.id.as_str())
                        .bind(seq)
                        .bind(&w.heads)
                        .bind(len)
                        .bind(&w.device_id)
                        .bind(now)
                        .bind(expected)
                        .bind(&w.scope)
                        .bind(w.header.schema_version as i64)
                        .fetch_optional(&mut *tx)
                        .await?,
                    };
                    match chunk_count {
                        Some(chunk_count) => {
                            Self::project(&mut tx, community, &w.projection).await?;
                            stored.push(w);
                            out.push(WriteOutcome::Stored { seq, chunk_count });
                        }
                        None => out.push(WriteOutcome::Conflict),
                    }
                }
                // All chunks of the batch in multi-row inserts.
                for part in stored.chunks(300) {
                    let values = (0..part.len())
                        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!("INSERT INTO document_chunks (community_id, doc_id, data) VALUES {values}");
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(community);
                    for w in part {
                        q = q.bind(w.header.id.as_str()).bind(&w.chunk);
                    }
                    q.execute(&mut *tx).await?;
                }
                let records = stored.iter().map(|w| w.record.clone()).collect();
                Self::chain_in(&mut tx, community, now, records).await?;
                let notice = $crate::replicas::notice::Notice::Committed { community: community.to_owned(), seq: last, wake };
                Self::notify_in(&mut tx, &notice).await?;
                tx.commit().await?;
                Ok(out)
            }

            pub async fn compact(&self, community: &str, id: &fieldsync_proto::DocId, seq: i64, snapshot: &[u8]) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let n = sqlx::query(
                    "UPDATE documents SET chunk_count = 1, stored_bytes = $4 WHERE community_id = $1 AND id = $2 AND seq = $3",
                )
                .bind(community)
                .bind(id.as_str())
                .bind(seq)
                .bind(snapshot.len() as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM document_chunks WHERE community_id = $1 AND doc_id = $2")
                    .bind(community)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO document_chunks (community_id, doc_id, data) VALUES ($1, $2, $3)")
                    .bind(community)
                    .bind(id.as_str())
                    .bind(snapshot)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn changed_since(&self, community: &str, cursor: i64, limit: i64) -> $crate::store::Result<Vec<$crate::store::DocRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, doc_type, schema_version, seq, heads, stored_bytes, chunk_count, scope FROM documents \
                     WHERE community_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(community)
                .bind(cursor)
                .bind(limit)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn insert_team(&self, community: &str, id: &str, name: &str, grid: Option<&str>) -> $crate::store::Result<()> {
                sqlx::query("INSERT INTO teams (community_id, id, name, grid_id) VALUES ($1, $2, $3, $4)")
                    .bind(community)
                    .bind(id)
                    .bind(name)
                    .bind(grid)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            /// Every team of a community with its grid.
            pub async fn teams(&self, community: &str) -> $crate::store::Result<Vec<(String, String, Option<String>)>> {
                Ok(sqlx::query_as("SELECT id, name, grid_id FROM teams WHERE community_id = $1 ORDER BY id")
                    .bind(community)
                    .fetch_all(&self.read)
                    .await?)
            }

            /// Puts a user in a team and gives them grids (JSON array).
            pub async fn set_user_scope(&self, user: &str, team: Option<&str>, grids: &str) -> $crate::store::Result<()> {
                sqlx::query("UPDATE users SET team_id = $2, grids = $3 WHERE id = $1")
                    .bind(user)
                    .bind(team)
                    .bind(grids)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            /// A user's team, the team's grid, and the user's own grids (JSON).
            pub async fn user_scope(&self, user: &str) -> $crate::store::Result<Option<(Option<String>, Option<String>, String)>> {
                Ok(sqlx::query_as(
                    "SELECT u.team_id, t.grid_id, u.grids FROM users u \
                     LEFT JOIN teams t ON t.community_id = u.community_id AND t.id = u.team_id WHERE u.id = $1",
                )
                .bind(user)
                .fetch_optional(&self.read)
                .await?)
            }

            pub async fn community_seq(&self, community: &str) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar("SELECT change_seq FROM communities WHERE id = $1")
                    .bind(community)
                    .fetch_one(&self.read)
                    .await?)
            }

            pub async fn doc_count(&self, community: &str) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE community_id = $1")
                    .bind(community)
                    .fetch_one(&self.read)
                    .await?)
            }
        }
    };
}

pub(crate) use store_impl;
