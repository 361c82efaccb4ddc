//! Reading photos: an authenticated request asks for a short-lived signed
//! link; the link itself serves the bytes (with ranges) to whoever holds it.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use fieldsync_proto::model::photo::is_photo_hash;

use super::may_read_blob;
use crate::auth::Claims;
use crate::blobs::{LinkError, Variant};
use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated, PathParams, QueryParams};
use crate::state::AppState;
use crate::store::BlobRow;
use fieldsync_proto::DocId;
use fieldsync_proto::model::Role;

/// A signed, expiring link to a photo.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SignedLink {
    pub url: String,
    pub variant: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VariantQuery {
    /// `original` when absent.
    #[param(inline)]
    variant: Option<Variant>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// `original` when absent.
    #[param(inline)]
    variant: Option<Variant>,
    exp: Option<i64>,
    sig: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("blob_not_found", "no such photo")
}

/// The blob if the caller may read it: 404 outside its community (or when
/// there is no such blob), 403 inside it without permission.
async fn readable_blob(
    app: &AppState,
    claims: &Claims,
    hash: &str,
) -> Result<(BlobRow, Vec<String>), ApiError> {
    if !is_photo_hash(hash) {
        return Err(not_found());
    }
    let blob = app
        .store
        .blob(&claims.com, hash)
        .await?
        .ok_or_else(not_found)?;
    let links = app.store.blob_links(&claims.com, hash).await?;
    let role = Role::parse(&claims.role).ok_or_else(|| {
        ApiError::forbidden("forbidden", format!("unknown role {:?}", claims.role))
    })?;
    let reader = app.store.reader(&claims.sub, role).await?;
    let ids: Vec<DocId> = links
        .iter()
        .filter_map(|id| DocId::new(id.as_str()).ok())
        .collect();
    let linked: Vec<_> = app
        .store
        .load_docs(&claims.com, &ids)
        .await?
        .into_values()
        .map(|d| d.row)
        .collect();
    if !may_read_blob(&claims.com, &reader, &blob, &linked) {
        return Err(ApiError::forbidden(
            "forbidden",
            "this photo belongs to records you cannot read (or to none yet: then only its \
             uploader and the office see it)",
        ));
    }
    Ok((blob, links))
}

fn now_s() -> i64 {
    now_ms() / 1000
}

/// `GET /api/v1/blobs/{hash}/url?variant=original|display|thumb`: a signed
/// link valid for `link_ttl_secs`.
#[utoipa::path(get, path = "/api/v1/blobs/{hash}/url", tag = "photos", security(("bearer" = [])),
    params(("hash" = String, Path, description = "sha256 of the uploaded bytes, hex"), VariantQuery),
    responses(
        (status = 200, description = "A signed link and when it expires", body = SignedLink),
        (status = 404, description = "No such photo in your community", body = crate::http::ErrorBody)))]
pub async fn signed_url(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(hash): PathParams<String>,
    QueryParams(q): QueryParams<VariantQuery>,
) -> Result<Json<Value>, ApiError> {
    let variant = q.variant.unwrap_or(Variant::Original);
    readable_blob(&app, &claims, &hash).await?;
    let exp = now_s() + app.photos.config().link_ttl_secs as i64;
    Ok(Json(json!({
        "url": app.photos.links().path(&hash, variant, exp),
        "variant": variant.as_str(),
        "expires_at": exp,
    })))
}

/// `GET /api/v1/blobs/{hash}/meta`: what the server knows of a photo and
/// the documents that reference it.
#[utoipa::path(get, path = "/api/v1/blobs/{hash}/meta", tag = "photos", security(("bearer" = [])),
    params(("hash" = String, Path, description = "sha256 of the uploaded bytes, hex")),
    responses(
        (status = 200, description = "What the server knows of the photo, and `linked_documents`", body = crate::store::BlobRow),
        (status = 404, description = "No such photo in your community", body = crate::http::ErrorBody)))]
pub async fn metadata(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(hash): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let (blob, links) = readable_blob(&app, &claims, &hash).await?;
    let mut v = serde_json::to_value(&blob).map_err(ApiError::internal)?;
    v["linked_documents"] = json!(links);
    Ok(Json(v))
}

/// `GET /api/v1/blobs/{hash}?variant=…&exp=…&sig=…`: the bytes of a photo
/// for whoever holds a valid, unexpired link; single byte ranges honoured.
#[utoipa::path(get, path = "/api/v1/blobs/{hash}", tag = "photos",
    params(("hash" = String, Path, description = "sha256 of the uploaded bytes, hex"), SignedQuery,
        ("Range" = Option<String>, Header, description = "One byte range")),
    responses(
        (status = 200, description = "The image: JPEG, or PNG for PNG uploads", content(
            (crate::http::Binary = "image/jpeg"), (crate::http::Binary = "image/png"))),
        (status = 206, description = "The requested range", content(
            (crate::http::Binary = "image/jpeg"), (crate::http::Binary = "image/png"))),
        (status = 304, description = "Not modified"),
        (status = 403, description = "Link unsigned, forged or expired", body = crate::http::ErrorBody),
        (status = 404, description = "No such photo", body = crate::http::ErrorBody),
        (status = 416, description = "The range starts beyond the image (`range_not_satisfiable`); `Content-Range` gives its size", body = crate::http::ErrorBody)))]
pub async fn read(
    State(app): State<AppState>,
    PathParams(hash): PathParams<String>,
    QueryParams(q): QueryParams<SignedQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let variant = q.variant.unwrap_or(Variant::Original);
    let (Some(exp), Some(sig)) = (q.exp, q.sig.as_deref()) else {
        return Err(ApiError::forbidden(
            "bad_signature",
            "this link is not signed; ask GET /api/v1/blobs/{hash}/url for one",
        ));
    };
    let now = now_s();
    app.photos
        .links()
        .check(&hash, variant, exp, sig, now)
        .map_err(|e| match e {
            LinkError::Forged => ApiError::forbidden("bad_signature", e.to_string()),
            LinkError::Expired => ApiError::forbidden(
                "link_expired",
                "the link has expired; ask GET /api/v1/blobs/{hash}/url for a new one",
            ),
        })?;
    let blob = app.store.blob_by_hash(&hash).await?.ok_or_else(not_found)?;
    let objects = app.photos.objects();
    let size = objects
        .size(&hash, variant)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("blob {hash} has a row but no {variant:?}")))?;

    let mut out = HeaderMap::new();
    let etag = HeaderValue::from_str(&format!("\"{hash}-{}\"", variant.as_str()))
        .map_err(ApiError::internal)?;
    out.insert(ETAG, etag.clone());
    out.insert(
        CACHE_CONTROL,
        HeaderValue::from_str(&format!("private, max-age={}", (exp - now).max(0)))
            .map_err(ApiError::internal)?,
    );
    out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let (status, range) = match headers.get(RANGE).and_then(|v| v.to_str().ok()) {
        None => (StatusCode::OK, 0..size),
        Some(spec) => match byte_range(spec, size) {
            RangeAnswer::Whole => (StatusCode::OK, 0..size),
            RangeAnswer::Part(r) => {
                out.insert(
                    CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
                        .map_err(ApiError::internal)?,
                );
                (StatusCode::PARTIAL_CONTENT, r)
            }
            RangeAnswer::Unsatisfiable => {
                out.insert(
                    CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}"))
                        .map_err(ApiError::internal)?,
                );
                let err = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    format!(
                        "the {} form of this photo has {size} bytes",
                        variant.as_str()
                    ),
                );
                return Ok((out, err).into_response());
            }
        },
    };
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&blob.mime).map_err(ApiError::internal)?,
    );
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
    let stream = objects
        .read(&hash, variant, range)
        .await
        .map_err(ApiError::internal)?;
    Ok((status, out, Body::from_stream(stream)).into_response())
}

/// What a `Range` header asks of a representation of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    /// No single byte range (several ranges, or a header to ignore).
    Whole,
    /// `start..end` (end exclusive).
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

fn byte_range(spec: &str, size: u64) -> RangeAnswer {
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    let Some((first, last)) = set.split_once('-').filter(|_| !set.contains(',')) else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    if first.is_empty() {
        // bytes=-N: the last N bytes.
        return match num(last) {
            None => RangeAnswer::Whole,
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Part(size.saturating_sub(n)..size),
        };
    }
    let Some(a) = num(first) else {
        return RangeAnswer::Whole;
    };
    let end = match (last.is_empty(), num(last)) {
        (true, _) => size,
        (false, Some(b)) if b >= a => b.saturating_add(1).min(size),
        _ => return RangeAnswer::Whole,
    };
    if a >= size {
        RangeAnswer::Unsatisfiable
    } else {
        RangeAnswer::Part(a..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        use RangeAnswer::*;
        assert_eq!(byte_range("bytes=0-9", 100), Part(0..10));
        assert_eq!(byte_range("bytes=90-", 100), Part(90..100));
        assert_eq!(byte_range("bytes=90-500", 100), Part(90..100));
        assert_eq!(byte_range("bytes=-10", 100), Part(90..100));
        assert_eq!(byte_range("bytes=-500", 100), Part(0..100));
        assert_eq!(byte_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(byte_range("bytes=9-2", 100), Whole);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), Whole);
        assert_eq!(byte_range("items=0-1", 100), Whole);
        assert_eq!(byte_range("bytes=x-1", 100), Whole);
    }
}
