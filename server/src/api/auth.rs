//! Login, refresh-token rotation, and device revocation.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::admin::fields::{LoginPassword, Text, check_login_password, check_text};
use crate::auth::{Claims, new_actor_id, new_refresh_token, token_hash};
use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated, JsonBody, PathParams};
use crate::state::{AppState, LoginRefused};
use crate::store::{DeviceRow, UserRow};

/// A revoked device.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeviceRevoked {
    pub device_id: String,
    pub revoked: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = Text)]
    username: String,
    #[schema(value_type = LoginPassword)]
    password: String,
    /// The phone's own id for itself, the same at every login.
    #[schema(value_type = Text)]
    device_id: String,
    /// What the office sees the device as ("Pixel 7").
    #[schema(value_type = Text)]
    device_name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    id: String,
    username: String,
    display_name: String,
    role: String,
    community_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    access_token: String,
    /// Unix seconds.
    access_expires_at: i64,
    refresh_token: String,
    /// Unix seconds.
    refresh_expires_at: i64,
    device_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_id: Option<String>,
    user: UserInfo,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens, the device's automerge actor and the user", body = TokenResponse),
        (status = 400, description = "A field is blank, too long or has control characters (`invalid_request`)", body = crate::http::ErrorBody),
        (status = 401, description = "Wrong username or password, or account disabled", body = crate::http::ErrorBody),
        (status = 403, description = "This device has been revoked", body = crate::http::ErrorBody),
        (status = 409, description = "This device is registered to another user", body = crate::http::ErrorBody),
        (status = 429, description = "Too many failed logins for this account", body = crate::http::ErrorBody)))]
pub async fn login(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    check_text("username", &req.username)?;
    check_login_password(&req.password)?;
    check_text("device_id", &req.device_id)?;
    check_text("device_name", &req.device_name)?;
    let user = match app.check_password(&req.username, &req.password).await {
        Ok(user) => user,
        Err(LoginRefused::Locked(wait)) => {
            return Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many failed logins for this account; try again in {wait} s"),
            ));
        }
        Err(LoginRefused::Wrong) => {
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "wrong username or password",
            ));
        }
        Err(LoginRefused::Store(e)) => return Err(e.into()),
        Err(LoginRefused::Internal(e)) => return Err(ApiError::internal(e)),
    };
    let now = now_ms();
    let device = match app.store.device(&req.device_id).await? {
        Some(d) if d.revoked_at.is_some() => {
            return Err(ApiError::forbidden(
                "device_revoked",
                "this device has been revoked; ask the office",
            ));
        }
        Some(d) if d.user_id != user.id => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "device_in_use",
                "this device is registered to another user",
            ));
        }
        Some(d) => DeviceRow {
            name: req.device_name.clone(),
            ..d
        },
        None => DeviceRow {
            id: req.device_id.clone(),
            user_id: user.id.clone(),
            community_id: user.community_id.clone(),
            name: req.device_name.clone(),
            revoked_at: None,
            token_generation: 0,
        },
    };
    let actor = new_actor_id();
    app.store.register_login(&device, &actor, now).await?;
    let mut resp = issue_tokens(&app, &user, &device, now).await?;
    resp.actor_id = Some(actor);
    tracing::info!(user = %user.username, device = %device.id, "login");
    Ok(Json(resp))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; the refresh token is single-use", body = TokenResponse),
        (status = 401, description = "Unknown, expired, reused or revoked refresh token", body = crate::http::ErrorBody),
        (status = 403, description = "This device has been revoked", body = crate::http::ErrorBody)))]
pub async fn refresh(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let now = now_ms();
    let hash = token_hash(&req.refresh_token);
    let Some(row) = app.store.use_refresh_token(&hash, now).await? else {
        return Err(match app.store.refresh_token(&hash).await? {
            Some(old) if old.used_at.is_some() => {
                // A used token presented again: someone holds a copy. Cut the device off.
                app.store.revoke_device_tokens(&old.device_id).await?;
                tracing::warn!(device = %old.device_id, "refresh token reuse; device tokens revoked");
                ApiError::unauthorized(
                    "refresh_token_reused",
                    "refresh token already used; log in again",
                )
            }
            Some(_) => ApiError::unauthorized(
                "refresh_token_expired",
                "refresh token expired; log in again",
            ),
            None => ApiError::unauthorized("invalid_refresh_token", "unknown refresh token"),
        });
    };
    let device = app
        .store
        .device(&row.device_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_refresh_token", "unknown device"))?;
    if device.revoked_at.is_some() {
        return Err(ApiError::forbidden(
            "device_revoked",
            "this device has been revoked",
        ));
    }
    if device.token_generation != row.generation {
        return Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "refresh token was revoked",
        ));
    }
    let user = app
        .store
        .user(&device.user_id)
        .await?
        .filter(|u| u.disabled == 0)
        .ok_or_else(|| ApiError::unauthorized("invalid_refresh_token", "account disabled"))?;
    Ok(Json(issue_tokens(&app, &user, &device, now).await?))
}

async fn issue_tokens(
    app: &AppState,
    user: &UserRow,
    device: &DeviceRow,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let now_s = now / 1000;
    let access_exp = now_s + app.config.access_token_ttl_secs as i64;
    let claims = Claims {
        sub: user.id.clone(),
        dev: device.id.clone(),
        com: user.community_id.clone(),
        role: user.role.clone(),
        generation: device.token_generation,
        iat: now_s,
        exp: access_exp,
    };
    let refresh = new_refresh_token();
    let refresh_exp = now_s + app.config.refresh_token_ttl_secs as i64;
    app.store
        .insert_refresh_token(
            &token_hash(&refresh),
            &device.id,
            device.token_generation,
            now,
            refresh_exp * 1000,
        )
        .await?;
    Ok(TokenResponse {
        access_token: app.keys.issue(&claims),
        access_expires_at: access_exp,
        refresh_token: refresh,
        refresh_expires_at: refresh_exp,
        device_id: device.id.clone(),
        actor_id: None,
        user: UserInfo {
            id: user.id.clone(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role.clone(),
            community_id: user.community_id.clone(),
        },
    })
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses(
        (status = 200, description = "Revoked; its tokens and live connection stop working", body = DeviceRevoked),
        (status = 404, description = "No such device in your community", body = crate::http::ErrorBody)))]
pub async fn revoke_device(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(id): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device =
        crate::admin::users::revoke_device(&app, &crate::admin::Actor::of(&claims), &id).await?;
    Ok(Json(
        serde_json::json!({ "device_id": device.id, "revoked": true }),
    ))
}
