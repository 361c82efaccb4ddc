//! A short bounded run of every harness, in the test suite: each replays
//! its kept regression inputs and seeds, then mutations until
//! `FIELDSYNC_FUZZ_CASES` executions (default 20,000) or
//! `FIELDSYNC_FUZZ_SECS` seconds (default 5). Long runs:
//! `cargo run --release -p fieldsync-fuzz -- --secs 600` (stable), or the
//! cargo-fuzz targets in `fuzz/cargo-fuzz` (nightly).

use std::time::Duration;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bounded(name: &str) {
    let t = fieldsync_fuzz::target(name).expect("a harness of that name");
    let cases = knob("FIELDSYNC_FUZZ_CASES", 20_000);
    let secs = knob("FIELDSYNC_FUZZ_SECS", 5);
    let crashes = std::env::temp_dir().join(format!("fieldsync-fuzz-crashes-{name}"));
    let run = fieldsync_fuzz::run_bounded(
        t,
        cases,
        Duration::from_secs(secs),
        0x5eed_0000 + name.len() as u64,
        Some(&crashes),
    );
    println!(
        "{name}: {} executions in {:.1} s",
        run.executions,
        run.elapsed.as_secs_f64()
    );
    assert!(
        run.crashes.is_empty(),
        "{name}: inputs that panicked (copy them to fuzz/regressions/{name}/): {:?}",
        run.crashes
    );
    assert!(run.executions > (t.seeds)().len() as u64, "{name} ran");
}

macro_rules! targets {
    ($($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                bounded(stringify!($name));
            }
        )*
        #[test]
        fn every_harness_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for t in fieldsync_fuzz::TARGETS {
                assert!(tested.contains(&t.name), "{} has no bounded run", t.name);
            }
        }
    };
}

targets!(
    client_msg,
    server_msg,
    client_session,
    server_apply,
    validators,
    tag,
    tus_headers,
    image
);

/// The runner itself can fail: a harness that panics on some inputs is
/// caught and its input saved.
#[test]
fn a_panicking_harness_is_caught_and_its_input_kept() {
    fn fragile(data: &[u8]) {
        assert!(!data.starts_with(b"fs"), "boom");
    }
    let t = fieldsync_fuzz::Target {
        name: "fragile",
        run: fragile,
        seeds: || vec![b"xs1.post".to_vec()],
    };
    let dir = tempfile::tempdir().unwrap();
    let run = fieldsync_fuzz::run_bounded(&t, 50_000, Duration::from_secs(5), 7, Some(dir.path()));
    assert!(!run.crashes.is_empty(), "one bit flip makes xs into fs");
    let saved = std::fs::read(&run.crashes[0]).unwrap();
    assert!(saved.starts_with(b"fs"));
}
