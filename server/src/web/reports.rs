//! `/reports`: the list of recent reports and each report's printable page,
//! with its downloads (`crate::reports`).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::session::Viewer;
use super::{FormQuery, Frame, WebError, render};
use crate::clock::now_ms;
use crate::format::{link, local_day_hm};
use crate::i18n::tr_key;
use crate::names::Names;
use crate::reports::exports::{ExportError, Filter, What};
use crate::reports::render::{Format, Toolbar};
use crate::reports::{self, Ask, Kind, Listed, ReportError, Version};
use crate::state::AppState;

impl From<ReportError> for WebError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Forbidden | ReportError::IssuedForbidden => WebError::Forbidden,
            ReportError::NoShift(_)
            | ReportError::NoUser(_)
            | ReportError::NoPeriod(_)
            | ReportError::NotIssued(..) => WebError::NotFound,
            ReportError::Period(_) => WebError::Refused(e.to_string()),
            ReportError::Export(e) => e.into(),
            ReportError::Issued(_)
            | ReportError::Render(_)
            | ReportError::Pack(_)
            | ReportError::Store(_) => WebError::internal(e),
        }
    }
}

impl From<ExportError> for WebError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Date(_) | ExportError::Empty => WebError::Refused(e.to_string()),
            ExportError::Io(_) | ExportError::Store(_) => WebError::internal(e),
        }
    }
}

/// The export form's choice of rows, beside the filters.
#[derive(serde::Deserialize)]
pub struct ExportChoice {
    what: What,
}

/// `GET /exports?what=…&from=…&to=…&format=…` and the ledger's filters: a
/// download, in the viewer's language.
pub async fn export(
    State(app): State<AppState>,
    viewer: Viewer,
    FormQuery(choice): FormQuery<ExportChoice>,
    FormQuery(filter): FormQuery<Filter>,
) -> Result<Response, WebError> {
    let audience = audience(&app, &viewer).await?;
    Ok(crate::reports::exports::export(
        &app.store,
        &audience,
        choice.what,
        filter,
        viewer.tr,
        now_ms(),
    )
    .await?)
}

/// `GET /reports/evidence/{month}`: the month's evidence pack.
pub async fn evidence(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(month): Path<String>,
) -> Result<Response, WebError> {
    let audience = audience(&app, &viewer).await?;
    Ok(crate::reports::evidence::download(&app, &audience, &month, now_ms()).await?)
}

/// `GET /admin/users/{id}/export`: everything recorded about one person.
pub async fn person(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let audience = audience(&app, &viewer).await?;
    Ok(crate::reports::person::download(&app, &audience, &id, now_ms()).await?)
}

/// What the signed-in viewer may read of the reports.
async fn audience(app: &AppState, viewer: &Viewer) -> Result<reports::Audience, WebError> {
    Ok(reports::audience(&app.store, &viewer.community, &viewer.user_id, viewer.role).await?)
}

/// One line of the list.
struct Line {
    href: String,
    label: String,
    issued: Option<String>,
    /// A month's evidence pack, for the office and auditors.
    pack: Option<String>,
}

#[derive(Template)]
#[template(path = "web/reports.html")]
struct ListPage {
    frame: Frame,
    /// (heading key, lines) per kind.
    groups: Vec<(&'static str, Vec<Line>)>,
    /// The export form's default span: the last 30 days.
    from: String,
    to: String,
}

fn report_href(kind: Kind, key: &str, pairs: &[(&str, &str)]) -> String {
    let mut all = vec![("period", key)];
    all.extend_from_slice(pairs);
    link(&format!("/reports/{}", kind.as_str()), &all)
}

/// `GET /reports`.
pub async fn list(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let audience = audience(&app, &viewer).await?;
    let listed = reports::recent(&app.store, &audience, now_ms()).await?;
    let whole = audience.team.is_none();
    let names = Names::load(&app.store, &viewer.community).await?;
    let t = viewer.tr;
    let line = |l: &Listed| Line {
        href: report_href(l.kind, &l.key, &[]),
        label: match l.kind {
            Kind::Daily => format!(
                "{} – {} · {}",
                local_day_hm(l.from_ms),
                local_day_hm(l.to_ms),
                names.team(l.team.as_deref().unwrap_or_default())
            ),
            Kind::Weekly => t.with("report.week_of", "date", &l.key),
            Kind::Monthly => l.key.clone(),
        },
        issued: l.issued_at_ms.map(crate::format::local_date_time_s),
        pack: (l.kind == Kind::Monthly && whole).then(|| format!("/reports/evidence/{}", l.key)),
    };
    let groups = [
        (Kind::Daily, tr_key("report.recent_shifts")),
        (Kind::Weekly, tr_key("report.recent_weeks")),
        (Kind::Monthly, tr_key("report.recent_months")),
    ]
    .into_iter()
    .map(|(kind, key)| {
        (
            key,
            listed.iter().filter(|l| l.kind == kind).map(line).collect(),
        )
    })
    .collect();
    let day = |ms: i64| crate::format::local_date_time_s(ms)[..10].to_owned();
    let now = now_ms();
    render(&ListPage {
        frame: Frame::new(viewer, tr_key("nav.reports"), "/reports"),
        groups,
        from: day(now - 30 * 24 * 3_600_000),
        to: day(now),
    })
}

/// `GET /reports/{kind}?period=…&format=…&version=…`: the printable page,
/// or a download.
pub async fn report(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(kind): Path<String>,
    FormQuery(ask): FormQuery<Ask>,
) -> Result<Response, WebError> {
    let kind = Kind::parse(&kind).ok_or(WebError::NotFound)?;
    let audience = audience(&app, &viewer).await?;
    let whole = audience.team.is_none();
    let toolbar = |r: &reports::Report, _: Format| {
        let issued = ask.version == Some(Version::Issued);
        let mut pairs = vec![];
        if issued {
            pairs.push(("version", "issued"));
        }
        let downloads = [Format::Csv, Format::Xlsx, Format::Json]
            .into_iter()
            .map(|f| {
                let mut with = pairs.clone();
                with.push(("format", f.as_str()));
                (f.as_str(), report_href(r.kind, &r.period.key, &with))
            })
            .collect();
        // Only the whole community's report is issued.
        let other_version = ((whole && r.issued.is_some()) || issued).then(|| {
            if issued {
                (
                    report_href(r.kind, &r.period.key, &[]),
                    tr_key("report.live"),
                )
            } else {
                (
                    report_href(r.kind, &r.period.key, &[("version", "issued")]),
                    tr_key("report.as_issued"),
                )
            }
        });
        Some(Toolbar {
            downloads,
            other_version,
        })
    };
    let answer = reports::answer(&app, &audience, kind, &ask, viewer.tr, toolbar, now_ms()).await?;
    Ok(answer.file.into_response())
}
