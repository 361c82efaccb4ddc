//! The dashboard's static files, compiled into the binary: its stylesheet
//! and script, and the vendored htmx (`server/static/vendor/README.md`).

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::WebError;

/// (path under `/static/`, content type, bytes, whether the name carries a
/// version so it may be cached for good).
const ASSETS: &[(&str, &str, &[u8], bool)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
        false,
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
        false,
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../static/icon.svg"),
        false,
    ),
    (
        "vendor/htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
        true,
    ),
    (
        "vendor/htmx-ext-sse-2.2.4.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-ext-sse-2.2.4.min.js"),
        true,
    ),
];

/// `GET /static/{path}`.
pub async fn serve(Path(path): Path<String>) -> Result<Response, WebError> {
    let Some((_, mime, bytes, versioned)) = ASSETS.iter().find(|(p, ..)| *p == path) else {
        return Err(WebError::NotFound);
    };
    let cache = if *versioned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let mut resp = (*bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(resp)
}
