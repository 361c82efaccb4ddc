//! The demo community (docs/demo.md): fictional people and places so a fresh
//! server is never empty.

use fieldsync_proto::model::places::Stairwell;

mod docs;

use crate::auth::hash_password;
use crate::clock::now_ms;
use crate::commit::Committer;
use crate::store::{PostRow, Store, UserRow};

/// Id of the demo community.
pub const COMMUNITY_ID: &str = "demo";
/// Password of every demo account.
pub const PASSWORD: &str = "fieldsync-demo";

/// Demo accounts: username, display name, role. All names are invented.
pub const USERS: [(&str, &str, &str); 7] = [
    ("demo-office", "Lin Qiao (office)", "office"),
    ("demo-leader", "Zhou Mingyuan (leader)", "leader"),
    ("demo-volunteer", "Tang Xiaohe (volunteer)", "volunteer"),
    ("demo-volunteer-2", "Bai Shuyi (volunteer)", "volunteer"),
    ("demo-guard", "Pan Lixin (guard)", "guard"),
    ("demo-grid", "Fang Yunzhi (grid worker)", "grid_worker"),
    ("demo-auditor", "Xu Wending (auditor)", "auditor"),
];

/// Patrol teams: id, name, grid. Grid 1 holds buildings 1–3, grid 2 4–6.
pub const TEAMS: [(&str, &str, &str); 3] = [
    ("team-1", "Night patrol A (夜巡一队)", "grid-1"),
    ("team-2", "Night patrol B (夜巡二队)", "grid-1"),
    ("team-3", "Night patrol C (夜巡三队)", "grid-2"),
];

/// The grid a demo building lies in.
fn grid_of(building: u16) -> &'static str {
    if building <= 3 { "grid-1" } else { "grid-2" }
}

/// Creates the demo community and its accounts, posts, teams and tag key;
/// with `documents`, also its routes, rosters, a patrol and hazards.
pub async fn seed(commits: &Committer, documents: bool) -> anyhow::Result<()> {
    let store = commits.store();
    let now = now_ms();
    store
        .insert_community(
            COMMUNITY_ID,
            "Willow Lane Community (柳巷社区, demo)",
            "Asia/Shanghai",
            now,
        )
        .await?;
    let hash = tokio::task::spawn_blocking(|| hash_password(PASSWORD)).await?;
    for (username, display_name, role) in USERS {
        let user = UserRow {
            id: format!("user-{username}"),
            community_id: COMMUNITY_ID.into(),
            username: username.into(),
            display_name: display_name.into(),
            role: role.into(),
            password_hash: hash.clone(),
            disabled: 0,
        };
        store.insert_user(&user, now).await?;
        let (team, grids) = match role {
            "volunteer" | "guard" | "leader" => (Some("team-1"), "[]"),
            "grid_worker" => (None, r#"["grid-1"]"#),
            _ => (None, "[]"),
        };
        store.set_user_scope(&user.id, team, grids).await?;
    }
    for (id, name, grid) in TEAMS {
        store
            .insert_team(COMMUNITY_ID, id, name, Some(grid))
            .await?;
    }
    for post in demo_posts() {
        store.insert_post(COMMUNITY_ID, &post, now).await?;
    }
    crate::tags::rotate_key(store, COMMUNITY_ID, now).await?;
    if documents {
        docs::seed(commits, now).await?;
    }
    tracing::info!("seeded the demo community");
    Ok(())
}

/// Six 11-storey buildings with two stairwells each (posts on floors 5 and 9),
/// around an invented point.
pub fn demo_posts() -> Vec<PostRow> {
    let mut posts = Vec::new();
    for b in 1..=6u16 {
        for u in 1..=2u16 {
            let stairwell = Stairwell {
                building: b.to_string(),
                unit: u.to_string(),
                floors: 11,
                post_floors: None,
            };
            for p in stairwell.posts() {
                posts.push(PostRow::of_stairwell(
                    p,
                    Some(31.2000 + f64::from(b) * 0.0004),
                    Some(121.4000 + f64::from(u) * 0.0003),
                    Some(40.0),
                    Some(grid_of(b).to_owned()),
                ));
            }
        }
    }
    posts
}

/// Whether the demo accounts exist in this store.
pub async fn present(store: &Store) -> anyhow::Result<bool> {
    Ok(store.user_by_username(USERS[0].0).await?.is_some())
}

/// The demo logins as printed on start.
pub fn logins_text() -> String {
    let mut s = format!("Demo logins (password for all: {PASSWORD}):\n");
    for (username, name, role) in USERS {
        s.push_str(&format!("  {username:<18} {role:<12} {name}\n"));
    }
    s
}
