//! `fieldsync-bench night`: what one night of a demo team costs. Two members
//! walk team 1's route (8 posts, three rounds between 20:00 and 02:00, one
//! phone per half of the posts, tag check-ins), record a breadcrumb every
//! 30 s for ten hours, report two hazards and an incident, and sync after
//! every round; the leader assigns the hazards and pulls everything at the
//! end. Reports documents, check-ins, breadcrumbs, bytes on the wire and the
//! growth of the server's database.

use std::time::Instant;

use anyhow::Context;
use fieldsync_proto::model::hazard::HazardPlace;
use fieldsync_proto::model::hazard::{HazardAction, Severity};
use fieldsync_proto::model::patrol::Fix;
use fieldsync_sdk::{Client, NewHazard, NewIncident};
use serde::Serialize;

use crate::demo;
use crate::server::{ChildServer, ServerArgs};

/// Team 1's route in the demo community: both stairwells of buildings 1 and
/// 2, floors 5 and 9 (docs/demo.md).
const POSTS: [&str; 8] = [
    "post-b1-u1-f5",
    "post-b1-u1-f9",
    "post-b1-u2-f5",
    "post-b1-u2-f9",
    "post-b2-u1-f5",
    "post-b2-u1-f9",
    "post-b2-u2-f5",
    "post-b2-u2-f9",
];

/// Flags of `fieldsync-bench night`.
#[derive(Debug, clap::Args)]
pub struct NightArgs {
    /// Write the figures as JSON here
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The figures of one night.
#[derive(Debug, Serialize)]
pub struct NightFigures {
    /// Documents created: two patrols, two hazards, an incident.
    pub documents: usize,
    /// Tag check-ins over the three rounds.
    pub checkins: usize,
    /// GPS points recorded.
    pub breadcrumbs: usize,
    /// Bytes both members' phones sent and received over the night.
    pub members_wire_bytes: u64,
    /// Bytes the leader's phone exchanged to pull the night and assign.
    pub leader_wire_bytes: u64,
    /// Growth of the server's SQLite files (database + WAL, whole pages).
    pub server_db_growth_bytes: i64,
    /// Automerge bytes the server stores for the night's documents.
    pub stored_document_bytes: i64,
    /// The whole night, from the first login to the leader's last sync.
    pub elapsed_s: f64,
}

fn db_bytes(dir: &std::path::Path) -> i64 {
    ["fieldsync.db", "fieldsync.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len() as i64)
        .sum()
}

/// (post id, tag payload) of every post, from the office's tag sheet.
async fn tags(url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let http = reqwest::Client::new();
    let token = demo::access_token(&http, url, demo::OFFICE, "bench-office").await?;
    demo::printed_tags(&http, url, &token).await
}

/// Runs the night.
pub async fn run(args: &NightArgs) -> anyhow::Result<NightFigures> {
    let binary = args.server.binary()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let server = ChildServer::spawn(&binary, &data, None)?;
    let tags = tags(&server.url).await?;
    let db_before = db_bytes(&data);
    let t = Instant::now();

    let mut members = Vec::new();
    for name in [demo::VOLUNTEER, demo::VOLUNTEER_2] {
        let c = Client::open(dir.path().join(name), &server.url)?;
        demo::login(&c, name).await?;
        members.push(c);
    }
    let patrols: Vec<_> = members
        .iter()
        .map(|m| m.start_patrol("team-1", "route-team-1"))
        .collect::<Result<_, _>>()?;
    let mut checkins = 0;
    let mut crumbs = 0;
    let mut documents = patrols.len();
    for round in 0..3 {
        for (i, m) in members.iter().enumerate() {
            for post in &POSTS[i * 4..i * 4 + 4] {
                let payload = tags
                    .iter()
                    .find(|(p, _)| p == post)
                    .map(|(_, t)| t.as_str());
                m.check_in(&patrols[i], post, payload, "", None, "")?;
                checkins += 1;
            }
            // Ten hours of a point every 30 s, spread over the three rounds.
            for k in 0..400 {
                let fix = Fix {
                    lat: 31.2004 + f64::from(k % 40) * 0.00003,
                    lon: 121.4003 + f64::from(round) * 0.0001,
                    accuracy_m: 9.0,
                };
                m.record_breadcrumb(&patrols[i], fix)?;
                crumbs += 1;
            }
            m.sync_now().await.context("member sync")?;
            if let Some(q) = m.quarantined()?.first() {
                anyhow::bail!("the server refused a change: {} {}", q.code, q.message);
            }
        }
    }
    let mut hazards = Vec::new();
    for (category, post) in [
        ("exit_blocked", "post-b1-u2-f5"),
        ("ebike", "post-b2-u1-f9"),
    ] {
        hazards.push(members[0].report_hazard(NewHazard {
            category: category.into(),
            severity: Severity::General,
            immediate: false,
            description: "found on the night round".into(),
            place: HazardPlace {
                post_id: Some(post.into()),
                ..HazardPlace::default()
            },
            photos: Vec::new(),
        })?);
    }
    members[1].file_incident(NewIncident {
        occurred_at_ms: now_ms(),
        place: HazardPlace::default(),
        persons: "two residents of building 2".into(),
        cause: "argument over a parked e-bike".into(),
        handling: "talked them down".into(),
        outcome: "resolved".into(),
        photos: Vec::new(),
    })?;
    documents += 3;
    for (m, p) in members.iter().zip(&patrols) {
        m.end_patrol(p)?;
        m.sync_now().await.context("member sync")?;
    }

    let leader = Client::open(dir.path().join("leader"), &server.url)?;
    demo::login(&leader, demo::LEADER).await?;
    leader.sync_now().await.context("leader pull")?;
    for h in &hazards {
        let deadline = now_ms() + 3 * 24 * 3_600_000;
        leader.transition_hazard(
            h,
            HazardAction::Assign {
                unit: "property management".into(),
                person: "user-demo-grid".into(),
                deadline_ms: deadline,
            },
            "",
            Vec::new(),
        )?;
    }
    leader.sync_now().await.context("leader sync")?;
    // Let the WAL settle before reading sizes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let url = format!("sqlite://{}?mode=ro", data.join("fieldsync.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await?;
    let stored: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(stored_bytes), 0) FROM documents WHERE doc_type IN ('patrol', 'hazard', 'incident')",
    )
    .fetch_one(&mut db)
    .await?;
    Ok(NightFigures {
        documents,
        checkins,
        breadcrumbs: crumbs,
        members_wire_bytes: members.iter().map(|m| m.transport_counters().total()).sum(),
        leader_wire_bytes: leader.transport_counters().total(),
        server_db_growth_bytes: db_bytes(&data) - db_before,
        stored_document_bytes: stored,
        elapsed_s: t.elapsed().as_secs_f64(),
    })
}

/// Prints the figures as a table.
pub fn print(f: &NightFigures) {
    println!("one night of team 1 (2 phones, 8 posts x 3 rounds, breadcrumbs every 30 s for 10 h)");
    println!("  documents created      {:>10}", f.documents);
    println!("  check-ins              {:>10}", f.checkins);
    println!("  breadcrumbs            {:>10}", f.breadcrumbs);
    println!("  members' wire bytes    {:>10}", f.members_wire_bytes);
    println!("  leader's wire bytes    {:>10}", f.leader_wire_bytes);
    println!("  stored document bytes  {:>10}", f.stored_document_bytes);
    println!("  server DB growth bytes {:>10}", f.server_db_growth_bytes);
    println!("  elapsed (s)            {:>10.2}", f.elapsed_s);
}

/// Milliseconds since the Unix epoch, the unit of document times.
fn now_ms() -> i64 {
    let since_epoch = std::time::UNIX_EPOCH.elapsed().unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
