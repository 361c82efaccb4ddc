//! The community office's dashboard: server-rendered pages (askama templates
//! compiled in, a vendored htmx for partial updates and Server-Sent Events),
//! for office, leader and auditor users signed in with a session cookie.
//! No CDN, no external map tiles, no build step: the binary serves all of it.
//!
//! # Invariants
//! - Every page is sent with a strict Content-Security-Policy: scripts and
//!   styles only from `/static`, never inline.
//! - What a leader sees follows the read scopes of sync; auditors see
//!   everything and act on nothing.
//! - Whatever the dashboard writes is a document written through the one
//!   commit path, attributed to the signed-in user and their browser session.

mod admin;
mod alerts;
mod assets;
mod audit;
mod compliance;
mod hazard;
mod hazards;
mod incidents;
mod now;
mod patrol;
mod plan;
mod reports;
pub mod session;
mod sign_in;
mod write;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use self::session::Viewer;
use crate::i18n::{Tr, tr_key};
use crate::state::AppState;
use crate::store::StoreError;

/// The policy every dashboard response carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's pages and assets.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(now::page))
        .route("/now/live", get(now::live))
        .route("/now/events", get(now::events))
        .route("/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/patrols/{id}", get(patrol::page))
        .route("/compliance", get(compliance::board))
        .route("/compliance/post", get(compliance::post))
        .route("/incidents", get(incidents::list))
        .route("/reports", get(reports::list))
        .route("/reports/{kind}", get(reports::report))
        .route("/reports/evidence/{month}", get(reports::evidence))
        .route("/exports", get(reports::export))
        .route("/incidents/{id}", get(incidents::detail))
        .route("/incidents/{id}/acknowledge", post(incidents::acknowledge))
        .route("/incidents/{id}/update", post(incidents::update))
        .route("/incidents/{id}/close", post(incidents::close))
        // The hazard ledger.
        .route("/hazards", get(hazards::ledger))
        .route("/hazards/{id}", get(hazard::detail))
        .route("/hazards/{id}/act", post(hazard::act))
        .route("/login", get(sign_in::form).post(sign_in::submit))
        .route("/logout", post(sign_in::sign_out))
        .route("/lang", get(sign_in::switch_language))
        .route("/static/{*path}", get(assets::serve))
        // The office's administration and the audit log.
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route(
            "/admin/users",
            get(admin::users::list).post(admin::users::create),
        )
        .route(
            "/admin/users/{id}",
            get(admin::users::page).post(admin::users::update),
        )
        .route("/admin/users/{id}/disable", post(admin::users::disable))
        .route("/admin/users/{id}/export", get(reports::person))
        .route("/admin/users/{id}/enable", post(admin::users::enable))
        .route(
            "/admin/users/{id}/password",
            post(admin::users::reset_password),
        )
        .route(
            "/admin/devices/{id}/revoke",
            post(admin::users::revoke_device),
        )
        .route("/admin/places", get(admin::places::list))
        .route("/admin/places/tags", get(admin::places::tag_sheet))
        .route(
            "/admin/tag-keys",
            get(admin::places::tag_keys).post(admin::places::rotate),
        )
        .route("/admin/tag-keys/{id}/revoke", post(admin::places::revoke))
        .route("/admin/duty", get(admin::duty::list))
        .route("/audit", get(audit::page))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Headers that keep pages from running foreign code, being framed or
/// leaking where they were opened from; and the error page of a failed
/// request, in the browser's language.
async fn security_headers(req: Request, next: Next) -> Response {
    let lang = session::lang_of(&axum_extra::extract::CookieJar::from_headers(req.headers()));
    let mut resp = next.run(req).await;
    if let Some(failure) = resp.extensions_mut().remove::<Failure>() {
        let t = Tr { lang };
        let message = t.fill(failure.key, &failure.values());
        let body = ErrorPage { t, message }
            .render()
            .unwrap_or_else(|e| format!("error: {e}"));
        resp = (resp.status(), Html(body)).into_response();
    }
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// What every page's frame shows: who is signed in, the menu their role
/// has, the language switch and the session's CSRF token.
pub struct Frame {
    pub t: Tr,
    pub viewer: Viewer,
    /// The menu entry of this page (`nav.now`, …).
    pub current: &'static str,
    /// The path of this page, for the language switch to come back to.
    pub path: String,
}

impl Frame {
    pub fn new(viewer: Viewer, current: &'static str, path: impl Into<String>) -> Frame {
        Frame {
            t: viewer.tr,
            viewer,
            current,
            path: path.into(),
        }
    }

    /// The menu: (path, catalogue key), the pages this viewer may open.
    pub fn menu(&self) -> Vec<(&'static str, &'static str)> {
        let mut menu = vec![
            ("/", tr_key("nav.now")),
            ("/hazards", tr_key("nav.hazards")),
            ("/compliance", tr_key("nav.compliance")),
            ("/incidents", tr_key("nav.incidents")),
            ("/reports", tr_key("nav.reports")),
        ];
        if self.viewer.reads_everything() {
            menu.push(("/admin/users", tr_key("nav.admin")));
            menu.push(("/audit", tr_key("nav.audit")));
        }
        menu
    }

    /// The role's name in the page's language.
    pub fn role_name(&self) -> &'static str {
        self.t.get(role_key(self.viewer.role))
    }
}

/// The catalogue key of a role's name.
pub fn role_key(role: fieldsync_proto::model::Role) -> &'static str {
    use fieldsync_proto::model::Role::*;
    match role {
        Volunteer => tr_key("role.volunteer"),
        Guard => tr_key("role.guard"),
        GridWorker => tr_key("role.grid_worker"),
        Leader => tr_key("role.leader"),
        Office => tr_key("role.office"),
        Auditor => tr_key("role.auditor"),
    }
}

/// Renders a template as a page.
pub fn render(page: &impl Template) -> Result<Response, WebError> {
    Ok(Html(page.render().map_err(WebError::internal)?).into_response())
}

/// Why a dashboard request did not get its page.
#[derive(Debug)]
pub enum WebError {
    /// No live session: sign in (again).
    SignIn,
    /// The form did not carry the session's CSRF token.
    Csrf,
    /// The viewer's role may not do this.
    Forbidden,
    NotFound,
    /// A request the rules refuse, with the rule's message.
    Refused(String),
    /// Logged in full under an incident id; the page shows the id only.
    Internal(String),
}

impl WebError {
    pub fn internal(err: impl std::fmt::Display) -> WebError {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(incident = %id, error = %err, "dashboard error");
        WebError::Internal(id)
    }
}

/// The query string of a dashboard form or link. A form sends every
/// field, the ones left blank too, and a blank field filters nothing: it is
/// read as absent (`?from=&format=csv` as `?format=csv`). A value that does
/// not parse is refused with what was wrong.
pub struct FormQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for FormQuery<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        let query = parts.uri.query().unwrap_or_default();
        let filled = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form_urlencoded::parse(query.as_bytes()).filter(|(_, v)| !v.is_empty()))
            .finish();
        serde_urlencoded::from_str(&filled)
            .map(FormQuery)
            .map_err(|e| WebError::Refused(e.to_string()))
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::internal(e)
    }
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage {
    t: Tr,
    message: String,
}

/// A failed request's message, rendered by [`security_headers`] in the
/// browser's language.
#[derive(Clone, Debug)]
struct Failure {
    key: &'static str,
    value: Option<(&'static str, String)>,
}

impl Failure {
    fn values(&self) -> Vec<(&str, &str)> {
        self.value.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, key, value) = match self {
            WebError::SignIn => return Redirect::to("/login").into_response(),
            WebError::Csrf => (StatusCode::FORBIDDEN, tr_key("error.csrf"), None),
            WebError::Forbidden => (StatusCode::FORBIDDEN, tr_key("error.forbidden"), None),
            WebError::NotFound => (StatusCode::NOT_FOUND, tr_key("error.not_found"), None),
            WebError::Refused(m) => (
                StatusCode::BAD_REQUEST,
                tr_key("error.bad_request"),
                Some(("message", m)),
            ),
            WebError::Internal(id) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                tr_key("error.internal"),
                Some(("incident", id)),
            ),
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(Failure { key, value });
        resp
    }
}
