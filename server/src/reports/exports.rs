//! Exports: the check-ins, the hazard ledger, the compliance of shifts and
//! the incidents, with the dashboard's filters and the viewer's read rules,
//! as CSV, XLSX or JSON. They stream: rows are read a page at a time and
//! written out as they come (CSV and JSON straight to the response; XLSX
//! through a worksheet in constant-memory mode and a temporary file), so an
//! export of a million check-ins holds one page in memory, not the file.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::response::Response;
use fieldsync_proto::DocType;
use fieldsync_proto::model::duty::{LocalDate, civil_date};
use fieldsync_proto::model::scope::{Reader, may_read};
use futures_util::StreamExt;

use super::content::Audience;
use super::render::Format;
use super::sheets::{self, Cell};
use crate::i18n::{Lang, Tr, tr_key};
use crate::names::Names;
use crate::store::{CheckinExportQuery, HazardLedgerQuery, PostRow, ShiftRow, Store, StoreError};

/// Rows per page read from the store.
const PAGE: i64 = 1_000;

/// What may be exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum What {
    Checkins,
    Hazards,
    Compliance,
    Incidents,
}

/// The formats an export is given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Json,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Format {
        match f {
            ExportFormat::Csv => Format::Csv,
            ExportFormat::Xlsx => Format::Xlsx,
            ExportFormat::Json => Format::Json,
        }
    }
}

impl What {
    pub fn as_str(self) -> &'static str {
        match self {
            What::Checkins => "checkins",
            What::Hazards => "hazards",
            What::Compliance => "compliance",
            What::Incidents => "incidents",
        }
    }
}

/// The filters of an export: those of the dashboard's pages, by the same
/// names. Each one left out lets every row through.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Start, `YYYY-MM-DD` local (check-ins by device time, shifts by their
    /// start, incidents by when they happened); 30 days ago when absent.
    #[param(value_type = Option<LocalDate>, inline)]
    pub from: Option<String>,
    /// Last day (included), `YYYY-MM-DD` local; today when absent.
    #[param(value_type = Option<LocalDate>, inline)]
    pub to: Option<String>,
    /// A team (the office and auditors; a leader always gets their own).
    pub team: Option<String>,
    /// Check-ins at one post.
    pub post: Option<String>,
    /// Check-ins by one user id.
    pub member: Option<String>,
    /// Hazards (or incidents) in this state.
    pub state: Option<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
    /// `true`: overdue hazards only.
    pub overdue: Option<String>,
    /// `true`: recurring hazards only.
    pub recurring: Option<String>,
    /// `csv` (default), `xlsx` or `json`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// Why an export was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    Date(String),
    /// Well-formed dates that make no span.
    #[error("from must not be after to")]
    Empty,
    #[error("writing the file: {0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn given(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn yes(s: &Option<String>) -> bool {
    matches!(given(s).as_deref(), Some("1" | "on" | "true"))
}

fn local_midnight(date: &str) -> Result<i64, ExportError> {
    let d = civil_date(date).ok_or_else(|| ExportError::Date(date.to_owned()))?;
    d.to_zoned(crate::format::time_zone())
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| ExportError::Date(date.to_owned()))
}

/// The export's time span `[from, to)`.
fn span(f: &Filter, now: i64) -> Result<(i64, i64), ExportError> {
    const DAY: i64 = 24 * 3_600_000;
    let today = crate::format::local_date_time_s(now)[..10].to_owned();
    let to = local_midnight(f.to.as_deref().unwrap_or(&today))? + DAY;
    let from = match &f.from {
        Some(d) => local_midnight(d)?,
        None => to - 31 * DAY,
    };
    if from >= to {
        return Err(ExportError::Empty);
    }
    Ok((from, to))
}

/// Where the rows of an export come from, a page at a time.
pub struct Source {
    store: Store,
    community: String,
    reader: Reader,
    t: Tr,
    names: Names,
    posts: HashMap<String, PostRow>,
    what: What,
    from: i64,
    to: i64,
    team: Option<String>,
    filter: Filter,
    now: i64,
    /// Check-ins: the last row written.
    after: Option<(i64, String)>,
    /// Hazards: the last row read.
    before: Option<(i64, String)>,
    /// Compliance: the shifts still to write.
    shifts: Option<std::vec::IntoIter<ShiftRow>>,
    done: bool,
}

impl Source {
    fn post(&self, id: &str) -> String {
        self.posts.get(id).map_or_else(
            || id.to_owned(),
            |p| {
                if self.t.lang == Lang::ZhCn {
                    p.label_zh.clone()
                } else {
                    p.label_en.clone()
                }
            },
        )
    }

    fn columns(&self) -> Vec<String> {
        let keys: &[&str] = match self.what {
            What::Checkins => &[
                tr_key("report.col.device_time"),
                tr_key("report.col.received_at"),
                tr_key("place.post"),
                tr_key("shift.team"),
                tr_key("report.col.name"),
                tr_key("common.device"),
                tr_key("report.col.proof"),
                tr_key("report.col.flag"),
                tr_key("report.col.checkin_id"),
            ],
            What::Hazards => &[
                tr_key("report.col.reported_at"),
                tr_key("report.col.category"),
                tr_key("report.col.severity"),
                tr_key("common.state"),
                tr_key("incident.field.place"),
                tr_key("report.col.reporter"),
                tr_key("report.col.assignee"),
                tr_key("report.col.due"),
                tr_key("hazard.overdue"),
                tr_key("report.col.recurring"),
                tr_key("report.col.hazard_id"),
            ],
            What::Compliance => &[
                tr_key("report.col.shift_start"),
                tr_key("shift.team"),
                tr_key("place.post"),
                tr_key("report.col.window"),
                tr_key("report.col.deadline"),
                tr_key("common.state"),
                tr_key("report.col.checked_at"),
            ],
            What::Incidents => &[
                tr_key("incident.field.time"),
                tr_key("report.col.received_at"),
                tr_key("report.col.reporter"),
                tr_key("common.state"),
                tr_key("alert.acknowledged"),
                tr_key("report.col.incident_id"),
            ],
        };
        keys.iter().map(|k| self.t.get(k).to_owned()).collect()
    }

    /// The next page of rows; `None` when there are no more.
    async fn next_page(&mut self) -> Result<Option<Vec<Vec<Cell>>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let t = self.t;
        let text = |s: &str| Cell::Text(s.to_owned());
        let rows: Vec<Vec<Cell>> = match self.what {
            What::Checkins => {
                let q = CheckinExportQuery {
                    from: self.from,
                    to: self.to,
                    team: self.team.clone(),
                    post: given(&self.filter.post),
                    member: given(&self.filter.member),
                    after: self.after.clone(),
                    limit: PAGE,
                };
                let page = self.store.export_checkins(&self.community, &q).await?;
                self.done = (page.len() as i64) < PAGE;
                self.after = page
                    .last()
                    .map(|c| (c.row.device_time, c.row.checkin_id.clone()));
                page.into_iter()
                    .map(|c| {
                        vec![
                            Cell::Time(Some(c.row.device_time)),
                            Cell::Time(Some(c.row.received_at)),
                            text(&self.post(&c.row.post_id)),
                            text(&self.names.team(&c.team)),
                            text(&self.names.user(&c.row.member)),
                            text(&c.row.device_id),
                            text(t.get(sheets::proof_key(&c.row.status))),
                            text(c.row.flag_reason.as_deref().unwrap_or_default()),
                            text(&c.row.checkin_id),
                        ]
                    })
                    .collect()
            }
            What::Hazards => {
                let f = &self.filter;
                let q = HazardLedgerQuery {
                    state: given(&f.state),
                    category: given(&f.category),
                    severity: given(&f.severity),
                    grid: given(&f.grid),
                    building: given(&f.building),
                    overdue_at: yes(&f.overdue).then_some(self.now),
                    recurring: yes(&f.recurring),
                    before: self.before.clone(),
                    limit: PAGE,
                };
                let page = self.store.hazard_ledger_page(&self.community, &q).await?;
                self.done = (page.len() as i64) < PAGE;
                self.before = page
                    .last()
                    .map(|r| (r.hazard.row.reported_at, r.hazard.row.doc_id.clone()));
                page.into_iter()
                    .filter(|r| {
                        let scope = crate::scope::parse(r.hazard.scope.as_deref());
                        may_read(&self.reader, DocType::Hazard, scope.as_ref())
                    })
                    .map(|r| {
                        let h = r.hazard.row;
                        vec![
                            Cell::Time(Some(h.reported_at)),
                            text(t.get(&format!("hazard.cat.{}", h.category))),
                            text(t.get(&format!("hazard.severity.{}", h.severity))),
                            text(t.get(&format!("hazard.state.{}", h.state))),
                            text(
                                &h.post_id
                                    .as_deref()
                                    .map(|p| self.post(p))
                                    .unwrap_or_default(),
                            ),
                            text(&self.names.user(&h.reporter)),
                            text(
                                &h.assigned_person
                                    .as_deref()
                                    .map(|p| self.names.user(p))
                                    .unwrap_or_default(),
                            ),
                            Cell::Time(h.due_at),
                            sheets::yes_no(&t, h.is_overdue(self.now)),
                            sheets::yes_no(&t, h.recurring_of.is_some()),
                            text(&h.doc_id),
                        ]
                    })
                    .collect()
            }
            What::Compliance => {
                if self.shifts.is_none() {
                    let shifts = self
                        .store
                        .report_shifts(&self.community, self.from, self.to, self.team.as_deref())
                        .await?;
                    self.shifts = Some(shifts.into_iter());
                }
                // One shift a page.
                let Some(shift) = self.shifts.as_mut().and_then(Iterator::next) else {
                    self.done = true;
                    return Ok(None);
                };
                self.store
                    .compliance_rows(&self.community, &shift.shift_key)
                    .await?
                    .into_iter()
                    .map(|r| {
                        vec![
                            Cell::Time(Some(shift.starts_at)),
                            text(&self.names.team(&shift.team)),
                            text(&self.post(&r.post_id)),
                            Cell::Time(Some(r.window_start)),
                            Cell::Time(Some(r.deadline)),
                            text(t.get(sheets::status_key(&r.status))),
                            Cell::Time(r.checked_at),
                        ]
                    })
                    .collect()
            }
            What::Incidents => {
                // The incidents of a span are few: one page.
                self.done = true;
                let state = given(&self.filter.state);
                self.store
                    .report_incidents(&self.community, self.from, self.to)
                    .await?
                    .into_iter()
                    .filter(|i| state.as_ref().is_none_or(|s| *s == i.row.state))
                    .filter(|i| {
                        let scope = crate::scope::parse(i.scope.as_deref());
                        may_read(&self.reader, DocType::Incident, scope.as_ref())
                    })
                    .map(|i| {
                        vec![
                            Cell::Time(Some(i.row.occurred_at)),
                            Cell::Time(Some(i.received_at)),
                            text(&self.names.user(&i.row.reporter)),
                            text(t.get(&format!("incident.state.{}", i.row.state))),
                            Cell::Time(i.row.acknowledged_at),
                            text(&i.row.doc_id),
                        ]
                    })
                    .collect()
            }
        };
        Ok(Some(rows))
    }
}

fn csv_line(cells: impl IntoIterator<Item = String>) -> Bytes {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to a Vec fails only on a bug in csv.
    w.write_record(cells).expect("csv writes to memory");
    Bytes::from(w.into_inner().expect("csv writes to memory"))
}

fn json_value(c: &Cell) -> serde_json::Value {
    match c {
        Cell::Text(s) => s.clone().into(),
        Cell::Int(n) => (*n).into(),
        Cell::Percent(p) => p.map(Into::into).unwrap_or(serde_json::Value::Null),
        Cell::Time(t) => t
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| {
                t.to_zoned(crate::format::time_zone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
                    .into()
            })
            .unwrap_or(serde_json::Value::Null),
    }
}

type Chunk = Result<Bytes, std::io::Error>;

/// The body of a CSV or JSON export: written page by page as it is read.
fn text_body(source: Source, format: Format) -> Body {
    let columns = source.columns();
    let head = match format {
        Format::Json => Bytes::from_static(b"["),
        _ => {
            let mut first = b"\xEF\xBB\xBF".to_vec();
            first.extend_from_slice(&csv_line(columns.clone()));
            Bytes::from(first)
        }
    };
    let pages = futures_util::stream::unfold(
        (source, columns, false, false),
        move |(mut source, columns, mut any, finished)| async move {
            if finished {
                return None;
            }
            match source.next_page().await {
                Ok(Some(rows)) => {
                    let mut out = Vec::new();
                    for row in rows {
                        match format {
                            Format::Json => {
                                if any {
                                    out.push(b',');
                                }
                                let object: serde_json::Map<String, serde_json::Value> = columns
                                    .iter()
                                    .cloned()
                                    .zip(row.iter().map(json_value))
                                    .collect();
                                out.extend(serde_json::to_vec(&object).expect("JSON of cells"));
                            }
                            _ => out.extend_from_slice(&csv_line(row.iter().map(sheets::display))),
                        }
                        any = true;
                    }
                    Some((Ok(Bytes::from(out)), (source, columns, any, false)))
                }
                Ok(None) => {
                    let tail = if format == Format::Json { "]" } else { "" };
                    Some((Ok(Bytes::from(tail)), (source, columns, any, true)))
                }
                Err(e) => {
                    // The response has started; cut it off so the file is
                    // visibly incomplete rather than silently short.
                    tracing::error!(error = %e, "export failed midway");
                    Some((
                        Err(std::io::Error::other(e.to_string())),
                        (source, columns, any, true),
                    ))
                }
            }
        },
    );
    Body::from_stream(futures_util::stream::once(async move { Chunk::Ok(head) }).chain(pages))
}

/// The XLSX of an export, written in constant memory to a temporary file on
/// a blocking thread (which reads the pages), then streamed from the file.
async fn xlsx_body(mut source: Source) -> Result<Body, ExportError> {
    let handle = tokio::runtime::Handle::current();
    let file = tokio::task::spawn_blocking(move || -> anyhow::Result<tempfile::NamedTempFile> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let styles = sheets::Styles::new();
        let ws = book.add_worksheet_with_constant_memory()?;
        for (c, column) in source.columns().iter().enumerate() {
            ws.write_string_with_format(0, c as u16, column, &styles.bold)?;
            ws.set_column_width(c as u16, 18)?;
        }
        let mut r = 1u32;
        while let Some(rows) = handle.block_on(source.next_page())? {
            for row in rows {
                for (c, cell) in row.iter().enumerate() {
                    sheets::write_cell(ws, r, c as u16, cell, &styles)?;
                }
                r += 1;
            }
        }
        let out = tempfile::NamedTempFile::new()?;
        book.save(out.path())?;
        Ok(out)
    })
    .await
    .map_err(|e| ExportError::Io(e.to_string()))?
    .map_err(|e| ExportError::Io(e.to_string()))?;
    let opened = tokio::fs::File::open(file.path())
        .await
        .map_err(|e| ExportError::Io(e.to_string()))?;
    // The open file outlives its name: the bytes are read while the
    // temporary file is already unlinked.
    drop(file);
    Ok(Body::from_stream(tokio_util::io::ReaderStream::new(opened)))
}

/// The rows of export `what` for `audience`, with `filter`, worded in the
/// language of `t`; and the format the filter asks for.
pub async fn source(
    store: &Store,
    audience: &Audience,
    what: What,
    filter: Filter,
    t: Tr,
    now: i64,
) -> Result<(Source, Format), ExportError> {
    let format = filter.format.map_or(Format::Csv, Format::from);
    let (from, to) = span(&filter, now)?;
    let team = match &audience.team {
        Some(own) => Some(own.clone()),
        None => given(&filter.team),
    };
    let community = audience.community.clone();
    let source = Source {
        names: Names::load(store, &community).await?,
        posts: store
            .posts(&community, None)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect(),
        store: store.clone(),
        community,
        reader: audience.reader.clone(),
        t,
        what,
        from,
        to,
        team,
        filter,
        now,
        after: None,
        before: None,
        shifts: None,
        done: false,
    };
    Ok((source, format))
}

/// Writes every row of `source` as CSV (with the byte-order mark) to `w`,
/// reading its pages through `handle`: for a blocking thread.
pub fn write_csv(
    source: &mut Source,
    handle: &tokio::runtime::Handle,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    w.write_all(b"\xEF\xBB\xBF")?;
    w.write_all(&csv_line(source.columns()))?;
    while let Some(rows) = handle.block_on(source.next_page())? {
        for row in rows {
            w.write_all(&csv_line(row.iter().map(sheets::display)))?;
        }
    }
    Ok(())
}

/// The export `what` for `audience`, with `filter`, worded in the language
/// of `t`, as a streamed download.
pub async fn export(
    store: &Store,
    audience: &Audience,
    what: What,
    filter: Filter,
    t: Tr,
    now: i64,
) -> Result<Response, ExportError> {
    let (source, format) = source(store, audience, what, filter, t, now).await?;
    let filename = format!(
        "fieldsync-{}-{}-{}.{}",
        source.what.as_str(),
        &crate::format::local_date_time_s(source.from)[..10],
        &crate::format::local_date_time_s(source.to - 1)[..10],
        format.as_str()
    );
    let body = match format {
        Format::Xlsx => xlsx_body(source).await?,
        _ => text_body(source, format),
    };
    Ok(Response::builder()
        .header(axum::http::header::CONTENT_TYPE, format.content_type())
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .body(body)
        .expect("a valid response"))
}
