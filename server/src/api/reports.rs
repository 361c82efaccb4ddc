//! `/api/v1/reports`: the daily, weekly and monthly reports as JSON, CSV,
//! XLSX or the printable page, live or as issued (`crate::reports`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldsync_proto::model::Role;
use serde::Deserialize;

use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated, PathParams, QueryParams};
use crate::i18n::{Lang, Tr};
use crate::reports::exports::{self, ExportError, Filter, What};
use crate::reports::{self, Ask, Kind, Listed, ReportError};
use crate::state::AppState;

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        let m = e.to_string();
        match e {
            ReportError::Forbidden | ReportError::IssuedForbidden => {
                ApiError::forbidden("forbidden", m)
            }
            ReportError::Period(_) => ApiError::unprocessable("bad_period", m),
            ReportError::NoShift(_) | ReportError::NoUser(_) | ReportError::NoPeriod(_) => {
                ApiError::not_found("not_found", m)
            }
            ReportError::NotIssued(..) => ApiError::not_found("not_issued", m),
            ReportError::Issued(reports::issue::IssuedError::Altered { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "report_altered", m)
            }
            ReportError::Export(e) => e.into(),
            ReportError::Issued(_)
            | ReportError::Render(_)
            | ReportError::Pack(_)
            | ReportError::Store(_) => ApiError::internal(m),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        let m = e.to_string();
        match e {
            ExportError::Date(_) => ApiError::bad_request("bad_date", m),
            ExportError::Empty => ApiError::unprocessable("empty_span", m),
            ExportError::Io(_) | ExportError::Store(_) => ApiError::internal(m),
        }
    }
}

async fn audience(
    app: &AppState,
    claims: &crate::auth::Claims,
) -> Result<reports::Audience, ApiError> {
    let role = Role::parse(&claims.role).ok_or(ReportError::Forbidden)?;
    Ok(reports::audience(&app.store, &claims.com, &claims.sub, role).await?)
}

/// `GET /api/v1/reports`: the recent shifts, weeks and months one may open
/// a report of, and when each was issued.
#[utoipa::path(get, path = "/api/v1/reports", operation_id = "list_reports", tag = "reports", security(("bearer" = [])),
    responses((status = 200, description = "Recent report periods, newest first", body = [Listed])))]
pub async fn list(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let audience = audience(&app, &claims).await?;
    Ok(Json(
        reports::recent(&app.store, &audience, now_ms()).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Language {
    /// `zh-CN` (default) or `en`: the wording of the page, CSV and XLSX.
    #[param(inline)]
    lang: Option<Lang>,
}

/// `GET /api/v1/reports/{kind}?period=…&format=…&version=…&lang=…`: one
/// report. The office and auditors read the whole community's, a leader
/// their team's (live only).
#[utoipa::path(get, path = "/api/v1/reports/{kind}", tag = "reports", security(("bearer" = [])),
    params(("kind" = inline(Kind), Path, description = "`daily`, `weekly` or `monthly`"), Ask, Language),
    responses(
        (status = 200, description = "The report in the format asked for: JSON (this schema), CSV, XLSX or the printable page", content(
            (reports::Report = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
            (crate::http::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, description = "No such shift, no report to open yet, or not issued (`not_found`, `not_issued`)", body = crate::http::ErrorBody),
        (status = 409, description = "The issued version no longer matches its hash (`report_altered`)", body = crate::http::ErrorBody),
        (status = 422, description = "The period is not one of the report's kind: a weekly one is a Thursday `YYYY-MM-DD`, a monthly one `YYYY-MM` (`bad_period`)", body = crate::http::ErrorBody)))]
pub async fn report(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(kind): PathParams<Kind>,
    QueryParams(ask): QueryParams<Ask>,
    QueryParams(language): QueryParams<Language>,
) -> Result<Response, ApiError> {
    let audience = audience(&app, &claims).await?;
    let lang = language.lang.unwrap_or_default();
    let answer = reports::answer(
        &app,
        &audience,
        kind,
        &ask,
        Tr { lang },
        |_, _| None,
        now_ms(),
    )
    .await?;
    Ok(answer.file.into_response())
}

/// `GET /api/v1/exports/{what}?from=&to=&format=…` (`checkins`, `hazards`,
/// `compliance`, `incidents`): the rows with the dashboard's filters, what
/// the reader may read only (a leader their team's), streamed.
#[utoipa::path(get, path = "/api/v1/exports/{what}", tag = "reports", security(("bearer" = [])),
    params(("what" = inline(What), Path, description = "`checkins`, `hazards`, `compliance` or `incidents`"), Filter, Language),
    responses(
        (status = 200, description = "The rows as CSV (UTF-8 with a byte-order mark), XLSX or a JSON array", content(
            (String = "text/csv"),
            (Vec<serde_json::Value> = "application/json"),
            (crate::http::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A date that is not `YYYY-MM-DD` (`bad_date`)", body = crate::http::ErrorBody),
        (status = 422, description = "`from` is after `to` (`empty_span`)", body = crate::http::ErrorBody)))]
pub async fn export(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(what): PathParams<What>,
    QueryParams(filter): QueryParams<Filter>,
    QueryParams(language): QueryParams<Language>,
) -> Result<Response, ApiError> {
    let audience = audience(&app, &claims).await?;
    let lang = language.lang.unwrap_or_default();
    Ok(exports::export(&app.store, &audience, what, filter, Tr { lang }, now_ms()).await?)
}

/// `GET /api/v1/reports/evidence/{month}` (office, auditors): the month's
/// evidence pack, a zip of the issued reports, the summary, the exports, a
/// manifest of sha256 hashes and `SHA256SUMS` (docs/reports.md).
#[utoipa::path(get, path = "/api/v1/reports/evidence/{month}", tag = "reports", security(("bearer" = [])),
    params(("month" = String, Path, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", description = "`YYYY-MM`")),
    responses(
        (status = 200, description = "The evidence pack", content_type = "application/zip", body = crate::http::Binary),
        (status = 422, description = "Not a month (`bad_period`)", body = crate::http::ErrorBody)))]
pub async fn evidence(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(month): PathParams<String>,
) -> Result<Response, ApiError> {
    let audience = audience(&app, &claims).await?;
    Ok(reports::evidence::download(&app, &audience, &month, now_ms()).await?)
}

/// `GET /api/v1/admin/users/{id}/export` (office): everything recorded about
/// one person, as a zip with a manifest and SHA256SUMS (docs/reports.md).
#[utoipa::path(get, path = "/api/v1/admin/users/{id}/export", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "The person's data", content_type = "application/zip", body = crate::http::Binary),
        (status = 404, description = "No such user", body = crate::http::ErrorBody)))]
pub async fn person(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let audience = audience(&app, &claims).await?;
    Ok(reports::person::download(&app, &audience, &id, now_ms()).await?)
}
