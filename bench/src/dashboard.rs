//! The dashboard over a community's years of records: PostgreSQL loaded with
//! N check-ins (in patrols of 24, spread over a year) and M hazards (in every
//! state, both grids, over two years) as the projection rows a rebuild makes
//! of them, each hazard with a real document behind it (copies of one an SDK
//! client reported); then p50 and p95 of the pages the office opens, signed
//! in as a browser would be.
//!
//! The rows are made by PostgreSQL itself (`generate_series`), so loading a
//! million check-ins takes seconds, not the hours a million phone syncs
//! would; what is measured is reading them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fieldsync_sdk::{Client, HazardPlace, NewHazard, Severity};
use serde::Serialize;
use sqlx::Connection;

use crate::scratch_db::ScratchDb;
use crate::server::{ChildServer, ServerArgs};

#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Check-ins to load (in patrols of 24).
    #[arg(long, default_value_t = 1_000_000)]
    pub checkins: i64,
    /// Hazards to load.
    #[arg(long, default_value_t = 100_000)]
    pub hazards: i64,
    /// Requests per page (after 3 warm-up requests).
    #[arg(long, default_value_t = 50)]
    pub requests: usize,
    /// The PostgreSQL server to make the scratch database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub admin_url: String,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One page's latencies.
#[derive(Debug, Serialize)]
pub struct PageFigures {
    pub page: String,
    pub path: String,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct DashboardFigures {
    pub checkins: i64,
    pub hazards: i64,
    pub load_s: f64,
    pub requests_per_page: usize,
    pub pages: Vec<PageFigures>,
}

pub fn print(f: &DashboardFigures) {
    println!(
        "dashboard on PostgreSQL: {} check-ins, {} hazards (loaded in {:.1} s), {} requests per page",
        f.checkins, f.hazards, f.load_s, f.requests_per_page
    );
    println!(
        "  {:<28} {:>9} {:>9} {:>9} {:>9}",
        "page", "p50 ms", "p95 ms", "max ms", "KiB"
    );
    for p in &f.pages {
        println!(
            "  {:<28} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            p.page,
            p.p50_ms,
            p.p95_ms,
            p.max_ms,
            p.bytes as f64 / 1024.0
        );
    }
}

pub async fn run(args: &DashboardArgs) -> anyhow::Result<DashboardFigures> {
    let binary = args.server.binary()?;
    let db = ScratchDb::create(&args.admin_url).await?;
    let result = async {
        let dir = tempfile::tempdir()?;
        let server = ChildServer::spawn(&binary, dir.path(), Some(&db.url))?;
        let template = report_template_hazard(&server.url, dir.path()).await?;
        let started = Instant::now();
        load(&db.url, &template, args.checkins, args.hazards).await?;
        let load_s = started.elapsed().as_secs_f64();
        let pages = measure(&server.url, args.requests, args.hazards).await?;
        anyhow::Ok(DashboardFigures {
            checkins: args.checkins,
            hazards: args.hazards,
            load_s,
            requests_per_page: args.requests,
            pages,
        })
    }
    .await;
    db.drop_db().await;
    result
}

/// One real hazard, reported and synced by the demo grid worker's SDK: the
/// document every loaded hazard is a copy of.
async fn report_template_hazard(url: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    let client = Client::open(dir.join("grid-worker"), url)?;
    crate::demo::login(&client, "demo-grid").await?;
    let id = client.report_hazard(NewHazard {
        category: "exit_blocked".into(),
        severity: Severity::General,
        immediate: false,
        description: "Bicycles block the stairwell exit".into(),
        place: HazardPlace {
            post_id: Some("post-b1-u1-f5".into()),
            ..HazardPlace::default()
        },
        photos: Vec::new(),
    })?;
    let report = client.sync_now().await?;
    ensure!(report.rejected == 0, "the template hazard was rejected");
    Ok(id.to_string())
}

/// Loads the rows, in one transaction per table.
async fn load(db_url: &str, template: &str, checkins: i64, hazards: i64) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(db_url).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let day: i64 = 86_400_000;
    // Hazards: the template's document and chunks under new ids, half of
    // them moved to grid 2 (buildings 4–6).
    let documents = [
        "INSERT INTO documents (community_id, id, doc_type, schema_version, seq, heads, \
         stored_bytes, chunk_count, last_device_id, created_at, updated_at, scope) \
         SELECT community_id, 'bench-hazard-' || g, doc_type, schema_version, seq, heads, \
         stored_bytes, chunk_count, last_device_id, created_at, updated_at, \
         CASE WHEN g % 2 = 0 THEN replace(scope, 'grid-1', 'grid-2') ELSE scope END \
         FROM documents, generate_series(1, $1) AS g WHERE id = $2",
        "INSERT INTO document_chunks (community_id, doc_id, data) \
         SELECT community_id, 'bench-hazard-' || g, data \
         FROM document_chunks, generate_series(1, $1) AS g WHERE doc_id = $2",
    ];
    for sql in documents {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hazards)
            .bind(template)
            .execute(&mut conn)
            .await
            .context("copying the template hazard")?;
    }
    // $1 the count, $2 a day in ms, $3 now.
    let rows = [
        (
            hazards,
            "INSERT INTO hazard_projection (community_id, doc_id, category, severity, state, \
             in_conflict, reporter, reported_at, post_id, assigned_person, deadline_at, \
             event_count, due_at, recurring_of) \
             SELECT 'demo', 'bench-hazard-' || g, \
             (ARRAY['exit_blocked','wiring','ebike','gas','dangerous_structure','other'])[1 + g % 6], \
             (ARRAY['general','major','immediate'])[1 + g % 3], \
             (ARRAY['reported','assigned','rectifying','rectified','verified','closed','reopened','closed','closed','closed'])[1 + g % 10], \
             g % 97 = 0, 'user-demo-grid', $3 - (g * 2 * 365 * $2 / $1), \
             'post-b' || (1 + g % 6) || '-u' || (1 + g % 2) || '-f' || (CASE WHEN g % 4 < 2 THEN 5 ELSE 9 END), \
             CASE WHEN g % 10 IN (1, 2) THEN 'user-demo-grid' END, NULL, 1 + g % 5, \
             $3 - (g * 2 * 365 * $2 / $1) + 7 * $2, \
             CASE WHEN g % 13 = 0 THEN 'bench-hazard-' || (g + 1) END \
             FROM generate_series(1, $1) AS g",
        ),
        // Patrols of 24 check-ins, one a night per team over the year.
        (
            checkins,
            "INSERT INTO patrol_projection (community_id, doc_id, team, route, started_by, \
             started_at, ended_at, checkin_count) \
             SELECT 'demo', 'bench-patrol-' || p, 'team-' || (1 + p % 3), 'route-team-' || (1 + p % 3), \
             'user-demo-volunteer', $3 - (p * 365 * $2 / ($1 / 24 + 1)) - 2 * $2, \
             $3 - (p * 365 * $2 / ($1 / 24 + 1)) - 2 * $2 + 6 * 3600000, 24 \
             FROM generate_series(0, $1 / 24) AS p",
        ),
        (
            checkins,
            "INSERT INTO checkin_projection (community_id, patrol_id, checkin_id, post_id, member, \
             device_id, method, device_time, received_at, lat, lon, accuracy_m, status, flag_reason) \
             SELECT 'demo', 'bench-patrol-' || (g / 24), 'c' || g, \
             'post-b' || (1 + (g / 2) % 6) || '-u' || (1 + (g / 12) % 2) || '-f' || (CASE WHEN g % 2 = 0 THEN 5 ELSE 9 END), \
             'user-demo-volunteer', 'bench-device', CASE WHEN g % 20 = 0 THEN 'manual' ELSE 'tag' END, \
             $3 - ((g / 24) * 365 * $2 / ($1 / 24 + 1)) - 2 * $2 + (g % 24) * 900000, \
             $3 - ((g / 24) * 365 * $2 / ($1 / 24 + 1)) - 2 * $2 + (g % 24) * 900000 + (g % 7) * 60000, \
             31.2, 121.4, 8.0, \
             CASE WHEN g % 20 = 0 THEN 'unverified' WHEN g % 53 = 0 THEN 'flagged' ELSE 'verified' END, \
             CASE WHEN g % 53 = 0 AND g % 20 <> 0 THEN 'outside the post''s radius' END \
             FROM generate_series(0, $1 - 1) AS g",
        ),
    ];
    for (count, sql) in rows {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(count)
            .bind(day)
            .bind(now)
            .execute(&mut conn)
            .await
            .with_context(|| format!("loading {}", sql.split_whitespace().nth(2).unwrap_or("")))?;
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

/// A browser's session: signs in through the form, as a person would.
async fn sign_in(http: &reqwest::Client, url: &str, user: &str) -> anyhow::Result<String> {
    let form = http.get(format!("{url}/login")).send().await?;
    let cookie = cookie_value(&form, "fs_sign_in").context("no sign-in cookie")?;
    let html = form.text().await?;
    let at = html
        .find("name=\"csrf\" value=\"")
        .context("no CSRF field on the sign-in form")?
        + 19;
    let csrf = html[at..].split('"').next().unwrap_or_default().to_owned();
    let resp = http
        .post(format!("{url}/login"))
        .header("cookie", format!("fs_sign_in={cookie}"))
        .form(&[
            ("username", user),
            ("password", crate::demo::PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await?;
    cookie_value(&resp, "fs_session").with_context(|| format!("{user} got no session"))
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

async fn measure(url: &str, requests: usize, hazards: i64) -> anyhow::Result<Vec<PageFigures>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let session = sign_in(&http, url, "demo-office").await?;
    let pages = [
        ("Now /", "/".to_owned()),
        ("compliance board", "/compliance".to_owned()),
        ("hazard ledger", "/hazards".to_owned()),
        (
            "ledger, filtered",
            "/hazards?state=assigned&grid=grid-2&overdue=true".to_owned(),
        ),
        (
            "hazard detail",
            format!("/hazards/bench-hazard-{}", hazards / 2 + 1),
        ),
        ("incidents", "/incidents".to_owned()),
    ];
    let mut out = Vec::new();
    for (name, path) in pages {
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        for i in 0..requests + 3 {
            let started = Instant::now();
            let resp = http
                .get(format!("{url}{path}"))
                .header("cookie", format!("fs_session={session}"))
                .send()
                .await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            let took = started.elapsed();
            if !status.is_success() {
                bail!("{path}: {status}");
            }
            if i >= 3 {
                times.push(took);
                bytes = body.len();
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
        out.push(PageFigures {
            page: name.to_owned(),
            path,
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            max_ms: ms(*times.last().context("no requests")?),
            bytes,
        });
    }
    Ok(out)
}
