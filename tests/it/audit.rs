//! The audit chain: every accepted change set and admin action gets an entry
//! chained by hash to the one before, and `fieldsync audit verify` finds the
//! first broken link when rows are edited, reordered or deleted behind the
//! server's back, on SQLite and PostgreSQL.

use fieldsync_server::audit::{self, Broken, Entry};

use crate::both_backends;
use crate::support::{Backend, TestServer, login_json};

async fn chain(server: &TestServer) -> Vec<Entry> {
    let store = &server.state.store;
    let head = store.audit_head("demo").await.unwrap();
    store.audit_chain_page("demo", 0, head.seq).await.unwrap()
}

async fn verified(server: &TestServer) -> Result<i64, Broken> {
    audit::verify_stored(&server.state.store, "demo")
        .await
        .unwrap()
}

/// `fieldsync audit verify` on the server's storage, while it runs: whether
/// it passed, and what it printed.
fn verify_command(server: &TestServer) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync-test-server"));
    cmd.args(["audit", "verify", "--data-dir"])
        .arg(server.data_dir())
        .env("FIELDSYNC_JWT_SECRET", crate::support::JWT_SECRET);
    if let Some(url) = server.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs `sql` (with `$1` = `arg`) behind the server's back.
async fn tamper(server: &TestServer, sql: String, arg: &str) -> u64 {
    server
        .execute_sql(Box::leak(sql.into_boxed_str()), arg)
        .await
}

async fn every_write_is_chained(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.demo_documents = true).await;

    // A phone's change set, an admin action, and the server's own documents
    // (the demo community) all have entries.
    let phone = server.device("demo-volunteer").await;
    let patrol = phone
        .client
        .start_patrol("team-1", "route-stairwells")
        .unwrap();
    phone
        .client
        .check_in(&patrol, "post-b3-u2-f5", None, "sticker torn", None, "")
        .unwrap();
    phone.client.sync_now().await.unwrap();
    let office = login_json(&server.url, "demo-office", "dev-office-laptop").await;
    let rotated = reqwest::Client::new()
        .post(format!("{}/api/v1/tag-keys", server.url))
        .bearer_auth(office["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(rotated.status().is_success());

    let entries = chain(&server).await;
    assert_eq!(verified(&server).await, Ok(entries.len() as i64));
    let device = phone.client.device_id().unwrap();
    let mine: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.record.kind == "change" && e.record.subject == patrol.as_str())
        .collect();
    assert!(!mine.is_empty(), "the patrol's change sets are chained");
    let heads = phone.client.document_heads(&patrol).unwrap();
    for e in &mine {
        assert_eq!(e.record.user_id, "user-demo-volunteer");
        assert_eq!(e.record.device_id, device);
        assert_eq!(e.record.action, "patrol");
        assert!(!e.record.actor.is_empty());
    }
    for head in &heads {
        assert!(
            mine.iter()
                .any(|e| e.record.detail.split(',').any(|h| h == head)),
            "change {head} is in the chain"
        );
    }
    assert!(entries.iter().any(|e| e.record.kind == "admin"
        && e.record.action == "tag_key.rotate"
        && e.record.user_id == "user-demo-office"));
    assert!(
        entries
            .iter()
            .any(|e| e.record.kind == "change" && e.record.device_id == "server")
    );
    let (ok, said) = verify_command(&server);
    assert!(ok, "{said}");
    assert!(said.contains("demo: ok"), "{said}");

    // Edited: one field of a middle entry.
    let n = entries.len();
    let k = (n / 2) as i64;
    let original = &entries[k as usize - 1];
    let set_user = format!("UPDATE audit_chain SET user_id = $1 WHERE seq = {k}");
    assert_eq!(
        tamper(&server, set_user.clone(), "user-demo-office-x").await,
        1
    );
    assert_eq!(verified(&server).await, Err(Broken::Edited { seq: k }));
    let (ok, said) = verify_command(&server);
    assert!(!ok, "{said}");
    assert!(said.contains(&format!("BROKEN at entry {k}:")), "{said}");
    tamper(&server, set_user, &original.record.user_id).await;
    assert_eq!(verified(&server).await, Ok(n as i64));

    // Reordered: entries k and k+1 swap places.
    for (from, to) in [(k, -1), (k + 1, k), (-1, k + 1)] {
        let sql =
            format!("UPDATE audit_chain SET seq = {to} WHERE seq = {from} AND community_id = $1");
        assert_eq!(tamper(&server, sql, "demo").await, 1);
    }
    assert_eq!(verified(&server).await, Err(Broken::Edited { seq: k }));
    for (from, to) in [(k, -1), (k + 1, k), (-1, k + 1)] {
        let sql =
            format!("UPDATE audit_chain SET seq = {to} WHERE seq = {from} AND community_id = $1");
        tamper(&server, sql, "demo").await;
    }
    assert_eq!(verified(&server).await, Ok(n as i64));

    // Deleted: the last entry, then one in the middle.
    let delete =
        |seq: i64| format!("DELETE FROM audit_chain WHERE seq = {seq} AND community_id = $1");
    assert_eq!(tamper(&server, delete(n as i64), "demo").await, 1);
    assert_eq!(
        verified(&server).await,
        Err(Broken::Truncated {
            last: n as i64 - 1,
            head: n as i64
        })
    );
    assert_eq!(tamper(&server, delete(k), "demo").await, 1);
    assert_eq!(
        verified(&server).await,
        Err(Broken::Missing {
            seq: k,
            found: k + 1
        })
    );
    let (ok, said) = verify_command(&server);
    assert!(
        !ok && said.contains(&format!("BROKEN at entry {k} is missing")),
        "{said}"
    );
    server.stop().await;
}
both_backends!(
    every_write_is_chained_and_tampering_is_found,
    every_write_is_chained
);

/// The monthly report carries the chain head, so a copy lives outside the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_report_carries_the_chain_head() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.demo_documents = true).await;
    let month = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .strftime("%Y-%m")
        .to_string();
    let report = crate::support::get_json_as(
        &server.url,
        "demo-office",
        &format!("/api/v1/reports/monthly?period={month}&format=json"),
    )
    .await;
    let head = server.state.store.audit_head("demo").await.unwrap();
    assert!(head.seq > 0);
    let said = &report["audit_head"];
    assert!(said["seq"].as_i64().unwrap() <= head.seq, "{said}");
    assert_eq!(said["hash"].as_str().unwrap().len(), 64, "{said}");
    let entries = chain(&server).await;
    let at = &entries[said["seq"].as_i64().unwrap() as usize - 1];
    assert_eq!(
        said["hash"],
        at.hash.as_str(),
        "the head names a real entry"
    );
    server.stop().await;
}
