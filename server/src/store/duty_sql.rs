//! SQL of the duty projections (routes, rosters, shifts, compliance,
//! attendance, incidents, alerts), written once for both backends like
//! `sql.rs`.

macro_rules! duty_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Writes the duty rows of one accepted change.
            async fn project_duty<'c>(conn: &mut sqlx::Transaction<'c, $db>, community: &str, rows: &$crate::store::ProjectionRows) -> $crate::store::Result<()> {
                if let Some(r) = &rows.route {
                    sqlx::query(
                        "INSERT INTO route_projection (community_id, doc_id, team, name, body) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (community_id, doc_id) DO UPDATE SET team = excluded.team, name = excluded.name, \
                         body = excluded.body",
                    )
                    .bind(community)
                    .bind(&r.doc_id)
                    .bind(&r.team)
                    .bind(&r.name)
                    .bind(&r.body)
                    .execute(&mut **conn)
                    .await?;
                }
                if let Some((r, shifts)) = &rows.roster {
                    sqlx::query(
                        "INSERT INTO roster_projection (community_id, doc_id, team, week_of, body) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (community_id, doc_id) DO UPDATE SET team = excluded.team, week_of = excluded.week_of, \
                         body = excluded.body",
                    )
                    .bind(community)
                    .bind(&r.doc_id)
                    .bind(&r.team)
                    .bind(&r.week_of)
                    .bind(&r.body)
                    .execute(&mut **conn)
                    .await?;
                    sqlx::query("DELETE FROM shift_projection WHERE community_id = $1 AND roster_id = $2")
                        .bind(community)
                        .bind(&r.doc_id)
                        .execute(&mut **conn)
                        .await?;
                    for s in shifts {
                        sqlx::query(
                            "INSERT INTO shift_projection (community_id, shift_key, roster_id, team, leader, starts_at, ends_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(community)
                        .bind(&s.shift_key)
                        .bind(&s.roster_id)
                        .bind(&s.team)
                        .bind(&s.leader)
                        .bind(s.starts_at)
                        .bind(s.ends_at)
                        .execute(&mut **conn)
                        .await?;
                    }
                }
                if let Some(i) = &rows.incident {
                    sqlx::query(
                        "INSERT INTO incident_projection (community_id, doc_id, reporter, occurred_at, reported_at, state, \
                         acknowledged_at, event_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (community_id, doc_id) DO UPDATE SET reporter = excluded.reporter, \
                         occurred_at = excluded.occurred_at, reported_at = excluded.reported_at, state = excluded.state, \
                         acknowledged_at = excluded.acknowledged_at, event_count = excluded.event_count",
                    )
                    .bind(community)
                    .bind(&i.doc_id)
                    .bind(&i.reporter)
                    .bind(i.occurred_at)
                    .bind(i.reported_at)
                    .bind(&i.state)
                    .bind(i.acknowledged_at)
                    .bind(i.event_count)
                    .execute(&mut **conn)
                    .await?;
                }
                if let Some(a) = &rows.alert {
                    sqlx::query(
                        "INSERT INTO alert_projection (community_id, doc_id, kind, subject, raised_at, recipients, acked_at, acked_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (community_id, doc_id) DO UPDATE SET acked_at = excluded.acked_at, acked_by = excluded.acked_by",
                    )
                    .bind(community)
                    .bind(&a.doc_id)
                    .bind(&a.kind)
                    .bind(&a.subject)
                    .bind(a.raised_at)
                    .bind(&a.recipients)
                    .bind(a.acked_at)
                    .bind(&a.acked_by)
                    .execute(&mut **conn)
                    .await?;
                }
                Ok(())
            }

            /// Shifts that overlap `[from, to)`.
            pub async fn shifts_between(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<$crate::store::ShiftRow>> {
                Ok(sqlx::query_as(
                    "SELECT shift_key, roster_id, team, leader, starts_at, ends_at FROM shift_projection \
                     WHERE community_id = $1 AND ends_at > $2 AND starts_at < $3 ORDER BY starts_at, shift_key",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn rosters(&self, community: &str, ids: &[String]) -> $crate::store::Result<Vec<$crate::store::RosterRow>> {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.extend(
                        sqlx::query_as::<_, $crate::store::RosterRow>(
                            "SELECT doc_id, team, week_of, body FROM roster_projection WHERE community_id = $1 AND doc_id = $2",
                        )
                        .bind(community)
                        .bind(id)
                        .fetch_optional(&self.read)
                        .await?,
                    );
                }
                Ok(out)
            }

            pub async fn routes(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::RouteRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, team, name, body FROM route_projection WHERE community_id = $1 ORDER BY doc_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            /// Check-ins whose device time is in `[from, to)`.
            pub async fn checkins_between(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<$crate::store::CheckinRow>> {
                Ok(sqlx::query_as(
                    "SELECT patrol_id, checkin_id, post_id, member, device_id, method, device_time, received_at, lat, lon, \
                     accuracy_m, status, flag_reason FROM checkin_projection \
                     WHERE community_id = $1 AND device_time >= $2 AND device_time < $3 ORDER BY device_time",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            /// Flagged check-ins the server took at `since` or later.
            pub async fn flagged_checkins(&self, community: &str, since: i64) -> $crate::store::Result<Vec<$crate::store::CheckinRow>> {
                Ok(sqlx::query_as(
                    "SELECT patrol_id, checkin_id, post_id, member, device_id, method, device_time, received_at, lat, lon, \
                     accuracy_m, status, flag_reason FROM checkin_projection \
                     WHERE community_id = $1 AND status = 'flagged' AND received_at >= $2 ORDER BY received_at",
                )
                .bind(community)
                .bind(since)
                .fetch_all(&self.read)
                .await?)
            }

            /// Patrols started in `[from, to)`.
            pub async fn patrols_between(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<$crate::store::PatrolRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, team, route, started_by, started_at, ended_at, checkin_count FROM patrol_projection \
                     WHERE community_id = $1 AND started_at >= $2 AND started_at < $3 ORDER BY started_at",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn compliance_rows(&self, community: &str, shift_key: &str) -> $crate::store::Result<Vec<$crate::store::ComplianceRow>> {
                Ok(sqlx::query_as(
                    "SELECT shift_key, route_id, post_id, window_start, deadline, grace_until, status, checkin_id, checked_at, \
                     decided_by FROM compliance_projection WHERE community_id = $1 AND shift_key = $2 \
                     ORDER BY window_start, route_id, post_id",
                )
                .bind(community)
                .bind(shift_key)
                .fetch_all(&self.read)
                .await?)
            }

            /// Replaces the compliance and attendance rows of one shift.
            pub async fn replace_compliance(
                &self,
                community: &str,
                shift_key: &str,
                rows: &[$crate::store::ComplianceRow],
                attendance: &[$crate::store::AttendanceRow],
                now: i64,
            ) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                for table in ["compliance_projection", "attendance_projection"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE community_id = $1 AND shift_key = $2")))
                        .bind(community)
                        .bind(shift_key)
                        .execute(&mut *tx)
                        .await?;
                }
                for r in rows {
                    sqlx::query(
                        "INSERT INTO compliance_projection (community_id, shift_key, route_id, post_id, window_start, deadline, \
                         grace_until, status, checkin_id, checked_at, updated_at, decided_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(community)
                    .bind(&r.shift_key)
                    .bind(&r.route_id)
                    .bind(&r.post_id)
                    .bind(r.window_start)
                    .bind(r.deadline)
                    .bind(r.grace_until)
                    .bind(&r.status)
                    .bind(&r.checkin_id)
                    .bind(r.checked_at)
                    .bind(now)
                    .bind(&r.decided_by)
                    .execute(&mut *tx)
                    .await?;
                }
                for a in attendance {
                    sqlx::query(
                        "INSERT INTO attendance_projection (community_id, shift_key, user_id, signed_on, signed_off) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(community)
                    .bind(&a.shift_key)
                    .bind(&a.user_id)
                    .bind(a.signed_on)
                    .bind(a.signed_off)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn attendance_rows(&self, community: &str, shift_key: &str) -> $crate::store::Result<Vec<$crate::store::AttendanceRow>> {
                Ok(sqlx::query_as(
                    "SELECT shift_key, user_id, signed_on, signed_off FROM attendance_projection \
                     WHERE community_id = $1 AND shift_key = $2 ORDER BY user_id",
                )
                .bind(community)
                .bind(shift_key)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn incident_rows(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::IncidentRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, reporter, occurred_at, reported_at, state, acknowledged_at, event_count \
                     FROM incident_projection WHERE community_id = $1 ORDER BY reported_at",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn alert_rows(&self, community: &str) -> $crate::store::Result<Vec<$crate::store::AlertRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, kind, subject, raised_at, recipients, acked_at FROM alert_projection \
                     WHERE community_id = $1 ORDER BY raised_at, doc_id",
                )
                .bind(community)
                .fetch_all(&self.read)
                .await?)
            }
        }
    };
}

pub(crate) use duty_impl;
