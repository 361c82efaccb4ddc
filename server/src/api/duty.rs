//! Compliance, attendance and alerts as the office, leaders and auditors
//! see them on the dashboard: rows from the projections.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated, QueryParams};
use crate::state::AppState;
use crate::store::{AlertRow, AttendanceRow, ComplianceRow, ShiftRow};

fn dashboard_only(role: &str) -> Result<(), ApiError> {
    if matches!(role, "leader" | "office" | "auditor") {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "forbidden",
            "compliance and alerts are for leaders, the office and auditors",
        ))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// Shifts overlapping the last `hours` hours: 48 when absent, taken as 1
    /// below 1 and as 744 (31 days) above.
    hours: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ShiftCompliance {
    #[serde(flatten)]
    shift: ShiftRow,
    posts: Vec<ComplianceRow>,
    attendance: Vec<AttendanceRow>,
}

/// `GET /api/v1/compliance?hours=48`: per shift, every post in every window
/// with its status, and attendance.
#[utoipa::path(get, path = "/api/v1/compliance", tag = "dashboard", security(("bearer" = [])), params(Window),
    responses((status = 200, description = "Per shift: posts by window with status, and attendance", body = [ShiftCompliance])))]
pub async fn compliance(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    QueryParams(w): QueryParams<Window>,
) -> Result<Json<Vec<ShiftCompliance>>, ApiError> {
    dashboard_only(&claims.role)?;
    let hours = w.hours.unwrap_or(48).clamp(1, 31 * 24);
    let now = now_ms();
    let shifts = app
        .store
        .shifts_between(&claims.com, now - hours * 3_600_000, now + 1)
        .await?;
    let mut out = Vec::with_capacity(shifts.len());
    for shift in shifts {
        out.push(ShiftCompliance {
            posts: app
                .store
                .compliance_rows(&claims.com, &shift.shift_key)
                .await?,
            attendance: app
                .store
                .attendance_rows(&claims.com, &shift.shift_key)
                .await?,
            shift,
        });
    }
    Ok(Json(out))
}

/// `GET /api/v1/alerts`: every alert of the community, oldest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, description = "Alerts, oldest first", body = [AlertRow])))]
pub async fn alerts(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<Json<Vec<AlertRow>>, ApiError> {
    dashboard_only(&claims.role)?;
    Ok(Json(app.store.alert_rows(&claims.com).await?))
}
