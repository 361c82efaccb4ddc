//! The demo community (DESIGN.md §13): fictional people and places so a fresh
//! server is never empty.

use crate::app::now_ms;
use crate::auth::hash_password;
use crate::store::{Store, UserRow};

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

/// Creates the demo community and its accounts.
pub async fn seed(store: &Store) -> anyhow::Result<()> {
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
    }
    tracing::info!("seeded the demo community");
    Ok(())
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
