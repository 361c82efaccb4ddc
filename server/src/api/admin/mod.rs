//! The office's admin API: users and devices, teams, places and posts,
//! routes and rosters, and the audit log of every write made through it.
//!
//! # Invariants
//! - Writes are for the office, reads for the office and auditors; every
//!   other role gets 403, and objects of another community are not found.
//! - A rejected request stores nothing; an accepted write is recorded in
//!   `admin_audit` (in the same transaction where the store makes it).

pub mod duty;
pub mod places;
pub mod users;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::admin::{Actor, AdminError};
pub use crate::admin::{check_id, check_text, nullable};
use crate::auth::Claims;
use crate::http::{ApiError, Authenticated, QueryParams, require_role};
use crate::state::AppState;
use crate::store::AuditEntry;

/// An office user's request: may read and write the admin API.
pub struct Office(pub Claims);

/// An office user's or an auditor's request: may read the admin API.
pub struct Reader(pub Claims);

impl FromRequestParts<AppState> for Office {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, app).await?;
        require_role(&claims, &["office"], "change the community's setup")?;
        Ok(Office(claims))
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, app).await?;
        require_role(&claims, &["office", "auditor"], "read the admin API")?;
        Ok(Reader(claims))
    }
}

/// The audit entry of a write by the token's user.
pub fn audit(
    claims: &Claims,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> AuditEntry {
    Actor::of(claims).entry(action, subject, detail)
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        let code = e.code();
        match e {
            AdminError::Forbidden(_) => ApiError::forbidden(code, e.to_string()),
            AdminError::Invalid { message, .. } => ApiError::bad_request(code, message),
            AdminError::Refused { message, .. } => ApiError::unprocessable(code, message),
            AdminError::NotFound(m) => ApiError::not_found(code, m),
            AdminError::Conflict { message, .. } => ApiError::conflict(code, message),
            AdminError::Store(e) => ApiError::internal(e),
            AdminError::Internal(m) => ApiError::internal(m),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditPage {
    /// Entries with an id below this (the last page's smallest id).
    before: Option<i64>,
    /// At most this many entries: 100 when absent, taken as 1 below 1 and as
    /// 1000 above.
    limit: Option<i64>,
}

/// One recorded admin write.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditItem {
    id: i64,
    /// Unix milliseconds.
    at: i64,
    user_id: String,
    device_id: String,
    /// What was done, e.g. `user.create`, `post.delete`, `route.put`.
    action: String,
    /// The id of what it was done to.
    subject: String,
    /// The request's details (never a password or a key's secret).
    detail: serde_json::Value,
}

/// `GET /api/v1/admin/audit`: the admin writes, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditPage),
    security(("bearer" = [])),
    responses((status = 200, description = "Audit entries, newest first", body = [AuditItem])))]
pub async fn audit_log(
    State(app): State<AppState>,
    Reader(claims): Reader,
    QueryParams(page): QueryParams<AuditPage>,
) -> Result<Json<Vec<AuditItem>>, ApiError> {
    let rows = app
        .store
        .audit_log(
            &claims.com,
            page.before.unwrap_or(i64::MAX),
            page.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditItem {
                detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
                id: r.id,
                at: r.at,
                user_id: r.user_id,
                device_id: r.device_id,
                action: r.action,
                subject: r.subject,
            })
            .collect(),
    ))
}
