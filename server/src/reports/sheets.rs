//! A report as tables in one language — the one shape its CSV and XLSX are
//! written from, so both hold the same rows. Times are local to the
//! community; in XLSX they are date cells, numbers are number cells.

use super::content::{Label, Posts, Report, STATUSES};
use super::period::Kind;
use crate::i18n::{Lang, Tr, tr_key};

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A percentage, none when there is nothing to divide.
    Percent(Option<f64>),
    /// A moment, ms since the Unix epoch; none when it has not happened.
    Time(Option<i64>),
}

/// One table.
#[derive(Clone, Debug, PartialEq)]
pub struct Sheet {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// "Yes" or "No" in the language of `t`.
pub fn yes_no(t: &Tr, b: bool) -> Cell {
    text(if b {
        t.get("report.yes")
    } else {
        t.get("report.no")
    })
}

fn label(t: &Tr, l: &Label) -> String {
    if t.lang == Lang::ZhCn {
        l.zh.clone()
    } else {
        l.en.clone()
    }
}

/// The catalogue key of a post status.
pub fn status_key(status: &str) -> &'static str {
    match status {
        "on_time" => tr_key("compliance.on_time"),
        "late" => tr_key("compliance.late"),
        "missed" => tr_key("compliance.missed"),
        "unverified" => tr_key("compliance.unverified"),
        "out_of_order" => tr_key("compliance.out_of_order"),
        _ => tr_key("compliance.pending"),
    }
}

/// The catalogue key of a report's title.
pub fn title_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Daily => tr_key("report.daily"),
        Kind::Weekly => tr_key("report.weekly"),
        Kind::Monthly => tr_key("report.monthly"),
    }
}

fn zero_row(t: &Tr, width: usize, kind: Kind) -> Vec<Cell> {
    let mut row = vec![text(t.get(zero_key(kind)))];
    row.resize(width, text(""));
    row
}

/// "Nothing to report" in the wording of the period.
pub fn zero_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Monthly => tr_key("report.zero_month"),
        Kind::Weekly => tr_key("report.zero_week"),
        Kind::Daily => tr_key("report.zero_shift"),
    }
}

fn sheet(t: &Tr, kind: Kind, title: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> Sheet {
    let columns: Vec<String> = columns.iter().map(|c| t.get(c).to_owned()).collect();
    let rows = if rows.is_empty() {
        vec![zero_row(t, columns.len(), kind)]
    } else {
        rows
    };
    Sheet {
        title: t.get(title).to_owned(),
        columns,
        rows,
    }
}

fn posts_cells(p: &Posts) -> Vec<Cell> {
    let mut out: Vec<Cell> = STATUSES.iter().map(|s| Cell::Int(p.get(s))).collect();
    out.push(Cell::Percent(p.on_time_rate()));
    out
}

const POSTS_COLUMNS: [&str; 7] = [
    tr_key("compliance.on_time"),
    tr_key("compliance.late"),
    tr_key("compliance.missed"),
    tr_key("compliance.unverified"),
    tr_key("compliance.out_of_order"),
    tr_key("compliance.pending"),
    tr_key("report.on_time_rate"),
];

/// The report's summary: each figure with its name (and last month's).
fn summary(t: &Tr, r: &Report) -> Sheet {
    let tot = &r.totals;
    let prev = r.previous.as_ref();
    let mut rows: Vec<(&str, Cell, Option<Cell>)> = vec![
        (
            tr_key("report.period_from"),
            Cell::Time(Some(r.period.from_ms)),
            None,
        ),
        (
            tr_key("report.period_to"),
            Cell::Time(Some(r.period.to_ms)),
            None,
        ),
        (
            tr_key("report.shifts"),
            Cell::Int(tot.shifts),
            prev.map(|p| Cell::Int(p.shifts)),
        ),
        (
            tr_key("report.patrols"),
            Cell::Int(tot.patrols),
            prev.map(|p| Cell::Int(p.patrols)),
        ),
        (
            tr_key("report.checkins"),
            Cell::Int(tot.checkins),
            prev.map(|p| Cell::Int(p.checkins)),
        ),
    ];
    for s in STATUSES {
        rows.push((
            status_key(s),
            Cell::Int(tot.posts.get(s)),
            prev.map(|p| Cell::Int(p.posts.get(s))),
        ));
    }
    rows.push((
        tr_key("report.on_time_rate"),
        Cell::Percent(tot.posts.on_time_rate()),
        prev.map(|p| Cell::Percent(p.posts.on_time_rate())),
    ));
    type Figure = fn(&super::content::Totals) -> i64;
    let hazards: [(&str, Figure); 7] = [
        (tr_key("report.hazards_reported"), |t| t.hazards_reported),
        (tr_key("report.hazards_rectified"), |t| t.hazards_rectified),
        (tr_key("report.hazards_closed"), |t| t.hazards_closed),
        (tr_key("report.hazards_overdue"), |t| t.hazards_overdue),
        (tr_key("report.hazards_recurring"), |t| t.hazards_recurring),
        (tr_key("report.major_hazards"), |t| t.major_hazards),
        (tr_key("report.incidents"), |t| t.incidents),
    ];
    for (key, of) in hazards {
        rows.push((key, Cell::Int(of(tot)), prev.map(|p| Cell::Int(of(p)))));
    }
    let mut columns = vec![tr_key("report.item"), tr_key("report.value")];
    if prev.is_some() {
        columns.push(tr_key("report.previous_month"));
    }
    let mut rows: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|(key, value, before)| {
            let mut row = vec![text(t.get(key)), value];
            if prev.is_some() {
                row.push(before.unwrap_or_else(|| text("")));
            }
            row
        })
        .collect();
    if let Some(head) = &r.audit_head {
        let mut row = vec![
            text(t.get(tr_key("report.audit_head"))),
            text(format!("#{} {}", head.seq, head.hash)),
        ];
        row.resize(columns.len(), text(""));
        rows.push(row);
    }
    if r.nothing_to_report() {
        let mut row = vec![
            text(t.get(tr_key("report.conclusion"))),
            text(t.get(zero_key(r.kind))),
        ];
        row.resize(columns.len(), text(""));
        rows.push(row);
    }
    Sheet {
        title: t.get("report.summary").to_owned(),
        columns: columns.iter().map(|c| t.get(c).to_owned()).collect(),
        rows,
    }
}

/// The report as tables, in the language of `t`.
pub fn sheets(t: &Tr, r: &Report) -> Vec<Sheet> {
    let mut out = vec![summary(t, r)];
    let k = r.kind;
    if k == Kind::Daily {
        let people = r
            .shifts
            .iter()
            .flat_map(|s| &s.people)
            .map(|p| {
                vec![
                    text(&p.name),
                    yes_no(t, p.leader),
                    Cell::Time(p.signed_on_ms),
                    Cell::Time(p.signed_off_ms),
                ]
            })
            .collect();
        out.push(sheet(
            t,
            k,
            "report.people",
            &[
                "report.col.name",
                "report.col.leader",
                "patrol.sign_on",
                "patrol.sign_off",
            ],
            people,
        ));
        let slots = r
            .shifts
            .iter()
            .flat_map(|s| &s.slots)
            .map(|s| {
                vec![
                    text(label(t, &s.post)),
                    Cell::Time(Some(s.window_start_ms)),
                    Cell::Time(Some(s.deadline_ms)),
                    text(t.get(status_key(&s.status))),
                    Cell::Time(s.device_time_ms),
                    Cell::Time(s.received_at_ms),
                    text(s.by.clone().unwrap_or_default()),
                    text(
                        s.proof
                            .as_deref()
                            .map(proof_key)
                            .map(|k| t.get(k))
                            .unwrap_or(""),
                    ),
                    yes_no(t, s.late),
                ]
            })
            .collect();
        out.push(sheet(
            t,
            k,
            "report.posts",
            &[
                "place.post",
                "report.col.window",
                "report.col.deadline",
                "common.state",
                "report.col.device_time",
                "report.col.received_at",
                "common.by",
                "report.col.proof",
                "report.col.late",
            ],
            slots,
        ));
    } else {
        for (title, first, groups) in [
            ("report.by_team", "shift.team", &r.by_team),
            ("report.by_building", "place.building", &r.by_building),
        ] {
            let rows = groups
                .iter()
                .map(|g| {
                    let mut row = vec![text(label(t, &g.name))];
                    row.extend(posts_cells(&g.posts));
                    row
                })
                .collect();
            let mut columns = vec![first];
            columns.extend(POSTS_COLUMNS);
            out.push(sheet(t, k, title, &columns, rows));
        }
    }
    let hazards = r
        .hazards
        .iter()
        .map(|h| {
            vec![
                Cell::Time(Some(h.reported_at_ms)),
                text(t.get(&format!("hazard.cat.{}", h.category))),
                text(t.get(&format!("hazard.severity.{}", h.severity))),
                text(t.get(&format!("hazard.state.{}", h.state))),
                text(label(t, &h.place)),
                text(&h.reporter),
                Cell::Time(h.due_at_ms),
                yes_no(t, h.overdue),
                yes_no(t, h.recurring),
                Cell::Int(h.photos.len() as i64),
                yes_no(t, h.late),
            ]
        })
        .collect();
    out.push(sheet(
        t,
        k,
        "report.hazards",
        &[
            "report.col.reported_at",
            "report.col.category",
            "report.col.severity",
            "common.state",
            "incident.field.place",
            "report.col.reporter",
            "report.col.due",
            "hazard.overdue",
            "report.col.recurring",
            "report.col.photos",
            "report.col.late",
        ],
        hazards,
    ));
    let incidents = r
        .incidents
        .iter()
        .map(|i| {
            vec![
                Cell::Time(Some(i.occurred_at_ms)),
                text(label(t, &i.place)),
                text(&i.cause),
                text(&i.outcome),
                text(&i.reporter),
                text(t.get(&format!("incident.state.{}", i.state))),
                Cell::Time(i.acknowledged_at_ms),
                yes_no(t, i.late),
            ]
        })
        .collect();
    out.push(sheet(
        t,
        k,
        "report.incidents",
        &[
            "incident.field.time",
            "incident.field.place",
            "incident.field.cause",
            "incident.field.outcome",
            "report.col.reporter",
            "common.state",
            "alert.acknowledged",
            "report.col.late",
        ],
        incidents,
    ));
    if k == Kind::Daily {
        let alerts = r
            .alerts
            .iter()
            .map(|a| {
                vec![
                    text(t.get(&format!("alert.kind.{}", a.kind))),
                    text(label(t, &a.subject)),
                    Cell::Time(Some(a.raised_at_ms)),
                    Cell::Time(a.acked_at_ms),
                    text(a.acked_by.clone().unwrap_or_default()),
                ]
            })
            .collect();
        out.push(sheet(
            t,
            k,
            "report.alerts",
            &[
                "report.col.kind",
                "report.col.about",
                "alert.raised",
                "alert.acknowledged",
                "report.col.acked_by",
            ],
            alerts,
        ));
    } else {
        let members = r
            .members
            .iter()
            .map(|m| {
                vec![
                    text(&m.name),
                    Cell::Int(m.shifts_rostered),
                    Cell::Int(m.shifts_attended),
                    Cell::Int(m.checkins),
                    Cell::Int(m.posts_decided),
                    Cell::Int(m.posts_on_time),
                    Cell::Percent(m.on_time_rate()),
                    Cell::Int(m.hazards_reported),
                ]
            })
            .collect();
        out.push(sheet(
            t,
            k,
            "report.members",
            &[
                "report.col.name",
                "report.col.rostered",
                "report.col.attended",
                "report.checkins",
                "report.col.decided",
                "compliance.on_time",
                "report.on_time_rate",
                "report.hazards_reported",
            ],
            members,
        ));
    }
    out
}

/// The catalogue key of a check-in's proof.
pub fn proof_key(proof: &str) -> &'static str {
    match proof {
        "verified" => tr_key("report.proof.verified"),
        "flagged" => tr_key("report.proof.flagged"),
        _ => tr_key("report.proof.unverified"),
    }
}

/// A cell as text: times local, percentages with one decimal.
pub fn display(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Percent(p) => p.map(|p| format!("{p:.1}")).unwrap_or_default(),
        Cell::Time(t) => t.map(crate::format::local_date_time_s).unwrap_or_default(),
    }
}

/// The sheets as one CSV file: UTF-8 with a byte-order mark (so spreadsheet
/// programs read the Chinese), each sheet as its title, its header and its
/// rows, then an empty line.
pub fn to_csv(sheets: &[Sheet]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    for (i, s) in sheets.iter().enumerate() {
        if i > 0 {
            w.write_record(std::iter::empty::<&str>())?;
        }
        w.write_record([&s.title])?;
        w.write_record(&s.columns)?;
        for row in &s.rows {
            w.write_record(row.iter().map(display))?;
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The local civil time of `ms`, for a date cell.
fn civil(ms: i64) -> Option<jiff::civil::DateTime> {
    Some(
        jiff::Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(crate::format::time_zone())
            .datetime(),
    )
}

/// The cell formats of a workbook.
pub struct Styles {
    pub bold: rust_xlsxwriter::Format,
    pub when: rust_xlsxwriter::Format,
    pub percent: rust_xlsxwriter::Format,
}

impl Styles {
    pub fn new() -> Styles {
        use rust_xlsxwriter::Format;
        Styles {
            bold: Format::new().set_bold(),
            when: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            percent: Format::new().set_num_format("0.0"),
        }
    }
}

impl Default for Styles {
    fn default() -> Self {
        Styles::new()
    }
}

/// Writes one cell typed: text, a number, or a date cell in local time.
pub fn write_cell(
    ws: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    styles: &Styles,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    match cell {
        Cell::Text(v) => {
            ws.write_string(row, col, v)?;
        }
        Cell::Int(n) => {
            ws.write_number(row, col, *n as f64)?;
        }
        Cell::Percent(Some(p)) => {
            ws.write_number_with_format(row, col, *p, &styles.percent)?;
        }
        Cell::Time(Some(ms)) => {
            if let Some(dt) = civil(*ms) {
                ws.write_datetime_with_format(row, col, dt, &styles.when)?;
            }
        }
        Cell::Percent(None) | Cell::Time(None) => {}
    }
    Ok(())
}

/// The sheets as an XLSX workbook, one worksheet each.
pub fn to_xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let styles = Styles::new();
    for (i, s) in sheets.iter().enumerate() {
        let ws = book.add_worksheet();
        // Worksheet names: at most 31 characters, unique.
        let name: String = format!("{} {}", i + 1, s.title).chars().take(31).collect();
        ws.set_name(name.replace(['[', ']', ':', '*', '?', '/', '\\'], " "))?;
        for (c, column) in s.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, column, &styles.bold)?;
            ws.set_column_width(c as u16, 18)?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                write_cell(ws, r as u32 + 1, c as u16, cell, &styles)?;
            }
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::content::*;
    use crate::reports::period::Period;

    fn label(s: &str) -> Label {
        Label {
            zh: s.into(),
            en: s.into(),
        }
    }

    fn sample(kind: Kind, empty: bool) -> Report {
        let posts = Posts {
            on_time: 9,
            late: 1,
            missed: 1,
            unverified: 1,
            ..Posts::default()
        };
        let group = Group {
            id: "team-1".into(),
            name: label("Night patrol A"),
            posts: posts.clone(),
        };
        let shift = ShiftPart {
            shift_key: "roster/night".into(),
            team: "team-1".into(),
            team_name: "Night patrol A".into(),
            starts_at_ms: 0,
            ends_at_ms: 1,
            people: vec![OnDuty {
                user_id: "u".into(),
                name: "Tang Xiaohe".into(),
                leader: true,
                signed_on_ms: Some(1),
                signed_off_ms: None,
            }],
            slots: ["verified", "unverified", "flagged"]
                .iter()
                .zip(["on_time", "late", "out_of_order"])
                .map(|(proof, status)| SlotLine {
                    post_id: "p".into(),
                    post: label("1栋1单元 5F"),
                    window_start_ms: 0,
                    deadline_ms: 1,
                    status: status.into(),
                    checkin_id: Some("c".into()),
                    device_time_ms: Some(1),
                    received_at_ms: Some(2),
                    by: Some("Tang Xiaohe".into()),
                    proof: Some(proof.to_string()),
                    late: false,
                })
                .collect(),
        };
        let hazards = fieldsync_proto::model::validate::HAZARD_CATEGORIES
            .iter()
            .map(|category| HazardLine {
                doc_id: "h".into(),
                category: category.to_string(),
                severity: "major".into(),
                state: "rectified".into(),
                place: label("1栋"),
                reported_at_ms: 0,
                reporter: "Tang Xiaohe".into(),
                due_at_ms: None,
                overdue: true,
                recurring: false,
                photos: Vec::new(),
                late: false,
            })
            .collect();
        let alerts = ["missed", "late", "overdue", "escalation", "flagged"]
            .iter()
            .map(|kind| AlertLine {
                kind: kind.to_string(),
                subject: label("1栋1单元 5F"),
                raised_at_ms: 0,
                acked_at_ms: Some(1),
                acked_by: Some("Zhou Mingyuan".into()),
            })
            .collect();
        let incidents = ["open", "acknowledged", "closed"]
            .iter()
            .map(|state| IncidentLine {
                doc_id: "i".into(),
                occurred_at_ms: 0,
                place: label("1栋"),
                cause: "争执".into(),
                outcome: "已平息".into(),
                reporter: "Tang Xiaohe".into(),
                state: state.to_string(),
                acknowledged_at_ms: None,
                late: true,
            })
            .collect();
        let full = !empty;
        Report {
            kind,
            period: Period {
                kind,
                key: "2026-11".into(),
                from_ms: 0,
                to_ms: 1,
            },
            community: "demo".into(),
            time_zone: "Asia/Shanghai".into(),
            team: None,
            generated_at_ms: 0,
            totals: Totals {
                posts,
                incidents: if full { 3 } else { 0 },
                ..Totals::default()
            },
            previous: (kind == Kind::Monthly).then(Totals::default),
            by_team: vec![group.clone()],
            by_building: vec![group],
            shifts: if full { vec![shift] } else { Vec::new() },
            hazards: if full { hazards } else { Vec::new() },
            incidents: if full { incidents } else { Vec::new() },
            alerts: if full { alerts } else { Vec::new() },
            members: vec![MemberDuty {
                user_id: "u".into(),
                name: "Tang Xiaohe".into(),
                shifts_rostered: 2,
                shifts_attended: 1,
                checkins: 11,
                posts_decided: 11,
                posts_on_time: 9,
                hazards_reported: 3,
            }],
            issued: None,
            audit_head: (kind == Kind::Monthly).then(|| crate::audit::Head {
                seq: 42,
                hash: "ab".repeat(32),
            }),
        }
    }

    /// A text that is a catalogue key shown as itself: a key is missing.
    fn looks_like_a_key(s: &str) -> bool {
        s.contains('.')
            && s.split('.').count() > 1
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
    }

    #[test]
    fn every_word_of_every_report_is_in_both_catalogues() {
        for kind in Kind::ALL {
            for empty in [false, true] {
                for lang in Lang::ALL {
                    let t = Tr { lang };
                    for s in sheets(&t, &sample(kind, empty)) {
                        let texts = std::iter::once(&s.title).chain(&s.columns).chain(
                            s.rows.iter().flatten().filter_map(|c| match c {
                                Cell::Text(t) => Some(t),
                                _ => None,
                            }),
                        );
                        for text in texts {
                            assert!(
                                !looks_like_a_key(text),
                                "{kind:?} {lang:?} {}: {text:?} is not in the catalogue",
                                s.title
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_period_says_there_is_nothing_to_report() {
        let t = Tr { lang: Lang::ZhCn };
        let empty = sheets(&t, &sample(Kind::Monthly, true));
        let said: Vec<&Sheet> = empty
            .iter()
            .filter(|s| {
                s.rows
                    .iter()
                    .flatten()
                    .any(|c| *c == Cell::Text("本月无重大情况".into()))
            })
            .collect();
        // The summary's conclusion, hazards and incidents.
        assert_eq!(said.len(), 3, "{empty:#?}");
        let full = sheets(&t, &sample(Kind::Monthly, false));
        assert!(!full.iter().any(|s| {
            s.rows
                .iter()
                .flatten()
                .any(|c| *c == Cell::Text("本月无重大情况".into()))
        }));
    }

    #[test]
    fn csv_starts_with_a_byte_order_mark_and_keeps_the_chinese() {
        let t = Tr { lang: Lang::ZhCn };
        let csv = to_csv(&sheets(&t, &sample(Kind::Daily, false))).unwrap();
        assert!(csv.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(csv[3..].to_vec()).unwrap();
        assert!(text.starts_with("概况\n"), "{text}");
        assert!(text.contains("1栋1单元 5F"));
        let xlsx = to_xlsx(&sheets(&t, &sample(Kind::Daily, false))).unwrap();
        assert!(xlsx.starts_with(b"PK"), "an XLSX is a zip");
    }
}
