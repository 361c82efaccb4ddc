//! What every HTTP handler shares: the one error type and its JSON body, the
//! extractors of JSON bodies, query strings and paths (their refusals in
//! that shape too), authentication of bearer tokens, role checks, and the
//! route table that records what is served (so the OpenAPI spec can be
//! checked against it).

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
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

/// Bytes in a request or response body (a photo, a zip, an XLSX file), as
/// the spec describes them: `type: string, format: binary` (a `Vec<u8>`
/// would be described as an array of integers).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

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

    /// A well-formed request the rules refuse: it names something that does
    /// not exist, or its fields do not fit together.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
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

/// The largest JSON body the API reads.
pub const MAX_JSON_BODY: usize = 1 << 20;

/// A JSON object request body. A body that is not JSON, not an object, or
/// not of the request's shape is a 400 `invalid_json` (a wrong Content-Type a
/// 415, one over [`MAX_JSON_BODY`] a 413), in the shape of every other error.
/// Numbers with a zero fraction (`30.0`) count as the whole numbers they
/// are, as JSON Schema has it.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(mut body) = Json::<Value>::from_request(req, state).await?;
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "invalid_json",
                "the body must be a JSON object",
            ));
        }
        whole_numbers(&mut body);
        serde_path_to_error::deserialize(body)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
    }
}

/// Rewrites every number with a zero fraction that fits an `i64` or `u64`
/// as that integer, so `30.0` reads into an integer field.
fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                // 2^63 and 2^64 are exact as f64; both bounds are exclusive.
                if (-(2f64.powi(63))..2f64.powi(63)).contains(&f) {
                    *value = Value::from(f as i64);
                } else if (0.0..2f64.powi(64)).contains(&f) {
                    *value = Value::from(f as u64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
                StatusCode::BAD_REQUEST
            }
            _ => r.status(),
        };
        ApiError::new(status, "invalid_json", r.body_text())
    }
}

/// Query-string parameters; ones that do not parse (an unknown value, a
/// number out of range) are a 400 `invalid_query`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

/// Path parameters; ones that do not parse are a 400 `invalid_path`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        if r.status().is_client_error() {
            ApiError::bad_request("invalid_path", r.body_text())
        } else {
            // The route and its extractor disagree: the server's fault.
            ApiError::internal(r.body_text())
        }
    }
}

/// A request to the sync route that is not a WebSocket upgrade.
impl From<WebSocketUpgradeRejection> for ApiError {
    fn from(r: WebSocketUpgradeRejection) -> Self {
        ApiError::new(r.status(), "not_websocket", r.body_text())
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Route {
        interval_min: u32,
        lat: Option<f64>,
    }

    async fn body(content_type: &str, body: &str) -> Result<Route, (StatusCode, String)> {
        let req = Request::builder()
            .header(axum::http::header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned()))
            .unwrap();
        JsonBody::<Route>::from_request(req, &())
            .await
            .map(|JsonBody(r)| r)
            .map_err(|e| (e.status, e.code.to_owned()))
    }

    #[tokio::test]
    async fn json_bodies() {
        let json = "application/json";
        let route = |interval_min, lat| Ok(Route { interval_min, lat });
        assert_eq!(body(json, r#"{"interval_min": 30}"#).await, route(30, None));
        assert_eq!(
            body(json, r#"{"interval_min": 30.0, "lat": 31}"#).await,
            route(30, Some(31.0)),
            "whole numbers are whole, whatever their spelling"
        );
        let invalid = Err((StatusCode::BAD_REQUEST, "invalid_json".to_owned()));
        for bad in [
            r#"{"interval_min": 30.5}"#,
            r#"{"interval_min": -1}"#,
            r#"{"lat": 1}"#,
            r#"[null, null]"#,
            r#"30"#,
            r#"{"interval_min": "#,
        ] {
            assert_eq!(body(json, bad).await, invalid, "{bad}");
        }
        assert_eq!(
            body("text/plain", r#"{"interval_min": 30}"#).await,
            Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_json".to_owned()
            ))
        );
    }

    #[test]
    fn whole_numbers_fit_their_integer() {
        let mut v = json!([30.0, -0.0, 1.5, 9.3e18, 1.8e19, 1e300, -9.3e18, 7]);
        whole_numbers(&mut v);
        assert_eq!(
            v,
            json!([
                30,
                0,
                1.5,
                9_300_000_000_000_000_000u64,
                18_000_000_000_000_000_000u64,
                1e300,
                -9.3e18,
                7
            ])
        );
    }
}
