//! The server keeps its own contract: what `/api/v1/openapi.json` says is
//! what it does. Every refusal is a JSON error in the spec's shape, and
//! schemathesis, with all its checks, finds nothing the spec and the server
//! disagree on in a bounded, deterministic run against a real server
//! process (settings and hooks in `tests/contract/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::ChildServer;

/// Cases per operation unless `FIELDSYNC_CONTRACT_EXAMPLES` says otherwise:
/// about 3,000 cases in all, well under a minute.
const EXAMPLES: &str = "30";

fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contract")
}

/// The schemathesis that server/scripts/install-photo-test-tools.sh puts in
/// the tools' virtualenv.
fn schemathesis() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bin = root.join("target/tools/venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: run server/scripts/install-photo-test-tools.sh (it installs schemathesis \
         into target/tools/venv)",
        bin.display()
    );
    bin
}

/// The server with the demo community, documents included, so the run
/// reads real routes, rosters, hazards and reports.
fn demo_server(data: &Path) -> ChildServer {
    let config = contract_dir().join("server.toml");
    ChildServer::spawn_with(
        data,
        &[
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    )
}

async fn office_token(url: &str) -> String {
    let login = crate::support::login_json(url, "demo-office", "contract-test").await;
    login["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("demo-office logs in: {login}"))
        .to_owned()
}

/// A request (method, path, content type and body) and the status and code
/// it is refused with.
type Refusal<'a> = (
    Method,
    &'a str,
    Option<(&'a str, &'a str)>,
    StatusCode,
    &'a str,
);

/// Malformed requests of every kind get a JSON error with a stable code,
/// never a plain-text one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_json_error() {
    let data = tempfile::tempdir().unwrap();
    let server = demo_server(data.path());
    let token = office_token(&server.url).await;
    let http = reqwest::Client::new();
    let login = "/api/v1/auth/login";
    let cases: [Refusal; 12] = [
        (
            Method::POST,
            login,
            Some(("text/plain", "{}")),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
        ),
        (
            Method::POST,
            login,
            Some(("application/json", "{")),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Method::POST,
            login,
            Some(("application/json", "[null, null]")),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Method::POST,
            login,
            Some((
                "application/json",
                r#"{"username": "demo-office", "password": "x", "device_id": "d"}"#,
            )),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Method::POST,
            login,
            Some((
                "application/json",
                r#"{"username": "demo\u0007office", "password": "x", "device_id": "d", "device_name": "n"}"#,
            )),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/auth/refresh",
            Some(("application/json", "{}")),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Method::PATCH,
            "/api/v1/admin/teams/team-1",
            Some(("application/json", "[]")),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Method::GET,
            "/api/v1/compliance?hours=many",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/admin/audit?limit=9223372036854775808",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/blobs/00/url?variant=",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/exports/everything",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            Method::GET,
            "/api/v1/sync",
            None,
            StatusCode::BAD_REQUEST,
            "not_websocket",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let mut req = http
            .request(method.clone(), format!("{}{path}", server.url))
            .bearer_auth(&token);
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), status, "{method} {path}");
        let error: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert_eq!(error["error"], code, "{method} {path}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let huge = http
        .post(format!("{}/api/v1/admin/teams", server.url))
        .bearer_auth(&token)
        .json(&json!({ "id": "team-9", "name": "x".repeat(2 << 20) }))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = huge.json().await.unwrap();
    assert_eq!(error["error"], "invalid_json", "{error}");
    // Whole numbers spelled as floats are the numbers they are.
    let stairwell = http
        .post(format!("{}/api/v1/admin/stairwells", server.url))
        .bearer_auth(&token)
        .json(&json!({ "building": "8", "unit": "1", "floors": 11.0, "post_floors": [5.0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(stairwell.status(), StatusCode::CREATED);
}

/// schemathesis runs every check on every operation of the spec against
/// the server, and finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing() {
    let schemathesis = schemathesis();
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(data.path());
    let token = office_token(&server.url).await;
    let examples =
        std::env::var("FIELDSYNC_CONTRACT_EXAMPLES").unwrap_or_else(|_| EXAMPLES.to_owned());
    let started = Instant::now();
    let out = Command::new(schemathesis)
        .arg("--config-file")
        .arg(contract_dir().join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.url))
        .args([
            "--checks",
            "all",
            "--generation-deterministic",
            "--no-color",
        ])
        .args(["--max-examples", &examples])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .env("SCHEMATHESIS_HOOKS", contract_dir().join("hooks.py"))
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // "Test cases:" is followed by e.g. "2898 generated, 2898 passed, 66 skipped".
    let cases = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Test cases:"))
        .nth(1)
        .unwrap_or("(no summary)")
        .trim();
    println!(
        "schemathesis: {cases} ({examples} per operation) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success() && cases.contains(" generated"),
        "schemathesis found the spec and the server disagreeing:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
