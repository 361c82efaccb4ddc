//! `fieldsync-bench simulate`: many phones at once against one server.
//!
//! Each simulated phone is a real WebSocket client speaking the sync protocol
//! with the SDK's own session state machine (`fieldsync_proto::session`) over
//! documents kept in memory, so thousands fit in one process. The office
//! creates the teams and volunteers through the admin API, each volunteer
//! logs in with their own phone, and then:
//!
//! 1. every phone connects, starts its patrol and syncs until idle;
//! 2. they sit idle, connected: the server's memory per connection;
//! 3. the night: each phone checks in at its stairwell's floor 5 and floor 9
//!    posts (signed tags printed by the office) at `--rate` per second and
//!    records a breadcrumb chunk every ten seconds; every `--hazard-every`
//!    check-ins it reports a hazard at its floor 5 post with a small photo
//!    (uploaded over tus first); ack latency per check-in;
//! 4. an outage: every connection drops, each phone checks in offline;
//! 5. the storm: every phone reconnects at once, and the clock runs until
//!    the last one has pushed everything and caught up.
//!
//! With `--stored-docs N`, an SDK device first stores N hazards of grid 1
//! (the district's history), and the teams walk grid 2's stairwells, so the
//! server holds N documents no phone pulls: its memory with a large store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::{ActorId, Automerge, ChangeHash};
use fieldsync_proto::model::Role;
use fieldsync_proto::model::breadcrumbs::{self, Breadcrumb};
use fieldsync_proto::model::hazard::{HazardAction, HazardDoc, HazardEvent, HazardPlace, Severity};
use fieldsync_proto::model::migrate;
use fieldsync_proto::model::patrol::{CheckIn, PatrolDoc, Proof};
use fieldsync_proto::session::{ClientEvent, ClientSession, MemDocs};
use fieldsync_proto::{DocHeader, DocId, DocType, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

use fieldsync_sdk::now_ms;

use crate::server::{ChildServer, ServerArgs};

/// Flags of `fieldsync-bench simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Phones, one volunteer each
    #[arg(long, default_value_t = 100)]
    pub devices: usize,
    /// Volunteers per team (a team walks one stairwell and reads its
    /// members' patrols)
    #[arg(long, default_value_t = 10)]
    pub team_size: usize,
    /// Check-ins per phone per second during the night
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Length of the night, in seconds
    #[arg(long, default_value_t = 20)]
    pub secs: u64,
    /// Check-ins each phone makes while the network is down
    #[arg(long, default_value_t = 2)]
    pub offline_checkins: usize,
    /// Each phone reports a hazard with a small photo (about 20 KB) every
    /// this many check-ins of the night; 0 for none
    #[arg(long, default_value_t = 20)]
    pub hazard_every: u64,
    /// Hazards stored before the phones sign up (grid 1, which the phones,
    /// all walking grid 2, do not read)
    #[arg(long, default_value_t = 0)]
    pub stored_docs: usize,
    /// PostgreSQL server to use (a scratch database is created on it and
    /// dropped afterwards); embedded SQLite when absent
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Write the figures as JSON here
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// No progress bars (they go to stderr)
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The figures of one run.
#[derive(Debug, Serialize)]
pub struct SimulateFigures {
    pub backend: &'static str,
    pub devices: usize,
    /// Documents stored before the phones came (`--stored-docs`).
    pub stored_docs: usize,
    pub teams: usize,
    pub rate_per_device: f64,
    pub night_s: f64,
    /// Creating the users and logging every phone in (argon2 on both).
    pub setup_s: f64,
    /// Every phone connected, its patrol pushed, caught up.
    pub connect_s: f64,
    /// Connections the server held while idle.
    pub connections_held: usize,
    /// Server RSS with no phone connected, and with all of them idle.
    pub server_rss_before_mb: f64,
    pub server_rss_idle_mb: f64,
    /// The server's growth per phone from half of them connected and idle
    /// to all of them.
    pub idle_kb_per_connection: f64,
    pub checkins: u64,
    pub breadcrumb_chunks: u64,
    /// Hazards reported with a photo during the night.
    pub photo_hazards: u64,
    /// From the start of a photo's upload until the server stored it.
    pub photo_upload_p50_ms: f64,
    pub photo_upload_p99_ms: f64,
    /// Check-ins acknowledged per second during the night.
    pub acks_per_s: f64,
    /// From the check-in on the phone to the server's durable ack.
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
    pub ack_max_ms: f64,
    /// Server CPU during the night, percent of one core.
    pub server_cpu_night_pct: f64,
    /// Change queries (the feeds' and the connections' own) per commit
    /// transaction during the night, from the server's `/metrics`.
    pub change_queries_per_commit: f64,
    /// Commit transactions during the night (a group commit is one).
    pub night_commits: u64,
    /// From every phone reconnecting at once to the last one caught up
    /// with nothing left to push.
    pub storm_s: f64,
    /// Server RSS after the storm, and its peak over the whole run.
    pub server_rss_after_storm_mb: f64,
    pub server_peak_rss_mb: f64,
    /// Phones whose session failed (each is an error on stderr).
    pub failed_devices: usize,
    /// Check-ins made that the server had not acknowledged at the end (the
    /// run fails unless 0).
    pub unacked_checkins: u64,
}

pub fn print(f: &SimulateFigures) {
    println!(
        "simulate ({}): {} phones in {} teams, {} check-in/s each, {} s night",
        f.backend, f.devices, f.teams, f.rate_per_device, f.night_s
    );
    if f.stored_docs > 0 {
        println!("  with {} documents stored beforehand", f.stored_docs);
    }
    crate::print_rows(
        34,
        [
            ("setup (users, logins)", format!("{:.1} s", f.setup_s)),
            ("connect + first sync", format!("{:.2} s", f.connect_s)),
            ("connections held", f.connections_held.to_string()),
            (
                "server RSS before / idle",
                format!(
                    "{:.0} / {:.0} MB",
                    f.server_rss_before_mb, f.server_rss_idle_mb
                ),
            ),
            (
                "memory per idle connection",
                format!("{:.1} KB", f.idle_kb_per_connection),
            ),
            (
                "check-ins / breadcrumb chunks",
                format!("{} / {}", f.checkins, f.breadcrumb_chunks),
            ),
            (
                "hazards with photos, upload p50 / p99",
                format!(
                    "{}, {:.0} / {:.0} ms",
                    f.photo_hazards, f.photo_upload_p50_ms, f.photo_upload_p99_ms
                ),
            ),
            ("acks/s", format!("{:.0}", f.acks_per_s)),
            (
                "ack p50 / p99 / max",
                format!(
                    "{:.1} / {:.1} / {:.0} ms",
                    f.ack_p50_ms, f.ack_p99_ms, f.ack_max_ms
                ),
            ),
            (
                "server CPU (night)",
                format!("{:.0} %", f.server_cpu_night_pct),
            ),
            (
                "change queries per commit (night)",
                format!(
                    "{:.2} ({} commits)",
                    f.change_queries_per_commit, f.night_commits
                ),
            ),
            ("reconnect storm", format!("{:.2} s", f.storm_s)),
            (
                "server RSS after storm / peak",
                format!(
                    "{:.0} / {:.0} MB",
                    f.server_rss_after_storm_mb, f.server_peak_rss_mb
                ),
            ),
            ("failed phones", f.failed_devices.to_string()),
            ("unacked check-ins", f.unacked_checkins.to_string()),
        ],
    );
}

/// What the phones are doing; they all follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The first half of the phones connect.
    ConnectFirst,
    Connect,
    Night,
    /// The night is over: connected, no more check-ins.
    Dawn,
    Outage,
    Storm,
    Stop,
}

const PASSWORD: &str = "fieldsync-sim-1";

/// Counters the phones share.
#[derive(Default)]
struct Shared {
    /// Phones done with the current phase's work.
    ready: AtomicUsize,
    failed: AtomicUsize,
    checkins: AtomicU64,
    chunks: AtomicU64,
    /// Ack latencies of the night, in µs.
    latencies: Mutex<Vec<u64>>,
    /// Photo upload times of the night, in µs.
    uploads: Mutex<Vec<u64>>,
    hazards: AtomicU64,
    connected: AtomicUsize,
}

/// One simulated phone.
struct Phone {
    device_id: String,
    user_id: String,
    token: String,
    actor: ActorId,
    /// The F5 and F9 posts of its stairwell, with their printed tags.
    posts: [(String, String); 2],
    docs: MemDocs,
    patrol: DocHeader,
    cursor: u64,
    /// Check-ins not yet acked: when made, and their change.
    pending: Vec<(Instant, ChangeHash)>,
    measuring: bool,
    /// Among the first half to connect.
    first: bool,
    /// A hazard with a photo every this many check-ins (0: none).
    hazard_every: u64,
    /// Its tus client.
    uploader: crate::uploads::Uploader,
    /// Which phone it is (its photos differ from the others').
    number: u64,
}

pub async fn run(args: &SimulateArgs) -> anyhow::Result<SimulateFigures> {
    if args.devices == 0 || args.team_size == 0 || args.rate <= 0.0 {
        bail!("--devices, --team-size and --rate must be positive");
    }
    let data = tempfile::tempdir()?;
    let scratch = match &args.database_url {
        Some(url) => Some(crate::scratch_db::ScratchDb::create(url).await?),
        None => None,
    };
    let server = ChildServer::spawn(
        &args.server.binary()?,
        data.path(),
        scratch.as_ref().map(|s| s.url.as_str()),
    )?;
    let result = simulate(args, &server).await;
    drop(server);
    if let Some(s) = scratch {
        s.drop_db().await;
    }
    result
}

async fn simulate(args: &SimulateArgs, server: &ChildServer) -> anyhow::Result<SimulateFigures> {
    let http = reqwest::Client::new();
    let setup_start = Instant::now();
    let office =
        crate::demo::access_token(&http, &server.url, crate::demo::OFFICE, "sim-office").await?;
    let tags: HashMap<String, String> = crate::demo::printed_tags(&http, &server.url, &office)
        .await?
        .into_iter()
        .collect();
    let mut stairwells: Vec<[(String, String); 2]> = stairwells(&tags);
    if args.stored_docs > 0 {
        store_history(&server.url, args.stored_docs, args.quiet).await?;
        stairwells.retain(|s| building(&s[0].0) > 3);
    }
    if stairwells.is_empty() {
        bail!("the server's demo community has no stairwell with floor 5 and 9 tags");
    }
    let teams = args.devices.div_ceil(args.team_size);
    for t in 0..teams {
        let grid = if building(&stairwells[t % stairwells.len()][0].0) <= 3 {
            "grid-1"
        } else {
            "grid-2"
        };
        post_json(
            &http,
            &format!("{}/api/v1/admin/teams", server.url),
            &office,
            serde_json::json!({ "id": format!("sim-team-{t}"), "name": format!("Simulated team {t}"), "grid_id": grid }),
        )
        .await?;
    }
    let bar = progress(args, args.devices as u64, "users and logins");
    let limit = Arc::new(Semaphore::new(4));
    let mut logins = Vec::new();
    for i in 0..args.devices {
        let (http, url, office, limit, bar) = (
            http.clone(),
            server.url.clone(),
            office.clone(),
            limit.clone(),
            bar.clone(),
        );
        let posts = stairwells[(i / args.team_size) % stairwells.len()].clone();
        let team = format!("sim-team-{}", i / args.team_size);
        logins.push(tokio::spawn(async move {
            let _slot = limit.acquire().await?;
            let phone = Phone::sign_up(&http, &url, &office, i, &team, posts).await;
            bar.inc(1);
            phone
        }));
    }
    let mut phones = Vec::new();
    for (i, l) in logins.into_iter().enumerate() {
        let mut phone = l.await??;
        phone.first = i < args.devices / 2;
        phone.hazard_every = args.hazard_every;
        phones.push(phone);
    }
    bar.finish_and_clear();
    let setup_s = setup_start.elapsed().as_secs_f64();
    // The logins' argon2 memory goes back to the system first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_before, _) = server.rss_mb();

    let shared = Arc::new(Shared::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::ConnectFirst);
    let ws_url = format!("{}/api/v1/sync", server.url.replacen("http", "ws", 1));
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let connecting = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::new();
    for phone in phones {
        let (url, rx, shared, connecting) = (
            ws_url.clone(),
            phase_rx.clone(),
            shared.clone(),
            connecting.clone(),
        );
        let offline = args.offline_checkins;
        tasks.push(tokio::spawn(async move {
            let device = phone.device_id.clone();
            let mut phone = phone;
            if let Err(e) = phone
                .live(&url, rx, &shared, period, offline, connecting)
                .await
            {
                eprintln!("phone {device}: {e:#}");
                shared.failed.fetch_add(1, Ordering::SeqCst);
            }
            phone
        }));
    }

    // Memory per connection: the server's growth from half the phones
    // connected and idle to all of them, both measured after the same
    // settling time.
    let n = args.devices;
    let half = n / 2;
    let connect_start = Instant::now();
    wait_ready(
        args,
        &shared,
        half,
        "connect (half)",
        Duration::from_secs(600),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_half, _) = server.rss_mb();
    shared.ready.store(0, Ordering::SeqCst);
    phase_tx.send(Phase::Connect)?;
    wait_ready(args, &shared, n, "connect", Duration::from_secs(600)).await?;
    let connect_s = connect_start.elapsed().as_secs_f64() - 3.0;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let connections_held = shared.connected.load(Ordering::SeqCst);
    let (rss_idle, _) = server.rss_mb();

    // The night.
    let cpu0 = server.cpu_s();
    let queries0 = ChangeQueries::scrape(&http, &server.url).await?;
    let acks0 = shared.latencies.lock().await.len();
    phase_tx.send(Phase::Night)?;
    let bar = progress(args, args.secs, "night (s)");
    let night_start = Instant::now();
    for _ in 0..args.secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.inc(1);
    }
    phase_tx.send(Phase::Dawn)?;
    let night_s = night_start.elapsed().as_secs_f64();
    let server_cpu_night_pct = (server.cpu_s() - cpu0) / night_s * 100.0;
    let queries = ChangeQueries::scrape(&http, &server.url)
        .await?
        .since(&queries0);
    bar.finish_and_clear();
    // Let the last acks of the night arrive before the outage.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = shared.latencies.lock().await.clone();
    let acks = latencies.len() - acks0;

    // The outage, then everyone at once.
    shared.ready.store(0, Ordering::SeqCst);
    phase_tx.send(Phase::Outage)?;
    wait_ready(args, &shared, n, "outage", Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.ready.store(0, Ordering::SeqCst);
    let storm_start = Instant::now();
    phase_tx.send(Phase::Storm)?;
    wait_ready(args, &shared, n, "storm", Duration::from_secs(600)).await?;
    let storm_s = storm_start.elapsed().as_secs_f64();
    let (rss_after, peak) = server.rss_mb();
    phase_tx.send(Phase::Stop)?;
    let mut unacked = 0;
    for t in tasks {
        let phone = t.await?;
        unacked += phone.pending.len() as u64;
    }

    latencies.sort_unstable();
    let pct = |p: f64| percentile_ms(&latencies, p);
    let mut uploads = shared.uploads.lock().await.clone();
    uploads.sort_unstable();
    Ok(SimulateFigures {
        backend: if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        devices: n,
        stored_docs: args.stored_docs,
        teams: n.div_ceil(args.team_size),
        rate_per_device: args.rate,
        night_s,
        setup_s,
        connect_s,
        connections_held,
        server_rss_before_mb: rss_before,
        server_rss_idle_mb: rss_idle,
        idle_kb_per_connection: (rss_idle - rss_half) * 1024.0 / (n - half).max(1) as f64,
        checkins: shared.checkins.load(Ordering::SeqCst),
        photo_hazards: shared.hazards.load(Ordering::SeqCst),
        photo_upload_p50_ms: percentile_ms(&uploads, 0.50),
        photo_upload_p99_ms: percentile_ms(&uploads, 0.99),
        breadcrumb_chunks: shared.chunks.load(Ordering::SeqCst),
        acks_per_s: acks as f64 / night_s,
        ack_p50_ms: pct(0.50),
        ack_p99_ms: pct(0.99),
        ack_max_ms: pct(1.0),
        server_cpu_night_pct,
        change_queries_per_commit: queries.queries / queries.commits.max(1.0),
        night_commits: queries.commits as u64,
        storm_s,
        server_rss_after_storm_mb: rss_after,
        server_peak_rss_mb: peak,
        failed_devices: shared.failed.load(Ordering::SeqCst),
        unacked_checkins: unacked,
    })
}

/// The `p` quantile of `sorted` (µs) in milliseconds; 0 when empty.
fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn progress(args: &SimulateArgs, len: u64, what: &str) -> indicatif::ProgressBar {
    if args.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Waits until `n` phones are done with the phase (or failed).
async fn wait_ready(
    args: &SimulateArgs,
    shared: &Shared,
    n: usize,
    what: &str,
    within: Duration,
) -> anyhow::Result<()> {
    let bar = progress(args, n as u64, what);
    let start = Instant::now();
    loop {
        let done = shared.ready.load(Ordering::SeqCst) + shared.failed.load(Ordering::SeqCst);
        bar.set_position(done as u64);
        if done >= n {
            bar.finish_and_clear();
            return Ok(());
        }
        if start.elapsed() > within {
            bail!("{what}: only {done} of {n} phones done within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let resp = http.post(url).bearer_auth(token).json(&body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// The server's counts of change queries and commits (`/metrics`).
struct ChangeQueries {
    /// The feeds' pages (one query each) and the connections' own queries.
    queries: f64,
    commits: f64,
}

impl ChangeQueries {
    async fn scrape(http: &reqwest::Client, server_url: &str) -> anyhow::Result<ChangeQueries> {
        let text = http
            .get(format!("{server_url}/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let sample = |name: &str| -> anyhow::Result<f64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
                .with_context(|| format!("the server's /metrics has no {name}"))
        };
        Ok(ChangeQueries {
            queries: sample("fieldsync_feed_pages_total")?
                + sample("fieldsync_sync_catch_up_queries_total")?,
            commits: sample("fieldsync_commit_seconds_count")?,
        })
    }

    fn since(self, before: &ChangeQueries) -> ChangeQueries {
        ChangeQueries {
            queries: self.queries - before.queries,
            commits: self.commits - before.commits,
        }
    }
}

/// The building of post `post-bB-uU-fF` (B; 1 when unreadable). Buildings
/// 1–3 are grid 1, the others grid 2.
fn building(post: &str) -> u32 {
    post.strip_prefix("post-b")
        .and_then(|rest| rest.split('-').next())
        .and_then(|b| b.parse().ok())
        .unwrap_or(1)
}

/// A demo volunteer's SDK device reports `docs` hazards in grid 1 and pushes
/// them: the documents the server holds before the phones come.
async fn store_history(server_url: &str, docs: usize, quiet: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let writer = fieldsync_sdk::Client::open(dir.path().join("history"), server_url)?;
    crate::demo::login(&writer, crate::demo::VOLUNTEER).await?;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner().with_message(format!("storing {docs} documents"))
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    crate::sync::create_hazards(&writer, docs, 1)?;
    writer
        .sync_now()
        .await
        .context("pushing the stored documents")?;
    bar.finish_and_clear();
    let left = writer.pending_changes()?;
    if left != 0 {
        bail!("{left} of the stored documents' changes were not acknowledged");
    }
    Ok(())
}

/// Stairwells with both posts: `post-bB-uU-f5` and `-f9`, with their tags.
fn stairwells(tags: &HashMap<String, String>) -> Vec<[(String, String); 2]> {
    let mut out: Vec<_> = tags
        .iter()
        .filter_map(|(post, tag)| {
            let base = post.strip_suffix("-f5")?;
            let f9 = format!("{base}-f9");
            let tag9 = tags.get(&f9)?;
            Some([(post.clone(), tag.clone()), (f9, tag9.clone())])
        })
        .collect();
    out.sort();
    out
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Phone {
    /// The office creates volunteer `i` of `team`, who logs in with a new
    /// phone and starts a patrol on it (offline, not yet synced).
    async fn sign_up(
        http: &reqwest::Client,
        url: &str,
        office: &str,
        i: usize,
        team: &str,
        posts: [(String, String); 2],
    ) -> anyhow::Result<Phone> {
        let username = format!("sim-volunteer-{i:05}");
        post_json(
            http,
            &format!("{url}/api/v1/admin/users"),
            office,
            serde_json::json!({
                "username": username, "display_name": format!("Volunteer {i}"),
                "role": "volunteer", "password": PASSWORD, "team_id": team,
            }),
        )
        .await?;
        let device_id = format!("sim-phone-{i:05}");
        let login = crate::demo::login_json(http, url, &username, PASSWORD, &device_id).await?;
        let field = |k: &str| -> anyhow::Result<String> {
            Ok(login[k]
                .as_str()
                .with_context(|| format!("login lacks {k}"))?
                .to_owned())
        };
        let actor =
            ActorId::from(hex::decode(field("actor_id")?).context("the actor id is not hex")?);
        let user_id = login["user"]["id"]
            .as_str()
            .context("login lacks user.id")?
            .to_owned();
        let token = field("access_token")?;
        let mut phone = Phone {
            device_id,
            uploader: crate::uploads::Uploader {
                http: http.clone(),
                base: url.to_owned(),
                token: token.clone(),
            },
            token,
            hazard_every: 0,
            number: i as u64,
            actor,
            posts,
            docs: MemDocs::default(),
            patrol: DocHeader::new(DocId::new(format!("patrol-sim-{i:05}"))?, DocType::Patrol),
            cursor: 0,
            pending: Vec::new(),
            measuring: false,
            first: false,
            user_id,
        };
        let doc = PatrolDoc {
            team: team.to_owned(),
            route: "route-stairwells".into(),
            started_by: phone.user_id.clone(),
            started_at_ms: now_ms(),
            ended_at_ms: None,
            members: vec![phone.user_id.clone()],
            checkins: Vec::new(),
            breadcrumbs: Vec::new(),
            notes: Vec::new(),
        };
        phone.patrol = phone.create(phone.patrol.clone(), &doc)?;
        Ok(phone)
    }

    /// Makes document `header` from `content` on this phone; its header with
    /// the schema version.
    fn create(
        &mut self,
        mut header: DocHeader,
        content: &impl Serialize,
    ) -> anyhow::Result<DocHeader> {
        let mut am = migrate::new_doc(header.doc_type);
        am.set_actor(self.actor.clone());
        let serde_json::Value::Object(content) = serde_json::to_value(content)? else {
            bail!("a {:?} document serializes to an object", header.doc_type);
        };
        am.transact(|tx| fieldsync_proto::json::fill(tx, &content))
            .map_err(|e| anyhow::anyhow!("filling a {:?}: {:?}", header.doc_type, e.error))?;
        header.schema_version = migrate::version_of(header.doc_type, &am);
        self.docs.insert(header.clone(), am);
        Ok(header)
    }

    /// Uploads a small photo over tus, then reports a hazard at the floor 5
    /// post that shows it; the hazard's header.
    async fn report_hazard(&mut self, n: u64, shared: &Shared) -> anyhow::Result<DocHeader> {
        let photo = crate::uploads::photo(160, 120, 24, self.number << 20 | n)?;
        let start = Instant::now();
        let stored = self.uploader.upload(photo.into(), start).await?;
        shared
            .uploads
            .lock()
            .await
            .push(start.elapsed().as_micros() as u64);
        let report = HazardEvent {
            id: uuid::Uuid::new_v4().simple().to_string(),
            prev: None,
            at_ms: now_ms(),
            by: self.user_id.clone(),
            role: Role::Volunteer,
            device: self.device_id.clone(),
            action: HazardAction::Report {
                severity: Severity::General,
                immediate: false,
            },
            note: String::new(),
            photos: vec![stored.hash.clone()],
        };
        let hazard = HazardDoc {
            category: "exit_blocked".into(),
            severity: Severity::General,
            description: format!("Bikes blocking the stairwell at {}", self.posts[0].0),
            place: HazardPlace {
                post_id: Some(self.posts[0].0.clone()),
                ..HazardPlace::default()
            },
            photos: vec![stored.hash],
            events: vec![report],
        };
        let id = DocId::new(format!("hazard-sim-{:05}-{n}", self.number))?;
        let header = self.create(DocHeader::new(id, DocType::Hazard), &hazard)?;
        shared.hazards.fetch_add(1, Ordering::SeqCst);
        Ok(header)
    }

    fn doc(&mut self) -> &mut Automerge {
        &mut self
            .docs
            .docs
            .get_mut(&self.patrol.id)
            .expect("the phone holds its patrol")
            .doc
    }

    /// Appends `item` to the patrol's list `key` as one change; its hash.
    fn append(&mut self, key: &str, item: serde_json::Value) -> anyhow::Result<ChangeHash> {
        self.doc()
            .transact(|tx| fieldsync_proto::json::append(tx, key, &item))
            .map_err(|e| anyhow::anyhow!("appending to {key}: {:?}", e.error))?
            .hash
            .context("the append made a change")
    }

    fn check_in(&mut self, n: u64) -> anyhow::Result<ChangeHash> {
        let (post, tag) = self.posts[(n % 2) as usize].clone();
        let checkin = CheckIn {
            id: uuid::Uuid::new_v4().simple().to_string(),
            post_id: post,
            proof: Proof::Tag { payload: tag },
            at_ms: now_ms(),
            fix: None,
            by: self.user_id.clone(),
            device: self.device_id.clone(),
            note: String::new(),
            photos: Vec::new(),
            corrects: None,
        };
        self.append("checkins", serde_json::to_value(&checkin)?)
    }

    fn breadcrumbs(&mut self) -> anyhow::Result<()> {
        let now = now_ms();
        let points: Vec<Breadcrumb> = (0..10)
            .map(|s| Breadcrumb {
                at_ms: now - (10 - s) * 1000,
                lat: 31.2004 + s as f64 * 1e-5,
                lon: 121.4003,
                accuracy_m: 8.0,
            })
            .collect();
        let chunk = breadcrumbs::encode(&points).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.append("breadcrumbs", serde_json::Value::String(chunk))?;
        Ok(())
    }

    async fn connect(&mut self, url: &str) -> anyhow::Result<(Ws, ClientSession)> {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
        let (session, hello) = ClientSession::start(&self.device_id, &self.token, self.cursor);
        ws.send(Message::Binary(hello.encode().into())).await?;
        Ok((ws, session))
    }

    /// Hands the session's events on; true once it reports idle.
    async fn handle(
        &mut self,
        ws: &mut Ws,
        events: Vec<ClientEvent>,
        shared: &Shared,
    ) -> anyhow::Result<bool> {
        let mut idle = false;
        for e in events {
            match e {
                ClientEvent::Send(m) => ws.send(Message::Binary(m.encode().into())).await?,
                ClientEvent::Acked(doc) if doc == self.patrol.id => self.acked(shared).await,
                ClientEvent::Cursor(c) => self.cursor = c,
                ClientEvent::Idle => idle = true,
                ClientEvent::Failed { code, message } => bail!("{code:?}: {message}"),
                ClientEvent::Rejected { code, message, .. } => {
                    bail!("rejected {code:?}: {message}")
                }
                _ => {}
            }
        }
        Ok(idle && self.pending.is_empty())
    }

    /// The server holds the patrol up to its acked heads: the check-ins in
    /// them are done.
    async fn acked(&mut self, shared: &Shared) {
        let d = &self.docs.docs[&self.patrol.id];
        let after: std::collections::HashSet<ChangeHash> = d
            .doc
            .get_changes(&d.acked)
            .iter()
            .map(|c| c.hash())
            .collect();
        let now = Instant::now();
        let mut done = Vec::new();
        self.pending.retain(|(at, hash)| {
            let acked = !after.contains(hash);
            if acked {
                done.push(now.duration_since(*at).as_micros() as u64);
            }
            !acked
        });
        if self.measuring && !done.is_empty() {
            shared.latencies.lock().await.extend(done);
        }
    }

    /// The phone's life, phase by phase.
    async fn live(
        &mut self,
        url: &str,
        mut phase: watch::Receiver<Phase>,
        shared: &Shared,
        period: Duration,
        offline: usize,
        connecting: Arc<Semaphore>,
    ) -> anyhow::Result<()> {
        let mut conn: Option<(Ws, ClientSession)> = None;
        let mut reported = false;
        let mut n = 0u64;
        // Phones do not check in in lockstep.
        let offset = Duration::from_micros(rand::random_range(0..period.as_micros().max(1) as u64));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut current = *phase.borrow_and_update();
        loop {
            let connects = match current {
                Phase::ConnectFirst => self.first,
                Phase::Connect | Phase::Storm => true,
                _ => false,
            };
            match current {
                _ if connects && conn.is_none() => {
                    let _slot = match current {
                        // The storm is everyone at once; the first connect is paced.
                        Phase::ConnectFirst | Phase::Connect => Some(connecting.acquire().await?),
                        _ => None,
                    };
                    let (mut ws, mut session) = self.connect(url).await?;
                    let events = session
                        .local_change(self.patrol.clone(), &mut self.docs)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    self.handle(&mut ws, events, shared).await?;
                    shared.connected.fetch_add(1, Ordering::SeqCst);
                    conn = Some((ws, session));
                    reported = false;
                }
                Phase::Outage if conn.is_some() => {
                    conn = None;
                    shared.connected.fetch_sub(1, Ordering::SeqCst);
                    self.measuring = false;
                    self.pending.clear();
                    for _ in 0..offline {
                        n += 1;
                        let hash = self.check_in(n)?;
                        self.pending.push((Instant::now(), hash));
                        shared.checkins.fetch_add(1, Ordering::SeqCst);
                    }
                    shared.ready.fetch_add(1, Ordering::SeqCst);
                }
                Phase::Stop => return Ok(()),
                _ => {}
            }
            let night = current == Phase::Night;
            tokio::select! {
                frame = async { conn.as_mut().expect("connected").0.next().await }, if conn.is_some() => {
                    let (ws, session) = conn.as_mut().expect("connected");
                    let msg = match frame {
                        Some(Ok(Message::Binary(b))) => ServerMsg::decode(&b)?,
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => bail!("connection failed: {e}"),
                        None => bail!("the server closed the connection"),
                    };
                    let events = session.receive(msg, &mut self.docs).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let idle = self.handle(ws, events, shared).await?;
                    if idle && !reported && connects {
                        reported = true;
                        shared.ready.fetch_add(1, Ordering::SeqCst);
                    }
                }
                _ = ticker.tick(), if night && conn.is_some() => {
                    n += 1;
                    self.measuring = true;
                    let hash = self.check_in(n)?;
                    self.pending.push((Instant::now(), hash));
                    shared.checkins.fetch_add(1, Ordering::SeqCst);
                    if n.is_multiple_of(10) {
                        self.breadcrumbs()?;
                        shared.chunks.fetch_add(1, Ordering::SeqCst);
                    }
                    let (ws, session) = conn.as_mut().expect("connected");
                    let events = session
                        .local_change(self.patrol.clone(), &mut self.docs)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    self.handle(ws, events, shared).await?;
                    if self.hazard_every > 0 && n.is_multiple_of(self.hazard_every) {
                        let hazard = self.report_hazard(n, shared).await?;
                        let (ws, session) = conn.as_mut().expect("connected");
                        let events = session
                            .local_change(hazard, &mut self.docs)
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                        self.handle(ws, events, shared).await?;
                    }
                }
                changed = phase.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    current = *phase.borrow_and_update();
                    if current == Phase::Night {
                        ticker.reset_after(offset);
                    }
                    // Already connected and caught up: done with the
                    // phase at once.
                    if current == Phase::Connect && conn.is_some() && reported {
                        shared.ready.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
    }
}
