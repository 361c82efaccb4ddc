//! Reports (docs/reports.md): the daily shift report, the weekly report
//! (reported on Thursdays) and the monthly summary with the duty assessment
//! and the zero report; the same figures as JSON, a printable page, CSV and
//! XLSX; reports issued at the end of each period and kept.
//!
//! - `period`: which days a report covers.
//! - `content`: what a report says, read from the projection tables.
//! - `issue`: issuing and keeping reports, and reading them back.
//! - `sheets`: a report as tables, the one shape CSV, XLSX and the page are
//!   written from.
//! - `render`: a report in the format asked for.
//! - `evidence`: the auditors' monthly evidence pack, and its check.
//! - `person`: everything recorded about one user, for the office.
//! - `pack`: a zip with its files' sha256, a manifest and SHA256SUMS.
//! - `exports`: check-ins, hazards, compliance and incidents as streamed
//!   CSV, XLSX or JSON, with the dashboard's filters.
//!
//! The API (`crate::api::reports`) and the dashboard (`crate::web::reports`)
//! both go through `view`.

pub mod content;
pub mod evidence;
pub mod exports;
pub mod issue;
pub mod pack;
pub mod period;
pub mod person;
pub mod render;
pub mod sheets;

use fieldsync_proto::model::Role;
use fieldsync_proto::model::duty::DEFAULT_TIME_ZONE;

pub use content::{Audience, Report};
pub use period::{Kind, Period, PeriodError};

use crate::store::{Store, StoreError};

/// Which version of a period's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Version {
    /// As of now, read against the issue (later arrivals marked).
    Live,
    /// Exactly as issued.
    Issued,
}

/// Why a report was not given.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("reports are for leaders, the office and auditors")]
    Forbidden,
    #[error("the issued version covers the whole community; leaders read their team's live report")]
    IssuedForbidden,
    /// A period key that does not name a period of the report's kind.
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error("no such user: {0}")]
    NoUser(String),
    #[error("no such shift: {0}")]
    NoShift(String),
    #[error("the {0} report of {1} has not been issued")]
    NotIssued(&'static str, String),
    #[error(transparent)]
    Issued(#[from] issue::IssuedError),
    #[error("no {0} report to open yet")]
    NoPeriod(&'static str),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error(transparent)]
    Export(#[from] exports::ExportError),
    #[error("the evidence pack could not be written: {0}")]
    Pack(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a request for a report asks: the same for the API and the
/// dashboard.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Ask {
    /// The shift key (daily), the Thursday `YYYY-MM-DD` (weekly) or
    /// `YYYY-MM` (monthly); the latest when absent or empty.
    pub period: Option<String>,
    /// `html` (printable page), `csv`, `xlsx` or `json`; `html` when absent.
    #[param(inline)]
    pub format: Option<render::Format>,
    /// `live` (the report now, later arrivals marked) or `issued` (exactly as
    /// issued); `live` when absent.
    #[param(inline)]
    pub version: Option<Version>,
}

/// A report answered: the report and the file it was rendered to.
pub struct Answer {
    pub report: Report,
    pub file: render::Rendered,
}

/// Answers `ask` for the report `kind` as `audience` may read it, worded in
/// the language of `t`; `toolbar` adds the dashboard's links to the page.
pub async fn answer(
    app: &crate::state::AppState,
    audience: &Audience,
    kind: Kind,
    ask: &Ask,
    t: crate::i18n::Tr,
    toolbar: impl FnOnce(&Report, render::Format) -> Option<render::Toolbar>,
    now: i64,
) -> Result<Answer, ReportError> {
    let (store, photos) = (&app.store, &app.photos);
    let format = ask.format.unwrap_or(render::Format::Html);
    let version = ask.version.unwrap_or(Version::Live);
    let key = match ask
        .period
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
    {
        Some(k) => k,
        None => latest_key(store, audience, kind, now)
            .await?
            .ok_or(ReportError::NoPeriod(kind.as_str()))?,
    };
    let period = period_of(store, audience, kind, &key).await?;
    let report = view(store, audience, &period, version, now).await?;
    let bar = toolbar(&report, format);
    let file = render::render(store, photos, &report, format, t, bar, now).await?;
    Ok(Answer { report, file })
}

/// Who may read reports, and which part: the office and auditors the whole
/// community, a leader their team.
pub async fn audience(
    store: &Store,
    community: &str,
    user_id: &str,
    role: Role,
) -> Result<Audience, ReportError> {
    let reader = store.reader(user_id, role).await?;
    let team = match role {
        Role::Office | Role::Auditor => None,
        // A leader without a team reads an empty report, not everyone's.
        Role::Leader => Some(reader.team.clone().unwrap_or_default()),
        Role::Volunteer | Role::Guard | Role::GridWorker => return Err(ReportError::Forbidden),
    };
    Ok(Audience {
        community: community.to_owned(),
        team,
        reader,
    })
}

/// The period `key` of `kind` names; for daily reports the shift must be one
/// the audience may see.
pub async fn period_of(
    store: &Store,
    audience: &Audience,
    kind: Kind,
    key: &str,
) -> Result<Period, ReportError> {
    let tz = crate::format::time_zone();
    match kind {
        Kind::Weekly => Ok(period::week(key, &tz)?),
        Kind::Monthly => Ok(period::month(key, &tz)?),
        Kind::Daily => {
            let shift = store
                .shift(&audience.community, key)
                .await?
                .filter(|s| audience.team.as_ref().is_none_or(|t| *t == s.team))
                .ok_or_else(|| ReportError::NoShift(key.to_owned()))?;
            Ok(period::shift(&shift))
        }
    }
}

/// The report of `period` for `audience`, live or as issued.
pub async fn view(
    store: &Store,
    audience: &Audience,
    period: &Period,
    version: Version,
    now: i64,
) -> Result<Report, ReportError> {
    match version {
        Version::Issued => {
            if audience.team.is_some() {
                return Err(ReportError::IssuedForbidden);
            }
            let (row, mut report) =
                issue::issued_report(store, &audience.community, period.kind, &period.key)
                    .await?
                    .ok_or_else(|| {
                        ReportError::NotIssued(period.kind.as_str(), period.key.clone())
                    })?;
            // Said beside the body, not part of what was hashed.
            report.issued = Some(content::Issued {
                issued_at_ms: row.issued_at,
                sha256: row.sha256,
            });
            Ok(report)
        }
        Version::Live => {
            let issued =
                issue::issued_meta(store, &audience.community, period.kind, &period.key).await?;
            Ok(content::build(store, audience, period, DEFAULT_TIME_ZONE, now, issued).await?)
        }
    }
}

/// A period one may open a report of, and whether it was issued.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub kind: Kind,
    pub key: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// The team of a shift.
    pub team: Option<String>,
    pub issued_at_ms: Option<i64>,
}

/// How far back the list of reports goes.
const LIST_SHIFTS_MS: i64 = 14 * 24 * 3_600_000;
const LIST_WEEKS: usize = 8;
const LIST_MONTHS: usize = 12;

/// The recent periods of every kind that the audience may open, newest first.
pub async fn recent(
    store: &Store,
    audience: &Audience,
    now: i64,
) -> Result<Vec<Listed>, ReportError> {
    let community = audience.community.as_str();
    let tz = crate::format::time_zone();
    let issued_at =
        |rows: &[(String, i64)], key: &str| rows.iter().find(|(k, _)| k == key).map(|(_, at)| *at);
    let mut out = Vec::new();
    let since = now - LIST_SHIFTS_MS - 366 * 24 * 3_600_000;
    let daily = store.issued_periods(community, "daily", since).await?;
    let mut shifts = store
        .report_shifts(
            community,
            now - LIST_SHIFTS_MS,
            now,
            audience.team.as_deref(),
        )
        .await?;
    shifts.reverse();
    for s in shifts {
        out.push(Listed {
            kind: Kind::Daily,
            issued_at_ms: issued_at(&daily, &s.shift_key),
            key: s.shift_key,
            from_ms: s.starts_at,
            to_ms: s.ends_at,
            team: Some(s.team),
        });
    }
    for (kind, keys) in [
        (
            Kind::Weekly,
            period::weeks_back(&period::last_week(now, &tz), LIST_WEEKS),
        ),
        (
            Kind::Monthly,
            period::months_back(&period::last_month(now, &tz), LIST_MONTHS),
        ),
    ] {
        let issued = store
            .issued_periods(community, kind.as_str(), since)
            .await?;
        for key in keys {
            let p = match kind {
                Kind::Weekly => period::week(&key, &tz)?,
                _ => period::month(&key, &tz)?,
            };
            out.push(Listed {
                kind,
                issued_at_ms: issued_at(&issued, &key),
                key,
                from_ms: p.from_ms,
                to_ms: p.to_ms,
                team: None,
            });
        }
    }
    Ok(out)
}

/// The period a report opens on when none is named: the latest shift that
/// has started, the latest week or month that has ended.
pub async fn latest_key(
    store: &Store,
    audience: &Audience,
    kind: Kind,
    now: i64,
) -> Result<Option<String>, ReportError> {
    let tz = crate::format::time_zone();
    Ok(match kind {
        Kind::Weekly => Some(period::last_week(now, &tz)),
        Kind::Monthly => Some(period::last_month(now, &tz)),
        Kind::Daily => store
            .report_shifts(
                &audience.community,
                now - LIST_SHIFTS_MS,
                now,
                audience.team.as_deref(),
            )
            .await?
            .pop()
            .map(|s| s.shift_key),
    })
}
