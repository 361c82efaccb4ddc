//! The reports over a month of a million check-ins: PostgreSQL loaded with
//! a calendar month (the one before last, so the compliance engine leaves it
//! alone) of shifts for three teams, N check-ins in their patrols, one
//! compliance row per check-in (mostly on time, some late, unverified or
//! missed), attendance and hazards, as the projection rows a rebuild makes
//! of them; then the monthly report (JSON, the page, XLSX) and the
//! month's check-in export (CSV, XLSX) through the API, each timed, with the
//! server's peak memory after it. The export streams, so its peak should not
//! grow with N.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use sqlx::Connection;

use crate::scratch_db::ScratchDb;
use crate::server::{ChildServer, ServerArgs};

#[derive(Debug, clap::Args)]
pub struct ReportsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Check-ins to load into the month.
    #[arg(long, default_value_t = 1_000_000)]
    pub checkins: i64,
    /// Times each request is made (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// The PostgreSQL server to make the scratch database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub admin_url: String,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One request's figures.
#[derive(Debug, Serialize)]
pub struct RequestFigures {
    pub what: String,
    pub path: String,
    pub median_s: f64,
    pub max_s: f64,
    pub bytes: usize,
    /// The server's peak resident memory after this request, MB.
    pub server_peak_mb: f64,
}

#[derive(Debug, Serialize)]
pub struct ReportsFigures {
    pub checkins: i64,
    pub month: String,
    pub load_s: f64,
    /// The server's peak resident memory before the first request, MB.
    pub server_peak_before_mb: f64,
    /// Check-ins the monthly report counted (should be `checkins`).
    pub report_checkins: i64,
    /// Rows of the CSV export, header left out (should be `checkins`).
    pub export_rows: usize,
    pub requests: Vec<RequestFigures>,
}

pub fn print(f: &ReportsFigures) {
    println!(
        "reports on PostgreSQL: {} check-ins in {} (loaded in {:.1} s); server peak RSS before: {:.0} MB",
        f.checkins, f.month, f.load_s, f.server_peak_before_mb
    );
    println!(
        "  the report counted {} check-ins; the CSV export has {} rows",
        f.report_checkins, f.export_rows
    );
    println!(
        "  {:<28} {:>10} {:>10} {:>12} {:>14}",
        "request", "median s", "max s", "MiB", "server peak MB"
    );
    for r in &f.requests {
        println!(
            "  {:<28} {:>10.2} {:>10.2} {:>12.1} {:>14.0}",
            r.what,
            r.median_s,
            r.max_s,
            r.bytes as f64 / (1024.0 * 1024.0),
            r.server_peak_mb
        );
    }
}

/// The month before last, in Shanghai: (`YYYY-MM`, first day, ms of its
/// first midnight, days).
fn the_month() -> anyhow::Result<(String, jiff::civil::Date, i64, i64)> {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai")?;
    let first = jiff::Timestamp::now()
        .to_zoned(tz.clone())
        .date()
        .first_of_month()
        - jiff::Span::new().months(2);
    let next = first + jiff::Span::new().months(1);
    let start = first.to_zoned(tz)?.timestamp().as_millisecond();
    let days = (next - first).get_days() as i64;
    Ok((first.strftime("%Y-%m").to_string(), first, start, days))
}

pub async fn run(args: &ReportsArgs) -> anyhow::Result<ReportsFigures> {
    let binary = args.server.binary()?;
    let (month, first, start, days) = the_month()?;
    let db = ScratchDb::create(&args.admin_url).await?;
    let result = async {
        let dir = tempfile::tempdir()?;
        let server = ChildServer::spawn(&binary, dir.path(), Some(&db.url))?;
        let started = Instant::now();
        eprintln!("loading {} check-ins into {month} …", args.checkins);
        load(&db.url, args.checkins, start, days).await?;
        let load_s = started.elapsed().as_secs_f64();
        let http = reqwest::Client::new();
        let token = login(&http, &server.url).await?;
        let server_peak_before_mb = server.rss_mb().1;
        let last = first + jiff::Span::new().days(days - 1);
        let requests = [
            (
                "monthly report, JSON",
                format!("/api/v1/reports/monthly?period={month}&format=json"),
            ),
            (
                "monthly report, page",
                format!("/api/v1/reports/monthly?period={month}&format=html"),
            ),
            (
                "monthly report, XLSX",
                format!("/api/v1/reports/monthly?period={month}&format=xlsx"),
            ),
            (
                "check-in export, CSV",
                format!("/api/v1/exports/checkins?from={first}&to={last}&format=csv"),
            ),
            (
                "check-in export, XLSX",
                format!("/api/v1/exports/checkins?from={first}&to={last}&format=xlsx"),
            ),
        ];
        let mut out = Vec::new();
        let (mut report_checkins, mut export_rows) = (-1, 0);
        for (what, path) in requests {
            let mut times = Vec::new();
            let mut bytes = 0;
            eprintln!("{what} …");
            for _ in 0..args.repeat.max(1) {
                let t = Instant::now();
                let resp = http
                    .get(format!("{}{path}", server.url))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                if !status.is_success() {
                    bail!("{path}: {status}: {}", String::from_utf8_lossy(&body));
                }
                times.push(t.elapsed().as_secs_f64());
                bytes = body.len();
                if path.contains("reports/monthly") && path.ends_with("json") {
                    let v: serde_json::Value = serde_json::from_slice(&body)?;
                    report_checkins = v["totals"]["checkins"].as_i64().unwrap_or(-1);
                }
                if path.ends_with("format=csv") {
                    export_rows = body
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count()
                        .saturating_sub(1);
                }
            }
            times.sort_by(f64::total_cmp);
            out.push(RequestFigures {
                what: what.to_owned(),
                path,
                median_s: times[times.len() / 2],
                max_s: *times.last().context("no requests")?,
                bytes,
                server_peak_mb: server.rss_mb().1,
            });
        }
        anyhow::Ok(ReportsFigures {
            checkins: args.checkins,
            month,
            load_s,
            server_peak_before_mb,
            report_checkins,
            export_rows,
            requests: out,
        })
    }
    .await;
    db.drop_db().await;
    result
}

async fn login(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let resp: serde_json::Value = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "username": "demo-office",
            "password": crate::demo::PASSWORD,
            "device_id": "bench-reports",
            "device_name": "bench",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    resp["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access token")
}

/// Loads the month's rows, one statement a table. $1 the check-ins, $2 the
/// month's first midnight (ms), $3 its days.
async fn load(db_url: &str, checkins: i64, start: i64, days: i64) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(db_url).await?;
    // A shift a night per team, 18:00 → 08:00; patrols of 24 check-ins
    // spread over the month's nights; check-ins 20:00 onwards, 5 minutes
    // apart within their patrol.
    let rows = [
        "INSERT INTO shift_projection (community_id, shift_key, roster_id, team, leader, starts_at, ends_at) \
         SELECT 'demo', 'bench-roster/' || d || '-' || t, 'bench-roster', 'team-' || t, 'user-demo-leader', \
         $2 + d * 86400000 + 18 * 3600000, $2 + d * 86400000 + 32 * 3600000 \
         FROM generate_series(0, $3 - 1) AS d, generate_series(1, 3) AS t",
        "INSERT INTO attendance_projection (community_id, shift_key, user_id, signed_on, signed_off) \
         SELECT 'demo', 'bench-roster/' || d || '-' || t, u, \
         CASE WHEN (d + t) % 9 = 0 THEN NULL ELSE $2 + d * 86400000 + 20 * 3600000 END, \
         CASE WHEN (d + t) % 9 = 0 THEN NULL ELSE $2 + d * 86400000 + 26 * 3600000 END \
         FROM generate_series(0, $3 - 1) AS d, generate_series(1, 3) AS t, \
         unnest(ARRAY['user-demo-leader', 'user-demo-volunteer', 'user-demo-volunteer-2']) AS u",
        "INSERT INTO patrol_projection (community_id, doc_id, team, route, started_by, started_at, ended_at, checkin_count) \
         SELECT 'demo', 'bench-patrol-' || p, 'team-' || (1 + p % 3), 'route-team-' || (1 + p % 3), \
         CASE WHEN p % 2 = 0 THEN 'user-demo-volunteer' ELSE 'user-demo-volunteer-2' END, \
         $2 + ((p / 3) % $3) * 86400000 + 20 * 3600000, $2 + ((p / 3) % $3) * 86400000 + 26 * 3600000, 24 \
         FROM generate_series(0, $1 / 24) AS p",
        "INSERT INTO checkin_projection (community_id, patrol_id, checkin_id, post_id, member, device_id, method, \
         device_time, received_at, lat, lon, accuracy_m, status, flag_reason) \
         SELECT 'demo', 'bench-patrol-' || (g / 24), 'c' || g, \
         'post-b' || (1 + (g / 2) % 6) || '-u' || (1 + (g / 12) % 2) || '-f' || (CASE WHEN g % 2 = 0 THEN 5 ELSE 9 END), \
         CASE WHEN (g / 24) % 2 = 0 THEN 'user-demo-volunteer' ELSE 'user-demo-volunteer-2' END, \
         'bench-device', CASE WHEN g % 20 = 0 THEN 'manual' ELSE 'tag' END, \
         $2 + (((g / 24) / 3) % $3) * 86400000 + 20 * 3600000 + (g % 24) * 300000 + ((g / 24) / (3 * $3)) * 1000, \
         $2 + (((g / 24) / 3) % $3) * 86400000 + 20 * 3600000 + (g % 24) * 300000 + ((g / 24) / (3 * $3)) * 1000 + 60000, \
         31.2, 121.4, 8.0, CASE WHEN g % 20 = 0 THEN 'unverified' ELSE 'verified' END, NULL \
         FROM generate_series(0, $1 - 1) AS g",
        "INSERT INTO compliance_projection (community_id, shift_key, route_id, post_id, window_start, deadline, \
         grace_until, status, checkin_id, checked_at, updated_at, decided_by) \
         SELECT 'demo', 'bench-roster/' || (((g / 24) / 3) % $3) || '-' || (1 + (g / 24) % 3), \
         'route-team-' || (1 + (g / 24) % 3), \
         'post-b' || (1 + (g / 2) % 6) || '-u' || (1 + (g / 12) % 2) || '-f' || (CASE WHEN g % 2 = 0 THEN 5 ELSE 9 END), \
         $2 + (((g / 24) / 3) % $3) * 86400000 + 20 * 3600000 + g, \
         $2 + (((g / 24) / 3) % $3) * 86400000 + 22 * 3600000 + g, \
         $2 + (((g / 24) / 3) % $3) * 86400000 + 22 * 3600000 + 900000 + g, \
         (ARRAY['on_time','on_time','on_time','on_time','on_time','on_time','on_time','late','unverified','missed'])[1 + g % 10], \
         CASE WHEN g % 10 = 9 THEN NULL ELSE 'c' || g END, NULL, $2, \
         CASE WHEN g % 10 = 9 THEN NULL WHEN (g / 24) % 2 = 0 THEN 'user-demo-volunteer' ELSE 'user-demo-volunteer-2' END \
         FROM generate_series(0, $1 - 1) AS g",
        "INSERT INTO hazard_projection (community_id, doc_id, category, severity, state, in_conflict, reporter, \
         reported_at, post_id, assigned_person, deadline_at, event_count, due_at, recurring_of, rectified_at, closed_at) \
         SELECT 'demo', 'bench-hazard-' || g, \
         (ARRAY['exit_blocked','wiring','ebike','gas','dangerous_structure','other'])[1 + g % 6], \
         (ARRAY['general','major','general'])[1 + g % 3], \
         (ARRAY['reported','assigned','rectified','closed'])[1 + g % 4], false, 'user-demo-volunteer', \
         $2 + (g % $3) * 86400000 + 21 * 3600000, 'post-b1-u1-f5', NULL, NULL, 1, \
         $2 + (g % $3) * 86400000 + 21 * 3600000 + 7 * 86400000, NULL, \
         CASE WHEN g % 4 >= 2 THEN $2 + (g % $3) * 86400000 + 30 * 3600000 END, \
         CASE WHEN g % 4 = 3 THEN $2 + (g % $3) * 86400000 + 40 * 3600000 END \
         FROM generate_series(1, $1 / 100) AS g",
    ];
    for sql in rows {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(checkins)
            .bind(start)
            .bind(days)
            .execute(&mut conn)
            .await
            .with_context(|| format!("loading {}", sql.split_whitespace().nth(2).unwrap_or("")))?;
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(())
}
