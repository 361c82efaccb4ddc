//! `fieldsync-bench benchmarks`: runs the scale benchmarks of one process
//! (sync on SQLite and PostgreSQL, the simulator's night, its 10,000-device
//! storm and its large store) and the physical-limit probe in one session,
//! and writes BENCHMARKS.md: every target beside its figure and reference.
//!
//! The probe is a program of its own (automerge and SQLite, no network),
//! given by path; it prints one line of `key=value` figures. Whatever follows
//! [`HAND_WRITTEN`] in the old file (the profile, notes) is kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::server::ServerArgs;
use crate::simulate::{self, SimulateArgs, SimulateFigures};
use crate::sync::{self, SyncArgs, SyncFigures};

/// The line after which BENCHMARKS.md is written by hand.
pub const HAND_WRITTEN: &str =
    "<!-- Written by hand from here on: kept when the file is regenerated. -->";

/// Flags of `fieldsync-bench benchmarks`.
#[derive(Debug, clap::Args)]
pub struct BenchmarksArgs {
    /// The markdown file to write
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
    /// The physical-limit probe's binary, run as `PATH <docs> <edits>`: the
    /// reference for push, pull and reconnect
    #[arg(long, value_name = "PATH")]
    pub limit_probe: Option<PathBuf>,
    /// PostgreSQL server for the PostgreSQL sync run (a scratch database is
    /// created and dropped); without it that run is left out
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Every run at a tiny size: checks the command works, measures nothing
    #[arg(long)]
    pub smoke: bool,
    /// Also write every run's figures as JSON here
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bars
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// How big each run is.
struct Sizes {
    docs: usize,
    edits: usize,
    night_devices: usize,
    night_secs: u64,
    /// The night of the storm and large-store runs (at a twentieth of the
    /// rate: they measure memory and the storm).
    quiet_secs: u64,
    storm_devices: usize,
    store_devices: usize,
    stored_docs: usize,
    /// A hazard with a photo every this many check-ins of a phone.
    hazard_every: u64,
}

const FULL: Sizes = Sizes {
    docs: 10_000,
    edits: 5,
    night_devices: 1_000,
    night_secs: 20,
    quiet_secs: 10,
    storm_devices: 10_000,
    store_devices: 1_000,
    stored_docs: 100_000,
    hazard_every: 20,
};

const SMOKE: Sizes = Sizes {
    docs: 20,
    edits: 2,
    night_devices: 12,
    night_secs: 2,
    quiet_secs: 1,
    storm_devices: 16,
    store_devices: 8,
    stored_docs: 30,
    hazard_every: 2,
};

/// The probe's figures (its output line, parsed).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeFigures {
    /// Saving the documents on the device plus loading, checking, saving and
    /// storing them on the server: the least a push costs.
    pub push_s: f64,
    /// Reading them all from SQLite and loading each: the least a fresh pull
    /// costs.
    pub pull_s: f64,
    /// One changed document with a saved sync state.
    pub reconnect_bytes: u64,
    pub reconnect_messages: u64,
}

/// Everything one session measured.
#[derive(Debug, Serialize)]
pub struct BenchmarkFigures {
    pub date: String,
    pub cores: usize,
    pub smoke: bool,
    pub sync_sqlite: SyncFigures,
    pub sync_postgres: Option<SyncFigures>,
    pub probe: Option<ProbeFigures>,
    pub night: SimulateFigures,
    pub storm: SimulateFigures,
    pub store: SimulateFigures,
}

/// Runs every benchmark, one after the other on the same machine.
pub async fn run(args: &BenchmarksArgs) -> anyhow::Result<BenchmarkFigures> {
    let sizes = if args.smoke { &SMOKE } else { &FULL };
    let server = || ServerArgs {
        server: args.server.server.clone(),
    };
    let sync_on = |database_url: Option<String>| SyncArgs {
        docs: sizes.docs,
        edits: sizes.edits,
        database_url,
        json: None,
        server: server(),
    };
    let simulate = |devices: usize, rate: f64, secs: u64, stored_docs: usize| SimulateArgs {
        devices,
        team_size: 10,
        rate,
        secs,
        offline_checkins: 2,
        hazard_every: sizes.hazard_every,
        stored_docs,
        database_url: None,
        json: None,
        quiet: args.quiet,
        server: server(),
    };
    let step = |what: &str| {
        if !args.quiet {
            eprintln!("== {what}");
        }
    };
    step("sync, SQLite");
    let sync_sqlite = sync::run(&sync_on(None)).await.context("sync on SQLite")?;
    let sync_postgres = match &args.database_url {
        Some(url) => {
            step("sync, PostgreSQL");
            Some(
                sync::run(&sync_on(Some(url.clone())))
                    .await
                    .context("sync on PostgreSQL")?,
            )
        }
        None => None,
    };
    let probe = match &args.limit_probe {
        Some(path) => {
            step("physical-limit probe");
            Some(run_probe(path, sizes.docs, sizes.edits)?)
        }
        None => None,
    };
    step("simulate: the night");
    let night = simulate::run(&simulate(sizes.night_devices, 1.0, sizes.night_secs, 0))
        .await
        .context("simulate the night")?;
    step("simulate: idle devices and the storm");
    let storm = simulate::run(&simulate(sizes.storm_devices, 0.05, sizes.quiet_secs, 0))
        .await
        .context("simulate the storm")?;
    step("simulate: a large store");
    let store = simulate::run(&simulate(
        sizes.store_devices,
        0.05,
        sizes.quiet_secs,
        sizes.stored_docs,
    ))
    .await
    .context("simulate a large store")?;
    Ok(BenchmarkFigures {
        date: jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        smoke: args.smoke,
        sync_sqlite,
        sync_postgres,
        probe,
        night,
        storm,
        store,
    })
}

/// Runs the probe and parses its line.
fn run_probe(path: &Path, docs: usize, edits: usize) -> anyhow::Result<ProbeFigures> {
    let out = std::process::Command::new(path)
        .args([docs.to_string(), edits.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running the probe {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "the probe {} failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_probe(&String::from_utf8_lossy(&out.stdout))
}

/// `save=0.20s server_load_save_store=0.48s pull_load=0.75s
/// reconnect_1doc=602B/6msgs/…` and other pairs → the figures.
pub fn parse_probe(line: &str) -> anyhow::Result<ProbeFigures> {
    let value = |key: &str| -> anyhow::Result<&str> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            .with_context(|| format!("the probe printed no {key}= in {line:?}"))
    };
    let secs = |key: &str| -> anyhow::Result<f64> {
        let v = value(key)?;
        v.strip_suffix('s')
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("the probe's {key}={v} is not seconds"))
    };
    let (push_s, pull_s) = (
        secs("save")? + secs("server_load_save_store")?,
        secs("pull_load")?,
    );
    let reconnect = value("reconnect_1doc")?;
    let mut fields = reconnect.split('/');
    let number = |field: Option<&str>, unit: &str| -> anyhow::Result<u64> {
        field
            .and_then(|f| f.strip_suffix(unit))
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("the probe's reconnect_1doc={reconnect} is not B/msgs"))
    };
    Ok(ProbeFigures {
        push_s,
        pull_s,
        reconnect_bytes: number(fields.next(), "B")?,
        reconnect_messages: number(fields.next(), "msgs")?,
    })
}

/// Writes the markdown (keeping the old file's hand-written part) and
/// prints its tables.
pub fn write(figures: &BenchmarkFigures, out: &Path) -> anyhow::Result<()> {
    let kept = match std::fs::read_to_string(out) {
        Ok(old) => old
            .split_once(HAND_WRITTEN)
            .map(|(_, rest)| rest.trim_start_matches('\n').to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    };
    let generated = markdown(figures);
    let mut text = generated.clone();
    text.push_str(HAND_WRITTEN);
    text.push_str("\n\n");
    if let Some(kept) = kept {
        text.push_str(&kept);
    }
    std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    println!("{generated}");
    println!("wrote {}", out.display());
    Ok(())
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "no" }
}

/// The push or pull figure, with its ratio to the probe's.
fn beside(figure: f64, reference: Option<f64>) -> (String, Option<f64>) {
    match reference {
        Some(r) if r > 0.0 => (
            format!("{figure:.2} s ({:.1}×)", figure / r),
            Some(figure / r),
        ),
        _ => (format!("{figure:.2} s"), None),
    }
}

/// `100000` → `100,000`.
fn thousands(v: usize) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The generated part of BENCHMARKS.md.
pub fn markdown(f: &BenchmarkFigures) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |target: &str, measured: String, reference: String, met: String| {
        rows.push([target.to_owned(), measured, reference, met]);
    };
    let storm = &f.storm;
    let n = thousands;
    row(
        "an idle device ≤ 24 KB",
        format!(
            "{:.1} KB each (the server's growth from {} to {} idle connections)",
            storm.idle_kb_per_connection,
            n(storm.devices / 2),
            n(storm.devices)
        ),
        "–".into(),
        yes(storm.idle_kb_per_connection <= 24.0).into(),
    );
    row(
        &format!("{} idle devices < 300 MB in all", n(storm.devices)),
        format!(
            "{:.0} MB ({:.0} MB before any connected, after the logins)",
            storm.server_rss_idle_mb, storm.server_rss_before_mb
        ),
        "–".into(),
        yes(storm.server_rss_idle_mb < 300.0).into(),
    );
    let store = &f.store;
    row(
        &format!(
            "{} stored documents and {} devices online < 150 MB",
            n(store.stored_docs),
            n(store.devices)
        ),
        format!(
            "{:.0} MB with all connected and idle; {:.0} MB at the peak (the storm)",
            store.server_rss_idle_mb, store.server_peak_rss_mb
        ),
        "–".into(),
        yes(store.server_rss_idle_mb < 150.0 && store.server_peak_rss_mb < 150.0).into(),
    );
    let night = &f.night;
    row(
        "one commit costs O(1) change queries, however many devices are connected",
        format!(
            "{:.2} per commit with {} devices connected ({} commits in the night)",
            night.change_queries_per_commit,
            n(night.devices),
            n(night.night_commits as usize)
        ),
        "one query per connection per commit before the change feed".into(),
        yes(night.night_commits > 0 && night.change_queries_per_commit <= 2.0).into(),
    );
    row(
        &format!(
            "check-in ack p99 < 100 ms, {} devices × 1 check-in/s",
            n(night.devices)
        ),
        format!(
            "{:.0} acks/s; p50 {:.0} ms, p99 {:.0} ms; server CPU {:.0} %",
            night.acks_per_s, night.ack_p50_ms, night.ack_p99_ms, night.server_cpu_night_pct
        ),
        format!(
            "{} check-ins/s asked",
            n((night.devices as f64 * night.rate_per_device).round() as usize)
        ),
        yes(night.ack_p99_ms < 100.0 && night.unacked_checkins == 0).into(),
    );
    row(
        &format!("{}-device reconnect storm < 60 s", n(storm.devices)),
        format!(
            "{:.1} s, {} failed, {} check-ins unacknowledged; server peak RSS {:.0} MB",
            storm.storm_s, storm.failed_devices, storm.unacked_checkins, storm.server_peak_rss_mb
        ),
        format!("{} devices: {:.1} s", n(night.devices), night.storm_s),
        yes(storm.storm_s < 60.0 && storm.failed_devices == 0 && storm.unacked_checkins == 0)
            .into(),
    );
    let probe = f.probe.as_ref();
    let syncs: Vec<(&str, &SyncFigures)> = std::iter::once(("SQLite", &f.sync_sqlite))
        .chain(f.sync_postgres.iter().map(|s| ("PostgreSQL", s)))
        .collect();
    let docs = n(f.sync_sqlite.docs);
    let edits = f.sync_sqlite.edits;
    for (name, pick, reference) in [
        (
            "push",
            (|s: &SyncFigures| s.push_s) as fn(&SyncFigures) -> f64,
            probe.map(|p| p.push_s),
        ),
        (
            "fresh pull",
            |s: &SyncFigures| s.pull_s,
            probe.map(|p| p.pull_s),
        ),
    ] {
        let figures: Vec<(String, Option<f64>)> = syncs
            .iter()
            .map(|(_, s)| beside(pick(s), reference))
            .collect();
        let measured = syncs
            .iter()
            .zip(&figures)
            .map(|((backend, _), (text, _))| format!("{backend} {text}"))
            .collect::<Vec<_>>()
            .join(", ");
        let met = match figures.iter().map(|(_, r)| *r).collect::<Option<Vec<_>>>() {
            Some(ratios) => yes(ratios.iter().all(|r| *r <= 1.5)).to_owned(),
            None => "– (no probe run)".to_owned(),
        };
        row(
            &format!("{name} of {docs} documents × {edits} edits within 1.5× the probe"),
            measured,
            reference.map_or("not run".into(), |r| format!("probe: {r:.2} s")),
            met,
        );
    }
    let sqlite = &f.sync_sqlite;
    row(
        "reconnect after one change < 1 KB",
        format!(
            "{} B both ways, {:.0} ms (SQLite)",
            sqlite.reconnect_bytes, sqlite.reconnect_ms
        ),
        probe.map_or("not run".into(), |p| {
            format!(
                "probe with a saved sync state: {} B in {} messages",
                p.reconnect_bytes, p.reconnect_messages
            )
        }),
        yes(sqlite.reconnect_bytes < 1024).into(),
    );

    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str(
        "The scale targets of one fieldsync process, each beside the figure \
         measured and the reference measured in the same session. Generated by \
         `fieldsync-bench benchmarks` (below); the targets and the other \
         benchmarks are explained in [docs/targets.md](docs/targets.md), \
         deploying several replicas in [docs/deploy.md](docs/deploy.md).\n\n",
    );
    if f.smoke {
        out.push_str("**A smoke run: every size is tiny, and these figures mean nothing.**\n\n");
    }
    out.push_str(&format!(
        "Measured on {}, one run each, release build, on a machine with {} cores \
         shared by the server and the clients it measures.\n\n",
        f.date, f.cores
    ));
    out.push_str(
        "```sh\ncargo build --release -p fieldsync-server -p fieldsync-bench\n\
         target/release/fieldsync-bench benchmarks --limit-probe PATH/TO/limit \\\n    \
         --database-url postgres://postgres@127.0.0.1:5432/postgres --json benchmarks.json\n```\n\n",
    );
    out.push_str(
        "The probe is a program of automerge and SQLite with no network and one \
         thread, run as `limit <docs> <edits>`: the least any sync server pays for \
         the same documents.\n\n",
    );
    out.push_str("| target | measured | reference | met |\n|---|---|---|---|\n");
    for [target, measured, reference, met] in &rows {
        out.push_str(&format!(
            "| {target} | {measured} | {reference} | {met} |\n"
        ));
    }
    out.push_str(
        "\nThe night: teams of 10 check in at their stairwell's floor 5 and floor 9 \
         posts with signed tags, one check-in a second each, plus a breadcrumb chunk \
         every ten seconds and, every 20 check-ins, a hazard with a small photo. The storm: every connection drops, each phone checks in \
         twice offline, and all reconnect at once; the time is until the last one \
         has pushed and caught up. The large store: a device first pushes the \
         district's history (hazards the phones do not read), then the phones come.\n\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn the_probe_line_parses() {
        let line = "n=10000 k=5 create=4.22s save=0.20s wire=4.8MB (482 B/doc) \
                    server_load_save_store=0.48s pull_load=0.75s initial_rounds=3 \
                    reconnect_1doc=602B/6msgs/1.2ms syncstate=120B";
        let p = parse_probe(line).unwrap();
        assert!((p.push_s - 0.68).abs() < 1e-9, "{p:?}");
        assert!((p.pull_s - 0.75).abs() < 1e-9);
        assert_eq!((p.reconnect_bytes, p.reconnect_messages), (602, 6));
        let err = parse_probe("n=1 k=1").unwrap_err().to_string();
        assert!(err.contains("save="), "{err}");
    }
}
