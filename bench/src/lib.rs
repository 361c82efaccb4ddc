//! `fieldsync-bench`: measurements of the fieldsync server and the SDK that
//! print a table and write JSON, one module a benchmark. The binary
//! (`src/main.rs`) is their command line; the end-to-end tests run them at a
//! tiny size to check they work.
//!
//! The server runs as a child process (the `fieldsync` binary, see
//! [`server::ServerArgs`]), so its memory and CPU are measured apart from the
//! clients'; the clients are real SDK devices with their own SQLite stores.
//! This crate links the SDK and never the server.

pub mod benchmarks;
pub mod dashboard;
pub mod demo;
pub mod night;
pub mod proc_stats;
pub mod reports;
pub mod scratch_db;
pub mod sdk;
pub mod server;
pub mod simulate;
pub mod sync;
pub mod uploads;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// Prints a benchmark's figures with `print` and writes them as JSON when
/// `--json` was given.
pub fn report<F: Serialize>(figures: F, print: fn(&F), json: Option<&Path>) -> anyhow::Result<()> {
    print(&figures);
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Prints `rows` of a benchmark's table: each name padded to `name_width`,
/// each value right-aligned in 12 columns.
pub fn print_rows<N: std::fmt::Display>(
    name_width: usize,
    rows: impl IntoIterator<Item = (N, String)>,
) {
    for (name, value) in rows {
        println!("  {name:<name_width$} {value:>12}");
    }
}
