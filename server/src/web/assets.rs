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

#[cfg(test)]
mod tests {
    /// Every block of the stylesheet is closed where it looks closed: a
    /// missing brace silently moves every rule after it into the block before
    /// (a media query for phones, or for print). Inside a block every line is
    /// indented; a line at the first column belongs outside.
    #[test]
    fn the_stylesheet_closes_every_block() {
        let css = include_str!("../../static/app.css");
        let mut depth = 0i32;
        let mut in_comment = false;
        for (n, line) in css.lines().enumerate() {
            let starts_outside = !line.starts_with([' ', '}']) && !line.is_empty();
            if depth > 0 && starts_outside && !in_comment {
                panic!("line {}: {line:?} is inside an unclosed block", n + 1);
            }
            let mut rest = line;
            while !rest.is_empty() {
                if in_comment {
                    match rest.find("*/") {
                        Some(end) => {
                            in_comment = false;
                            rest = &rest[end + 2..];
                        }
                        None => break,
                    }
                } else if rest.starts_with("/*") {
                    in_comment = true;
                    rest = &rest[2..];
                } else {
                    let c = rest.chars().next().unwrap_or_default();
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    assert!(depth >= 0, "line {}: a brace closes nothing", n + 1);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        assert_eq!(depth, 0, "every block is closed");
    }
}
