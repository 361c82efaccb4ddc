//! The dashboard in a real browser: `tests/browser/dashboard.mjs` drives
//! Debian's Chromium through playwright-core against a real server with the
//! demo community, while this harness plays the phones it asks for (`STEP`
//! lines). Screenshots are written to `target/screenshots/dashboard/`.
//!
//! Tools: `server/scripts/install-browser-test-tools.sh` installs Chromium and
//! playwright-core (`.ci/run` runs it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::support::{Backend, Device, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "run server/scripts/install-browser-test-tools.sh";
/// The whole scenario normally takes a few seconds; past this it is stuck.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace exists")
}

fn tool_paths() -> anyhow::Result<(PathBuf, PathBuf)> {
    let playwright = workspace().join("target/tools/browser/node_modules/playwright-core");
    ensure!(
        playwright.join("index.mjs").is_file(),
        "playwright-core not found at {}: {INSTALL_HINT}",
        playwright.display()
    );
    ensure!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} not found: {INSTALL_HINT}"
    );
    Ok((playwright, PathBuf::from(CHROMIUM)))
}

/// The phone the scenario asks for: the demo volunteer walking team 1's
/// stairwells.
struct Phone {
    device: Device,
    patrol: Option<fieldsync_sdk::DocId>,
}

impl Phone {
    async fn act(&mut self, server: &TestServer, step: &str) -> anyhow::Result<()> {
        let client = &self.device.client;
        match step {
            "phone-starts-patrol" => {
                self.patrol = Some(client.start_patrol("team-1", "route-team-1")?);
            }
            "phone-checks-in" => {
                let patrol = self.patrol.as_ref().context("no patrol started")?;
                let tag = crate::support::printed_payload(server, "post-b3-u2-f9").await;
                client.check_in(patrol, "post-b3-u2-f9", Some(&tag), "", None, "")?;
            }
            other => bail!("unknown step {other}"),
        }
        let report = client.sync_now().await?;
        ensure!(report.rejected == 0, "the phone's change was rejected");
        Ok(())
    }
}

async fn run() -> anyhow::Result<()> {
    let (playwright, chromium) = tool_paths()?;
    let shots = workspace().join("target/screenshots/dashboard");
    std::fs::create_dir_all(&shots)?;
    let server = TestServer::start_with(Backend::Sqlite, |c| c.demo_documents = true).await;
    let mut phone = Phone {
        device: server.device("demo-volunteer").await,
        patrol: None,
    };
    let mut child = Command::new("node")
        .arg(workspace().join("tests/browser/dashboard.mjs"))
        .arg(&server.url)
        .arg(&shots)
        .arg(&chromium)
        .arg(&playwright)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("node not found (install Node.js)")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut stderr = child.stderr.take().context("stderr")?;
    let mut output = Vec::new();
    let scenario = async {
        while let Some(line) = lines.next_line().await? {
            println!("{line}");
            output.push(line.clone());
            if let Some(step) = line.strip_prefix("STEP ") {
                phone.act(&server, step.trim()).await?;
                stdin.write_all(b"ok\n").await?;
                stdin.flush().await?;
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(SCENARIO_TIMEOUT, scenario)
        .await
        .context("the browser scenario timed out")??;
    let status = child.wait().await?;
    let mut errors = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut errors).await?;
    server.stop().await;
    ensure!(
        status.success(),
        "the browser scenario failed ({status}):\n{}\n{errors}",
        output.join("\n")
    );
    ensure!(
        output
            .iter()
            .any(|l| l.contains("dashboard scenario passed")),
        "the scenario did not finish"
    );
    for shot in [
        "now-zh.png",
        "now-en.png",
        "now-live-checkin.png",
        "now-phone-390.png",
    ] {
        let len = std::fs::metadata(shots.join(shot))
            .with_context(|| format!("screenshot {shot}"))?
            .len();
        ensure!(len > 10_000, "screenshot {shot} is only {len} bytes");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    if let Err(e) = run().await {
        panic!("{e:#}");
    }
}
