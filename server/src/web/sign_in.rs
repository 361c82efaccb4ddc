//! `/login`, `/logout` and the language switch.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use fieldsync_proto::model::Role;
use serde::Deserialize;

use super::session::{self, Viewer};
use super::{WebError, render};
use crate::auth::new_refresh_token;
use crate::i18n::{self, Lang, Tr};
use crate::state::{AppState, LoginRefused};

#[derive(Template)]
#[template(path = "web/login.html")]
struct SignInPage {
    t: Tr,
    csrf: String,
    username: String,
    /// Why the last attempt failed, in the page's language.
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "web/refused.html")]
struct RefusedPage {
    t: Tr,
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

fn secure(app: &AppState, headers: &HeaderMap) -> bool {
    session::is_https(headers, app.config.secure_cookies)
}

/// Renders the sign-in form with a fresh CSRF token in its cookie.
fn sign_in_page(
    app: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    username: String,
    problem: Option<String>,
) -> Result<Response, WebError> {
    let t = Tr {
        lang: session::lang_of(&jar),
    };
    let csrf = new_refresh_token();
    let jar = jar.add(session::cookie(
        session::SIGN_IN_COOKIE,
        csrf.clone(),
        3600,
        secure(app, headers),
    ));
    let page = render(&SignInPage {
        t,
        csrf,
        username,
        problem,
    })?;
    Ok((jar, page).into_response())
}

/// `GET /login`.
pub async fn form(
    State(app): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, WebError> {
    sign_in_page(&app, &headers, jar, String::new(), None)
}

/// `POST /login`: checks the password (with the API's throttling), refuses
/// the roles the dashboard is not for, and starts a session.
pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignIn>,
) -> Result<Response, WebError> {
    let expected = jar
        .get(session::SIGN_IN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || form.csrf != expected {
        return Err(WebError::Csrf);
    }
    let t = Tr {
        lang: session::lang_of(&jar),
    };
    let user = match app.check_password(&form.username, &form.password).await {
        Ok(user) => user,
        Err(LoginRefused::Locked(seconds)) => {
            let problem = t.fill("login.locked", &[("seconds", &seconds.to_string())]);
            return sign_in_page(&app, &headers, jar, form.username, Some(problem));
        }
        Err(LoginRefused::Wrong) => {
            let problem = t.get("login.wrong").to_owned();
            return sign_in_page(&app, &headers, jar, form.username, Some(problem));
        }
        Err(LoginRefused::Store(e)) => return Err(e.into()),
        Err(LoginRefused::Internal(e)) => return Err(WebError::internal(e)),
    };
    if !Role::parse(&user.role).is_some_and(session::is_for) {
        tracing::info!(user = %user.username, role = %user.role, "dashboard sign-in refused for the role");
        return render(&RefusedPage { t });
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let cookie = session::start(&app, &user, agent, secure(&app, &headers)).await?;
    let jar = jar.remove(session::SIGN_IN_COOKIE).add(cookie);
    Ok((jar, Redirect::to("/")).into_response())
}

/// `POST /logout`.
pub async fn sign_out(
    State(app): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    session::end(&app, &viewer).await?;
    Ok((jar.remove(session::COOKIE), Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct Switch {
    to: String,
    #[serde(default)]
    back: String,
}

/// `GET /lang?to=en&back=/compliance`: keeps the language for a year and
/// goes back to the page (only ever to a path of this site).
pub async fn switch_language(
    State(app): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(switch): Query<Switch>,
) -> Response {
    let lang = Lang::parse(&switch.to).unwrap_or_default();
    let back = if switch.back.starts_with('/') && !switch.back.starts_with("//") {
        switch.back
    } else {
        "/".to_owned()
    };
    let cookie = session::cookie(
        i18n::COOKIE,
        lang.tag().to_owned(),
        365 * 24 * 3600,
        secure(&app, &headers),
    );
    (jar.add(cookie), Redirect::to(&back)).into_response()
}
