//! The server under test: the `fieldsync` binary as a child process on a
//! free loopback port, so its memory and CPU are its own. It is killed when
//! the benchmark is done.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// How long a starting server may take (migrations, seeding the demo
/// community, a PostgreSQL connection) before the benchmark gives up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which `fieldsync` server binary a benchmark starts.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The `fieldsync` server binary to run, e.g. to compare two builds side
    /// by side [default: `fieldsync` next to this executable]
    #[arg(long = "server", value_name = "PATH")]
    pub server: Option<PathBuf>,
}

impl ServerArgs {
    /// The server binary: `--server`, else `fieldsync` in the directory of
    /// this executable (the same `target/<profile>/`).
    pub fn binary(&self) -> anyhow::Result<PathBuf> {
        let path = match &self.server {
            Some(path) => path.clone(),
            None => std::env::current_exe()
                .context("locating the fieldsync-bench executable")?
                .with_file_name(format!("fieldsync{}", std::env::consts::EXE_SUFFIX)),
        };
        if !path.is_file() {
            bail!(
                "no fieldsync server binary at {}: build it with \
                 `cargo build --release -p fieldsync-server` or pass --server",
                path.display()
            );
        }
        Ok(path)
    }
}

/// The server as a child process.
pub struct ChildServer {
    child: Child,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
}

impl ChildServer {
    /// Starts `binary serve` on 127.0.0.1:0 with the demo accounts but no demo
    /// documents, storing in `data_dir` (SQLite) or `database_url`, and
    /// waits until it says where it listens.
    pub fn spawn(
        binary: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<ChildServer> {
        let mut cmd = Command::new(binary);
        cmd.args([
            "serve",
            "--no-demo-documents",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting the server {}", binary.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        // A thread reads the server's stdout for as long as it runs, so it
        // never blocks on a full pipe; the first "listening on" line is the
        // address (the server's stdout contract, which the tests read too).
        let (found, address) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(rest) = line.split("listening on ").nth(1) else {
                    continue;
                };
                if let (Some(url), Some(tx)) = (rest.split_whitespace().next(), found.take()) {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        // From here on, returning early drops the server, which kills it.
        let mut server = ChildServer {
            child,
            url: String::new(),
        };
        match address.recv_timeout(START_TIMEOUT) {
            Ok(url) => {
                server.url = url;
                Ok(server)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                "the server {} did not say where it listens within {} s",
                binary.display(),
                START_TIMEOUT.as_secs()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!(
                "the server {} exited before listening (its errors are above)",
                binary.display()
            ),
        }
    }

    /// CPU seconds (user + system) the server used so far.
    pub fn cpu_s(&self) -> f64 {
        crate::proc_stats::cpu_s(self.child.id())
    }

    /// (current, peak) resident set size in MB.
    pub fn rss_mb(&self) -> (f64, f64) {
        crate::proc_stats::rss_mb(&self.child.id().to_string())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
