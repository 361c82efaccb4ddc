//! Fuzz harnesses for everything that reads input from outside: the wire
//! decoders (both directions), both session steps (the device's state
//! machine and the server's per-document apply), the document validators
//! (arbitrary automerge changes applied to valid documents), the tag parser,
//! tus header parsing, and the image sanitizer.
//!
//! A harness takes any bytes and must return: errors are fine, a panic or a
//! hang is a bug. [`TARGETS`] lists them with their seeds; [`run_bounded`]
//! is the stable-toolchain runner (a mutation loop bounded by count and
//! time) that the test suite and `fieldsync-fuzz` use; `fuzz/cargo-fuzz`
//! holds libFuzzer targets for long, coverage-guided runs on nightly. Every
//! input that ever broke a harness is kept in `fuzz/regressions/<target>/`
//! and replayed first.

pub mod input;
mod targets;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use targets::{
    client_msg, client_session, image, server_apply, server_msg, tag, tus_headers, validators,
};

/// One harness.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Valid inputs to mutate from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every harness.
pub const TARGETS: &[Target] = &[
    Target {
        name: "client_msg",
        run: client_msg,
        seeds: targets::client_msg_seeds,
    },
    Target {
        name: "server_msg",
        run: server_msg,
        seeds: targets::server_msg_seeds,
    },
    Target {
        name: "client_session",
        run: client_session,
        seeds: targets::structured_seeds,
    },
    Target {
        name: "server_apply",
        run: server_apply,
        seeds: targets::server_apply_seeds,
    },
    Target {
        name: "validators",
        run: validators,
        seeds: targets::structured_seeds,
    },
    Target {
        name: "tag",
        run: tag,
        seeds: targets::tag_seeds,
    },
    Target {
        name: "tus_headers",
        run: tus_headers,
        seeds: targets::tus_seeds,
    },
    Target {
        name: "image",
        run: image,
        seeds: targets::image_seeds,
    },
];

/// The harness named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// What a bounded run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub executions: u64,
    pub elapsed: Duration,
    /// Inputs that panicked, written to the regressions dir.
    pub crashes: Vec<PathBuf>,
}

/// The directory of inputs that once broke `target`.
pub fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target)
}

/// Replays every kept regression input of `t`, then runs it on mutations of
/// its seeds until `cases` executions or `time` is spent, whichever comes
/// first. A panicking input is saved under `save_crashes` (when given) and
/// reported.
pub fn run_bounded(
    t: &Target,
    cases: u64,
    time: Duration,
    seed: u64,
    save_crashes: Option<&Path>,
) -> Run {
    let started = Instant::now();
    let mut run = Run {
        executions: 0,
        elapsed: Duration::ZERO,
        crashes: Vec::new(),
    };
    let exec = |input: &[u8], run: &mut Run| {
        run.executions += 1;
        if std::panic::catch_unwind(AssertUnwindSafe(|| (t.run)(input))).is_err() {
            let name = format!("crash-{:016x}", fnv(input));
            let path = save_crashes.map_or_else(|| PathBuf::from(&name), |d| d.join(&name));
            if let Some(dir) = save_crashes {
                let _ = std::fs::create_dir_all(dir);
                let _ = std::fs::write(&path, input);
            }
            run.crashes.push(path);
        }
    };
    let mut kept: Vec<PathBuf> = std::fs::read_dir(regressions_dir(t.name))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    kept.sort();
    for path in kept {
        if let Ok(bytes) = std::fs::read(&path) {
            exec(&bytes, &mut run);
        }
    }
    let seeds = (t.seeds)();
    for s in &seeds {
        exec(s, &mut run);
    }
    let mut rng = input::Rng::new(seed);
    while run.executions < cases && started.elapsed() < time {
        let base: &[u8] = if seeds.is_empty() {
            &[]
        } else {
            &seeds[rng.below(seeds.len())]
        };
        let m = input::mutate(&mut rng, base);
        exec(&m, &mut run);
    }
    run.elapsed = started.elapsed();
    run
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
