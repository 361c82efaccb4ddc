//! Accounts and their devices: creating users, changing their role, team,
//! grids and whether they are disabled, resetting passwords, revoking
//! devices.

use fieldsync_proto::model::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fields::{Id, Password, Text, Username, check_password, check_username};
use super::{Actor, AdminError, check_id, check_text, nullable};
use crate::auth::hash_password;
use crate::clock::now_ms;
use crate::state::AppState;
use crate::store::{AdminUserRow, DeviceRow, UserRow, UserScope};

/// A new user.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// Unique on the server.
    #[schema(value_type = Username)]
    pub username: String,
    #[schema(value_type = Text)]
    pub display_name: String,
    #[schema(value_type = Role)]
    pub role: String,
    /// The initial password; stored as an argon2 hash.
    #[schema(value_type = Password)]
    pub password: String,
    /// A team of the community.
    #[serde(default)]
    #[schema(value_type = Option<Id>)]
    pub team_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Id>)]
    pub grids: Vec<String>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Text>)]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// A team of the community; `null` takes the user out of their team.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Id>)]
    pub team_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Id>>)]
    pub grids: Option<Vec<String>>,
    /// Disabling revokes every device of the user and their refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

fn check_role(role: &str) -> Result<(), AdminError> {
    Role::parse(role).map(|_| ()).ok_or_else(|| {
        AdminError::invalid(
            "unknown_role",
            format!(
                "role {role:?} does not exist: use volunteer, guard, grid_worker, leader, office or auditor"
            ),
        )
    })
}

/// Checks a user's team (it must exist in the community) and grids; returns
/// the grids as stored.
async fn check_scope(
    app: &AppState,
    community: &str,
    team: Option<&str>,
    grids: &[String],
) -> Result<String, AdminError> {
    if let Some(team) = team
        && !app
            .store
            .teams(community)
            .await?
            .iter()
            .any(|(id, ..)| id == team)
    {
        return Err(AdminError::refused(
            "unknown_team",
            format!("team {team:?} does not exist in your community"),
        ));
    }
    for g in grids {
        check_id("grid", g)?;
    }
    Ok(serde_json::to_string(grids).expect("strings serialize"))
}

/// The user `id` of the actor's community.
pub async fn user_in(
    app: &AppState,
    community: &str,
    id: &str,
) -> Result<AdminUserRow, AdminError> {
    app.store
        .admin_user(community, id)
        .await?
        .ok_or(AdminError::NotFound("no such user in your community"))
}

async fn hash(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AdminError::internal)
}

/// Creates an account (`user.create`).
pub async fn create(
    app: &AppState,
    actor: &Actor,
    req: NewUser,
) -> Result<AdminUserRow, AdminError> {
    actor.require_office("create users")?;
    check_username(&req.username)?;
    check_text("display_name", &req.display_name)?;
    check_role(&req.role)?;
    check_password(&req.password)?;
    let grids = check_scope(app, &actor.community, req.team_id.as_deref(), &req.grids).await?;
    let user = UserRow {
        id: format!("user-{}", uuid::Uuid::new_v4().simple()),
        community_id: actor.community.clone(),
        username: req.username,
        display_name: req.display_name,
        role: req.role,
        password_hash: hash(req.password).await?,
        disabled: 0,
    };
    let scope = UserScope {
        team_id: req.team_id,
        grids,
    };
    let entry = actor.entry(
        "user.create",
        &user.id,
        json!({ "username": &user.username, "display_name": &user.display_name,
                "role": &user.role, "team_id": &scope.team_id, "grids": &req.grids }),
    );
    if !app
        .store
        .admin_create_user(&user, &scope, now_ms(), &entry)
        .await?
    {
        return Err(AdminError::conflict(
            "username_taken",
            format!("username {:?} is taken", user.username),
        ));
    }
    user_in(app, &actor.community, &user.id).await
}

/// Changes a user's profile, role, team, grids or disabled state
/// (`user.update`). Disabling revokes every device of theirs, which ends
/// their live connections and dashboard sessions.
pub async fn update(
    app: &AppState,
    actor: &Actor,
    id: &str,
    change: UserChange,
) -> Result<AdminUserRow, AdminError> {
    actor.require_office("change users")?;
    let mut user = user_in(app, &actor.community, id).await?;
    if let Some(name) = &change.display_name {
        check_text("display_name", name)?;
        user.display_name = name.clone();
    }
    if let Some(role) = &change.role {
        check_role(role)?;
        user.role = role.clone();
    }
    if let Some(team) = &change.team_id {
        user.team_id = team.clone();
    }
    let grids: Vec<String> = match &change.grids {
        Some(g) => g.clone(),
        None => serde_json::from_str(&user.grids).unwrap_or_default(),
    };
    user.grids = check_scope(app, &actor.community, user.team_id.as_deref(), &grids).await?;
    if let Some(disabled) = change.disabled {
        if disabled && user.id == actor.user_id {
            return Err(AdminError::conflict(
                "cannot_disable_self",
                "you cannot disable your own account",
            ));
        }
        user.disabled = i64::from(disabled);
    }
    let detail = serde_json::to_value(&change).map_err(AdminError::internal)?;
    let entry = actor.entry("user.update", &user.id, detail);
    let revoked = app
        .store
        .admin_update_user(&actor.community, &user, now_ms(), &entry)
        .await?;
    for device in &revoked {
        let device = device.clone();
        crate::replicas::tell(app, crate::replicas::Notice::Revoked { device }).await;
    }
    crate::replicas::tell(
        app,
        crate::replicas::Notice::Readers {
            community: actor.community.clone(),
            users: vec![user.id.clone()],
        },
    )
    .await;
    if !revoked.is_empty() {
        tracing::info!(user = %user.id, devices = revoked.len(), by = %actor.user_id, "user disabled; devices revoked");
    }
    user_in(app, &actor.community, id).await
}

/// Sets a user's new password (`user.password`; the password is not
/// recorded).
pub async fn set_password(
    app: &AppState,
    actor: &Actor,
    id: &str,
    password: String,
) -> Result<(), AdminError> {
    actor.require_office("reset passwords")?;
    check_password(&password)?;
    let user = user_in(app, &actor.community, id).await?;
    let hash = hash(password).await?;
    let entry = actor.entry("user.password", &user.id, json!({}));
    if !app
        .store
        .admin_set_password(&actor.community, &user.id, &hash, &entry)
        .await?
    {
        return Err(AdminError::NotFound("no such user in your community"));
    }
    Ok(())
}

/// Revokes a device and its tokens (`device.revoke`): its live sync
/// connection drops at its next frame, and a dashboard session on it ends.
pub async fn revoke_device(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<DeviceRow, AdminError> {
    actor.require_office("revoke devices")?;
    let device = app
        .store
        .device(id)
        .await?
        .filter(|d| d.community_id == actor.community)
        .ok_or(AdminError::NotFound("no such device in your community"))?;
    app.store.revoke_device(&device.id, now_ms()).await?;
    let revoked = crate::replicas::Notice::Revoked {
        device: device.id.clone(),
    };
    crate::replicas::tell(app, revoked).await;
    let entry = actor.entry(
        "device.revoke",
        &device.id,
        json!({ "user_id": device.user_id }),
    );
    app.store.append_audit(&actor.community, &entry).await?;
    tracing::info!(device = %device.id, by = %actor.user_id, "device revoked");
    Ok(device)
}
