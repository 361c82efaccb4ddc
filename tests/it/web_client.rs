//! The dashboard as a test's browser sees it over plain HTTP: sign in, carry
//! the session cookie, read the CSRF token off a page, post forms.

use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};

use crate::support::PASSWORD;

/// A browser without cookie support of its own: the test carries cookies.
pub fn browser() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The value of cookie `name` that `resp` sets, and the whole header.
pub fn set_cookie(resp: &Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned();
            (value, v.to_owned())
        })
}

/// The `csrf` hidden field of a page's first form.
pub fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// What a browser holds for one sign-in form.
struct SignInForm {
    cookie: String,
    csrf: String,
}

async fn sign_in_form(url: &str) -> SignInForm {
    let resp = browser().get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let (cookie, header) = set_cookie(&resp, "fs_sign_in").expect("the form's CSRF cookie");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    let html = resp.text().await.unwrap();
    SignInForm {
        cookie,
        csrf: csrf_field(&html),
    }
}

/// Posts the sign-in form; returns the response.
pub async fn sign_in(url: &str, username: &str, password: &str) -> Response {
    let form = sign_in_form(url).await;
    browser()
        .post(format!("{url}/login"))
        .header("cookie", format!("fs_sign_in={}", form.cookie))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", form.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the session cookie.
pub async fn session_of(url: &str, username: &str) -> String {
    let resp = sign_in(url, username, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{username}");
    assert_eq!(resp.headers()["location"], "/");
    let (token, header) = set_cookie(&resp, "fs_session").expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(header.contains(part), "{header}");
    }
    assert!(!header.contains("Secure"), "plain http: no Secure");
    token
}

pub async fn get_as(url: &str, session: &str, path: &str) -> Response {
    browser()
        .get(format!("{url}{path}"))
        .header("cookie", format!("fs_session={session}"))
        .send()
        .await
        .unwrap()
}

/// Posts a form carrying only the CSRF token, as session `session`.
pub async fn post_as(url: &str, session: &str, path: &str, csrf: &str) -> Response {
    browser()
        .post(format!("{url}{path}"))
        .header("cookie", format!("fs_session={session}"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

/// Posts a form with `fields` (the CSRF token among them, or not), as
/// session `session`.
pub async fn post_form_as(
    url: &str,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    browser()
        .post(format!("{url}{path}"))
        .header("cookie", format!("fs_session={session}"))
        .form(fields)
        .send()
        .await
        .unwrap()
}
