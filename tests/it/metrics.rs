//! `GET /metrics`: the Prometheus text the server exposes moves with what it
//! does. The registry is the process's, shared by every in-process server of
//! this test binary, so the test compares before and after.

use crate::support::{Backend, TestServer};

async fn scrape(server: &TestServer) -> String {
    let resp = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = resp.text().await.unwrap();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    text
}

/// The value of the sample `name` (without labels).
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_connections_acks_and_commits() {
    let server = TestServer::start(Backend::Sqlite).await;
    let before = scrape(&server).await;
    let device = server.device("demo-volunteer").await;
    let patrol = device
        .client
        .start_patrol("team-1", "route-stairwells")
        .unwrap();
    device
        .client
        .check_in(&patrol, "post-b3-u1-f5", None, "sticker torn", None, "")
        .unwrap();
    device.client.sync_now().await.unwrap();
    let after = scrape(&server).await;
    for name in [
        "fieldsync_sync_connections_opened_total",
        "fieldsync_sync_acks_total",
        "fieldsync_commit_seconds_count",
        "fieldsync_feed_pages_total",
        "fieldsync_sync_catch_up_queries_total",
    ] {
        assert!(
            value(&after, name) > value(&before, name),
            "{name} did not move:\n{after}"
        );
    }
    assert!(value(&after, "fieldsync_feed_backlog_pages") >= 0.0);
    server.stop().await;
}
