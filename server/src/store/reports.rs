//! The rows reports read: aggregates over a period's shifts, check-ins,
//! hazards, incidents and alerts, and the reports issued and kept. The SQL
//! is written once for both backends, like `sql.rs`.
//!
//! A period is `[from, to)` in milliseconds; shifts belong to the period
//! their start falls in, everything else by its own time. `team` limits the
//! rows to one team's shifts and patrols (`None`: the whole community).

use super::{Result, Store};

/// Posts of one status in one team's shifts in one building, decided by one
/// person's check-ins (or by none).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatusCount {
    pub team: String,
    /// Empty for a post that names no building.
    pub building: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub n: i64,
}

/// A count per person.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PersonCount {
    pub user_id: String,
    pub n: i64,
}

/// A person's rostered and attended shifts.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DutyCount {
    pub user_id: String,
    pub rostered: i64,
    pub attended: i64,
}

/// One post in one window of a shift, with the check-in that decided it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SlotLine {
    pub shift_key: String,
    pub post_id: String,
    pub window_start: i64,
    pub deadline: i64,
    pub status: String,
    pub checkin_id: Option<String>,
    pub device_time: Option<i64>,
    pub received_at: Option<i64>,
    pub member: Option<String>,
    pub proof: Option<String>,
}

/// A hazard that the period touches, with where it is and who may read it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PeriodHazard {
    #[sqlx(flatten)]
    pub row: super::HazardRow,
    pub scope: Option<String>,
    pub building: Option<String>,
    /// When the server first received the hazard.
    pub received_at: i64,
}

/// An incident of the period, with who may read it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PeriodIncident {
    #[sqlx(flatten)]
    pub row: super::IncidentRow,
    pub scope: Option<String>,
    pub received_at: i64,
}

/// A check-in with its patrol's team, for exports.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExportCheckin {
    #[sqlx(flatten)]
    pub row: super::CheckinRow,
    pub team: String,
}

/// Which check-ins an export holds, and the page after `after`
/// (`device_time`, `checkin_id`), oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckinExportQuery {
    pub from: i64,
    pub to: i64,
    pub team: Option<String>,
    pub post: Option<String>,
    pub member: Option<String>,
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// A report as the server issued it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IssuedReport {
    pub kind: String,
    pub period: String,
    pub issued_at: i64,
    pub sha256: String,
    pub body: String,
}

pub(crate) const HAZARD_COLUMNS: &str = "h.doc_id, h.category, h.severity, h.state, h.in_conflict, h.reporter, \
     h.reported_at, h.post_id, h.assigned_person, h.deadline_at, h.event_count, h.due_at, h.recurring_of, \
     h.rectified_at, h.closed_at, d.scope, p.building, COALESCE(d.created_at, h.reported_at) AS received_at";

/// Instantiates the report SQL for a store type with `read` and `write` pools.
macro_rules! report_store_impl {
    ($store:ty) => {
        impl $store {
            pub async fn report_shifts(&self, community: &str, from: i64, to: i64, team: Option<&str>) -> $crate::store::Result<Vec<$crate::store::ShiftRow>> {
                Ok(sqlx::query_as(
                    "SELECT shift_key, roster_id, team, leader, starts_at, ends_at FROM shift_projection \
                     WHERE community_id = $1 AND starts_at >= $2 AND starts_at < $3 AND ($4 IS NULL OR team = $4) \
                     ORDER BY starts_at, shift_key",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .bind(team)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn shift(&self, community: &str, shift_key: &str) -> $crate::store::Result<Option<$crate::store::ShiftRow>> {
                Ok(sqlx::query_as(
                    "SELECT shift_key, roster_id, team, leader, starts_at, ends_at FROM shift_projection \
                     WHERE community_id = $1 AND shift_key = $2",
                )
                .bind(community)
                .bind(shift_key)
                .fetch_optional(&self.read)
                .await?)
            }

            pub async fn report_status_counts(&self, community: &str, from: i64, to: i64, team: Option<&str>) -> $crate::store::Result<Vec<$crate::store::StatusCount>> {
                Ok(sqlx::query_as(
                    "SELECT s.team, COALESCE(p.building, '') AS building, c.status, c.decided_by, COUNT(*) AS n \
                     FROM compliance_projection c \
                     JOIN shift_projection s ON s.community_id = c.community_id AND s.shift_key = c.shift_key \
                     LEFT JOIN posts p ON p.community_id = c.community_id AND p.id = c.post_id \
                     WHERE c.community_id = $1 AND s.starts_at >= $2 AND s.starts_at < $3 AND ($4 IS NULL OR s.team = $4) \
                     GROUP BY s.team, COALESCE(p.building, ''), c.status, c.decided_by ORDER BY 1, 2, 3, 4",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .bind(team)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn report_slots(&self, community: &str, shift_key: &str) -> $crate::store::Result<Vec<$crate::store::SlotLine>> {
                Ok(sqlx::query_as(
                    "SELECT c.shift_key, c.post_id, c.window_start, c.deadline, c.status, c.checkin_id, \
                     k.device_time, k.received_at, k.member, k.status AS proof \
                     FROM compliance_projection c \
                     LEFT JOIN checkin_projection k ON k.community_id = c.community_id AND k.checkin_id = c.checkin_id \
                     WHERE c.community_id = $1 AND c.shift_key = $2 ORDER BY c.window_start, c.post_id",
                )
                .bind(community)
                .bind(shift_key)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn report_duty(&self, community: &str, from: i64, to: i64, team: Option<&str>) -> $crate::store::Result<Vec<$crate::store::DutyCount>> {
                Ok(sqlx::query_as(
                    "SELECT a.user_id, COUNT(*) AS rostered, \
                     SUM(CASE WHEN a.signed_on IS NULL THEN 0 ELSE 1 END) AS attended \
                     FROM attendance_projection a \
                     JOIN shift_projection s ON s.community_id = a.community_id AND s.shift_key = a.shift_key \
                     WHERE a.community_id = $1 AND s.starts_at >= $2 AND s.starts_at < $3 AND ($4 IS NULL OR s.team = $4) \
                     GROUP BY a.user_id ORDER BY a.user_id",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .bind(team)
                .fetch_all(&self.read)
                .await?)
            }

            /// Check-ins made in the period, per member.
            pub async fn report_checkins_by(&self, community: &str, from: i64, to: i64, team: Option<&str>) -> $crate::store::Result<Vec<$crate::store::PersonCount>> {
                // The whole community needs no patrol for the team.
                let sql = if team.is_none() {
                    "SELECT k.member AS user_id, COUNT(*) AS n FROM checkin_projection k \
                     WHERE k.community_id = $1 AND k.device_time >= $2 AND k.device_time < $3 AND $4 IS NULL \
                     GROUP BY k.member ORDER BY k.member"
                } else {
                    "SELECT k.member AS user_id, COUNT(*) AS n FROM checkin_projection k \
                     JOIN patrol_projection t ON t.community_id = k.community_id AND t.doc_id = k.patrol_id \
                     WHERE k.community_id = $1 AND k.device_time >= $2 AND k.device_time < $3 AND t.team = $4 \
                     GROUP BY k.member ORDER BY k.member"
                };
                Ok(sqlx::query_as(sql)
                .bind(community)
                .bind(from)
                .bind(to)
                .bind(team)
                .fetch_all(&self.read)
                .await?)
            }

            /// Patrols started in the period.
            pub async fn report_patrol_count(&self, community: &str, from: i64, to: i64, team: Option<&str>) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM patrol_projection WHERE community_id = $1 AND started_at >= $2 AND started_at < $3 \
                     AND ($4 IS NULL OR team = $4)",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .bind(team)
                .fetch_one(&self.read)
                .await?)
            }

            /// Hazards reported, rectified or closed in the period, or due
            /// before its end and not closed by then.
            pub async fn report_hazards(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<$crate::store::PeriodHazard>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM hazard_projection h \
                     LEFT JOIN documents d ON d.community_id = h.community_id AND d.id = h.doc_id \
                     LEFT JOIN posts p ON p.community_id = h.community_id AND p.id = h.post_id \
                     WHERE h.community_id = $1 AND h.reported_at < $3 AND ( \
                       h.reported_at >= $2 OR (h.rectified_at >= $2 AND h.rectified_at < $3) \
                       OR (h.closed_at >= $2 AND h.closed_at < $3) \
                       OR (h.due_at < $3 AND (h.closed_at IS NULL OR h.closed_at >= $3))) \
                     ORDER BY h.reported_at, h.doc_id",
                    $crate::store::reports::HAZARD_COLUMNS
                )))
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn report_incidents(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<$crate::store::PeriodIncident>> {
                Ok(sqlx::query_as(
                    "SELECT i.doc_id, i.reporter, i.occurred_at, i.reported_at, i.state, i.acknowledged_at, i.event_count, \
                     d.scope, COALESCE(d.created_at, i.reported_at) AS received_at \
                     FROM incident_projection i \
                     LEFT JOIN documents d ON d.community_id = i.community_id AND d.id = i.doc_id \
                     WHERE i.community_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 \
                     ORDER BY i.occurred_at, i.doc_id",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn report_alerts(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<$crate::store::AlertRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, kind, subject, raised_at, recipients, acked_at, acked_by FROM alert_projection \
                     WHERE community_id = $1 AND raised_at >= $2 AND raised_at < $3 ORDER BY raised_at, doc_id",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            /// Photos of the hazards reported in the period: (hazard, hash).
            pub async fn report_photos(&self, community: &str, from: i64, to: i64) -> $crate::store::Result<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT l.doc_id, l.hash FROM blob_links l \
                     JOIN hazard_projection h ON h.community_id = l.community_id AND h.doc_id = l.doc_id \
                     WHERE l.community_id = $1 AND h.reported_at >= $2 AND h.reported_at < $3 ORDER BY l.doc_id, l.hash",
                )
                .bind(community)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?)
            }

            /// One page of a check-in export (`CheckinExportQuery`).
            pub async fn export_checkins(&self, community: &str, q: &$crate::store::CheckinExportQuery) -> $crate::store::Result<Vec<$crate::store::ExportCheckin>> {
                // The cursor as a range on the time index: the first page
                // starts at `from` (every id sorts after "").
                let (after_at, after_id) = q.after.clone().unwrap_or((q.from, String::new()));
                Ok(sqlx::query_as(
                    "SELECT k.patrol_id, k.checkin_id, k.post_id, k.member, k.device_id, k.method, k.device_time, \
                     k.received_at, k.lat, k.lon, k.accuracy_m, k.status, k.flag_reason, t.team \
                     FROM checkin_projection k \
                     JOIN patrol_projection t ON t.community_id = k.community_id AND t.doc_id = k.patrol_id \
                     WHERE k.community_id = $1 AND k.device_time >= $2 AND k.device_time < $3 \
                     AND ($4 IS NULL OR t.team = $4) AND ($5 IS NULL OR k.post_id = $5) AND ($6 IS NULL OR k.member = $6) \
                     AND k.device_time >= $7 AND (k.device_time > $7 OR k.checkin_id > $8) \
                     ORDER BY k.device_time, k.checkin_id LIMIT $9",
                )
                .bind(community)
                .bind(q.from)
                .bind(q.to)
                .bind(&q.team)
                .bind(&q.post)
                .bind(&q.member)
                .bind(after_at)
                .bind(after_id)
                .bind(q.limit)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn person_hazards(&self, community: &str, user: &str) -> $crate::store::Result<Vec<$crate::store::HazardRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, category, severity, state, in_conflict, reporter, reported_at, post_id, \
                     assigned_person, deadline_at, event_count, due_at, recurring_of, rectified_at, closed_at \
                     FROM hazard_projection WHERE community_id = $1 AND (reporter = $2 OR assigned_person = $2) \
                     ORDER BY reported_at, doc_id",
                )
                .bind(community)
                .bind(user)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn person_incidents(&self, community: &str, user: &str) -> $crate::store::Result<Vec<$crate::store::IncidentRow>> {
                Ok(sqlx::query_as(
                    "SELECT doc_id, reporter, occurred_at, reported_at, state, acknowledged_at, event_count \
                     FROM incident_projection WHERE community_id = $1 AND reporter = $2 ORDER BY occurred_at, doc_id",
                )
                .bind(community)
                .bind(user)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn person_attendance(&self, community: &str, user: &str) -> $crate::store::Result<Vec<$crate::store::AttendanceRow>> {
                Ok(sqlx::query_as(
                    "SELECT shift_key, user_id, signed_on, signed_off FROM attendance_projection \
                     WHERE community_id = $1 AND user_id = $2 ORDER BY shift_key",
                )
                .bind(community)
                .bind(user)
                .fetch_all(&self.read)
                .await?)
            }

            pub async fn person_photos(&self, community: &str, user: &str) -> $crate::store::Result<Vec<$crate::store::BlobRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM blobs WHERE community_id = $1 AND uploaded_by = $2 ORDER BY created_at, hash",
                    $crate::store::blobs::BLOB_COLUMNS
                )))
                .bind(community)
                .bind(user)
                .fetch_all(&self.read)
                .await?)
            }

            /// Audit entries the user made, and those about them.
            pub async fn person_audit(&self, community: &str, user: &str) -> $crate::store::Result<Vec<$crate::store::AuditRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, at, user_id, device_id, action, subject, detail FROM admin_audit \
                     WHERE community_id = $1 AND (user_id = $2 OR subject = $2) ORDER BY id",
                )
                .bind(community)
                .bind(user)
                .fetch_all(&self.read)
                .await?)
            }

            /// Keeps an issued report; false when that period was issued already.
            pub async fn insert_issued_report(&self, community: &str, r: &$crate::store::IssuedReport) -> $crate::store::Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO issued_reports (community_id, kind, period, issued_at, sha256, body) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (community_id, kind, period) DO NOTHING",
                )
                .bind(community)
                .bind(&r.kind)
                .bind(&r.period)
                .bind(r.issued_at)
                .bind(&r.sha256)
                .bind(&r.body)
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn issued_report(&self, community: &str, kind: &str, period: &str) -> $crate::store::Result<Option<$crate::store::IssuedReport>> {
                Ok(sqlx::query_as(
                    "SELECT kind, period, issued_at, sha256, body FROM issued_reports \
                     WHERE community_id = $1 AND kind = $2 AND period = $3",
                )
                .bind(community)
                .bind(kind)
                .bind(period)
                .fetch_optional(&self.read)
                .await?)
            }

            /// The periods of `kind` issued since `since`, newest first.
            pub async fn issued_periods(&self, community: &str, kind: &str, since: i64) -> $crate::store::Result<Vec<(String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT period, issued_at FROM issued_reports \
                     WHERE community_id = $1 AND kind = $2 AND issued_at >= $3 ORDER BY issued_at DESC",
                )
                .bind(community)
                .bind(kind)
                .bind(since)
                .fetch_all(&self.read)
                .await?)
            }
        }
    };
}

pub(crate) use report_store_impl;

impl Store {
    /// Shifts that start in `[from, to)`.
    pub async fn report_shifts(
        &self,
        community: &str,
        from: i64,
        to: i64,
        team: Option<&str>,
    ) -> Result<Vec<super::ShiftRow>> {
        dispatch!(self.report_shifts(community, from, to, team))
    }

    /// One shift by its key.
    pub async fn shift(&self, community: &str, shift_key: &str) -> Result<Option<super::ShiftRow>> {
        dispatch!(self.shift(community, shift_key))
    }

    /// Posts per team, building, status and deciding person over the
    /// period's shifts.
    pub async fn report_status_counts(
        &self,
        community: &str,
        from: i64,
        to: i64,
        team: Option<&str>,
    ) -> Result<Vec<StatusCount>> {
        dispatch!(self.report_status_counts(community, from, to, team))
    }

    /// Every post and window of one shift with its deciding check-in.
    pub async fn report_slots(&self, community: &str, shift_key: &str) -> Result<Vec<SlotLine>> {
        dispatch!(self.report_slots(community, shift_key))
    }

    /// Shifts rostered and attended per person.
    pub async fn report_duty(
        &self,
        community: &str,
        from: i64,
        to: i64,
        team: Option<&str>,
    ) -> Result<Vec<DutyCount>> {
        dispatch!(self.report_duty(community, from, to, team))
    }

    /// Check-ins made in the period, per member.
    pub async fn report_checkins_by(
        &self,
        community: &str,
        from: i64,
        to: i64,
        team: Option<&str>,
    ) -> Result<Vec<PersonCount>> {
        dispatch!(self.report_checkins_by(community, from, to, team))
    }

    /// Patrols started in the period.
    pub async fn report_patrol_count(
        &self,
        community: &str,
        from: i64,
        to: i64,
        team: Option<&str>,
    ) -> Result<i64> {
        dispatch!(self.report_patrol_count(community, from, to, team))
    }

    /// Hazards the period touches.
    pub async fn report_hazards(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<PeriodHazard>> {
        dispatch!(self.report_hazards(community, from, to))
    }

    /// Incidents that occurred in the period.
    pub async fn report_incidents(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<PeriodIncident>> {
        dispatch!(self.report_incidents(community, from, to))
    }

    /// Alerts raised in the period.
    pub async fn report_alerts(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<super::AlertRow>> {
        dispatch!(self.report_alerts(community, from, to))
    }

    /// Photos of the hazards reported in the period: (hazard, hash).
    pub async fn report_photos(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, String)>> {
        dispatch!(self.report_photos(community, from, to))
    }

    /// One page of a check-in export.
    pub async fn export_checkins(
        &self,
        community: &str,
        q: &CheckinExportQuery,
    ) -> Result<Vec<ExportCheckin>> {
        dispatch!(self.export_checkins(community, q))
    }

    /// Hazards the user reported or was assigned.
    pub async fn person_hazards(
        &self,
        community: &str,
        user: &str,
    ) -> Result<Vec<super::HazardRow>> {
        dispatch!(self.person_hazards(community, user))
    }

    /// Incidents the user reported.
    pub async fn person_incidents(
        &self,
        community: &str,
        user: &str,
    ) -> Result<Vec<super::IncidentRow>> {
        dispatch!(self.person_incidents(community, user))
    }

    /// The user's sign-on and sign-off on every shift they were rostered.
    pub async fn person_attendance(
        &self,
        community: &str,
        user: &str,
    ) -> Result<Vec<super::AttendanceRow>> {
        dispatch!(self.person_attendance(community, user))
    }

    /// Photos the user uploaded.
    pub async fn person_photos(&self, community: &str, user: &str) -> Result<Vec<super::BlobRow>> {
        dispatch!(self.person_photos(community, user))
    }

    /// Audit entries the user made, and those about them.
    pub async fn person_audit(&self, community: &str, user: &str) -> Result<Vec<super::AuditRow>> {
        dispatch!(self.person_audit(community, user))
    }

    /// Keeps an issued report; false when its period was issued already.
    pub async fn insert_issued_report(&self, community: &str, r: &IssuedReport) -> Result<bool> {
        dispatch!(self.insert_issued_report(community, r))
    }

    pub async fn issued_report(
        &self,
        community: &str,
        kind: &str,
        period: &str,
    ) -> Result<Option<IssuedReport>> {
        dispatch!(self.issued_report(community, kind, period))
    }

    /// The periods of `kind` issued since `since`, newest first.
    pub async fn issued_periods(
        &self,
        community: &str,
        kind: &str,
        since: i64,
    ) -> Result<Vec<(String, i64)>> {
        dispatch!(self.issued_periods(community, kind, since))
    }
}
