//! A report in the format asked for: the printable page (A4), CSV, XLSX or
//! JSON. The page, CSV and XLSX are written from the same sheets.

use askama::Template;

use super::content::Report;
use super::period::Kind;
use super::sheets::{self, Cell, Sheet};
use crate::blobs::Photos;
use crate::i18n::Tr;
use crate::store::{Store, StoreError};

/// A format a report is given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Html,
    Csv,
    Xlsx,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
        }
    }
}

/// A rendered report.
pub struct Rendered {
    pub content_type: &'static str,
    /// What a download is saved as.
    pub filename: String,
    pub body: Vec<u8>,
}

impl axum::response::IntoResponse for Rendered {
    /// The file with its type, and the name to save it as.
    fn into_response(self) -> axum::response::Response {
        use axum::http::header;
        let disposition = format!("inline; filename=\"{}\"", self.filename);
        (
            [
                (header::CONTENT_TYPE, self.content_type.to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            self.body,
        )
            .into_response()
    }
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("page: {0}")]
    Page(#[from] askama::Error),
}

/// Links on the printable page, when it is a page of the dashboard.
pub struct Toolbar {
    /// (format, href) of each download.
    pub downloads: Vec<(&'static str, String)>,
    /// The other version of the report, and its name's key.
    pub other_version: Option<(String, &'static str)>,
}

/// A hazard's photos on the page: (thumbnail, display size) links.
pub struct PhotoStrip {
    pub caption: String,
    pub links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "web/report_print.html")]
struct Printable<'a> {
    t: Tr,
    r: &'a Report,
    title: String,
    period: String,
    sheets: Vec<Sheet>,
    photos: Vec<PhotoStrip>,
    toolbar: Option<Toolbar>,
    team: Option<String>,
}

impl Printable<'_> {
    fn cell(&self, c: &Cell) -> String {
        sheets::display(c)
    }

    fn is_number(&self, c: &Cell) -> bool {
        matches!(c, Cell::Int(_) | Cell::Percent(_))
    }

    fn late_note(&self) -> Option<String> {
        let n = self.r.late_lines();
        (self.r.issued.is_some() && n > 0).then(|| self.t.with("report.late_note", "n", n))
    }

    fn issued_at(&self) -> Option<String> {
        self.r
            .issued
            .as_ref()
            .map(|i| crate::format::local_date_time_s(i.issued_at_ms))
    }

    fn generated(&self) -> String {
        crate::format::local_date_time_s(self.r.generated_at_ms)
    }

    fn zero(&self) -> Option<&'static str> {
        self.r
            .nothing_to_report()
            .then(|| self.t.get(sheets::zero_key(self.r.kind)))
    }
}

/// The period in words: the shift's times, the week's days, the month.
pub fn period_label(r: &Report) -> String {
    let day = |ms: i64| {
        crate::format::local_date_time_s(ms)
            .chars()
            .take(16)
            .collect::<String>()
    };
    match r.kind {
        Kind::Monthly => r.period.key.clone(),
        _ => format!("{} – {}", day(r.period.from_ms), day(r.period.to_ms)),
    }
}

/// The file name of a download.
pub fn filename(r: &Report, format: Format) -> String {
    format!(
        "fieldsync-{}-{}.{}",
        r.kind.as_str(),
        super::pack::safe(&r.period.key),
        format.as_str()
    )
}

/// Signed links to the photos of the report's hazards that the store holds.
async fn photo_strips(
    store: &Store,
    photos: &Photos,
    t: &Tr,
    r: &Report,
    now: i64,
) -> Result<Vec<PhotoStrip>, StoreError> {
    let exp = now / 1000 + photos.config().link_ttl_secs as i64;
    let mut out = Vec::new();
    for h in r.hazards.iter().filter(|h| !h.photos.is_empty()) {
        let mut links = Vec::new();
        for hash in &h.photos {
            links.extend(photos.viewable(store, &r.community, hash, exp).await?);
        }
        if !links.is_empty() {
            let place = if t.lang == crate::i18n::Lang::ZhCn {
                &h.place.zh
            } else {
                &h.place.en
            };
            out.push(PhotoStrip {
                caption: format!(
                    "{} · {} · {}",
                    &crate::format::local_date_time_s(h.reported_at_ms)[..16],
                    t.get(&format!("hazard.cat.{}", h.category)),
                    place
                ),
                links,
            });
        }
    }
    Ok(out)
}

/// `r` in `format`, worded in the language of `t`.
pub async fn render(
    store: &Store,
    photos: &Photos,
    r: &Report,
    format: Format,
    t: Tr,
    toolbar: Option<Toolbar>,
    now: i64,
) -> Result<Rendered, RenderError> {
    let body = match format {
        Format::Json => serde_json::to_vec_pretty(r).expect("reports serialize to JSON"),
        Format::Csv => sheets::to_csv(&sheets::sheets(&t, r))?,
        Format::Xlsx => sheets::to_xlsx(&sheets::sheets(&t, r))?,
        Format::Html => {
            let page = Printable {
                t,
                r,
                title: t.get(sheets::title_key(r.kind)).to_owned(),
                period: period_label(r),
                sheets: sheets::sheets(&t, r),
                photos: if r.kind == Kind::Monthly {
                    Vec::new()
                } else {
                    photo_strips(store, photos, &t, r, now).await?
                },
                toolbar,
                team: r.team.clone(),
            };
            page.render()?.into_bytes()
        }
    };
    Ok(Rendered {
        content_type: format.content_type(),
        filename: filename(r, format),
        body,
    })
}
