//! The demo community's logins, which every benchmark signs in with.
//!
//! They come from the server's demo community, a documented contract
//! (docs/demo.md, "Accounts"; seeded by `server/src/demo.rs` into every fresh
//! data directory, even with `--no-demo-documents`, and printed by
//! `fieldsync serve` as "Demo logins"). They are named here, once, rather
//! than imported, so that this crate does not link the server; if the server
//! changes one, the login fails with the user's name in the error.

use anyhow::Context;
use fieldsync_sdk::Client;

/// The password of every demo user.
pub const PASSWORD: &str = "fieldsync-demo";
/// The office: reads everything, lists the tag sheets.
pub const OFFICE: &str = "demo-office";
/// Team 1's leader: reads grid 1 (buildings 1–3) and assigns hazards.
pub const LEADER: &str = "demo-leader";
/// A volunteer of team 1: reports hazards, walks the route.
pub const VOLUNTEER: &str = "demo-volunteer";
/// The second volunteer of team 1.
pub const VOLUNTEER_2: &str = "demo-volunteer-2";

/// Logs `client` in as demo user `user`.
pub async fn login(client: &Client, user: &str) -> anyhow::Result<()> {
    client
        .login(user, PASSWORD)
        .await
        .with_context(|| not_logged_in(user))?;
    Ok(())
}

/// Logs in as demo user `user` over plain HTTP (for the REST and tus
/// benchmarks, which need no SDK store) and returns the access token.
pub async fn access_token(
    http: &reqwest::Client,
    server_url: &str,
    user: &str,
    device_id: &str,
) -> anyhow::Result<String> {
    let login = login_json(http, server_url, user, PASSWORD, device_id)
        .await
        .with_context(|| not_logged_in(user))?;
    let token = login["access_token"]
        .as_str()
        .with_context(|| format!("logging in as {user}: the answer has no access token"))?;
    Ok(token.to_owned())
}

/// `POST /api/v1/auth/login` as `user` with a new device `device_id`: the
/// answer (tokens, the device's actor, the user).
pub async fn login_json(
    http: &reqwest::Client,
    server_url: &str,
    user: &str,
    password: &str,
    device_id: &str,
) -> anyhow::Result<serde_json::Value> {
    Ok(http
        .post(format!("{server_url}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "username": user, "password": password,
            "device_id": device_id, "device_name": "bench",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// (post id, tag payload) of every post, from the tag sheet the office
/// (`token`) prints.
pub async fn printed_tags(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let tags: Vec<serde_json::Value> = http
        .get(format!("{url}/api/v1/posts/tags"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(tags
        .iter()
        .filter_map(|t| {
            Some((
                t["post_id"].as_str()?.to_owned(),
                t["payload"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

fn not_logged_in(user: &str) -> String {
    format!(
        "cannot log in as demo user {user} with the demo password \
         (a fresh server seeds both with its demo community)"
    )
}
