//! `/admin/users`: the community's accounts; a user's page with their
//! role, team and grids, disabling, a new password, and their devices.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use fieldsync_proto::model::Role;
use serde::Deserialize;

use super::{CsrfForm, Done, SECTIONS, local_datetime, refused, require_reader};
use crate::admin::users::{self, NewUser, UserChange};
use crate::i18n::tr_key;
use crate::state::AppState;
use crate::store::{AdminDeviceRow, AdminUserRow};
use crate::web::session::Viewer;
use crate::web::{Frame, WebError, render, role_key};

/// A user as the pages show them.
pub struct UserLine {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// Catalogue key of the role's name.
    pub role_key: &'static str,
    pub team_id: String,
    pub team: String,
    pub grids: String,
    pub disabled: bool,
    pub devices: i64,
}

/// A device as the pages show it.
pub struct DeviceLine {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_login: String,
    pub revoked: Option<String>,
}

/// A team to choose: (id, name).
pub type TeamChoice = (String, String);

fn line(u: AdminUserRow, teams: &[TeamChoice]) -> UserLine {
    let grids: Vec<String> = serde_json::from_str(&u.grids).unwrap_or_default();
    let team_id = u.team_id.unwrap_or_default();
    UserLine {
        role_key: Role::parse(&u.role).map_or(tr_key("common.none"), role_key),
        team: teams
            .iter()
            .find(|(id, _)| *id == team_id)
            .map_or_else(|| team_id.clone(), |(_, name)| name.clone()),
        team_id,
        grids: grids.join(", "),
        disabled: u.disabled != 0,
        devices: u.devices,
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        role: u.role,
    }
}

fn device_line(d: AdminDeviceRow) -> DeviceLine {
    DeviceLine {
        created: local_datetime(d.created_at),
        last_login: local_datetime(d.last_login_at),
        revoked: d.revoked_at.map(local_datetime),
        id: d.id,
        name: d.name,
    }
}

async fn team_choices(app: &AppState, community: &str) -> Result<Vec<TeamChoice>, WebError> {
    Ok(app
        .store
        .teams(community)
        .await?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect())
}

/// The roles a form offers: (value, catalogue key).
fn role_choices() -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str(), role_key(*r)))
        .collect()
}

/// Grid ids as typed into a form: separated by commas, spaces or "、".
fn grids_of(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == '，' || c == '、' || c.is_whitespace())
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

fn team_of(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[derive(Template)]
#[template(path = "web/admin_users.html")]
struct UsersPage {
    frame: Frame,
    sections: [(&'static str, &'static str); 4],
    notice: Option<&'static str>,
    users: Vec<UserLine>,
    teams: Vec<TeamChoice>,
    roles: Vec<(&'static str, &'static str)>,
}

/// `GET /admin/users`.
pub async fn list(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let teams = team_choices(&app, &viewer.community).await?;
    let users = app
        .store
        .admin_users(&viewer.community)
        .await?
        .into_iter()
        .map(|u| line(u, &teams))
        .collect();
    render(&UsersPage {
        frame: Frame::new(viewer, tr_key("nav.admin"), "/admin/users"),
        sections: SECTIONS,
        notice: done.notice(),
        users,
        teams,
        roles: role_choices(),
    })
}

/// The new-user form.
#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    grids: String,
}

/// `POST /admin/users`: a new account, through the admin API's path.
pub async fn create(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<NewUserForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let req = NewUser {
        username: form.username.trim().to_owned(),
        display_name: form.display_name.trim().to_owned(),
        role: form.role,
        password: form.password,
        team_id: team_of(&form.team),
        grids: grids_of(&form.grids),
    };
    let user = users::create(&app, &viewer.actor(), req)
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    Ok(Redirect::to(&format!("/admin/users/{}?done=created", user.id)).into_response())
}

#[derive(Template)]
#[template(path = "web/admin_user.html")]
struct UserPage {
    frame: Frame,
    sections: [(&'static str, &'static str); 4],
    notice: Option<&'static str>,
    user: UserLine,
    devices: Vec<DeviceLine>,
    teams: Vec<TeamChoice>,
    roles: Vec<(&'static str, &'static str)>,
}

/// `GET /admin/users/{id}`.
pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let user = users::user_in(&app, &viewer.community, &id)
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    let teams = team_choices(&app, &viewer.community).await?;
    let devices = app
        .store
        .admin_devices(&viewer.community, Some(&user.id))
        .await?
        .into_iter()
        .map(device_line)
        .collect();
    let path = format!("/admin/users/{id}");
    render(&UserPage {
        frame: Frame::new(viewer, tr_key("nav.admin"), path),
        sections: SECTIONS,
        notice: done.notice(),
        user: line(user, &teams),
        devices,
        teams,
        roles: role_choices(),
    })
}

/// The form that changes a user's name, role, team and grids.
#[derive(Deserialize)]
pub struct UserChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    grids: String,
}

async fn change(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    change: UserChange,
    done: &str,
) -> Result<Response, WebError> {
    users::update(app, &viewer.actor(), id, change)
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    Ok(Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response())
}

/// `POST /admin/users/{id}`: name, role, team and grids.
pub async fn update(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<UserChangeForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let update = UserChange {
        display_name: Some(form.display_name.trim().to_owned()),
        role: Some(form.role),
        team_id: Some(team_of(&form.team)),
        grids: Some(grids_of(&form.grids)),
        disabled: None,
    };
    change(&app, &viewer, &id, update, "saved").await
}

/// `POST /admin/users/{id}/disable`: the user can no longer sign in; every
/// device of theirs is revoked, which ends their sessions.
pub async fn disable(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    set_disabled(&app, &viewer, &id, &form, true).await
}

/// `POST /admin/users/{id}/enable`.
pub async fn enable(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    set_disabled(&app, &viewer, &id, &form, false).await
}

async fn set_disabled(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    form: &CsrfForm,
    disabled: bool,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let update = UserChange {
        disabled: Some(disabled),
        ..UserChange::default()
    };
    let done = if disabled { "disabled" } else { "enabled" };
    change(app, viewer, id, update, done).await
}

/// The new-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/users/{id}/password`.
pub async fn reset_password(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    users::set_password(&app, &viewer.actor(), &id, form.password)
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    Ok(Redirect::to(&format!("/admin/users/{id}?done=password")).into_response())
}

/// `POST /admin/devices/{id}/revoke`: back to the device's user.
pub async fn revoke_device(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let device = users::revoke_device(&app, &viewer.actor(), &id)
        .await
        .map_err(|e| refused(viewer.tr, e))?;
    Ok(Redirect::to(&format!("/admin/users/{}?done=revoked", device.user_id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_read_as_people_type_them() {
        assert_eq!(
            grids_of(" grid-1, grid-2，grid-3、grid-4  grid-5,"),
            ["grid-1", "grid-2", "grid-3", "grid-4", "grid-5"]
        );
        assert!(grids_of("  ").is_empty());
        assert_eq!(team_of(" "), None);
        assert_eq!(team_of("team-1").as_deref(), Some("team-1"));
    }
}
