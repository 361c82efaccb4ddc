//! `fieldsync-fuzz`: long runs of the harnesses on the stable toolchain.
//!
//! ```sh
//! cargo run --release -p fieldsync-fuzz -- [--secs 60] [--cases N] [--seed S] [TARGET ...]
//! ```
//!
//! Runs each named harness (all by default) for `--secs` seconds or
//! `--cases` executions, prints a table, writes `target/fuzz-report.json`,
//! and saves every input that panicked to `fuzz/regressions/<target>/`
//! (commit it: the test suite replays it from then on). Exits non-zero when
//! anything panicked.

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut secs = 60u64;
    let mut cases = u64::MAX;
    let mut seed = 1u64;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| {
                    eprintln!("{flag} takes a whole number");
                    std::process::exit(2)
                })
        };
        match a.as_str() {
            "--secs" => secs = value("--secs"),
            "--cases" => cases = value("--cases"),
            "--seed" => seed = value("--seed"),
            "-h" | "--help" => {
                println!("fieldsync-fuzz [--secs N] [--cases N] [--seed S] [TARGET ...]");
                let all: Vec<&str> = fieldsync_fuzz::TARGETS.iter().map(|t| t.name).collect();
                println!("targets: {}", all.join(" "));
                return ExitCode::SUCCESS;
            }
            name => names.push(name.to_owned()),
        }
    }
    let targets: Vec<&fieldsync_fuzz::Target> = if names.is_empty() {
        fieldsync_fuzz::TARGETS.iter().collect()
    } else {
        let mut out = Vec::new();
        for n in &names {
            match fieldsync_fuzz::target(n) {
                Some(t) => out.push(t),
                None => {
                    eprintln!("no harness named {n}");
                    return ExitCode::from(2);
                }
            }
        }
        out
    };
    println!(
        "{:<16} {:>14} {:>9} {:>12} {:>8}",
        "target", "executions", "seconds", "exec/s", "crashes"
    );
    let mut report = Vec::new();
    let mut crashed = false;
    for t in targets {
        let run = fieldsync_fuzz::run_bounded(
            t,
            cases,
            Duration::from_secs(secs),
            seed,
            Some(&fieldsync_fuzz::regressions_dir(t.name)),
        );
        let s = run.elapsed.as_secs_f64();
        println!(
            "{:<16} {:>14} {:>9.1} {:>12.0} {:>8}",
            t.name,
            run.executions,
            s,
            run.executions as f64 / s.max(1e-9),
            run.crashes.len()
        );
        crashed |= !run.crashes.is_empty();
        report.push(serde_json::json!({
            "target": t.name,
            "executions": run.executions,
            "seconds": s,
            "crashes": run.crashes.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-report.json");
    if let Err(e) = std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap_or_default()) {
        eprintln!("cannot write {}: {e}", out.display());
    }
    if crashed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
