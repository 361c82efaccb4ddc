//! Users, their devices, and teams.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use fieldsync_proto::model::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Office, Reader, audit, check_id, check_text, nullable};
use crate::auth::hash_password;
use crate::clock::now_ms;
use crate::http::{ApiError, JsonBody};
use crate::state::AppState;
use crate::store::{AdminDeviceRow, AdminUserRow, TeamRow, UserRow, UserScope};

/// A user as the office sees them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    id: String,
    username: String,
    display_name: String,
    /// volunteer, guard, grid_worker, leader, office or auditor.
    role: String,
    team_id: Option<String>,
    /// Grids the user owns (grid workers).
    grids: Vec<String>,
    /// A disabled user can neither log in nor sync.
    disabled: bool,
    /// Devices that are not revoked.
    devices: i64,
}

impl From<AdminUserRow> for UserView {
    fn from(u: AdminUserRow) -> Self {
        UserView {
            grids: serde_json::from_str(&u.grids).unwrap_or_default(),
            disabled: u.disabled != 0,
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            team_id: u.team_id,
            devices: u.devices,
        }
    }
}

/// A new user.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// Unique on the server.
    username: String,
    display_name: String,
    role: String,
    /// The initial password (8-200 bytes); stored as an argon2 hash.
    password: String,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    grids: Vec<String>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    /// `null` takes the user out of their team.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    team_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grids: Option<Vec<String>>,
    /// Disabling revokes every device of the user and their refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
}

/// A new password.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    password: String,
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if (8..=200).contains(&password.len()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "weak_password",
            "a password must be 8-200 bytes",
        ))
    }
}

fn check_role(role: &str) -> Result<(), ApiError> {
    Role::parse(role).map(|_| ()).ok_or_else(|| {
        ApiError::bad_request(
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
) -> Result<String, ApiError> {
    if let Some(team) = team
        && !app
            .store
            .teams(community)
            .await?
            .iter()
            .any(|(id, ..)| id == team)
    {
        return Err(ApiError::bad_request(
            "unknown_team",
            format!("team {team:?} does not exist in your community"),
        ));
    }
    for g in grids {
        check_id("grid", g)?;
    }
    Ok(serde_json::to_string(grids).expect("strings serialize"))
}

async fn user_in(app: &AppState, community: &str, id: &str) -> Result<AdminUserRow, ApiError> {
    app.store
        .admin_user(community, id)
        .await?
        .ok_or_else(|| ApiError::not_found("not_found", "no such user in your community"))
}

/// `GET /api/v1/admin/users`: every user of the community.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Users by username", body = [UserView])))]
pub async fn list(
    State(app): State<AppState>,
    Reader(claims): Reader,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = app.store.admin_users(&claims.com).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// `POST /api/v1/admin/users`: a new account.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid field, unknown role or team", body = crate::http::ErrorBody),
        (status = 409, description = "Username taken", body = crate::http::ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(req): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    check_text("username", &req.username)?;
    if req.username.len() > 64 || req.username.contains(char::is_whitespace) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "username must be at most 64 bytes without spaces",
        ));
    }
    check_text("display_name", &req.display_name)?;
    check_role(&req.role)?;
    check_password(&req.password)?;
    let grids = check_scope(&app, &claims.com, req.team_id.as_deref(), &req.grids).await?;
    let password = req.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?;
    let user = UserRow {
        id: format!("user-{}", uuid::Uuid::new_v4().simple()),
        community_id: claims.com.clone(),
        username: req.username,
        display_name: req.display_name,
        role: req.role,
        password_hash: hash,
        disabled: 0,
    };
    let scope = UserScope {
        team_id: req.team_id,
        grids,
    };
    let entry = audit(
        &claims,
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
        return Err(ApiError::conflict(
            "username_taken",
            format!("username {:?} is taken", user.username),
        ));
    }
    let created = user_in(&app, &claims.com, &user.id).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// `PATCH /api/v1/admin/users/{id}`: profile, role, team, grids, disabled.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user as stored", body = UserView),
        (status = 400, description = "Invalid field, unknown role or team", body = crate::http::ErrorBody),
        (status = 404, description = "No such user in your community", body = crate::http::ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Office(claims): Office,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    let mut user = user_in(&app, &claims.com, &id).await?;
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
    user.grids = check_scope(&app, &claims.com, user.team_id.as_deref(), &grids).await?;
    if let Some(disabled) = change.disabled {
        if disabled && user.id == claims.sub {
            return Err(ApiError::bad_request(
                "cannot_disable_self",
                "you cannot disable your own account",
            ));
        }
        user.disabled = i64::from(disabled);
    }
    let entry = audit(
        &claims,
        "user.update",
        &user.id,
        serde_json::to_value(&change).map_err(ApiError::internal)?,
    );
    let revoked = app
        .store
        .admin_update_user(&claims.com, &user, now_ms(), &entry)
        .await?;
    for device in &revoked {
        app.revocations.revoke(device);
    }
    if !revoked.is_empty() {
        tracing::info!(user = %user.id, devices = revoked.len(), by = %claims.sub, "user disabled; devices revoked");
    }
    Ok(Json(user_in(&app, &claims.com, &id).await?.into()))
}

/// `POST /api/v1/admin/users/{id}/password`: sets a new password.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/password", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "Password too short or long", body = crate::http::ErrorBody),
        (status = 404, description = "No such user in your community", body = crate::http::ErrorBody)))]
pub async fn reset_password(
    State(app): State<AppState>,
    Office(claims): Office,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NewPassword>,
) -> Result<StatusCode, ApiError> {
    check_password(&req.password)?;
    let user = user_in(&app, &claims.com, &id).await?;
    let password = req.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?;
    let entry = audit(&claims, "user.password", &user.id, json!({}));
    if !app
        .store
        .admin_set_password(&claims.com, &user.id, &hash, &entry)
        .await?
    {
        return Err(ApiError::not_found(
            "not_found",
            "no such user in your community",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceFilter {
    /// Only this user's devices.
    user_id: Option<String>,
}

/// `GET /api/v1/admin/devices?user_id=…`: devices of the community or a user.
#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin", security(("bearer" = [])),
    params(DeviceFilter),
    responses((status = 200, description = "Devices, revoked ones included", body = [AdminDeviceRow])))]
pub async fn devices(
    State(app): State<AppState>,
    Reader(claims): Reader,
    Query(filter): Query<DeviceFilter>,
) -> Result<Json<Vec<AdminDeviceRow>>, ApiError> {
    Ok(Json(
        app.store
            .admin_devices(&claims.com, filter.user_id.as_deref())
            .await?,
    ))
}

/// `GET /api/v1/admin/teams`: the community's patrol teams.
#[utoipa::path(get, path = "/api/v1/admin/teams", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Teams by id", body = [TeamRow])))]
pub async fn teams(
    State(app): State<AppState>,
    Reader(claims): Reader,
) -> Result<Json<Vec<TeamRow>>, ApiError> {
    let teams = app.store.teams(&claims.com).await?;
    Ok(Json(
        teams
            .into_iter()
            .map(|(id, name, grid_id)| TeamRow { id, name, grid_id })
            .collect(),
    ))
}

fn check_team(team: &TeamRow) -> Result<(), ApiError> {
    check_id("id", &team.id)?;
    check_text("name", &team.name)?;
    team.grid_id
        .as_deref()
        .map_or(Ok(()), |g| check_id("grid_id", g))
}

/// `POST /api/v1/admin/teams`: a new team.
#[utoipa::path(post, path = "/api/v1/admin/teams", tag = "admin", security(("bearer" = [])),
    request_body = TeamRow,
    responses(
        (status = 201, description = "Created", body = TeamRow),
        (status = 400, description = "Invalid id, name or grid", body = crate::http::ErrorBody),
        (status = 409, description = "A team with this id exists", body = crate::http::ErrorBody)))]
pub async fn create_team(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(team): JsonBody<TeamRow>,
) -> Result<(StatusCode, Json<TeamRow>), ApiError> {
    check_team(&team)?;
    let entry = audit(&claims, "team.create", &team.id, json!(&team));
    if !app
        .store
        .admin_put_team(&claims.com, &team, true, &entry)
        .await?
    {
        return Err(ApiError::conflict(
            "team_exists",
            format!("team {:?} exists", team.id),
        ));
    }
    Ok((StatusCode::CREATED, Json(team)))
}

/// Changes to a team; absent fields stay as they are.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct TeamChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// `null` takes the team out of any grid.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    grid_id: Option<Option<String>>,
}

/// `PATCH /api/v1/admin/teams/{id}`: renames a team or moves it to a grid.
#[utoipa::path(patch, path = "/api/v1/admin/teams/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Team id")),
    request_body = TeamChange,
    responses(
        (status = 200, description = "The team as stored", body = TeamRow),
        (status = 400, description = "Invalid name or grid", body = crate::http::ErrorBody),
        (status = 404, description = "No such team in your community", body = crate::http::ErrorBody)))]
pub async fn update_team(
    State(app): State<AppState>,
    Office(claims): Office,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<TeamChange>,
) -> Result<Json<TeamRow>, ApiError> {
    let not_found = || ApiError::not_found("not_found", "no such team in your community");
    let (id, name, grid_id) = app
        .store
        .teams(&claims.com)
        .await?
        .into_iter()
        .find(|(t, ..)| *t == id)
        .ok_or_else(not_found)?;
    let team = TeamRow {
        id,
        name: change.name.clone().unwrap_or(name),
        grid_id: change.grid_id.clone().unwrap_or(grid_id),
    };
    check_team(&team)?;
    let entry = audit(
        &claims,
        "team.update",
        &team.id,
        serde_json::to_value(&change).map_err(ApiError::internal)?,
    );
    if !app
        .store
        .admin_put_team(&claims.com, &team, false, &entry)
        .await?
    {
        return Err(not_found());
    }
    Ok(Json(team))
}
