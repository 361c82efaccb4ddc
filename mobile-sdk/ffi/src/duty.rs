//! Routes, rosters, alerts, route status and breadcrumbs across the FFI.

use fieldsync_proto::model::duty::{self, RouteDoc};

use super::{FfiResult, FieldsyncClient, FieldsyncError, GpsFix, blocking, parse_doc_id};

/// A new patrol route.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewRoute {
    pub name: String,
    pub team: String,
    /// Post ids, in walking order when `ordered`.
    pub posts: Vec<String>,
    pub ordered: bool,
    /// Every post at least once per this many minutes.
    pub interval_min: u32,
    /// Local `HH:MM`; `until` at or before `from` means the next day.
    pub active_from: String,
    pub active_until: String,
    /// Minutes after a deadline a check-in still counts as late.
    pub grace_min: u32,
}

/// An alert addressed to me.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AlertSummary {
    pub id: String,
    /// `missed`, `late`, `overdue`, `escalation` or `flagged`.
    pub kind: String,
    pub title_zh: String,
    pub title_en: String,
    pub post_id: Option<String>,
    /// The hazard, incident or patrol it is about.
    pub doc_id: Option<String>,
    /// A flagged check-in of the patrol `doc_id`, and why.
    pub checkin_id: Option<String>,
    pub reason: Option<String>,
    pub due_at_ms: Option<i64>,
    pub raised_at_ms: i64,
    pub acknowledged: bool,
}

/// One post of my route in one window of my current shift.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PostStatusSummary {
    pub route_id: String,
    pub post_id: String,
    pub window_start_ms: i64,
    pub deadline_ms: i64,
    /// `pending`, `on_time`, `unverified`, `out_of_order`, `late` or `missed`.
    pub status: String,
    pub checkin_id: Option<String>,
}

#[uniffi::export]
impl FieldsyncClient {
    /// Creates a route (leaders and the office); returns its document id.
    pub async fn create_route(&self, route: NewRoute) -> FfiResult<String> {
        let c = self.client()?;
        let doc = RouteDoc {
            name: route.name,
            team: route.team,
            posts: route.posts,
            ordered: route.ordered,
            interval_min: route.interval_min,
            active_from: route.active_from,
            active_until: route.active_until,
            grace_min: route.grace_min,
        };
        blocking(move || c.create_route(&doc))
            .await
            .map(String::from)
    }

    /// Creates a team's roster for the week starting Monday `week_of`
    /// (`YYYY-MM-DD`) in the default pattern: Monday–Friday 18:00 → 08:00,
    /// weekends 24 h, leaders taking turns by day.
    pub async fn create_default_roster(
        &self,
        team: String,
        week_of: String,
        leaders: Vec<String>,
        members: Vec<String>,
        routes: Vec<String>,
    ) -> FfiResult<String> {
        let c = self.client()?;
        let roster =
            duty::default_week(&team, &week_of, &leaders, &members, &routes).map_err(|e| {
                FieldsyncError::InvalidInput {
                    reason: format!("{}: {e}", e.code()),
                }
            })?;
        blocking(move || c.create_roster(&roster))
            .await
            .map(String::from)
    }

    /// The alerts on this device addressed to me, newest first.
    pub async fn alerts(&self) -> FfiResult<Vec<AlertSummary>> {
        let c = self.client()?;
        let alerts = blocking(move || c.alerts()).await?;
        Ok(alerts
            .into_iter()
            .map(|(id, a)| AlertSummary {
                id: id.to_string(),
                kind: a.kind.as_str().to_owned(),
                acknowledged: a.acknowledged(),
                title_zh: a.title_zh,
                title_en: a.title_en,
                post_id: a.post_id,
                doc_id: a.doc_id,
                checkin_id: a.checkin_id,
                reason: a.reason,
                due_at_ms: a.due_at_ms,
                raised_at_ms: a.raised_at_ms,
            })
            .collect())
    }

    /// Acknowledges an alert addressed to me (works offline).
    pub async fn acknowledge_alert(&self, alert_id: String, note: String) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&alert_id)?;
        blocking(move || c.acknowledge_alert(&id, &note)).await
    }

    /// My route's posts with their status in my shift running at `at_ms`
    /// (now when absent), from the documents on this device.
    pub async fn my_route_status(&self, at_ms: Option<i64>) -> FfiResult<Vec<PostStatusSummary>> {
        let c = self.client()?;
        let at = at_ms.unwrap_or_else(fieldsync_sdk::now_ms);
        let statuses = blocking(move || c.my_route_status(at)).await?;
        Ok(statuses
            .into_iter()
            .map(|s| PostStatusSummary {
                route_id: s.route_id,
                post_id: s.post_id,
                window_start_ms: s.slot.window_start_ms,
                deadline_ms: s.slot.deadline_ms,
                status: s.slot.status.as_str().to_owned(),
                checkin_id: s.slot.checkin_id,
            })
            .collect())
    }

    /// Records a GPS point of an open patrol (kept across restarts, written
    /// to the patrol in compact chunks).
    pub async fn record_breadcrumb(&self, patrol_id: String, fix: GpsFix) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        let fix = fieldsync_sdk::Fix {
            lat: fix.lat,
            lon: fix.lon,
            accuracy_m: fix.accuracy_m,
        };
        blocking(move || c.record_breadcrumb(&id, fix)).await
    }

    /// How many breadcrumbs a patrol has, written or buffered.
    pub async fn breadcrumb_count(&self, patrol_id: String) -> FfiResult<u64> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        blocking(move || c.breadcrumbs(&id).map(|b| b.len() as u64)).await
    }
}
