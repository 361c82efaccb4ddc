//! The hazard ledger as the office and leaders query it: rows from the
//! projection, with overdue ones marked.

use axum::Json;
use axum::extract::State;
use fieldsync_proto::DocType;
use fieldsync_proto::model::Role;
use fieldsync_proto::model::scope::may_read;
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated, QueryParams};
use crate::scope;
use crate::state::AppState;
use crate::store::ScopedHazardRow;

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
/// hazard ledger from the projection, with overdue ones marked; limited to
/// the hazards the reader may read.
#[utoipa::path(get, path = "/api/v1/hazards", tag = "dashboard", security(("bearer" = [])), params(HazardFilter),
    responses((status = 200, description = "The hazard ledger", body = [HazardListItem])))]
pub async fn list_hazards(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    QueryParams(filter): QueryParams<HazardFilter>,
) -> Result<Json<Vec<HazardListItem>>, ApiError> {
    if !matches!(claims.role.as_str(), "leader" | "office" | "auditor") {
        return Err(ApiError::forbidden(
            "forbidden",
            "the hazard ledger is for leaders, the office and auditors",
        ));
    }
    let role = Role::parse(&claims.role)
        .ok_or_else(|| ApiError::forbidden("forbidden", "unknown role"))?;
    let reader = app.store.reader(&claims.sub, role).await?;
    let now = now_ms();
    let rows = app.store.hazard_ledger(&claims.com).await?;
    Ok(Json(
        rows.into_iter()
            // By the same read scopes as sync: a leader sees their team's
            // grid and unplaced hazards.
            .filter(|h| {
                may_read(
                    &reader,
                    DocType::Hazard,
                    scope::parse(h.scope.as_deref()).as_ref(),
                )
            })
            .map(|ScopedHazardRow { row, .. }| HazardListItem {
                overdue: row.is_overdue(now),
                row,
            })
            .filter(|h| filter.state.as_ref().is_none_or(|s| &h.row.state == s))
            .filter(|h| !filter.overdue || h.overdue)
            .collect(),
    ))
}
