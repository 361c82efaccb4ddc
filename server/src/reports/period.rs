//! Report periods in the community's time zone: a shift (daily), the week up
//! to a Thursday (weekly: Thursday 00:00 to the next Thursday 00:00, reported
//! on that Thursday), a calendar month (monthly).

use fieldsync_proto::model::duty::civil_date;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use crate::store::ShiftRow;

/// Which report.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Daily,
    Weekly,
    Monthly,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Daily, Kind::Weekly, Kind::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::Weekly => "weekly",
            Kind::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One report's period: `[from_ms, to_ms)`, named by `key` (the shift key,
/// the Thursday the week is reported on, or `YYYY-MM`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Period {
    pub kind: Kind,
    pub key: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Why a period was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    NotADate(String),
    #[error("{0} is a {1}; weekly reports are reported on Thursdays")]
    NotThursday(String, String),
    #[error("{0:?} is not a month (YYYY-MM)")]
    NotAMonth(String),
}

fn midnight(d: Date, tz: &TimeZone) -> i64 {
    d.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or_default()
}

fn today(now_ms: i64, tz: &TimeZone) -> Date {
    jiff::Timestamp::from_millisecond(now_ms)
        .unwrap_or_default()
        .to_zoned(tz.clone())
        .date()
}

/// The daily report of a shift.
pub fn shift(s: &ShiftRow) -> Period {
    Period {
        kind: Kind::Daily,
        key: s.shift_key.clone(),
        from_ms: s.starts_at,
        to_ms: s.ends_at,
    }
}

/// The week reported on Thursday `key` (`YYYY-MM-DD`): the seven days
/// before it.
pub fn week(key: &str, tz: &TimeZone) -> Result<Period, PeriodError> {
    let thursday = civil_date(key).ok_or_else(|| PeriodError::NotADate(key.to_owned()))?;
    if thursday.weekday() != Weekday::Thursday {
        return Err(PeriodError::NotThursday(
            key.to_owned(),
            format!("{:?}", thursday.weekday()),
        ));
    }
    Ok(Period {
        kind: Kind::Weekly,
        key: thursday.to_string(),
        from_ms: midnight(thursday - jiff::Span::new().days(7), tz),
        to_ms: midnight(thursday, tz),
    })
}

/// Calendar month `key` (`YYYY-MM`).
pub fn month(key: &str, tz: &TimeZone) -> Result<Period, PeriodError> {
    let bad = || PeriodError::NotAMonth(key.to_owned());
    let (y, m) = key.split_once('-').ok_or_else(bad)?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 4) || !digits(m, 2) {
        return Err(bad());
    }
    let first = Date::new(
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        1,
    )
    .map_err(|_| bad())?;
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .map_err(|_| bad())?;
    Ok(Period {
        kind: Kind::Monthly,
        key: first.strftime("%Y-%m").to_string(),
        from_ms: midnight(first, tz),
        to_ms: midnight(next, tz),
    })
}

/// The Thursday of the latest week that has ended by `now_ms`.
pub fn last_week(now_ms: i64, tz: &TimeZone) -> String {
    let mut d = today(now_ms, tz);
    while d.weekday() != Weekday::Thursday {
        d = d.yesterday().unwrap_or(d);
    }
    d.to_string()
}

/// The latest month that has ended by `now_ms`.
pub fn last_month(now_ms: i64, tz: &TimeZone) -> String {
    let d = today(now_ms, tz).first_of_month();
    d.yesterday().unwrap_or(d).strftime("%Y-%m").to_string()
}

/// The `n` weeks (their Thursdays) before and including `week`, newest first.
pub fn weeks_back(week: &str, n: usize) -> Vec<String> {
    let Ok(mut d) = week.parse::<Date>() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(d.to_string());
        d -= jiff::Span::new().days(7);
    }
    out
}

/// The `n` months before and including `month`, newest first.
pub fn months_back(month: &str, n: usize) -> Vec<String> {
    let Ok(mut d) = format!("{month}-01").parse::<Date>() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(d.strftime("%Y-%m").to_string());
        d -= jiff::Span::new().months(1);
    }
    out
}

/// The month before `month`.
pub fn previous_month(month: &str) -> Option<String> {
    months_back(month, 2).get(1).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    #[test]
    fn a_week_is_reported_on_its_thursday() {
        let w = week("2026-12-03", &shanghai()).unwrap();
        assert_eq!(w.to_ms - w.from_ms, 7 * 24 * 3_600_000);
        // Thursday 26 November 00:00 in Shanghai is 16:00 UTC the day before.
        assert_eq!(
            jiff::Timestamp::from_millisecond(w.from_ms)
                .unwrap()
                .to_string(),
            "2026-11-25T16:00:00Z"
        );
        assert_eq!(
            week("2026-12-02", &shanghai()),
            Err(PeriodError::NotThursday(
                "2026-12-02".into(),
                "Wednesday".into()
            ))
        );
        assert!(matches!(
            week("next thursday", &shanghai()),
            Err(PeriodError::NotADate(_))
        ));
    }

    #[test]
    fn months_run_from_the_first_to_the_first() {
        let m = month("2026-02", &shanghai()).unwrap();
        assert_eq!(m.to_ms - m.from_ms, 28 * 24 * 3_600_000);
        let m = month("2026-12", &shanghai()).unwrap();
        assert_eq!(m.to_ms - m.from_ms, 31 * 24 * 3_600_000);
        for bad in ["2026-13", "2026-1", "26-01", "december"] {
            assert!(month(bad, &shanghai()).is_err(), "{bad}");
        }
        assert_eq!(previous_month("2026-01").as_deref(), Some("2025-12"));
    }

    #[test]
    fn the_latest_periods_are_those_that_have_ended() {
        let tz = shanghai();
        // Tuesday 1 December 2026, 22:00 in Shanghai.
        let now = jiff::civil::date(2026, 12, 1)
            .at(22, 0, 0, 0)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        assert_eq!(last_week(now, &tz), "2026-11-26");
        assert_eq!(last_month(now, &tz), "2026-11");
        assert_eq!(
            weeks_back("2026-11-26", 3),
            ["2026-11-26", "2026-11-19", "2026-11-12"]
        );
        assert_eq!(months_back("2026-01", 2), ["2026-01", "2025-12"]);
    }
}
