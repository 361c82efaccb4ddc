//! The rows of the query tables (projections) as the store reads and writes
//! them. What goes in them is decided by `crate::projection`; the store only
//! keeps them.

/// A hazard's row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct HazardRow {
    pub doc_id: String,
    pub category: String,
    pub severity: String,
    pub state: String,
    pub in_conflict: bool,
    pub reporter: String,
    pub reported_at: i64,
    pub post_id: Option<String>,
    pub assigned_person: Option<String>,
    pub deadline_at: Option<i64>,
    pub event_count: i64,
    /// When rectification is due: the assignment's deadline, else the SLA of
    /// the severity from the report (immediate 24 h, general 7 days, major 30).
    pub due_at: Option<i64>,
    /// An earlier hazard of the same category at the same post within 90 days.
    pub recurring_of: Option<String>,
    /// Device time of the latest rectification on the followed history.
    #[sqlx(default)]
    pub rectified_at: Option<i64>,
    /// Device time of the close, while the hazard is closed.
    #[sqlx(default)]
    pub closed_at: Option<i64>,
}

impl HazardRow {
    /// Still waiting for rectification after its due time (the ledger's
    /// query in `store::sql` says the same in SQL).
    pub fn is_overdue(&self, now: i64) -> bool {
        matches!(
            self.state.as_str(),
            "reported" | "assigned" | "rectifying" | "reopened"
        ) && self.due_at.is_some_and(|due| now > due)
    }
}

/// A hazard's row with its document's stored read scope (JSON of a
/// `DocScope`), for readers who may see only part of the ledger.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScopedHazardRow {
    #[sqlx(flatten)]
    pub row: HazardRow,
    pub scope: Option<String>,
}

/// Which hazards a page of the ledger holds: the filters (each `None` or
/// `false` lets every hazard through) and the cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HazardLedgerQuery {
    pub state: Option<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    /// The grid of the hazard's post.
    pub grid: Option<String>,
    /// The building of the hazard's post.
    pub building: Option<String>,
    /// Only hazards overdue at this time ([`HazardRow::is_overdue`]).
    pub overdue_at: Option<i64>,
    /// Only recurring hazards.
    pub recurring: bool,
    /// Only hazards after this one, newest first: (`reported_at`, `doc_id`).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A ledger line: the hazard's row, its stored read scope, and the
/// building of its post.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HazardLedgerRow {
    #[sqlx(flatten)]
    pub hazard: ScopedHazardRow,
    pub building: Option<String>,
}

/// A patrol's row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct PatrolRow {
    pub doc_id: String,
    pub team: String,
    pub route: String,
    pub started_by: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub checkin_count: i64,
}

/// A check-in's row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct CheckinRow {
    pub patrol_id: String,
    pub checkin_id: String,
    pub post_id: String,
    pub member: String,
    pub device_id: String,
    /// `tag` or `manual`.
    pub method: String,
    pub device_time: i64,
    pub received_at: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_m: Option<f64>,
    /// `verified` (a valid tag), `unverified` (manual) or `flagged`.
    pub status: String,
    pub flag_reason: Option<String>,
}

/// A route's row; `body` is the route document as JSON.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct RouteRow {
    pub doc_id: String,
    pub team: String,
    pub name: String,
    pub body: String,
}

/// A roster's row; `body` is the roster document as JSON.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct RosterRow {
    pub doc_id: String,
    pub team: String,
    pub week_of: String,
    pub body: String,
}

/// One shift of a roster, on the UTC time line.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ShiftRow {
    /// `<roster doc id>/<shift id>`.
    pub shift_key: String,
    pub roster_id: String,
    pub team: String,
    pub leader: String,
    pub starts_at: i64,
    pub ends_at: i64,
}

/// An incident's row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct IncidentRow {
    pub doc_id: String,
    pub reporter: String,
    pub occurred_at: i64,
    pub reported_at: i64,
    /// `open`, `acknowledged` or `closed`.
    pub state: String,
    pub acknowledged_at: Option<i64>,
    pub event_count: i64,
}

/// An alert's row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AlertRow {
    pub doc_id: String,
    pub kind: String,
    pub subject: String,
    pub raised_at: i64,
    /// User ids, as a JSON array.
    pub recipients: String,
    pub acked_at: Option<i64>,
    /// Who acknowledged it first.
    #[sqlx(default)]
    pub acked_by: Option<String>,
}

/// One post in one window of a shift, as the compliance engine last saw it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ComplianceRow {
    pub shift_key: String,
    pub route_id: String,
    pub post_id: String,
    pub window_start: i64,
    pub deadline: i64,
    pub grace_until: i64,
    /// `pending`, `on_time`, `unverified`, `out_of_order`, `late` or `missed`.
    pub status: String,
    pub checkin_id: Option<String>,
    pub checked_at: Option<i64>,
    /// Who made the check-in that decided it.
    pub decided_by: Option<String>,
}

/// Sign-on and sign-off of one person on one shift.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AttendanceRow {
    pub shift_key: String,
    pub user_id: String,
    pub signed_on: Option<i64>,
    pub signed_off: Option<i64>,
}

/// The rows a projection writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectionRows {
    pub hazard: Option<HazardRow>,
    pub patrol: Option<PatrolRow>,
    pub checkins: Vec<CheckinRow>,
    pub route: Option<RouteRow>,
    pub roster: Option<(RosterRow, Vec<ShiftRow>)>,
    pub incident: Option<IncidentRow>,
    pub alert: Option<AlertRow>,
    /// Photos the document references.
    pub blob_links: Vec<super::BlobLink>,
}
