//! What a report says: the figures of one period for one audience, read from
//! the projection tables (counts are SQL aggregates, never a walk over the
//! period's check-ins), and the lines a reader checks them by.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fieldsync_proto::model::scope::{Reader, may_read};
use fieldsync_proto::model::validate;
use fieldsync_proto::{DocId, DocType};
use serde::{Deserialize, Serialize};

use super::period::{Kind, Period};
use crate::names::Names;
use crate::scope;
use crate::store::{PeriodHazard, PostRow, ShiftRow, StatusCount, Store, StoreError};

/// The statuses of a post in a window, in the order reports list them.
pub const STATUSES: [&str; 6] = [
    "on_time",
    "late",
    "missed",
    "unverified",
    "out_of_order",
    "pending",
];

/// A text in both of the dashboard's languages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Label {
    pub zh: String,
    pub en: String,
}

/// Who a report is for: the whole community, or one team (a leader's).
#[derive(Clone, Debug)]
pub struct Audience {
    pub community: String,
    /// `None`: every team.
    pub team: Option<String>,
    /// Read scopes for hazards and incidents, as sync applies them.
    pub reader: Reader,
}

/// Posts by status, and the share on time of those decided.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Posts {
    pub on_time: i64,
    pub late: i64,
    pub missed: i64,
    pub unverified: i64,
    pub out_of_order: i64,
    pub pending: i64,
}

impl Posts {
    fn add(&mut self, status: &str, n: i64) {
        match status {
            "on_time" => self.on_time += n,
            "late" => self.late += n,
            "missed" => self.missed += n,
            "unverified" => self.unverified += n,
            "out_of_order" => self.out_of_order += n,
            _ => self.pending += n,
        }
    }

    /// Every post of every window.
    pub fn total(&self) -> i64 {
        self.on_time + self.late + self.missed + self.unverified + self.out_of_order + self.pending
    }

    /// On time among the posts whose window has closed, in percent; `None`
    /// when none has.
    pub fn on_time_rate(&self) -> Option<f64> {
        let decided = self.total() - self.pending;
        (decided > 0).then(|| (self.on_time as f64) * 100.0 / decided as f64)
    }

    pub fn get(&self, status: &str) -> i64 {
        match status {
            "on_time" => self.on_time,
            "late" => self.late,
            "missed" => self.missed,
            "unverified" => self.unverified,
            "out_of_order" => self.out_of_order,
            _ => self.pending,
        }
    }
}

/// The period's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    pub shifts: i64,
    pub patrols: i64,
    pub checkins: i64,
    pub posts: Posts,
    pub hazards_reported: i64,
    pub hazards_rectified: i64,
    pub hazards_closed: i64,
    /// Due before the period's end and neither rectified nor closed by then.
    pub hazards_overdue: i64,
    /// Reported in the period at a post where the same category was found
    /// within 90 days before.
    pub hazards_recurring: i64,
    pub major_hazards: i64,
    pub incidents: i64,
}

/// Compliance of one team or one building.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Group {
    /// The team's or building's id (empty: posts outside any building).
    pub id: String,
    pub name: Label,
    pub posts: Posts,
}

/// A person on a shift and when they signed on and off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnDuty {
    pub user_id: String,
    pub name: String,
    pub leader: bool,
    pub signed_on_ms: Option<i64>,
    pub signed_off_ms: Option<i64>,
}

/// One post in one window, with the check-in that decided it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotLine {
    pub post_id: String,
    pub post: Label,
    pub window_start_ms: i64,
    pub deadline_ms: i64,
    pub status: String,
    pub checkin_id: Option<String>,
    pub device_time_ms: Option<i64>,
    pub received_at_ms: Option<i64>,
    pub by: Option<String>,
    /// `verified`, `unverified` or `flagged`.
    pub proof: Option<String>,
    /// Received after the report was issued.
    pub late: bool,
}

/// A shift of a daily report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShiftPart {
    pub shift_key: String,
    pub team: String,
    pub team_name: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub people: Vec<OnDuty>,
    pub slots: Vec<SlotLine>,
}

/// A hazard of the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HazardLine {
    pub doc_id: String,
    pub category: String,
    pub severity: String,
    pub state: String,
    pub place: Label,
    pub reported_at_ms: i64,
    pub reporter: String,
    pub due_at_ms: Option<i64>,
    pub overdue: bool,
    pub recurring: bool,
    /// Photo hashes of the report and its events.
    pub photos: Vec<String>,
    pub late: bool,
}

/// An incident of the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IncidentLine {
    pub doc_id: String,
    pub occurred_at_ms: i64,
    pub place: Label,
    pub cause: String,
    pub outcome: String,
    pub reporter: String,
    pub state: String,
    pub acknowledged_at_ms: Option<i64>,
    pub late: bool,
}

/// An alert of the period and who acknowledged it when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertLine {
    pub kind: String,
    pub subject: Label,
    pub raised_at_ms: i64,
    pub acked_at_ms: Option<i64>,
    pub acked_by: Option<String>,
}

/// One person's duty in the period (the duty assessment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberDuty {
    pub user_id: String,
    pub name: String,
    pub shifts_rostered: i64,
    pub shifts_attended: i64,
    pub checkins: i64,
    /// Posts their check-ins decided, and those on time.
    pub posts_decided: i64,
    pub posts_on_time: i64,
    pub hazards_reported: i64,
}

impl MemberDuty {
    /// On time among the posts they decided, in percent.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.posts_decided > 0)
            .then(|| self.posts_on_time as f64 * 100.0 / self.posts_decided as f64)
    }
}

/// When a report was issued and what it hashed to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Issued {
    pub issued_at_ms: i64,
    pub sha256: String,
}

/// A report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub kind: Kind,
    pub period: Period,
    pub community: String,
    pub time_zone: String,
    /// The team it covers; `None`: the whole community.
    pub team: Option<String>,
    pub generated_at_ms: i64,
    pub totals: Totals,
    /// Monthly: the month before, for the trend.
    pub previous: Option<Totals>,
    pub by_team: Vec<Group>,
    pub by_building: Vec<Group>,
    /// Daily: the shift, its people and every post of every window.
    pub shifts: Vec<ShiftPart>,
    /// Daily and weekly: the hazards reported in the period. Monthly: the
    /// major ones and those overdue.
    pub hazards: Vec<HazardLine>,
    pub incidents: Vec<IncidentLine>,
    /// Daily: alerts raised during the shift.
    pub alerts: Vec<AlertLine>,
    /// Monthly and weekly: the duty assessment.
    pub members: Vec<MemberDuty>,
    /// This view compared with the issued report: the issue it is read
    /// against (lines received later are marked `late`).
    pub issued: Option<Issued>,
    /// Monthly, for the whole community: where the audit chain ended when
    /// the report was made, so a copy of it lives outside the database.
    #[serde(default)]
    pub audit_head: Option<crate::audit::Head>,
}

impl Report {
    /// Nothing of note: no incident and no major hazard in the period (the
    /// zero report).
    pub fn nothing_to_report(&self) -> bool {
        self.totals.incidents == 0 && self.totals.major_hazards == 0
    }

    /// Lines received after the report was issued.
    pub fn late_lines(&self) -> usize {
        self.shifts
            .iter()
            .flat_map(|s| &s.slots)
            .filter(|s| s.late)
            .count()
            + self.hazards.iter().filter(|h| h.late).count()
            + self.incidents.iter().filter(|i| i.late).count()
    }
}

fn post_label(posts: &HashMap<&str, &PostRow>, id: &str) -> Label {
    posts.get(id).map_or_else(
        || Label {
            zh: id.to_owned(),
            en: id.to_owned(),
        },
        |p| Label {
            zh: p.label_zh.clone(),
            en: p.label_en.clone(),
        },
    )
}

fn place_label(
    posts: &HashMap<&str, &PostRow>,
    place: &fieldsync_proto::model::hazard::HazardPlace,
) -> Label {
    let all: Vec<PostRow> = place
        .post_id
        .as_deref()
        .and_then(|id| posts.get(id))
        .map(|p| vec![(*p).clone()])
        .unwrap_or_default();
    let of = |zh| crate::format::place_label(place, &all, zh).unwrap_or_default();
    Label {
        zh: of(true),
        en: of(false),
    }
}

fn groups(counts: &[StatusCount], key: impl Fn(&StatusCount) -> &str) -> BTreeMap<String, Posts> {
    let mut out: BTreeMap<String, Posts> = BTreeMap::new();
    for c in counts {
        out.entry(key(c).to_owned())
            .or_default()
            .add(&c.status, c.n);
    }
    out
}

fn is_late(received: Option<i64>, issued_at: Option<i64>) -> bool {
    matches!((received, issued_at), (Some(r), Some(i)) if r > i)
}

/// Builds the report of `period` for `audience` as of `now`; lines received
/// after `issued_at` are marked late.
pub async fn build(
    store: &Store,
    audience: &Audience,
    period: &Period,
    time_zone: &str,
    now: i64,
    issued: Option<Issued>,
) -> Result<Report, StoreError> {
    let community = audience.community.as_str();
    let team = audience.team.as_deref();
    let (from, to) = (period.from_ms, period.to_ms);
    let issued_at = issued.as_ref().map(|i| i.issued_at_ms);
    let names = Names::load(store, community).await?;
    let post_rows = store.posts(community, None).await?;
    let posts: HashMap<&str, &PostRow> = post_rows.iter().map(|p| (p.id.as_str(), p)).collect();

    let mut shifts = Vec::new();
    if period.kind == Kind::Daily {
        for s in store.report_shifts(community, from, to + 1, team).await? {
            if s.shift_key == period.key {
                shifts.push(shift_part(store, community, &s, &names, &posts, issued_at).await?);
            }
        }
    }
    let scope_team = audience.team.clone();
    // A daily report counts its shift's team only.
    let of_shift;
    let audience = match shifts.first() {
        Some(s) => {
            of_shift = Audience {
                team: Some(s.team.clone()),
                ..audience.clone()
            };
            &of_shift
        }
        None => audience,
    };
    let facts = facts(store, audience, period).await?;
    let mut totals = totals(store, audience, period, now, &facts).await?;
    let counts = &facts.posts;
    let by_team = groups(counts, |c| &c.team)
        .into_iter()
        .map(|(id, posts)| Group {
            name: Label {
                zh: names.team(&id),
                en: names.team(&id),
            },
            id,
            posts,
        })
        .collect();
    let by_building = groups(counts, |c| &c.building)
        .into_iter()
        .map(|(id, posts)| Group {
            name: Label {
                zh: if id.is_empty() {
                    "其他".to_owned()
                } else {
                    format!("{id}栋")
                },
                en: if id.is_empty() {
                    "Other".to_owned()
                } else {
                    format!("Bldg {id}")
                },
            },
            id,
            posts,
        })
        .collect();

    let end = to.min(now);
    let hazard_rows = &facts.hazards;
    let mut links: HashMap<String, Vec<String>> = HashMap::new();
    for (doc, hash) in store.report_photos(community, from, to).await? {
        links.entry(doc).or_default().push(hash);
    }
    let hazards = hazard_rows
        .iter()
        .filter(|h| match period.kind {
            Kind::Monthly => {
                h.row.reported_at >= from && h.row.severity == "major" || overdue_at(h, end)
            }
            _ => h.row.reported_at >= from,
        })
        .map(|h| HazardLine {
            doc_id: h.row.doc_id.clone(),
            category: h.row.category.clone(),
            severity: h.row.severity.clone(),
            state: h.row.state.clone(),
            place: h
                .row
                .post_id
                .as_deref()
                .map(|p| post_label(&posts, p))
                .unwrap_or_default(),
            reported_at_ms: h.row.reported_at,
            reporter: names.user(&h.row.reporter),
            due_at_ms: h.row.due_at,
            overdue: overdue_at(h, end),
            recurring: h.row.recurring_of.is_some(),
            photos: links.get(&h.row.doc_id).cloned().unwrap_or_default(),
            late: is_late(Some(h.received_at), issued_at),
        })
        .collect();

    let incidents = incidents(store, audience, period, &names, &posts, issued_at).await?;
    totals.incidents = incidents.len() as i64;

    let alerts = if period.kind == Kind::Daily {
        alerts(store, audience, period, &names, &posts).await?
    } else {
        Vec::new()
    };
    let members = if period.kind == Kind::Daily {
        Vec::new()
    } else {
        members(store, audience, period, &names, &facts).await?
    };
    let previous = match (period.kind, super::period::previous_month(&period.key)) {
        (Kind::Monthly, Some(prev)) => {
            let tz = fieldsync_proto::model::duty::time_zone(time_zone)
                .unwrap_or(jiff::tz::TimeZone::UTC);
            match super::period::month(&prev, &tz) {
                Ok(p) => {
                    let before = self::facts(store, audience, &p).await?;
                    Some(self::totals(store, audience, &p, now, &before).await?)
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let audit_head = if period.kind == Kind::Monthly && audience.team.is_none() {
        Some(store.audit_head(community).await?)
    } else {
        None
    };
    Ok(Report {
        kind: period.kind,
        period: period.clone(),
        community: community.to_owned(),
        time_zone: time_zone.to_owned(),
        team: scope_team,
        generated_at_ms: now,
        totals,
        previous,
        by_team,
        by_building,
        shifts,
        hazards,
        incidents,
        alerts,
        members,
        issued,
        audit_head,
    })
}

/// Due before `end` and neither rectified nor closed by then.
fn overdue_at(h: &PeriodHazard, end: i64) -> bool {
    let done_by = |t: Option<i64>| t.is_some_and(|t| t <= end);
    h.row.due_at.is_some_and(|d| d < end)
        && !done_by(h.row.rectified_at)
        && !done_by(h.row.closed_at)
}

/// The hazards the period touches that the audience may read.
async fn readable_hazards(
    store: &Store,
    audience: &Audience,
    period: &Period,
) -> Result<Vec<PeriodHazard>, StoreError> {
    Ok(store
        .report_hazards(&audience.community, period.from_ms, period.to_ms)
        .await?
        .into_iter()
        .filter(|h| {
            may_read(
                &audience.reader,
                DocType::Hazard,
                scope::parse(h.scope.as_deref()).as_ref(),
            )
        })
        .collect())
}

/// What a period's figures are counted from, each read once: posts by team,
/// building, status and deciding person; check-ins per person; the hazards
/// the period touches that the audience may read.
struct Facts {
    posts: Vec<StatusCount>,
    checkins: Vec<crate::store::PersonCount>,
    hazards: Vec<PeriodHazard>,
}

async fn facts(store: &Store, audience: &Audience, period: &Period) -> Result<Facts, StoreError> {
    let community = audience.community.as_str();
    let team = audience.team.as_deref();
    let (from, to) = (period.from_ms, period.to_ms);
    Ok(Facts {
        posts: store
            .report_status_counts(community, from, to, team)
            .await?,
        checkins: store.report_checkins_by(community, from, to, team).await?,
        hazards: readable_hazards(store, audience, period).await?,
    })
}

/// The period's figures (without its incidents' lines).
async fn totals(
    store: &Store,
    audience: &Audience,
    period: &Period,
    now: i64,
    facts: &Facts,
) -> Result<Totals, StoreError> {
    let community = audience.community.as_str();
    let team = audience.team.as_deref();
    let (from, to) = (period.from_ms, period.to_ms);
    let mut t = Totals {
        shifts: store.report_shifts(community, from, to, team).await?.len() as i64,
        patrols: store.report_patrol_count(community, from, to, team).await?,
        checkins: facts.checkins.iter().map(|c| c.n).sum(),
        ..Totals::default()
    };
    for c in &facts.posts {
        t.posts.add(&c.status, c.n);
    }
    let end = to.min(now);
    let within = |x: Option<i64>| x.is_some_and(|x| (from..to).contains(&x));
    for h in &facts.hazards {
        let reported = h.row.reported_at >= from;
        t.hazards_reported += i64::from(reported);
        t.hazards_rectified += i64::from(within(h.row.rectified_at));
        t.hazards_closed += i64::from(within(h.row.closed_at));
        t.hazards_overdue += i64::from(overdue_at(h, end));
        t.hazards_recurring += i64::from(reported && h.row.recurring_of.is_some());
        t.major_hazards += i64::from(reported && h.row.severity == "major");
    }
    t.incidents = store
        .report_incidents(community, from, to)
        .await?
        .iter()
        .filter(|i| {
            may_read(
                &audience.reader,
                DocType::Incident,
                scope::parse(i.scope.as_deref()).as_ref(),
            )
        })
        .count() as i64;
    Ok(t)
}

async fn shift_part(
    store: &Store,
    community: &str,
    s: &ShiftRow,
    names: &Names,
    posts: &HashMap<&str, &PostRow>,
    issued_at: Option<i64>,
) -> Result<ShiftPart, StoreError> {
    let people = store
        .attendance_rows(community, &s.shift_key)
        .await?
        .into_iter()
        .map(|a| OnDuty {
            name: names.user(&a.user_id),
            leader: a.user_id == s.leader,
            user_id: a.user_id,
            signed_on_ms: a.signed_on,
            signed_off_ms: a.signed_off,
        })
        .collect();
    let slots = store
        .report_slots(community, &s.shift_key)
        .await?
        .into_iter()
        .map(|l| SlotLine {
            post: post_label(posts, &l.post_id),
            post_id: l.post_id,
            window_start_ms: l.window_start,
            deadline_ms: l.deadline,
            status: l.status,
            checkin_id: l.checkin_id,
            device_time_ms: l.device_time,
            received_at_ms: l.received_at,
            by: l.member.as_deref().map(|m| names.user(m)),
            proof: l.proof,
            late: is_late(l.received_at, issued_at),
        })
        .collect();
    Ok(ShiftPart {
        shift_key: s.shift_key.clone(),
        team: s.team.clone(),
        team_name: names.team(&s.team),
        starts_at_ms: s.starts_at,
        ends_at_ms: s.ends_at,
        people,
        slots,
    })
}

async fn incidents(
    store: &Store,
    audience: &Audience,
    period: &Period,
    names: &Names,
    posts: &HashMap<&str, &PostRow>,
    issued_at: Option<i64>,
) -> Result<Vec<IncidentLine>, StoreError> {
    let rows: Vec<_> = store
        .report_incidents(&audience.community, period.from_ms, period.to_ms)
        .await?
        .into_iter()
        .filter(|i| {
            may_read(
                &audience.reader,
                DocType::Incident,
                scope::parse(i.scope.as_deref()).as_ref(),
            )
        })
        .collect();
    let ids: Vec<DocId> = rows
        .iter()
        .filter_map(|r| DocId::new(r.row.doc_id.clone()).ok())
        .collect();
    let docs = store.load_docs(&audience.community, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|i| {
            let doc = DocId::new(i.row.doc_id.clone())
                .ok()
                .and_then(|id| docs.get(&id))
                .and_then(|d| automerge::Automerge::load(&d.chunks.concat()).ok())
                .and_then(|d| validate::read_incident(&d).ok());
            IncidentLine {
                doc_id: i.row.doc_id.clone(),
                occurred_at_ms: i.row.occurred_at,
                place: doc
                    .as_ref()
                    .map(|d| place_label(posts, &d.place))
                    .unwrap_or_default(),
                cause: doc.as_ref().map(|d| d.cause.clone()).unwrap_or_default(),
                outcome: doc.as_ref().map(|d| d.outcome.clone()).unwrap_or_default(),
                reporter: names.user(&i.row.reporter),
                state: i.row.state.clone(),
                acknowledged_at_ms: i.row.acknowledged_at,
                late: is_late(Some(i.received_at), issued_at),
            }
        })
        .collect())
}

/// What an alert is about, from its subject: a post's window or a document.
fn alert_subject(subject: &str, posts: &HashMap<&str, &PostRow>) -> Label {
    // `slot:<shift key>:<route>:<post>:<window start>`, or
    // `checkin:<patrol>:<check-in>:<post>` (a flagged check-in)
    let parts: Vec<&str> = subject.split(':').collect();
    match parts.as_slice() {
        ["slot", .., post, _] | ["checkin", _, _, post] => post_label(posts, post),
        _ => Label {
            zh: subject.to_owned(),
            en: subject.to_owned(),
        },
    }
}

async fn alerts(
    store: &Store,
    audience: &Audience,
    period: &Period,
    names: &Names,
    posts: &HashMap<&str, &PostRow>,
) -> Result<Vec<AlertLine>, StoreError> {
    let shift_prefix = format!("slot:{}:", period.key);
    Ok(store
        .report_alerts(&audience.community, period.from_ms, period.to_ms)
        .await?
        .into_iter()
        // A leader's report holds their shift's alerts and those addressed
        // to them.
        .filter(|a| {
            audience.team.is_none()
                || a.subject.starts_with(&shift_prefix)
                || a.recipients
                    .contains(&format!("\"{}\"", audience.reader.user_id))
        })
        .map(|a| AlertLine {
            subject: alert_subject(&a.subject, posts),
            kind: a.kind,
            raised_at_ms: a.raised_at,
            acked_at_ms: a.acked_at,
            acked_by: a.acked_by.as_deref().map(|u| names.user(u)),
        })
        .collect())
}

async fn members(
    store: &Store,
    audience: &Audience,
    period: &Period,
    names: &Names,
    facts: &Facts,
) -> Result<Vec<MemberDuty>, StoreError> {
    let community = audience.community.as_str();
    let team = audience.team.as_deref();
    let (from, to) = (period.from_ms, period.to_ms);
    let checkins: HashMap<String, i64> = facts
        .checkins
        .iter()
        .map(|r| (r.user_id.clone(), r.n))
        .collect();
    let (mut decided, mut on_time): (HashMap<String, i64>, HashMap<String, i64>) =
        Default::default();
    for c in &facts.posts {
        if let Some(by) = &c.decided_by {
            *decided.entry(by.clone()).or_default() += c.n;
            if c.status == "on_time" {
                *on_time.entry(by.clone()).or_default() += c.n;
            }
        }
    }
    let mut reported: HashMap<String, i64> = HashMap::new();
    for h in &facts.hazards {
        if h.row.reported_at >= from {
            *reported.entry(h.row.reporter.clone()).or_default() += 1;
        }
    }
    let duty = store.report_duty(community, from, to, team).await?;
    let mut people: BTreeSet<String> = duty.iter().map(|d| d.user_id.clone()).collect();
    people.extend(checkins.keys().cloned());
    let duty: HashMap<String, (i64, i64)> = duty
        .into_iter()
        .map(|d| (d.user_id, (d.rostered, d.attended)))
        .collect();
    let get = |m: &HashMap<String, i64>, u: &str| m.get(u).copied().unwrap_or(0);
    let mut out: Vec<MemberDuty> = people
        .into_iter()
        .map(|u| {
            let (rostered, attended) = duty.get(&u).copied().unwrap_or((0, 0));
            MemberDuty {
                name: names.user(&u),
                shifts_rostered: rostered,
                shifts_attended: attended,
                checkins: get(&checkins, &u),
                posts_decided: get(&decided, &u),
                posts_on_time: get(&on_time, &u),
                hazards_reported: get(&reported, &u),
                user_id: u,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.user_id.cmp(&b.user_id)));
    Ok(out)
}
