//! Reports through the real server: a night of two teams whose posts were
//! checked in on time, late, by hand or not at all, hazards in several
//! states and an incident, all committed as documents; the daily, weekly and
//! monthly reports must hold the counts this test computes from what it
//! made. Then the exports: the CSV read by Python's csv module, the XLSX by
//! openpyxl. Then the issue: a check-in that arrives after the daily report
//! was issued shows in the later view marked late, and the issued version
//! does not change. A leader reads their team's figures only; a volunteer
//! reads none.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fieldsync_proto::model::Role;
use fieldsync_proto::model::duty::{RosterDoc, RouteDoc, Shift};
use fieldsync_proto::model::hazard::{HazardAction, HazardDoc, HazardEvent, HazardPlace, Severity};
use fieldsync_proto::model::incident::{IncidentAction, IncidentDoc, IncidentEvent};
use fieldsync_proto::model::patrol::{CheckIn, PatrolDoc, Proof};
use fieldsync_proto::model::validate::Checked;
use fieldsync_proto::{DocHeader, DocId, DocType};
use fieldsync_server::commit::Outcome;
use jiff::civil::{Date, Weekday};
use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Backend, TestServer, get_with_token, login_json, printed_payload};

const COMMUNITY: &str = "demo";
const MINUTE: i64 = 60_000;

fn tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()
}

/// A night some days back whose shift (18:00 → 08:00) lies in one week
/// (Thursday to Wednesday) and one month, so every report of those periods
/// holds the whole night.
fn the_night() -> Date {
    let today = jiff::Timestamp::now().to_zoned(tz()).date();
    let mut d = today - jiff::Span::new().days(2);
    loop {
        let next = d.tomorrow().unwrap();
        if next.weekday() != Weekday::Thursday && next.day() != 1 {
            return d;
        }
        d = d.yesterday().unwrap();
    }
}

fn at(d: Date, h: i8, m: i8) -> i64 {
    d.at(h, m, 0, 0)
        .to_zoned(tz())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

fn user(name: &str) -> String {
    format!("user-{name}")
}

async fn put(server: &TestServer, id: &str, doc_type: DocType, checked: Checked) {
    let json = match &checked {
        Checked::Route(d) => serde_json::to_value(d),
        Checked::Roster(d) => serde_json::to_value(d),
        Checked::Patrol { doc, .. } => serde_json::to_value(doc),
        Checked::Hazard(d) => serde_json::to_value(d),
        Checked::Incident(d) => serde_json::to_value(d),
        other => panic!("not a document this test writes: {other:?}"),
    }
    .unwrap();
    let header = DocHeader::new(DocId::new(id).unwrap(), doc_type);
    let outcomes = server
        .state
        .commits
        .commit(
            COMMUNITY,
            vec![fieldsync_server::documents::created(header, &json, checked)],
        )
        .await
        .unwrap();
    assert!(
        matches!(outcomes[0], Outcome::Stored { .. }),
        "{id}: {outcomes:?}"
    );
}

fn route(team: &str, posts: &[&str]) -> RouteDoc {
    RouteDoc {
        name: format!("Route of {team}"),
        team: team.into(),
        posts: posts.iter().map(|p| p.to_string()).collect(),
        ordered: false,
        interval_min: 120,
        active_from: "20:00".into(),
        active_until: "02:00".into(),
        grace_min: 15,
    }
}

fn roster(team: &str, night: Date, members: &[&str]) -> RosterDoc {
    let monday = night - jiff::Span::new().days(i64::from(night.weekday().to_monday_zero_offset()));
    RosterDoc {
        team: team.into(),
        week_of: monday.to_string(),
        time_zone: "Asia/Shanghai".into(),
        shifts: vec![Shift {
            id: "night".into(),
            date: night.to_string(),
            start: "18:00".into(),
            end: "08:00".into(),
            leader: user("demo-leader"),
            deputy: None,
            members: members.iter().map(|m| user(m)).collect(),
            routes: vec![format!("route-{team}")],
        }],
    }
}

/// Check-ins of `who` at `(post, time, by tag)`.
async fn checkins(server: &TestServer, who: &str, visits: &[(&str, i64, bool)]) -> Vec<CheckIn> {
    let mut out = Vec::new();
    for (i, (post, at_ms, tag)) in visits.iter().enumerate() {
        out.push(CheckIn {
            id: format!("{who}-{i}-{at_ms}"),
            post_id: post.to_string(),
            proof: if *tag {
                Proof::Tag {
                    payload: printed_payload(server, post).await,
                }
            } else {
                Proof::Manual {
                    reason: "标签损坏 / tag damaged".into(),
                }
            },
            at_ms: *at_ms,
            fix: None,
            by: user(who),
            device: format!("demo-device-{who}"),
            note: String::new(),
            photos: Vec::new(),
            corrects: None,
        });
    }
    out
}

fn patrol(team: &str, who: &str, started: i64, checkins: Vec<CheckIn>) -> Checked {
    let doc = PatrolDoc {
        team: team.into(),
        route: format!("route-{team}"),
        started_by: user(who),
        started_at_ms: started,
        ended_at_ms: checkins.iter().map(|c| c.at_ms).max().map(|t| t + MINUTE),
        members: vec![user(who)],
        checkins: checkins.clone(),
        breadcrumbs: Vec::new(),
        notes: Vec::new(),
    };
    Checked::Patrol {
        new_checkins: checkins,
        doc,
    }
}

fn hazard(id: &str, severity: Severity, post: &str, start: i64, steps: &[HazardAction]) -> Checked {
    let mut prev = None;
    let mut events = vec![];
    let roles = |a: &HazardAction| match a {
        HazardAction::Report { .. } => ("demo-volunteer", Role::Volunteer),
        HazardAction::Assign { .. } | HazardAction::Verify => ("demo-leader", Role::Leader),
        HazardAction::Close => ("demo-office", Role::Office),
        _ => ("demo-grid", Role::GridWorker),
    };
    for (i, action) in steps.iter().enumerate() {
        let (who, role) = roles(action);
        let e = HazardEvent {
            id: format!("{id}-e{i}"),
            prev: prev.clone(),
            at_ms: start + i as i64 * 20 * MINUTE,
            by: user(who),
            role,
            device: format!("demo-device-{who}"),
            action: action.clone(),
            note: String::new(),
            photos: Vec::new(),
        };
        prev = Some(e.id.clone());
        events.push(e);
    }
    Checked::Hazard(HazardDoc {
        category: "ebike".into(),
        severity,
        description: "电动车楼道充电 / e-bike charging in the stairwell".into(),
        place: HazardPlace {
            post_id: Some(post.into()),
            ..HazardPlace::default()
        },
        photos: Vec::new(),
        events,
    })
}

/// What the test made, counted by the test.
struct Expected {
    on_time: i64,
    late: i64,
    missed: i64,
    unverified: i64,
    checkins: i64,
}

const T1: [&str; 4] = [
    "post-b1-u1-f5",
    "post-b1-u1-f9",
    "post-b1-u2-f5",
    "post-b1-u2-f9",
];
const T2: [&str; 2] = ["post-b3-u1-f5", "post-b3-u1-f9"];

/// Team 1 (4 posts × 3 windows): two full rounds on time; in the last round
/// one post on time, one by hand, one missed, one late (after 02:00, in the
/// grace). Team 2 (2 posts × 3 windows): the middle round missed.
async fn make_the_night(server: &TestServer, night: Date) -> (Expected, Expected) {
    let next = night.tomorrow().unwrap();
    put(
        server,
        "route-team-1",
        DocType::Route,
        Checked::Route(route("team-1", &T1)),
    )
    .await;
    put(
        server,
        "route-team-2",
        DocType::Route,
        Checked::Route(route("team-2", &T2)),
    )
    .await;
    let mut visits: Vec<(&str, i64, bool)> = Vec::new();
    for (round, (d, h)) in [(night, 20), (night, 22)].into_iter().enumerate() {
        for (i, p) in T1.iter().enumerate() {
            visits.push((
                p,
                at(d, h, 10) + (i as i64 + round as i64) * 4 * MINUTE,
                true,
            ));
        }
    }
    visits.push((T1[0], at(next, 0, 10), true));
    visits.push((T1[1], at(next, 0, 20), false));
    visits.push((T1[3], at(next, 2, 5), true));
    let c1 = checkins(server, "demo-volunteer", &visits).await;
    put(
        server,
        "patrol-team-1",
        DocType::Patrol,
        patrol("team-1", "demo-volunteer", at(night, 19, 55), c1),
    )
    .await;
    let c2 = checkins(
        server,
        "demo-volunteer-2",
        &[
            (T2[0], at(night, 20, 30), true),
            (T2[1], at(night, 20, 40), true),
            (T2[0], at(next, 0, 30), true),
            (T2[1], at(next, 0, 40), true),
        ],
    )
    .await;
    put(
        server,
        "patrol-team-2",
        DocType::Patrol,
        patrol("team-2", "demo-volunteer-2", at(night, 20, 0), c2),
    )
    .await;

    let report = HazardAction::Report {
        severity: Severity::General,
        immediate: false,
    };
    let assign = HazardAction::Assign {
        unit: "物业 / property management".into(),
        person: user("demo-grid"),
        deadline_ms: at(next, 12, 0),
    };
    put(
        server,
        "hazard-report-reported",
        DocType::Hazard,
        hazard(
            "hz1",
            Severity::General,
            T1[0],
            at(night, 21, 0),
            std::slice::from_ref(&report),
        ),
    )
    .await;
    put(
        server,
        "hazard-report-rectified",
        DocType::Hazard,
        hazard(
            "hz2",
            Severity::General,
            T1[1],
            at(night, 21, 30),
            &[
                report.clone(),
                assign.clone(),
                HazardAction::StartRectifying,
                HazardAction::Rectify,
            ],
        ),
    )
    .await;
    put(
        server,
        "hazard-report-closed",
        DocType::Hazard,
        hazard(
            "hz3",
            Severity::Major,
            T1[2],
            at(night, 22, 0),
            &[
                HazardAction::Report {
                    severity: Severity::Major,
                    immediate: false,
                },
                assign,
                HazardAction::Rectify,
                HazardAction::Verify,
                HazardAction::Close,
            ],
        ),
    )
    .await;
    let occurred = at(night, 23, 30);
    put(
        server,
        "incident-report-night",
        DocType::Incident,
        Checked::Incident(IncidentDoc {
            occurred_at_ms: occurred,
            place: HazardPlace {
                post_id: Some(T1[3].into()),
                ..HazardPlace::default()
            },
            persons: "两名住户 / two residents".into(),
            cause: "楼道争执 / an argument in the stairwell".into(),
            handling: "劝离 / talked down".into(),
            outcome: "已平息 / calmed".into(),
            reporter: user("demo-volunteer"),
            photos: Vec::new(),
            events: vec![IncidentEvent {
                id: "inc-e0".into(),
                at_ms: occurred + 5 * MINUTE,
                by: user("demo-volunteer"),
                role: Role::Volunteer,
                device: "demo-device-demo-volunteer".into(),
                action: IncidentAction::Report,
                note: String::new(),
            }],
        }),
    )
    .await;
    // The rosters last: a shift's report is issued once its shift exists and
    // the engine has evaluated it, so by then everything above is in.
    put(
        server,
        "roster-team-1-night",
        DocType::Roster,
        Checked::Roster(roster("team-1", night, &["demo-volunteer"])),
    )
    .await;
    put(
        server,
        "roster-team-2-night",
        DocType::Roster,
        Checked::Roster(roster("team-2", night, &["demo-volunteer-2"])),
    )
    .await;
    (
        Expected {
            on_time: 8 + 1,
            late: 1,
            missed: 1,
            unverified: 1,
            checkins: 11,
        },
        Expected {
            on_time: 4,
            late: 0,
            missed: 2,
            unverified: 0,
            checkins: 4,
        },
    )
}

async fn token(server: &TestServer, username: &str) -> String {
    login_json(&server.url, username, &format!("reports-{username}")).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get_json(server: &TestServer, token: &str, path: &str) -> Value {
    let resp = get_with_token(&server.url, token, path).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.unwrap()
}

/// Waits until `done` holds for the JSON at `path`.
async fn until(
    server: &TestServer,
    token: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = get_json(server, token, path).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {v:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_posts(v: &Value, e: &Expected, what: &str) {
    let p = &v["posts"];
    assert_eq!(p["on_time"], e.on_time, "{what}: {p}");
    assert_eq!(p["late"], e.late, "{what}: {p}");
    assert_eq!(p["missed"], e.missed, "{what}: {p}");
    assert_eq!(p["unverified"], e.unverified, "{what}: {p}");
}

fn sum(a: &Expected, b: &Expected) -> Expected {
    Expected {
        on_time: a.on_time + b.on_time,
        late: a.late + b.late,
        missed: a.missed + b.missed,
        unverified: a.unverified + b.unverified,
        checkins: a.checkins + b.checkins,
    }
}

fn tools_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let python = root.join("target/tools/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run server/scripts/install-photo-test-tools.sh (it installs openpyxl)",
        python.display()
    );
    python
}

/// The CSV and XLSX as Python's csv module and openpyxl read them.
fn read_with_python(csv: &[u8], xlsx: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (c, x) = (dir.path().join("r.csv"), dir.path().join("r.xlsx"));
    std::fs::write(&c, csv).unwrap();
    std::fs::write(&x, xlsx).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/read_exports.py");
    let out = std::process::Command::new(tools_python())
        .arg(script)
        .arg(&c)
        .arg(&x)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value beside `item` in a sheet's rows (first column = item).
fn beside<'a>(rows: &'a Value, item: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == item || r[0]["value"] == item)
        .map(|r| &r[1])
        .unwrap_or_else(|| panic!("no row {item:?} in {rows}"))
}

/// Writes a downloaded zip to a temporary folder as `pack.zip`, unpacks it
/// (Python's zipfile) and checks it with `sha256sum -c SHA256SUMS`: the
/// folder and where it was unpacked.
fn unpack_and_check(zip: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pack.zip");
    std::fs::write(&path, zip).unwrap();
    let unpacked = dir.path().join("unpacked");
    let ok = std::process::Command::new(tools_python())
        .args(["-m", "zipfile", "-e"])
        .arg(&path)
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(ok.success(), "the zip unpacks");
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&unpacked)
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
    (dir, unpacked)
}

async fn download(server: &TestServer, token: &str, path: &str) -> Vec<u8> {
    let resp = get_with_token(&server.url, token, path).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.bytes().await.unwrap().to_vec()
}

async fn reports_count_what_happened(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let night = the_night();
    let (t1, t2) = make_the_night(&server, night).await;
    let office = token(&server, "demo-office").await;
    let shift = "roster-team-1-night/night";
    let daily = format!("/api/v1/reports/daily?period={shift}&format=json");

    // The daily report is issued once the engine has evaluated the shift.
    let issued = until(&server, &office, &daily, |v| !v["issued"].is_null()).await;
    assert_posts(&issued["totals"], &t1, "daily, team 1");
    assert_eq!(issued["totals"]["checkins"], t1.checkins);
    assert_eq!(issued["totals"]["hazards_reported"], 3);
    assert_eq!(issued["totals"]["incidents"], 1);
    let slots = issued["shifts"][0]["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 12, "4 posts × 3 windows");
    let late = slots.iter().find(|s| s["status"] == "late").unwrap();
    assert_eq!(late["post_id"], T1[3]);
    assert!(late["device_time_ms"].as_i64() < late["received_at_ms"].as_i64());
    let people = issued["shifts"][0]["people"].as_array().unwrap();
    let volunteer = people
        .iter()
        .find(|p| p["user_id"] == user("demo-volunteer"))
        .unwrap();
    assert_eq!(volunteer["signed_on_ms"], at(night, 19, 55));
    assert!(
        issued["incidents"][0]["cause"]
            .as_str()
            .unwrap()
            .contains("争执")
    );

    // The week and the month hold both teams.
    let thursday = {
        let mut d = night;
        while d.weekday() != Weekday::Thursday {
            d = d.tomorrow().unwrap();
        }
        d
    };
    let weekly = get_json(
        &server,
        &office,
        &format!("/api/v1/reports/weekly?period={thursday}&format=json"),
    )
    .await;
    let both = sum(&t1, &t2);
    assert_posts(&weekly["totals"], &both, "weekly");
    assert_eq!(weekly["totals"]["checkins"], both.checkins);
    assert_eq!(weekly["totals"]["shifts"], 2);
    assert_eq!(weekly["totals"]["hazards_reported"], 3);
    assert_eq!(weekly["totals"]["hazards_rectified"], 2);
    assert_eq!(weekly["totals"]["hazards_closed"], 1);
    let team2 = weekly["by_team"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "team-2")
        .unwrap();
    assert_posts(team2, &t2, "weekly, team 2");
    let month = night.strftime("%Y-%m").to_string();
    let monthly = get_json(
        &server,
        &office,
        &format!("/api/v1/reports/monthly?period={month}&format=json"),
    )
    .await;
    assert_posts(&monthly["totals"], &both, "monthly");
    assert_eq!(monthly["totals"]["major_hazards"], 1);
    let duty = |v: &Value, who: &str| -> Value {
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == user(who))
            .cloned()
            .unwrap_or_else(|| panic!("no {who} in {}", v["members"]))
    };
    let d1 = duty(&monthly, "demo-volunteer");
    assert_eq!(d1["shifts_rostered"], 1);
    assert_eq!(d1["shifts_attended"], 1);
    assert_eq!(d1["checkins"], t1.checkins);
    assert_eq!(d1["posts_decided"], t1.on_time + t1.late + t1.unverified);
    assert_eq!(d1["posts_on_time"], t1.on_time);
    assert_eq!(d1["hazards_reported"], 3);
    assert_eq!(duty(&monthly, "demo-leader")["shifts_rostered"], 2);

    // An empty month says so.
    let empty = download(
        &server,
        &office,
        "/api/v1/reports/monthly?period=2020-02&format=html",
    )
    .await;
    let empty = String::from_utf8(empty).unwrap();
    assert!(empty.contains("本月无重大情况"), "the zero report");
    let en = download(
        &server,
        &office,
        "/api/v1/reports/monthly?period=2020-02&format=html&lang=en",
    )
    .await;
    assert!(
        String::from_utf8(en)
            .unwrap()
            .contains("Nothing to report this month")
    );
    let full = download(
        &server,
        &office,
        &format!("/api/v1/reports/monthly?period={month}&format=html"),
    )
    .await;
    assert!(!String::from_utf8(full).unwrap().contains("本月无重大情况"));

    // The exports, as Python reads them.
    let csv = download(
        &server,
        &office,
        &format!("/api/v1/reports/monthly?period={month}&format=csv"),
    )
    .await;
    let xlsx = download(
        &server,
        &office,
        &format!("/api/v1/reports/monthly?period={month}&format=xlsx"),
    )
    .await;
    let read = read_with_python(&csv, &xlsx);
    assert_eq!(read["bom"], true, "UTF-8 with a byte-order mark");
    let csv_rows = &read["csv"];
    assert_eq!(csv_rows[0][0], "概况");
    assert_eq!(
        beside(csv_rows, "按时"),
        &Value::from(both.on_time.to_string())
    );
    assert_eq!(
        beside(csv_rows, "漏签"),
        &Value::from(both.missed.to_string())
    );
    let summary = &read["xlsx"]["1 概况"];
    let on_time = beside(summary, "按时");
    assert_eq!(on_time["type"], "int", "numbers are number cells");
    assert_eq!(on_time["value"], both.on_time);
    let from = beside(summary, "起");
    assert_eq!(from["type"], "datetime", "times are date cells");
    assert_eq!(
        from["value"],
        format!("{}T00:00:00", night.first_of_month()),
        "local midnight of the month's first day"
    );
    let members = read["xlsx"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(name, _)| name.ends_with("队员履职考核"))
        .map(|(_, rows)| rows.clone())
        .unwrap();
    assert!(
        members.as_array().unwrap().iter().any(|r| r[0]["value"]
            .as_str()
            .unwrap_or_default()
            .contains("Tang Xiaohe")),
        "{members}"
    );

    // A leader reads their team's figures; a volunteer reads no report.
    let leader = token(&server, "demo-leader").await;
    let theirs = get_json(
        &server,
        &leader,
        &format!("/api/v1/reports/weekly?period={thursday}&format=json"),
    )
    .await;
    assert_posts(&theirs["totals"], &t1, "the leader's weekly");
    assert_eq!(theirs["totals"]["shifts"], 1);
    assert_eq!(theirs["by_team"].as_array().unwrap().len(), 1);
    let leader_csv = String::from_utf8(
        download(
            &server,
            &leader,
            &format!("/api/v1/reports/weekly?period={thursday}&format=csv"),
        )
        .await,
    )
    .unwrap();
    assert!(
        !leader_csv.contains("夜巡二队"),
        "no team 2 rows: {leader_csv}"
    );
    let other = get_with_token(
        &server.url,
        &leader,
        "/api/v1/reports/daily?period=roster-team-2-night/night",
    )
    .await;
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "another team's shift"
    );
    let volunteer = token(&server, "demo-volunteer").await;
    let refused = get_with_token(&server.url, &volunteer, &daily).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A phone that was offline since the night syncs the missed post now.
    let sha = issued["issued"]["sha256"].as_str().unwrap().to_owned();
    let late_visit = checkins(
        &server,
        "demo-volunteer",
        &[(T1[2], at(night.tomorrow().unwrap(), 1, 0), true)],
    )
    .await;
    put(
        &server,
        "patrol-team-1-late",
        DocType::Patrol,
        patrol(
            "team-1",
            "demo-volunteer",
            at(night.tomorrow().unwrap(), 0, 55),
            late_visit,
        ),
    )
    .await;
    // (A live view may be read while the engine rewrites the shift's rows:
    // wait for both its totals and its lines.)
    let later = until(&server, &office, &daily, |v| {
        v["totals"]["posts"]["missed"] == 0
            && v["shifts"][0]["slots"]
                .as_array()
                .is_some_and(|s| s.iter().all(|s| s["status"] != "missed"))
    })
    .await;
    assert_eq!(later["totals"]["posts"]["on_time"], t1.on_time + 1);
    let marked: Vec<&Value> = later["shifts"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["late"] == true)
        .collect();
    assert_eq!(
        marked.len(),
        1,
        "only the late arrival is marked: {:#} issued {:#}",
        later["shifts"][0]["slots"],
        later["issued"]
    );
    assert_eq!(marked[0]["post_id"], T1[2]);
    assert_eq!(later["issued"]["sha256"], sha.as_str());
    let page = String::from_utf8(
        download(
            &server,
            &office,
            &format!("/api/v1/reports/daily?period={shift}"),
        )
        .await,
    )
    .unwrap();
    assert!(
        page.contains("出具后补报 1 条"),
        "the page says what came late"
    );
    let as_issued = get_json(&server, &office, &format!("{daily}&version=issued")).await;
    assert_eq!(
        as_issued["totals"], issued["totals"],
        "the issued version is unchanged"
    );
    assert_eq!(as_issued["shifts"], issued["shifts"]);
    assert_eq!(as_issued["issued"], issued["issued"]);
    let kept = server
        .state
        .store
        .issued_report(COMMUNITY, "daily", shift)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fieldsync_server::reports::issue::sha256_hex(kept.body.as_bytes()),
        sha
    );
    let leader_issued =
        get_with_token(&server.url, &leader, &format!("{daily}&version=issued")).await;
    assert_eq!(leader_issued.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}
both_backends!(
    reports_hold_the_counts_of_what_was_recorded,
    reports_count_what_happened
);

async fn bad_requests_are_refused_clearly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let office = token(&server, "demo-office").await;
    for (path, status, words) in [
        (
            "/api/v1/reports/weekly?period=2026-12-02",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Thursday",
        ),
        (
            "/api/v1/reports/monthly?period=2026-13",
            StatusCode::UNPROCESSABLE_ENTITY,
            "YYYY-MM",
        ),
        (
            "/api/v1/reports/monthly?format=pdf",
            StatusCode::BAD_REQUEST,
            "unknown variant `pdf`, expected one of `html`, `csv`, `xlsx`, `json`",
        ),
        (
            "/api/v1/reports/monthly?format=",
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "/api/v1/reports/monthly?lang=fr",
            StatusCode::BAD_REQUEST,
            "expected `zh-CN` or `en`",
        ),
        (
            "/api/v1/reports/yearly",
            StatusCode::BAD_REQUEST,
            "unknown variant `yearly`, expected one of `daily`, `weekly`, `monthly`",
        ),
        (
            "/api/v1/reports/daily?period=no-such-shift",
            StatusCode::NOT_FOUND,
            "no such shift",
        ),
        (
            "/api/v1/reports/monthly?period=2020-02&version=issued",
            StatusCode::NOT_FOUND,
            "not been issued",
        ),
    ] {
        let resp = get_with_token(&server.url, &office, path).await;
        assert_eq!(resp.status(), status, "{path}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(words), "{path}: {body}");
    }
    server.stop().await;
}
both_backends!(
    report_requests_that_make_no_sense_get_a_clear_error,
    bad_requests_are_refused_clearly
);

/// The dashboard's export form sends every field, the blank ones too: a
/// blank field filters nothing there, while the API refuses it (above).
async fn the_export_form_reads_blank_fields_as_absent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let session = crate::web_client::session_of(&server.url, "demo-office").await;
    let form = crate::web_client::get_as(
        &server.url,
        &session,
        "/exports?what=checkins&from=&to=&format=&team=",
    )
    .await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(
        form.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let refused = crate::web_client::get_as(
        &server.url,
        &session,
        "/exports?what=checkins&from=2026-12-09&to=2026-12-01&format=csv",
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}
both_backends!(
    the_export_form_reads_blank_fields_as_absent,
    the_export_form_reads_blank_fields_as_absent
);

async fn exports_hold_what_the_reader_may_read(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let night = the_night();
    let (t1, t2) = make_the_night(&server, night).await;
    let office = token(&server, "demo-office").await;
    let span = format!("from={night}&to={}", night.tomorrow().unwrap());
    // The engine evaluates the shifts first.
    until(
        &server,
        &office,
        &format!("/api/v1/exports/compliance?{span}&format=json"),
        |v| v.as_array().is_some_and(|a| a.len() == 18),
    )
    .await;

    let csv = download(
        &server,
        &office,
        &format!("/api/v1/exports/checkins?{span}"),
    )
    .await;
    let xlsx = download(
        &server,
        &office,
        &format!("/api/v1/exports/checkins?{span}&format=xlsx"),
    )
    .await;
    let read = read_with_python(&csv, &xlsx);
    assert_eq!(read["bom"], true);
    let rows = read["csv"].as_array().unwrap();
    assert_eq!(rows[0][0], "手机时间", "the header, in Chinese");
    assert_eq!(rows.len() as i64, 1 + t1.checkins + t2.checkins, "{rows:?}");
    assert!(
        rows.iter().any(|r| r[6] == "手动签到"),
        "the manual check-in"
    );
    let sheet = read["xlsx"].as_object().unwrap().values().next().unwrap();
    let sheet = sheet.as_array().unwrap();
    assert_eq!(sheet.len(), rows.len(), "the same rows in the XLSX");
    assert_eq!(
        sheet[1][0]["type"], "datetime",
        "device times are date cells"
    );
    assert_eq!(sheet[1][2]["value"], rows[1][2], "the same post");

    let hazards = get_json(
        &server,
        &office,
        "/api/v1/exports/hazards?format=json&state=closed",
    )
    .await;
    assert_eq!(hazards.as_array().unwrap().len(), 1, "{hazards}");
    assert_eq!(hazards[0]["隐患编号"], "hazard-report-closed");
    let all = get_json(&server, &office, "/api/v1/exports/hazards?format=json").await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let incidents = get_json(
        &server,
        &office,
        &format!("/api/v1/exports/incidents?{span}&format=json&lang=en"),
    )
    .await;
    assert_eq!(incidents.as_array().unwrap().len(), 1);
    assert_eq!(incidents[0]["State"], "Open");

    // A leader's exports hold their team's rows only; a volunteer gets none.
    let leader = token(&server, "demo-leader").await;
    let theirs = get_json(
        &server,
        &leader,
        &format!("/api/v1/exports/checkins?{span}&format=json&team=team-2"),
    )
    .await;
    assert_eq!(theirs.as_array().unwrap().len() as i64, t1.checkins);
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["巡逻队"].as_str().unwrap().contains("夜巡一队")),
        "{theirs}"
    );
    let board = get_json(
        &server,
        &leader,
        &format!("/api/v1/exports/compliance?{span}&format=json"),
    )
    .await;
    assert_eq!(
        board.as_array().unwrap().len(),
        12,
        "team 1's 4 posts × 3 windows"
    );
    let volunteer = token(&server, "demo-volunteer").await;
    let refused = get_with_token(
        &server.url,
        &volunteer,
        &format!("/api/v1/exports/checkins?{span}"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let bad = get_with_token(
        &server.url,
        &office,
        "/api/v1/exports/checkins?from=2026-12-09&to=2026-12-01",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("from must not be after to")
    );
    // An empty value is not an absent one: the API says what is wrong.
    for (query, words) in [("to=", "is not a date"), ("format=", "invalid_query")] {
        let bad = get_with_token(
            &server.url,
            &office,
            &format!("/api/v1/exports/checkins?{query}"),
        )
        .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{query}");
        let body = bad.text().await.unwrap();
        assert!(body.contains(words), "{query}: {body}");
    }
    server.stop().await;
}
both_backends!(
    exports_hold_the_rows_the_reader_may_read,
    exports_hold_what_the_reader_may_read
);

async fn the_evidence_pack_checks_out(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let night = the_night();
    make_the_night(&server, night).await;
    let office = token(&server, "demo-office").await;
    let daily = "/api/v1/reports/daily?period=roster-team-1-night/night&format=json";
    until(&server, &office, daily, |v| !v["issued"].is_null()).await;
    let month = night.strftime("%Y-%m").to_string();
    let auditor = token(&server, "demo-auditor").await;
    let pack = download(
        &server,
        &auditor,
        &format!("/api/v1/reports/evidence/{month}"),
    )
    .await;
    let (dir, unpacked) = unpack_and_check(&pack);
    let zip = dir.path().join("pack.zip");

    // The server's own check.
    let verify = |path: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync-test-server"))
            .arg("verify-evidence")
            .arg(path)
            .output()
            .unwrap()
    };
    let out = verify(&zip);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("ok: every file"), "{said}");

    // The documented procedure with standard tools (unzip, sha256sum -c)
    // passed in unpack_and_check.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for expected in [
        "issued/daily-roster-team-1-night_night.json",
        "exports/checkins.csv",
        "exports/compliance.csv",
        "exports/incidents.csv",
        "exports/hazards.csv",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    let checkins = std::fs::read_to_string(unpacked.join("exports/checkins.csv")).unwrap();
    assert_eq!(
        checkins.lines().count(),
        1 + 11 + 4,
        "every check-in of the month"
    );

    // A forged issued report with fresh SHA256SUMS fools sha256sum, not the check.
    let forged = dir.path().join("forged.zip");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/tamper_pack.py");
    let tampered = std::process::Command::new(tools_python())
        .arg(script)
        .arg(&zip)
        .arg(&forged)
        .output()
        .unwrap();
    assert!(
        tampered.status.success(),
        "{}",
        String::from_utf8_lossy(&tampered.stderr)
    );
    let out = verify(&forged);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "the forgery is caught: {said}");
    assert!(
        said.contains("MISMATCH") && said.contains("as issued"),
        "{said}"
    );

    // Leaders and volunteers get no pack.
    for who in ["demo-leader", "demo-volunteer"] {
        let t = token(&server, who).await;
        let resp = get_with_token(
            &server.url,
            &t,
            &format!("/api/v1/reports/evidence/{month}"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
    }
    server.stop().await;
}
both_backends!(
    the_evidence_pack_is_verified_and_a_forgery_is_caught,
    the_evidence_pack_checks_out
);

async fn one_persons_data_is_exported(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.compliance_tick_secs = 1).await;
    let night = the_night();
    let (t1, _) = make_the_night(&server, night).await;
    let office = token(&server, "demo-office").await;
    // The engine writes the shift's attendance before it issues its report.
    let daily = "/api/v1/reports/daily?period=roster-team-1-night/night&format=json";
    until(&server, &office, daily, |v| !v["issued"].is_null()).await;
    let who = user("demo-volunteer");
    let path = format!("/api/v1/admin/users/{who}/export");
    let zip = download(&server, &office, &path).await;
    let (_dir, unpacked) = unpack_and_check(&zip);
    let read = |name: &str| std::fs::read_to_string(unpacked.join(name)).unwrap();
    let account: Value = serde_json::from_str(&read("account.json")).unwrap();
    assert_eq!(account["username"], "demo-volunteer");
    assert_eq!(
        read("checkins.csv").lines().count() as i64,
        1 + t1.checkins,
        "every check-in they made, and no one else's"
    );
    let hazards: Value = serde_json::from_str(&read("hazards.json")).unwrap();
    assert_eq!(
        hazards.as_array().unwrap().len(),
        3,
        "the hazards they reported"
    );
    let incidents: Value = serde_json::from_str(&read("incidents.json")).unwrap();
    assert_eq!(incidents.as_array().unwrap().len(), 1);
    let shifts: Value = serde_json::from_str(&read("shifts.json")).unwrap();
    assert_eq!(shifts.as_array().unwrap().len(), 1, "rostered on one shift");
    assert!(read("audit.json").starts_with('['));
    assert!(read("photos.json").starts_with('['));

    // Only the office; an unknown user is 404.
    for name in ["demo-auditor", "demo-leader"] {
        let t = token(&server, name).await;
        let resp = get_with_token(&server.url, &t, &path).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{name}");
    }
    let none = get_with_token(
        &server.url,
        &office,
        "/api/v1/admin/users/user-nobody/export",
    )
    .await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
both_backends!(
    one_persons_data_is_exported_for_the_office,
    one_persons_data_is_exported
);
