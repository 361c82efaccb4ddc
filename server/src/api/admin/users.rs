//! Users, their devices, and teams.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Office, Reader, audit, check_id, check_text, nullable};
pub use crate::admin::users::{NewUser, UserChange};
use crate::admin::{Actor, users};
use crate::http::{ApiError, JsonBody, PathParams, QueryParams};
use crate::state::AppState;
use crate::store::{AdminDeviceRow, AdminUserRow, TeamRow};

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

/// A new password.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    #[schema(value_type = crate::admin::fields::Password)]
    password: String,
}

/// `GET /api/v1/admin/users`: every user of the community.
#[utoipa::path(get, path = "/api/v1/admin/users", operation_id = "list_users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Users by username", body = [UserView])))]
pub async fn list(
    State(app): State<AppState>,
    Reader(claims): Reader,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = app.store.admin_users(&claims.com).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// `POST /api/v1/admin/users`: a new account.
#[utoipa::path(post, path = "/api/v1/admin/users", operation_id = "create_user", tag = "admin", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "A field breaks its rule (`invalid_request`, `invalid_id`, `unknown_role`, `weak_password`)", body = crate::http::ErrorBody),
        (status = 409, description = "Username taken (`username_taken`)", body = crate::http::ErrorBody),
        (status = 422, description = "The team does not exist in your community (`unknown_team`)", body = crate::http::ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(req): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let created = users::create(&app, &Actor::of(&claims), req).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// `PATCH /api/v1/admin/users/{id}`: profile, role, team, grids, disabled.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user as stored", body = UserView),
        (status = 400, description = "A field breaks its rule (`invalid_request`, `invalid_id`, `unknown_role`)", body = crate::http::ErrorBody),
        (status = 404, description = "No such user in your community", body = crate::http::ErrorBody),
        (status = 409, description = "You cannot disable your own account (`cannot_disable_self`)", body = crate::http::ErrorBody),
        (status = 422, description = "The team does not exist in your community (`unknown_team`)", body = crate::http::ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Office(claims): Office,
    PathParams(id): PathParams<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    let user = users::update(&app, &Actor::of(&claims), &id, change).await?;
    Ok(Json(user.into()))
}

/// `POST /api/v1/admin/users/{id}/password`: sets a new password.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/password", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "Password too short or long (`weak_password`)", body = crate::http::ErrorBody),
        (status = 404, description = "No such user in your community", body = crate::http::ErrorBody)))]
pub async fn reset_password(
    State(app): State<AppState>,
    Office(claims): Office,
    PathParams(id): PathParams<String>,
    JsonBody(req): JsonBody<NewPassword>,
) -> Result<StatusCode, ApiError> {
    users::set_password(&app, &Actor::of(&claims), &id, req.password).await?;
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
    QueryParams(filter): QueryParams<DeviceFilter>,
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
        .map_or(Ok(()), |g| Ok(check_id("grid_id", g)?))
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
    #[schema(value_type = Option<crate::admin::Text>)]
    name: Option<String>,
    /// `null` takes the team out of any grid.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<crate::admin::Id>)]
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
    PathParams(id): PathParams<String>,
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
    // Its members read by the team's grid.
    let users = app
        .store
        .admin_users(&claims.com)
        .await?
        .into_iter()
        .filter(|u| u.team_id.as_deref() == Some(team.id.as_str()))
        .map(|u| u.id)
        .collect();
    let community = claims.com.clone();
    crate::replicas::tell(&app, crate::replicas::Notice::Readers { community, users }).await;
    Ok(Json(team))
}
