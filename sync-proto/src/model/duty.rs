//! Routes, rosters and compliance (docs/duty.md).
//!
//! A [`RouteDoc`] says which posts a team must visit and how often during its
//! active hours; a [`RosterDoc`] holds one team's shifts for a week. Times in
//! both are local wall-clock times of the community's time zone; everything
//! stored or compared is UTC milliseconds. [`evaluate`] turns one shift, one
//! route and the check-ins into one [`Slot`] per post and interval window —
//! the same function on the server (compliance, alerts) and on the phone
//! ("my route today").

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// The time zone of a community that does not name one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Minutes after a window's deadline during which a check-in still counts,
/// as late, when the route does not say.
pub const DEFAULT_GRACE_MIN: u32 = 15;

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.to_owned()
}

fn default_grace() -> u32 {
    DEFAULT_GRACE_MIN
}

/// A patrol route (schema 1).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteDoc {
    pub name: String,
    pub team: String,
    /// Post ids, in walking order when `ordered`; each once.
    #[cfg_attr(feature = "openapi", schema(value_type = RoutePosts))]
    pub posts: Vec<String>,
    #[serde(default)]
    pub ordered: bool,
    /// Every post at least once per this many minutes of the active hours.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub interval_min: u32,
    /// Start of the active hours, local `HH:MM` (or `HH:MM:SS`).
    #[cfg_attr(feature = "openapi", schema(value_type = LocalTime))]
    pub active_from: String,
    /// End of the active hours; at or before `active_from` means the next
    /// day, equal to it means the whole shift.
    #[cfg_attr(feature = "openapi", schema(value_type = LocalTime))]
    pub active_until: String,
    /// Minutes after a deadline during which a check-in counts as late
    /// rather than missed.
    #[serde(default = "default_grace")]
    pub grace_min: u32,
}

/// One shift of a roster.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Unique within the roster.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub id: String,
    /// Local date the shift starts, `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(value_type = LocalDate))]
    pub date: String,
    /// Local start time, `HH:MM`.
    #[cfg_attr(feature = "openapi", schema(value_type = LocalTime))]
    pub start: String,
    /// Local end time; at or before `start` means the next day.
    #[cfg_attr(feature = "openapi", schema(value_type = LocalTime))]
    pub end: String,
    /// User id of the leader on duty.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub leader: String,
    #[serde(default)]
    pub deputy: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    /// Route document ids the shift walks.
    #[serde(default)]
    pub routes: Vec<String>,
}

/// A team's roster for one week (schema 1).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterDoc {
    pub team: String,
    /// The Monday the week starts, `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(value_type = LocalDate))]
    pub week_of: String,
    /// An IANA time zone name (`Asia/Shanghai`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    pub shifts: Vec<Shift>,
}

/// Why a route or roster is not usable. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DutyError {
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error("{field}: {value:?} is not a local date YYYY-MM-DD")]
    Date { field: String, value: String },
    #[error("{field}: {value:?} is not a local time HH:MM")]
    Time { field: String, value: String },
    #[error("post {0:?} does not exist in this community")]
    UnknownPost(String),
    #[error("{0}")]
    Invalid(String),
}

impl DutyError {
    pub fn code(&self) -> &'static str {
        match self {
            DutyError::TimeZone(_) => "unknown_time_zone",
            DutyError::Date { .. } => "invalid_date",
            DutyError::Time { .. } => "invalid_time",
            DutyError::UnknownPost(_) => "unknown_post",
            DutyError::Invalid(_) => "invalid_duty",
        }
    }
}

/// The digits of `value` where `shape` has `9`, if every other byte is the
/// one `shape` has there (`"9999-99-99"`, `"99:99"`).
fn digits(value: &str, shape: &str) -> Option<Vec<i16>> {
    let (value, shape) = (value.as_bytes(), shape.as_bytes());
    if value.len() != shape.len() {
        return None;
    }
    let mut numbers = vec![0i16];
    for (&v, &s) in value.iter().zip(shape) {
        match s {
            b'9' if v.is_ascii_digit() => {
                let n = numbers.last_mut()?;
                *n = *n * 10 + i16::from(v - b'0');
            }
            _ if v == s => numbers.push(0),
            _ => return None,
        }
    }
    Some(numbers)
}

/// A local date, exactly `YYYY-MM-DD` (a [`LocalDate`]).
pub fn civil_date(value: &str) -> Option<Date> {
    match digits(value, "9999-99-99")?[..] {
        [y, m, d] => Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok(),
        _ => None,
    }
}

/// A local time, exactly `HH:MM` or `HH:MM:SS` (a [`LocalTime`]).
pub fn civil_time(value: &str) -> Option<Time> {
    let parts = digits(value, "99:99").or_else(|| digits(value, "99:99:99"))?;
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, 0),
        [h, m, s] => (h, m, s),
        _ => return None,
    };
    Time::new(
        i8::try_from(h).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(s).ok()?,
        0,
    )
    .ok()
}

#[cfg(feature = "openapi")]
crate::schema_rule!(
    /// [`civil_date`]: a local date, `YYYY-MM-DD`.
    LocalDate => crate::openapi::string_schema(
        "A local date, YYYY-MM-DD",
        None,
        Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$".into()),
        Some(utoipa::openapi::KnownFormat::Date),
    )
);

#[cfg(feature = "openapi")]
crate::schema_rule!(
    /// [`civil_time`]: a local time, `HH:MM` or `HH:MM:SS`.
    LocalTime => crate::openapi::string_schema(
        "A local time, HH:MM or HH:MM:SS",
        None,
        Some("^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$".into()),
        None,
    )
);

#[cfg(feature = "openapi")]
crate::schema_rule!(
    /// [`RouteDoc::check`]'s posts: at least one, each once.
    RoutePosts => utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String))
        .min_items(Some(1))
        .unique_items(true)
        .description(Some("Post ids: at least one, each once"))
        .into()
);

fn date(field: &str, value: &str) -> Result<Date, DutyError> {
    civil_date(value).ok_or_else(|| DutyError::Date {
        field: field.to_owned(),
        value: value.to_owned(),
    })
}

fn time(field: &str, value: &str) -> Result<Time, DutyError> {
    civil_time(value).ok_or_else(|| DutyError::Time {
        field: field.to_owned(),
        value: value.to_owned(),
    })
}

/// Looks up a time zone by its IANA name.
pub fn time_zone(name: &str) -> Result<TimeZone, DutyError> {
    TimeZone::get(name).map_err(|_| DutyError::TimeZone(name.to_owned()))
}

fn at(date: Date, time: Time, tz: &TimeZone) -> Result<i64, DutyError> {
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| DutyError::Invalid(format!("{date} {time}: {e}")))
}

/// A shift placed on the UTC time line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftSpan {
    pub shift: Shift,
    pub team: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    /// Local start date and time, kept to place the routes' active hours.
    start_date: Date,
    start_time: Time,
}

impl ShiftSpan {
    /// Whether `user` is on this shift (leader, deputy or member).
    pub fn is_on_duty(&self, user: &str) -> bool {
        self.shift.leader == user
            || self.shift.deputy.as_deref() == Some(user)
            || self.shift.members.iter().any(|m| m == user)
    }
}

impl RosterDoc {
    /// Checks the roster and places its shifts on the UTC time line.
    pub fn spans(&self) -> Result<Vec<ShiftSpan>, DutyError> {
        let tz = time_zone(&self.time_zone)?;
        let week = date("week_of", &self.week_of)?;
        if week.weekday() != Weekday::Monday {
            return Err(DutyError::Invalid(format!(
                "week_of {} is a {:?}, not a Monday",
                self.week_of,
                week.weekday()
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut spans = Vec::with_capacity(self.shifts.len());
        for s in &self.shifts {
            if s.id.is_empty() || !seen.insert(s.id.as_str()) {
                return Err(DutyError::Invalid(format!(
                    "shift id {:?} is empty or appears twice",
                    s.id
                )));
            }
            if s.leader.is_empty() {
                return Err(DutyError::Invalid(format!("shift {} has no leader", s.id)));
            }
            let d = date("shift date", &s.date)?;
            let start = time("shift start", &s.start)?;
            let end = time("shift end", &s.end)?;
            let end_date = if end <= start { d.tomorrow() } else { Ok(d) }
                .map_err(|e| DutyError::Invalid(e.to_string()))?;
            spans.push(ShiftSpan {
                shift: s.clone(),
                team: self.team.clone(),
                starts_at_ms: at(d, start, &tz)?,
                ends_at_ms: at(end_date, end, &tz)?,
                start_date: d,
                start_time: start,
            });
        }
        Ok(spans)
    }
}

/// The default duty pattern (docs/duty.md) for the week starting `monday`:
/// Monday–Friday 18:00 → 08:00 the next day, Saturday and Sunday 24 hours
/// from 08:00. Each day's leader is taken in turn from `leaders`.
pub fn default_week(
    team: &str,
    monday: &str,
    leaders: &[String],
    members: &[String],
    routes: &[String],
) -> Result<RosterDoc, DutyError> {
    let first = date("week_of", monday)?;
    if leaders.is_empty() {
        return Err(DutyError::Invalid("a roster needs a leader".into()));
    }
    let mut shifts = Vec::with_capacity(7);
    for i in 0..7i8 {
        let day = first
            .checked_add(jiff::Span::new().days(i))
            .map_err(|e| DutyError::Invalid(e.to_string()))?;
        let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
        let start = if weekend { "08:00" } else { "18:00" };
        shifts.push(Shift {
            id: format!("{team}-{day}"),
            date: day.to_string(),
            start: start.into(),
            end: "08:00".into(),
            leader: leaders[i as usize % leaders.len()].clone(),
            deputy: None,
            members: members.to_vec(),
            routes: routes.to_vec(),
        });
    }
    let roster = RosterDoc {
        team: team.to_owned(),
        week_of: monday.to_owned(),
        time_zone: DEFAULT_TIME_ZONE.to_owned(),
        shifts,
    };
    roster.spans()?;
    Ok(roster)
}

impl RouteDoc {
    /// Checks the route's fields.
    pub fn check(&self) -> Result<(), DutyError> {
        time("active_from", &self.active_from)?;
        time("active_until", &self.active_until)?;
        if self.interval_min == 0 {
            return Err(DutyError::Invalid("interval_min must be at least 1".into()));
        }
        if self.posts.is_empty() {
            return Err(DutyError::Invalid("a route needs at least one post".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = self.posts.iter().find(|p| !seen.insert(p.as_str())) {
            return Err(DutyError::Invalid(format!("post {dup} appears twice")));
        }
        Ok(())
    }

    /// Checks that every post of the route is one of the community's
    /// (`exists` answers for one post id).
    pub fn check_posts(&self, exists: impl Fn(&str) -> bool) -> Result<(), DutyError> {
        match self.posts.iter().find(|p| !exists(p)) {
            Some(p) => Err(DutyError::UnknownPost(p.clone())),
            None => Ok(()),
        }
    }

    /// The route's active hours within a shift, as UTC `[from, until)`; `None`
    /// when they do not meet the shift.
    pub fn active_span(
        &self,
        shift: &ShiftSpan,
        tz: &TimeZone,
    ) -> Result<Option<(i64, i64)>, DutyError> {
        let from_t = time("active_from", &self.active_from)?;
        let until_t = time("active_until", &self.active_until)?;
        if from_t == until_t {
            return Ok(Some((shift.starts_at_ms, shift.ends_at_ms)));
        }
        // The active hours start on the shift's first day, or on the next
        // day when they start before the shift does (e.g. 02:00 in a shift
        // that starts at 18:00).
        let from_date = if from_t >= shift.start_time {
            shift.start_date
        } else {
            shift
                .start_date
                .tomorrow()
                .map_err(|e| DutyError::Invalid(e.to_string()))?
        };
        let until_date = if until_t <= from_t {
            from_date
                .tomorrow()
                .map_err(|e| DutyError::Invalid(e.to_string()))?
        } else {
            from_date
        };
        let from = at(from_date, from_t, tz)?.max(shift.starts_at_ms);
        let until = at(until_date, until_t, tz)?.min(shift.ends_at_ms);
        Ok((from < until).then_some((from, until)))
    }
}

/// What the compliance engine needs to know of one check-in.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckinFact {
    pub id: String,
    pub post_id: String,
    /// Device time, ms since the Unix epoch.
    pub at_ms: i64,
    pub by: String,
    /// A valid tag, not flagged by the geofence.
    pub verified: bool,
}

/// How one post fared in one window of a shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    /// The deadline has not passed and nobody has checked in yet.
    Pending,
    /// A verified check-in by someone on the shift before the deadline.
    OnTime,
    /// Checked in before the deadline, but without proof (manual, flagged
    /// by the geofence, or by someone not on the shift).
    Unverified,
    /// Checked in before the deadline, but not in the route's order.
    OutOfOrder,
    /// The deadline passed without a check-in; it is still within the grace
    /// period, or one came during it.
    Late,
    /// Nothing by the end of the grace period.
    Missed,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Pending => "pending",
            SlotStatus::OnTime => "on_time",
            SlotStatus::Unverified => "unverified",
            SlotStatus::OutOfOrder => "out_of_order",
            SlotStatus::Late => "late",
            SlotStatus::Missed => "missed",
        }
    }

    /// Whether this status raises an alert to the shift leader.
    pub fn alerts(self) -> bool {
        matches!(self, SlotStatus::Late | SlotStatus::Missed)
    }
}

/// One post in one interval window of a shift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub shift_id: String,
    pub route_id: String,
    pub post_id: String,
    pub window_start_ms: i64,
    /// The check-in is due before this time.
    pub deadline_ms: i64,
    /// After this a missing check-in is missed, not late.
    pub grace_until_ms: i64,
    pub status: SlotStatus,
    /// The check-in that decided the status.
    pub checkin_id: Option<String>,
    pub checked_at_ms: Option<i64>,
}

/// Compliance of one route in one shift as of `now_ms`: one slot per post per
/// interval window of the route's active hours.
pub fn evaluate(
    span: &ShiftSpan,
    route_id: &str,
    route: &RouteDoc,
    tz: &TimeZone,
    checkins: &[CheckinFact],
    now_ms: i64,
) -> Result<Vec<Slot>, DutyError> {
    route.check()?;
    let Some((from, until)) = route.active_span(span, tz)? else {
        return Ok(Vec::new());
    };
    let interval = i64::from(route.interval_min) * 60_000;
    let grace = i64::from(route.grace_min) * 60_000;
    let mut slots = Vec::new();
    let mut window_start = from;
    while window_start < until {
        let deadline = (window_start + interval).min(until);
        let first = slots.len();
        for post in &route.posts {
            let at_post = |c: &&CheckinFact| &c.post_id == post;
            let earliest = |lo: i64, hi: i64| {
                checkins
                    .iter()
                    .filter(at_post)
                    .filter(|c| (lo..hi).contains(&c.at_ms))
                    .min_by_key(|c| (!(c.verified && span.is_on_duty(&c.by)), c.at_ms))
            };
            let (status, decided) = match earliest(window_start, deadline) {
                Some(c) if c.verified && span.is_on_duty(&c.by) => (SlotStatus::OnTime, Some(c)),
                Some(c) => (SlotStatus::Unverified, Some(c)),
                None => match earliest(deadline, deadline + grace) {
                    Some(c) => (SlotStatus::Late, Some(c)),
                    None if now_ms < deadline => (SlotStatus::Pending, None),
                    None if now_ms < deadline + grace => (SlotStatus::Late, None),
                    None => (SlotStatus::Missed, None),
                },
            };
            slots.push(Slot {
                shift_id: span.shift.id.clone(),
                route_id: route_id.to_owned(),
                post_id: post.clone(),
                window_start_ms: window_start,
                deadline_ms: deadline,
                grace_until_ms: deadline + grace,
                status,
                checkin_id: decided.map(|c| c.id.clone()),
                checked_at_ms: decided.map(|c| c.at_ms),
            });
        }
        if route.ordered {
            mark_out_of_order(&mut slots[first..]);
        }
        window_start = deadline;
    }
    Ok(slots)
}

/// On an ordered route, an on-time check-in earlier than the one at the post
/// before it was walked out of order.
fn mark_out_of_order(window: &mut [Slot]) {
    let mut last = i64::MIN;
    for slot in window {
        if let (SlotStatus::OnTime, Some(t)) = (slot.status, slot.checked_at_ms) {
            if t < last {
                slot.status = SlotStatus::OutOfOrder;
            }
            last = last.max(t);
        }
    }
}

/// Attendance of one person on one shift, from what they did during it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendance {
    pub shift_id: String,
    pub user: String,
    /// First patrol start or check-in of theirs during the shift.
    pub signed_on_ms: Option<i64>,
    /// End of the last patrol they started during the shift.
    pub signed_off_ms: Option<i64>,
}

/// What attendance needs to know of one patrol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatrolFact {
    pub started_by: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
}

/// Sign-on and sign-off of everyone on a shift: starting a patrol or checking
/// in signs a member on, ending their patrol signs them off.
pub fn attendance(
    span: &ShiftSpan,
    patrols: &[PatrolFact],
    checkins: &[CheckinFact],
) -> Vec<Attendance> {
    let during = |t: i64| (span.starts_at_ms..span.ends_at_ms).contains(&t);
    let mut people = vec![span.shift.leader.clone()];
    people.extend(span.shift.deputy.clone());
    people.extend(span.shift.members.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    people.retain(|p| seen.insert(p.clone()));
    people
        .into_iter()
        .map(|user| {
            let mine = patrols
                .iter()
                .filter(|p| p.started_by == user && during(p.started_at_ms));
            let starts = mine.clone().map(|p| p.started_at_ms);
            let checks = checkins
                .iter()
                .filter(|c| c.by == user && during(c.at_ms))
                .map(|c| c.at_ms);
            Attendance {
                shift_id: span.shift.id.clone(),
                signed_on_ms: starts.chain(checks).min(),
                signed_off_ms: mine
                    .max_by_key(|p| p.started_at_ms)
                    .and_then(|p| p.ended_at_ms),
                user,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
