//! What a newcomer meets on the first run of the `fieldsync` binary: flags
//! work without the `serve` subcommand, the root path is the dashboard's
//! sign-in (not the upload endpoint), unknown paths say where the API is,
//! and a log that is not a terminal has no colour codes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

#[tokio::test]
async fn a_first_run_without_the_serve_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldsync-test-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-demo-documents",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":8080"),
        "--listen was taken without `serve`: {url}"
    );
    assert!(
        dir.path().join("fieldsync.db").exists(),
        "--data-dir was taken"
    );

    // The root path is the dashboard, not the upload endpoint: a browser is
    // sent to sign in.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = browser.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/login");
    assert!(root.headers().get("tus-resumable").is_none());
    let sign_in = browser.get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(sign_in.status(), 200);
    assert!(sign_in.text().await.unwrap().contains("name=\"password\""));
    // A path nothing serves says where the API is.
    let unknown = browser
        .get(format!("{url}/api/v2/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"], "not_found", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("/api/v1"),
        "{body}"
    );
    let health = reqwest::get(format!("{url}/api/v1/health")).await.unwrap();
    assert_eq!(health.status(), 200);

    child.kill().unwrap();
    child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("seeded the demo community"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "a log that is not a terminal has no colour codes: {log:?}"
    );
}
