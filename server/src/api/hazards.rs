//! The hazard ledger as the office and leaders query it: rows from the
//! projection, with overdue ones marked.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HazardFilter {
    state: Option<String>,
    #[serde(default)]
    overdue: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HazardListItem {
    #[serde(flatten)]
    row: crate::store::HazardRow,
    overdue: bool,
}

/// `GET /api/v1/hazards?state=…&overdue=true` (leader, office, auditor): the
/// hazard ledger from the projection, with overdue ones marked.
#[utoipa::path(get, path = "/api/v1/hazards", tag = "dashboard", security(("bearer" = [])), params(HazardFilter),
    responses((status = 200, description = "The hazard ledger", body = [HazardListItem])))]
pub async fn list_hazards(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Query(filter): Query<HazardFilter>,
) -> Result<Json<Vec<HazardListItem>>, ApiError> {
    if !matches!(claims.role.as_str(), "leader" | "office" | "auditor") {
        return Err(ApiError::forbidden(
            "forbidden",
            "the hazard ledger is for leaders, the office and auditors",
        ));
    }
    let now = now_ms();
    let rows = app.store.hazard_rows(&claims.com).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| HazardListItem {
                overdue: row.is_overdue(now),
                row,
            })
            .filter(|h| filter.state.as_ref().is_none_or(|s| &h.row.state == s))
            .filter(|h| !filter.overdue || h.overdue)
            .collect(),
    ))
}
