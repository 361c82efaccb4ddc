//! The demo community's documents (docs/demo.md): a route per team, rosters
//! for the weeks around today, a patrol two nights ago with one missed post,
//! and hazards in every state. Written by the server, attributed to the
//! fictional demo users, valid under the same rules as anything a phone sends.

use fieldsync_proto::model::Role;
use fieldsync_proto::model::breadcrumbs::{self, Breadcrumb};
use fieldsync_proto::model::duty::{self, DEFAULT_TIME_ZONE, RouteDoc};
use fieldsync_proto::model::hazard::{self, HazardAction, HazardEvent, Severity};
use fieldsync_proto::model::hazard::{HazardDoc, HazardPlace};
use fieldsync_proto::model::patrol::{CheckIn, Fix, PatrolDoc, Proof};
use fieldsync_proto::model::validate::Checked;
use fieldsync_proto::{DocHeader, DocId, DocType};
use jiff::civil::Date;

use super::COMMUNITY_ID;
use crate::commit::{Committer, Outcome};
use crate::documents;

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

fn user(name: &str) -> String {
    format!("user-{name}")
}

fn device(name: &str) -> String {
    format!("demo-device-{name}")
}

/// A team's route: both stairwells of its buildings, floors 5 and 9, every
/// two hours between 20:00 and 02:00.
fn route(team: &str, buildings: &[u16]) -> RouteDoc {
    let posts = buildings
        .iter()
        .flat_map(|b| (1..=2).flat_map(move |u| [5, 9].map(|f| format!("post-b{b}-u{u}-f{f}"))))
        .collect();
    RouteDoc {
        name: format!("Stairwells of buildings {buildings:?}"),
        team: team.to_owned(),
        posts,
        ordered: false,
        interval_min: 120,
        active_from: "20:00".into(),
        active_until: "02:00".into(),
        grace_min: duty::DEFAULT_GRACE_MIN,
    }
}

fn monday_of(d: Date) -> Date {
    d - jiff::Span::new().days(i64::from(d.weekday().to_monday_zero_offset()))
}

/// Hazard events from `steps` (action, who, role), each after the one before.
fn events(id: &str, start: i64, steps: &[(HazardAction, &str, Role)]) -> Vec<HazardEvent> {
    let mut prev = None;
    steps
        .iter()
        .enumerate()
        .map(|(i, (action, who, role))| {
            let e = HazardEvent {
                id: format!("{id}-e{i}"),
                prev: prev.clone(),
                at_ms: start + i as i64 * 6 * HOUR,
                by: user(who),
                role: *role,
                device: device(who),
                action: action.clone(),
                note: String::new(),
                photos: Vec::new(),
            };
            prev = Some(e.id.clone());
            e
        })
        .collect()
}

/// The demo hazards: one in every state, and a major one reported three
/// hours ago that nobody has acknowledged (it escalates).
fn hazards(now: i64) -> Vec<(String, HazardDoc)> {
    use HazardAction as A;
    let report = |severity| A::Report {
        severity,
        immediate: false,
    };
    let assign = A::Assign {
        unit: "Property management (物业)".into(),
        person: user("demo-grid"),
        deadline_ms: now + 5 * 24 * HOUR,
    };
    let vol = ("demo-volunteer", Role::Volunteer);
    let leader = ("demo-leader", Role::Leader);
    let grid = ("demo-grid", Role::GridWorker);
    let office = ("demo-office", Role::Office);
    let full = [
        (report(Severity::General), vol),
        (assign, leader),
        (A::StartRectifying, grid),
        (A::Rectify, grid),
        (A::Verify, leader),
        (A::Close, office),
        (A::Reopen, leader),
    ];
    let cases = [
        (
            "reported",
            "ebike",
            "post-b1-u1-f5",
            1,
            "E-bike charging on a fly line from the 5th floor",
        ),
        (
            "assigned",
            "exit_blocked",
            "post-b1-u2-f9",
            2,
            "Fire exit blocked by furniture",
        ),
        (
            "rectifying",
            "exit_sign",
            "post-b2-u1-f5",
            3,
            "Exit sign dark",
        ),
        (
            "rectified",
            "wiring",
            "post-b2-u2-f9",
            4,
            "Exposed wiring at the meter box",
        ),
        (
            "verified",
            "extinguisher",
            "post-b3-u1-f5",
            5,
            "Extinguisher expired",
        ),
        (
            "closed",
            "security_door",
            "post-b3-u2-f9",
            6,
            "Security door does not latch",
        ),
        (
            "reopened",
            "fire_lane",
            "post-b4-u1-f5",
            7,
            "Cars parked on the fire lane again",
        ),
    ];
    let mut out: Vec<(String, HazardDoc)> = cases
        .iter()
        .map(|(state, category, post, steps, description)| {
            let id = format!("hazard-demo-{state}");
            let steps: Vec<_> = full[..*steps]
                .iter()
                .map(|(a, (who, role))| (a.clone(), *who, *role))
                .collect();
            let doc = HazardDoc {
                category: (*category).into(),
                severity: Severity::General,
                description: (*description).into(),
                place: HazardPlace {
                    post_id: Some((*post).into()),
                    ..HazardPlace::default()
                },
                photos: Vec::new(),
                events: events(&id, now - 10 * 24 * HOUR, &steps),
            };
            (id, doc)
        })
        .collect();
    let id = "hazard-demo-major".to_owned();
    out.push((
        id.clone(),
        HazardDoc {
            category: "gas".into(),
            severity: Severity::Major,
            description: "LPG cylinders stored in a ground-floor rental".into(),
            place: HazardPlace {
                post_id: Some("post-b5-u1-f5".into()),
                ..HazardPlace::default()
            },
            photos: Vec::new(),
            events: events(
                &id,
                now - 3 * HOUR,
                &[(report(Severity::Major), vol.0, vol.1)],
            ),
        },
    ));
    out
}

/// Writes the demo documents.
pub async fn seed(commits: &Committer, now: i64) -> anyhow::Result<()> {
    let store = commits.store();
    let tz = duty::time_zone(DEFAULT_TIME_ZONE)?;
    let today = jiff::Timestamp::from_millisecond(now)?
        .to_zoned(tz.clone())
        .date();
    let night = today - jiff::Span::new().days(2);
    let posts = store.posts(COMMUNITY_ID, None).await?;
    let keys = store.tag_keys(COMMUNITY_ID).await?;
    let key = crate::tags::current_key(&keys).ok_or_else(|| anyhow::anyhow!("no tag key"))?;
    let mut docs: Vec<(DocType, String, serde_json::Value, Checked)> = Vec::new();

    let teams = [
        ("team-1", vec![1, 2]),
        ("team-2", vec![3]),
        ("team-3", vec![4, 5, 6]),
    ];
    for (team, buildings) in &teams {
        let r = route(team, buildings);
        docs.push((
            DocType::Route,
            format!("route-{team}"),
            serde_json::to_value(&r)?,
            Checked::Route(r),
        ));
    }
    let weeks: std::collections::BTreeSet<Date> = [monday_of(night), monday_of(today)].into();
    for week in weeks {
        for (team, _) in &teams {
            let members: Vec<String> = if *team == "team-1" {
                ["demo-volunteer", "demo-volunteer-2", "demo-guard"]
                    .map(user)
                    .to_vec()
            } else {
                Vec::new()
            };
            let mut roster = duty::default_week(
                team,
                &week.to_string(),
                &[user("demo-leader")],
                &members,
                &[format!("route-{team}")],
            )?;
            // Team 1 from the night of the demo patrol, the others from
            // today; the night in between was a night off.
            roster.shifts.retain(|s| {
                s.date
                    .parse::<Date>()
                    .is_ok_and(|d| d >= today || (*team == "team-1" && d == night))
            });
            if roster.shifts.is_empty() {
                continue;
            }
            docs.push((
                DocType::Roster,
                format!("roster-{team}-{week}"),
                serde_json::to_value(&roster)?,
                Checked::Roster(roster),
            ));
        }
    }

    // Two nights ago, team 1 walked its route; the last round skipped 2-2 9F.
    let route1 = route("team-1", &[1, 2]);
    let at = |h: i8, m: i8, next_day: bool| -> anyhow::Result<i64> {
        let d = if next_day { night.tomorrow()? } else { night };
        Ok(d.at(h, m, 0, 0)
            .to_zoned(tz.clone())?
            .timestamp()
            .as_millisecond())
    };
    let started = at(19, 50, false)?;
    let mut checkins = Vec::new();
    for (round, (h, next_day)) in [(20, false), (22, false), (0, true)]
        .into_iter()
        .enumerate()
    {
        for (i, post_id) in route1.posts.iter().enumerate() {
            if round == 2 && post_id == "post-b2-u2-f9" {
                continue;
            }
            let post = posts.iter().find(|p| &p.id == post_id);
            let payload = post
                .and_then(|p| crate::tags::payload(COMMUNITY_ID, p, key))
                .ok_or_else(|| anyhow::anyhow!("no demo post {post_id}"))?;
            checkins.push(CheckIn {
                id: format!("demo-checkin-{round}-{i}"),
                post_id: post_id.clone(),
                proof: Proof::Tag { payload },
                at_ms: at(h, 10, next_day)? + i as i64 * 4 * MINUTE,
                fix: post.and_then(|p| {
                    Some(Fix {
                        lat: p.lat?,
                        lon: p.lon?,
                        accuracy_m: 8.0,
                    })
                }),
                by: user("demo-volunteer"),
                device: device("demo-volunteer"),
                note: String::new(),
                photos: Vec::new(),
                corrects: None,
            });
        }
    }
    let trail: Vec<Breadcrumb> = (0..120)
        .map(|i| Breadcrumb {
            at_ms: started + i * 3 * MINUTE,
            lat: 31.2004 + (i % 20) as f64 * 0.00004,
            lon: 121.4003 + (i % 7) as f64 * 0.00004,
            accuracy_m: 10.0,
        })
        .collect();
    let patrol = PatrolDoc {
        team: "team-1".into(),
        route: "route-team-1".into(),
        started_by: user("demo-volunteer"),
        started_at_ms: started,
        ended_at_ms: Some(at(2, 30, true)?),
        members: vec![user("demo-volunteer")],
        breadcrumbs: trail
            .chunks(breadcrumbs::MAX_POINTS.min(60))
            .map(breadcrumbs::encode)
            .collect::<Result<_, _>>()?,
        checkins,
        notes: Vec::new(),
    };
    docs.push((
        DocType::Patrol,
        format!("patrol-demo-{night}"),
        serde_json::to_value(&patrol)?,
        Checked::Patrol {
            new_checkins: patrol.checkins.clone(),
            doc: patrol,
        },
    ));

    for (id, h) in hazards(now) {
        hazard::check_append(&[], &h.events)
            .map_err(|e| anyhow::anyhow!("demo hazard {id}: {e}"))?;
        docs.push((
            DocType::Hazard,
            id,
            serde_json::to_value(&h)?,
            Checked::Hazard(h),
        ));
    }

    let writes = docs
        .into_iter()
        .map(|(doc_type, id, json, checked)| {
            let id = DocId::new(id).expect("demo ids are valid");
            documents::created(DocHeader::new(id, doc_type), &json, checked)
        })
        .collect();
    for outcome in commits.commit(COMMUNITY_ID, writes).await? {
        if !matches!(outcome, Outcome::Stored { .. }) {
            anyhow::bail!("a demo document was not stored: {outcome:?}");
        }
    }
    Ok(())
}
