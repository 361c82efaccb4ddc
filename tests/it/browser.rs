//! The dashboard in a real browser: each scenario in `tests/browser/` drives
//! Debian's Chromium through playwright-core (`tests/browser/lib.mjs`)
//! against a real server with the demo community, while this harness plays
//! the phones it asks for (`STEP` lines). Screenshots are written to
//! `target/screenshots/<scenario>/`.
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

/// What a scenario's `STEP` lines ask the harness to do.
pub trait Steps {
    async fn act(&mut self, server: &TestServer, step: &str) -> anyhow::Result<()>;
}

/// The phone the Now scenario asks for: the demo volunteer walking team 1's
/// stairwells.
struct Phone {
    device: Device,
    patrol: Option<fieldsync_sdk::DocId>,
}

impl Steps for Phone {
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

/// Runs `tests/browser/<name>.mjs` against `server`, answering its steps
/// with `steps`, and checks that it passed and wrote each of `screenshots`
/// (file names) under `target/screenshots/<name>/`.
pub async fn run_scenario(
    name: &str,
    server: &TestServer,
    steps: &mut impl Steps,
    screenshots: &[&str],
) -> anyhow::Result<()> {
    let (playwright, chromium) = tool_paths()?;
    let shots = workspace().join("target/screenshots").join(name);
    std::fs::create_dir_all(&shots)?;
    let mut child = Command::new("node")
        .arg(workspace().join(format!("tests/browser/{name}.mjs")))
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
                steps.act(server, step.trim()).await?;
                stdin.write_all(b"ok\n").await?;
                stdin.flush().await?;
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(SCENARIO_TIMEOUT, scenario)
        .await
        .with_context(|| format!("the {name} scenario timed out"))??;
    let status = child.wait().await?;
    let mut errors = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut errors).await?;
    ensure!(
        status.success(),
        "the {name} scenario failed ({status}):\n{}\n{errors}",
        output.join("\n")
    );
    let passed = format!("{name} scenario passed");
    ensure!(
        output.iter().any(|l| l.contains(&passed)),
        "the {name} scenario did not finish"
    );
    for shot in screenshots {
        let len = std::fs::metadata(shots.join(shot))
            .with_context(|| format!("screenshot {name}/{shot}"))?
            .len();
        ensure!(len > 10_000, "screenshot {name}/{shot} is only {len} bytes");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_now_page_in_a_real_browser() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.demo_documents = true).await;
    let mut phone = Phone {
        device: server.device("demo-volunteer").await,
        patrol: None,
    };
    let shots = [
        "refused-volunteer.png",
        "now-zh.png",
        "now-en.png",
        "now-live-checkin.png",
        "now-phone-390.png",
    ];
    let result = run_scenario("dashboard", &server, &mut phone, &shots).await;
    server.stop().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}

/// The phone the board scenario asks for: the demo volunteer filing an
/// incident report whose cause is markup.
struct Reporter {
    device: Device,
}

impl Steps for Reporter {
    async fn act(&mut self, _server: &TestServer, step: &str) -> anyhow::Result<()> {
        ensure!(step == "phone-files-incident", "unknown step {step}");
        let client = &self.device.client;
        client.file_incident(fieldsync_sdk::NewIncident {
            occurred_at_ms: 1_800_000_000_000,
            place: fieldsync_sdk::HazardPlace {
                post_id: Some("post-b3-u2-f9".into()),
                ..fieldsync_sdk::HazardPlace::default()
            },
            persons: "Two residents".into(),
            cause: "<img src=x onerror=alert(1)>".into(),
            handling: "Calmed them down".into(),
            outcome: String::new(),
            photos: Vec::new(),
        })?;
        let report = client.sync_now().await?;
        ensure!(report.rejected == 0, "the phone's change was rejected");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_board_in_a_real_browser() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.demo_documents = true).await;
    let mut reporter = Reporter {
        device: server.device("demo-volunteer").await,
    };
    let shots = [
        "compliance-zh.png",
        "compliance-en.png",
        "compliance-post.png",
        "patrol.png",
        "incident.png",
        "compliance-phone-390.png",
    ];
    let result = run_scenario("board", &server, &mut reporter, &shots).await;
    server.stop().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}

/// The admin and reports scenarios ask for nothing but the browser.
struct NoSteps;

impl Steps for NoSteps {
    async fn act(&mut self, _server: &TestServer, step: &str) -> anyhow::Result<()> {
        bail!("this scenario asks for no step, not {step}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_pages_in_a_real_browser() {
    let server = TestServer::start(Backend::Sqlite).await;
    let shots = [
        "users-zh.png",
        "tag-sheet.png",
        "audit.png",
        "audit-390.png",
    ];
    let result = run_scenario("admin", &server, &mut NoSteps, &shots).await;
    server.stop().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}

/// The phone the hazards scenario asks for: the demo grid worker, who is
/// assigned the demo's reported hazard and rectifies it.
struct Assignee {
    device: Device,
}

impl Steps for Assignee {
    async fn act(&mut self, _server: &TestServer, step: &str) -> anyhow::Result<()> {
        let client = &self.device.client;
        match step {
            "phone-rectifies" => {
                client.sync_now().await?;
                let id = fieldsync_sdk::DocId::new("hazard-demo-reported")?;
                let assigned = client
                    .hazard(&id)?
                    .folded
                    .current
                    .and_then(|s| s.assignment);
                ensure!(
                    assigned
                        .as_ref()
                        .is_some_and(|(_, person, _)| person == "user-demo-grid"),
                    "the phone did not get the dashboard's assignment: {assigned:?}"
                );
                client.transition_hazard(
                    &id,
                    fieldsync_sdk::HazardAction::Rectify,
                    "已清理",
                    Vec::new(),
                )?;
            }
            other => bail!("unknown step {other}"),
        }
        let report = client.sync_now().await?;
        ensure!(report.rejected == 0, "the phone's change was rejected");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hazard_ledger_in_a_real_browser() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.demo_documents = true).await;
    let mut phone = Assignee {
        device: server.device("demo-grid").await,
    };
    let shots = [
        "ledger-zh.png",
        "hazard-detail-zh.png",
        "hazard-detail-en.png",
        "ledger-phone-390.png",
        "hazard-phone-390.png",
    ];
    let result = run_scenario("hazards", &server, &mut phone, &shots).await;
    server.stop().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_printed_from_a_real_browser() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.demo_documents = true;
        c.compliance_tick_secs = 1;
    })
    .await;
    let shots = [
        "list-zh.png",
        "daily-zh.png",
        "monthly-zh.png",
        "monthly-zh.pdf",
        "monthly-print.png",
        "monthly-en.png",
    ];
    let result = run_scenario("reports", &server, &mut NoSteps, &shots).await;
    server.stop().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
