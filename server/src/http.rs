//! What every HTTP handler shares: the one error type and its JSON body, the
//! JSON body extractor, authentication of bearer tokens, role checks, and the
//! route table that records what is served (so the OpenAPI spec can be
//! checked against it).

use axum::Json;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{AuthFailure, Claims, TokenError};
use crate::state::AppState;

/// Every error response: a stable code and a message saying what was wrong
/// (for 500s an incident id, never internals).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case: clients match on it.
    pub error: String,
    pub message: String,
}

/// An API error: 4xx carry a stable code and a message saying what was wrong;
/// 5xx are logged in full and answered with an opaque incident id.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// Logs `err` under a fresh incident id and returns an opaque 500.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(incident = %id, error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error; incident {id}"),
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

/// The answer to a path nothing serves: a 404 in the shape of every other
/// error, pointing to where the API is.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!(
            "nothing is served at {}; the API is under /api/v1 (described at /api/v1/openapi.json)",
            uri.path()
        ),
    )
}

/// A JSON request body; one that does not parse is a 400 `invalid_json`
/// in the shape of every other error.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::new(r.status(), "invalid_json", r.body_text())
    }
}

/// Allows `claims` only for one of `roles`; else 403 `forbidden`.
pub fn require_role(claims: &Claims, roles: &[&str], what: &str) -> Result<(), ApiError> {
    if roles.contains(&claims.role.as_str()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "forbidden",
            format!("only {} users can {what}", roles.join(" and ")),
        ))
    }
}

/// An authenticated request: a valid bearer access token of a device that is
/// not revoked.
pub struct Authenticated(pub Claims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let claims = app.authenticate(token).await.map_err(|e| match e {
            AuthFailure::Token(TokenError::Missing) => {
                ApiError::unauthorized("unauthenticated", "missing bearer token")
            }
            AuthFailure::Token(TokenError::Expired) => {
                ApiError::unauthorized("token_expired", "access token expired; refresh it")
            }
            AuthFailure::Token(TokenError::Invalid) => {
                ApiError::unauthorized("unauthenticated", "invalid access token")
            }
            AuthFailure::Revoked => {
                ApiError::forbidden("device_revoked", "this device has been revoked")
            }
            AuthFailure::Superseded => {
                ApiError::unauthorized("unauthenticated", "access token was revoked")
            }
            AuthFailure::Store(e) => ApiError::internal(e),
        })?;
        Ok(Authenticated(claims))
    }
}

/// A router that records every method and path it serves as they are added,
/// so the OpenAPI spec can be checked against what is actually served.
pub struct Routes<S> {
    router: Router<S>,
    served: Vec<(Method, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            served: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Serves `method path` with `handler`.
    pub fn add<H: Handler<T, S>, T: 'static>(
        self,
        method: Method,
        path: &'static str,
        handler: H,
    ) -> Self {
        self.add_with(method, path, handler, |m| m)
    }

    /// Serves `method path` with `handler`, wrapped (e.g. in a body limit).
    pub fn add_with<H: Handler<T, S>, T: 'static>(
        mut self,
        method: Method,
        path: &'static str,
        handler: H,
        wrap: impl FnOnce(MethodRouter<S>) -> MethodRouter<S>,
    ) -> Self {
        let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
        self.router = self.router.route(path, wrap(on(filter, handler)));
        self.served.push((method, path));
        self
    }

    /// Applies `f` to the router built so far (layers for all its routes).
    pub fn map(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// Every method and path served.
    pub fn served(&self) -> &[(Method, &'static str)] {
        &self.served
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
