//! The tus 1.0.0 endpoint (core protocol plus the `creation`, `checksum` and
//! `termination` extensions) at `/api/v1/uploads`. A chunk streams to a spool
//! file of the request's own, then becomes one part of the upload in the blob
//! object store; the offset in the database moves, and records the part, only
//! after the part is stored. Uploads survive a restart, and a phone can resume
//! on any server that shares the database and the object store.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fieldsync_proto::model::photo::is_photo_hash;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, RefOr, Required, Schema, Type};

use super::ingest::{self, checksum_mismatch};
use fieldsync_proto::openapi::string_schema;
use fieldsync_proto::schema_rule;

use crate::api::openapi::conventions::{operations, shared};
use crate::auth::Claims;
use crate::clock::now_ms;
use crate::http::{ApiError, Authenticated, PathParams};
use crate::state::AppState;
use crate::store::UploadRow;

/// The protocol version spoken.
pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,checksum,termination";
const CHECKSUM_ALGORITHMS: &str = "sha256";
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const TUS_VERSION_H: HeaderName = HeaderName::from_static("tus-version");
const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
/// The blob a finished upload became (sha256 hex), and whether it was
/// stored by this upload (`new`) or already (`existing`).
const BLOB_HASH: HeaderName = HeaderName::from_static("fieldsync-blob-hash");
const BLOB_STORED: HeaderName = HeaderName::from_static("fieldsync-blob-stored");

/// Checks `Tus-Resumable` on every request but OPTIONS (412 otherwise),
/// before anything else, and puts it on every response. [`Spec`] documents
/// it.
pub async fn protocol(req: Request, next: Next) -> Response {
    let supported = req.method() == Method::OPTIONS
        || req
            .headers()
            .get(TUS_RESUMABLE)
            .is_some_and(|v| v == TUS_VERSION);
    let mut resp = if supported {
        next.run(req).await
    } else {
        let mut resp = ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            format!("this server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}"),
        )
        .into_response();
        resp.headers_mut()
            .insert(TUS_VERSION_H, HeaderValue::from_static(TUS_VERSION));
        resp
    };
    resp.headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    resp
}

/// The upload a request is about.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UploadPath {
    /// The upload's id, from the `Location` its creation answered.
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
}

/// Whether `id` is the form of an upload id: 32 lowercase hex digits.
fn is_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What [`protocol`] enforces, in the spec: every upload operation but
/// OPTIONS takes a required `Tus-Resumable: 1.0.0` and may answer 412;
/// `Upload-Length` is at most the server's `max_upload_bytes`.
pub struct Spec {
    pub max_upload_bytes: u64,
}

impl utoipa::Modify for Spec {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        for (path, method, op) in operations(api) {
            if !path.starts_with("/api/v1/uploads") || method == "OPTIONS" {
                continue;
            }
            let params = op.parameters.get_or_insert_with(Vec::new);
            params.insert(
                0,
                ParameterBuilder::new()
                    .name("Tus-Resumable")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .description(Some("The tus version the client speaks"))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some([TUS_VERSION])),
                    ))
                    .build(),
            );
            for p in params.iter_mut().filter(|p| p.name == "Upload-Length") {
                if let Some(RefOr::T(Schema::Object(length))) = &mut p.schema {
                    length.maximum = Some(self.max_upload_bytes.into());
                }
            }
            shared(
                &mut op.responses,
                "412",
                "`tus_version`: no `Tus-Resumable: 1.0.0`, the version this server speaks",
            );
        }
    }
}

/// `OPTIONS /api/v1/uploads`: what this server supports. Unauthenticated,
/// like a CORS preflight: it reveals nothing but capabilities.
#[utoipa::path(options, path = "/api/v1/uploads", tag = "photos",
    responses((status = 204, description = "tus capabilities in `Tus-*` headers")))]
pub async fn options(State(app): State<AppState>) -> Response {
    let max = app.photos.config().max_upload_bytes;
    (
        StatusCode::NO_CONTENT,
        [
            (TUS_VERSION_H, HeaderValue::from_static(TUS_VERSION)),
            (TUS_EXTENSION, HeaderValue::from_static(EXTENSIONS)),
            (TUS_MAX_SIZE, HeaderValue::from(max)),
            (
                TUS_CHECKSUM_ALGORITHM,
                HeaderValue::from_static(CHECKSUM_ALGORITHMS),
            ),
        ],
    )
        .into_response()
}

/// `OPTIONS /api/v1/uploads/{id}`: the same capabilities, asked of an upload.
#[utoipa::path(options, path = "/api/v1/uploads/{id}", tag = "photos",
    params(("id" = String, Path, description = "Any upload id: the answer does not depend on it")),
    responses((status = 204, description = "tus capabilities in `Tus-*` headers")))]
pub async fn options_upload(state: State<AppState>) -> Response {
    options(state).await
}

/// `POST /api/v1/uploads` (creation): `Upload-Length` and optional
/// `Upload-Metadata` (`filename`, `filetype`, `sha256` as hex) → 201 with
/// the upload's `Location`.
#[utoipa::path(post, path = "/api/v1/uploads", operation_id = "create_upload", tag = "photos", security(("bearer" = [])),
    params(
        ("Upload-Length" = i64, Header, minimum = 1, description = "Size of the photo in bytes; at most `Tus-Max-Size`"),
        ("Upload-Metadata" = inline(Option<UploadMetadata>), Header,
            description = "`sha256` (the file's sha256, hex) makes the server check the whole file")),
    responses(
        (status = 201, description = "Created; `Location` is the upload's URL"),
        (status = 400, description = "Missing or invalid length (`bad_upload_length`, `bad_header`, `empty_upload`) or metadata (`bad_metadata`)", body = crate::http::ErrorBody),
        (status = 413, description = "Larger than the server accepts (`upload_too_large`)", body = crate::http::ErrorBody),
        (status = 422, description = "The metadata repeats a key, or its `sha256` is not 64 hex digits (`bad_metadata`)", body = crate::http::ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if headers.contains_key(UPLOAD_DEFER_LENGTH) {
        return Err(ApiError::bad_request(
            "defer_length_unsupported",
            "Upload-Defer-Length is not supported: send Upload-Length",
        ));
    }
    let length = header_u64(&headers, &UPLOAD_LENGTH)?.ok_or_else(|| {
        ApiError::bad_request(
            "bad_upload_length",
            "Upload-Length is required: the size of the file in bytes",
        )
    })?;
    let max = app.photos.config().max_upload_bytes;
    if length > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload_too_large",
            format!("the upload declares {length} bytes; at most {max} are accepted"),
        ));
    }
    if length == 0 {
        return Err(ApiError::bad_request(
            "empty_upload",
            "the upload declares 0 bytes: an empty file is not a photo",
        ));
    }
    let metadata = match headers.get(UPLOAD_METADATA) {
        Some(v) => v
            .to_str()
            .map_err(|_| bad_metadata("Upload-Metadata is not ASCII"))?
            .to_owned(),
        None => String::new(),
    };
    let declared_sha256 = declared_sha256(&parse_metadata(&metadata)?)?;

    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = now_ms();
    let row = UploadRow {
        id: id.clone(),
        community_id: claims.com,
        user_id: claims.sub,
        device_id: claims.dev,
        length: length as i64,
        received: 0,
        metadata,
        declared_sha256,
        blob_hash: None,
        stored_as: None,
        created_at: now,
        updated_at: now,
    };
    app.store.insert_upload(&row).await?;
    tracing::debug!(upload = %id, length, "upload created");
    Ok((
        StatusCode::CREATED,
        [(LOCATION, format!("/api/v1/uploads/{id}"))],
    )
        .into_response())
}

/// `HEAD /api/v1/uploads/{id}`: the offset to resume from.
#[utoipa::path(head, path = "/api/v1/uploads/{id}", tag = "photos", security(("bearer" = [])),
    params(UploadPath),
    responses(
        (status = 200, description = "`Upload-Offset` to resume from, `Upload-Length`"),
        (status = 404, description = "No such upload of yours")))]
pub async fn status(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(UploadPath { id }): PathParams<UploadPath>,
) -> Result<Response, ApiError> {
    let upload = visible_upload(&app, &claims, &id).await?;
    let mut headers = offset_headers(&upload);
    headers.insert(UPLOAD_LENGTH, HeaderValue::from(upload.length));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !upload.metadata.is_empty()
        && let Ok(v) = HeaderValue::from_str(&upload.metadata)
    {
        headers.insert(UPLOAD_METADATA, v);
    }
    Ok((StatusCode::OK, headers).into_response())
}

/// `PATCH /api/v1/uploads/{id}`: appends the body at `Upload-Offset`. With
/// `Upload-Checksum: sha256 <base64>` a chunk that does not match is
/// discarded (460). The request that delivers the last byte also checks and
/// stores the photo; its answer says which blob it became.
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "photos", security(("bearer" = [])),
    params(
        UploadPath,
        ("Upload-Offset" = i64, Header, minimum = 0, description = "Where this chunk starts: the upload's offset"),
        ("Upload-Checksum" = inline(Option<UploadChecksum>), Header)),
    request_body(content = crate::http::Binary, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored; `Upload-Offset` is the new offset; the last chunk checks and stores the photo and names its blob"),
        (status = 400, description = "Missing or invalid `Upload-Offset` (`bad_upload_offset`, `bad_header`) or `Upload-Checksum` (`bad_checksum_header`, `unsupported_checksum`), or the chunk was cut off (`upload_interrupted`)", body = crate::http::ErrorBody),
        (status = 409, description = "Wrong offset (`offset_mismatch`), or another request is writing to the upload (`upload_busy`)", body = crate::http::ErrorBody),
        (status = 404, description = "No such upload of yours", body = crate::http::ErrorBody),
        (status = 413, description = "The chunk goes beyond `Upload-Length` (`exceeds_upload_length`; nothing of it was kept), or the photo has too many pixels (`image_too_large`)", body = crate::http::ErrorBody),
        (status = 415, description = "Not sent as `application/offset+octet-stream` (`bad_content_type`), or the photo is not an image this server accepts (`not_an_image`, `unsupported_format`)", body = crate::http::ErrorBody),
        (status = 422, description = "The photo does not decode (`invalid_image`); nothing was stored", body = crate::http::ErrorBody),
        (status = 460, description = "The chunk does not match its `Upload-Checksum` (it was discarded), or the whole file not the declared sha256 (nothing was stored): `checksum_mismatch`", body = crate::http::ErrorBody)))]
pub async fn append(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(UploadPath { id }): PathParams<UploadPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if headers
        .get(CONTENT_TYPE)
        .is_none_or(|v| v != OFFSET_OCTET_STREAM)
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
            format!("PATCH bodies must be sent as Content-Type: {OFFSET_OCTET_STREAM}"),
        ));
    }
    let offset = header_u64(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| ApiError::bad_request("bad_upload_offset", "Upload-Offset is required"))?
        as i64;
    let checksum = upload_checksum(&headers)?;
    visible_upload(&app, &claims, &id).await?;
    let _lock = app.photos.lock_upload(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "upload_busy",
            "another request is writing to this upload; HEAD it and resume when it ends",
        )
    })?;
    // Read again under the lock: a request that just ended may have moved it.
    let upload = visible_upload(&app, &claims, &id).await?;
    if offset != upload.received {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            format!(
                "the upload is at offset {}, not {offset}; HEAD it and resume from there",
                upload.received
            ),
        ));
    }
    let room = (upload.length - upload.received) as u64;
    if let Some(len) = header_u64(&headers, &CONTENT_LENGTH)?
        && len > room
    {
        return Err(beyond_length(&upload));
    }
    if room > 0 {
        let to = write_chunk(&app, &upload, room, body, checksum).await?;
        if to < upload.length {
            return Ok((StatusCode::NO_CONTENT, offset_headers_at(to)).into_response());
        }
    }
    if let (Some(hash), Some(stored)) = (&upload.blob_hash, &upload.stored_as) {
        return Ok(finished(upload.length, hash, stored));
    }
    // Every byte is here (now, or earlier with a completion that failed on
    // the server's side): make it a blob.
    let (hash, stored_as) = ingest::complete(&app, &upload).await?;
    tracing::info!(upload = %id, blob = %hash, stored = stored_as.as_str(), "upload complete");
    Ok(finished(upload.length, &hash, stored_as.as_str()))
}

/// `DELETE /api/v1/uploads/{id}` (termination): forgets the upload and its
/// bytes. A blob it already became stays.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "photos", security(("bearer" = [])),
    params(UploadPath),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "No such upload of yours", body = crate::http::ErrorBody)))]
pub async fn terminate(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathParams(UploadPath { id }): PathParams<UploadPath>,
) -> Result<Response, ApiError> {
    visible_upload(&app, &claims, &id).await?;
    let _lock = app.photos.lock_upload(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "upload_busy",
            "a request is writing to this upload; try again when it ends",
        )
    })?;
    ingest::discard(&app, &id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The upload, if it exists, has not expired, and belongs to this user on
/// this device; else 404 (whose upload it is stays hidden).
async fn visible_upload(app: &AppState, claims: &Claims, id: &str) -> Result<UploadRow, ApiError> {
    let not_found = || {
        ApiError::not_found(
            "upload_not_found",
            "no such upload (unfinished uploads expire after a day without progress)",
        )
    };
    if !is_upload_id(id) {
        return Err(not_found());
    }
    let upload = app.store.upload(id).await?.ok_or_else(not_found)?;
    let expiry_ms = app.photos.config().upload_expiry_secs.saturating_mul(1000) as i64;
    let mine = upload.community_id == claims.com
        && upload.user_id == claims.sub
        && upload.device_id == claims.dev;
    if !mine || upload.updated_at.saturating_add(expiry_ms) < now_ms() {
        return Err(not_found());
    }
    Ok(upload)
}

/// Streams a PATCH body to a spool file and stores it as the upload's next
/// part; returns the new offset. Nothing of the chunk is kept when it goes
/// beyond the declared length or fails its checksum. When the client goes
/// away mid-chunk, what arrived is kept (unless a checksum was sent: then
/// it cannot be verified, and is dropped).
async fn write_chunk(
    app: &AppState,
    upload: &UploadRow,
    room: u64,
    body: Body,
    checksum: Option<Vec<u8>>,
) -> Result<i64, ApiError> {
    let part = uuid::Uuid::new_v4().simple().to_string();
    let spool = Spool(app.photos.spool_path(&upload.id, &part));
    let file = tokio::fs::File::create(&spool.0)
        .await
        .map_err(ApiError::internal)?;
    let mut out = tokio::io::BufWriter::with_capacity(64 << 10, file);
    let mut hasher = checksum.as_ref().map(|_| Sha256::new());
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    let mut interrupted = None;
    while let Some(frame) = stream.next().await {
        let bytes = match frame {
            Ok(b) => b,
            Err(e) => {
                interrupted = Some(e);
                break;
            }
        };
        written += bytes.len() as u64;
        if written > room {
            return Err(beyond_length(upload));
        }
        if let Some(h) = &mut hasher {
            h.update(&bytes);
        }
        out.write_all(&bytes).await.map_err(ApiError::internal)?;
        crate::metrics::METRICS
            .upload_bytes
            .inc_by(bytes.len() as u64);
    }
    out.flush().await.map_err(ApiError::internal)?;
    if let Some(e) = interrupted {
        if hasher.is_some() || is_length_limit(&e) {
            return Err(if is_length_limit(&e) {
                beyond_length(upload)
            } else {
                ApiError::bad_request(
                    "upload_interrupted",
                    "the chunk did not arrive whole; nothing of it was kept",
                )
            });
        }
        // Keep what arrived: the client resumes from the new offset.
        let to = keep(app, upload, &part, &spool, written).await?;
        return Err(ApiError::bad_request(
            "upload_interrupted",
            format!("the chunk did not arrive whole; the upload is at offset {to}"),
        ));
    }
    if let (Some(h), Some(expected)) = (hasher, &checksum)
        && h.finalize()[..] != expected[..]
    {
        return Err(checksum_mismatch(
            "the chunk does not match its Upload-Checksum; it was discarded, send it again".into(),
        ));
    }
    keep(app, upload, &part, &spool, written).await
}

/// Stores `written` spooled bytes as part `part` of the upload and moves its
/// offset past them; returns the new offset. When another request (on
/// another server: this one holds the upload's lock) moved the offset first,
/// the part is deleted and the answer is 409.
async fn keep(
    app: &AppState,
    upload: &UploadRow,
    part: &str,
    spool: &Spool,
    written: u64,
) -> Result<i64, ApiError> {
    if written == 0 {
        return Ok(upload.received);
    }
    let objects = app.photos.objects();
    objects
        .put_part(&upload.id, part, &spool.0)
        .await
        .map_err(ApiError::internal)?;
    let to = upload.received + written as i64;
    let moved = app
        .store
        .advance_upload(&upload.id, upload.received, to, part, now_ms())
        .await;
    if !matches!(moved, Ok(true))
        && let Err(e) = objects.delete_part(&upload.id, part).await
    {
        tracing::warn!(upload = %upload.id, error = %e, "cannot delete an unrecorded part");
    }
    if moved? {
        Ok(to)
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            "another request moved this upload meanwhile; HEAD it and resume from its offset",
        ))
    }
}

/// A request's spool file, deleted when the request ends.
struct Spool(std::path::PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn beyond_length(upload: &UploadRow) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "exceeds_upload_length",
        format!(
            "the chunk goes beyond the declared Upload-Length of {} bytes (the upload is at {}); \
             nothing of it was kept",
            upload.length, upload.received
        ),
    )
}

fn offset_headers_at(offset: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    headers
}

fn offset_headers(upload: &UploadRow) -> HeaderMap {
    let mut headers = offset_headers_at(upload.received);
    if let (Some(hash), Some(stored)) = (&upload.blob_hash, &upload.stored_as) {
        blob_headers(&mut headers, hash, stored);
    }
    headers
}

fn blob_headers(headers: &mut HeaderMap, hash: &str, stored: &str) {
    for (name, value) in [(BLOB_HASH, hash), (BLOB_STORED, stored)] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
}

/// The answer to the request that finished an upload.
fn finished(length: i64, hash: &str, stored: &str) -> Response {
    let mut headers = offset_headers_at(length);
    blob_headers(&mut headers, hash, stored);
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// A tus header that must be a non-negative whole number, if present.
pub fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|n| i64::try_from(*n).is_ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_header",
                format!("{name} must be a non-negative whole number"),
            )
        })
}

/// `Upload-Checksum: sha256 <base64>` → the expected digest (the algorithm's
/// name in any case, one space, the digest's canonical base64: the rule of
/// [`UploadChecksum`]).
pub fn upload_checksum(headers: &HeaderMap) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(v) = headers.get(UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "bad_checksum_header",
            "Upload-Checksum must be `sha256 <base64 of the chunk's digest>`",
        )
    };
    let (algorithm, digest) = v
        .to_str()
        .ok()
        .and_then(|s| s.split_once(' '))
        .ok_or_else(bad)?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(ApiError::bad_request(
            "unsupported_checksum",
            format!("checksum algorithm {algorithm:?} is not supported; use sha256"),
        ));
    }
    let digest = STANDARD.decode(digest).map_err(|_| bad())?;
    if digest.len() != 32 {
        return Err(bad());
    }
    Ok(Some(digest))
}

/// Canonical (padded, no stray bits) base64, as `STANDARD` decodes it.
const BASE64: &str =
    "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?";

schema_rule!(
    /// [`upload_checksum`]'s rule.
    UploadChecksum => string_schema(
        "`sha256 <base64>`: the chunk's sha256 (32 bytes, so 44 base64 characters)",
        None,
        Some("^[Ss][Hh][Aa]256 [A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$".into()),
        None,
    )
);

schema_rule!(
    /// [`parse_metadata`]'s rule.
    UploadMetadata => {
        let pair = format!(r"[ \t]*[\x21-\x2b\x2d-\x7e]+(?: {BASE64})?[ \t]*");
        string_schema(
            "tus metadata: comma-separated `key base64value` pairs, the value may be left out",
            None,
            Some(format!("^(?:{pair}(?:,{pair})*)?$")),
            None,
        )
    }
);

fn bad_metadata(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_metadata", message)
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs, spaces or
/// tabs around each allowed; a key is visible ASCII without commas, its
/// value (after one space) canonical base64 or absent: the rule of
/// [`UploadMetadata`]. A key twice is well-formed but refused (422).
pub fn parse_metadata(raw: &str) -> Result<HashMap<String, Vec<u8>>, ApiError> {
    let mut out = HashMap::new();
    if raw.is_empty() {
        return Ok(out);
    }
    for pair in raw.split(',').map(|p| p.trim_matches([' ', '\t'])) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(bad_metadata(format!(
                "{pair:?} is not a `key base64value` pair of Upload-Metadata"
            )));
        }
        let value = STANDARD.decode(value).map_err(|_| {
            bad_metadata(format!(
                "the value of Upload-Metadata key {key:?} is not base64"
            ))
        })?;
        if out.insert(key.to_owned(), value).is_some() {
            return Err(ApiError::unprocessable(
                "bad_metadata",
                format!("Upload-Metadata repeats key {key:?}"),
            ));
        }
    }
    Ok(out)
}

/// The optional `sha256` metadata value: the whole file's hash, hex.
pub fn declared_sha256(metadata: &HashMap<String, Vec<u8>>) -> Result<Option<String>, ApiError> {
    let Some(value) = metadata.get("sha256") else {
        return Ok(None);
    };
    let hex = String::from_utf8_lossy(value).to_ascii_lowercase();
    if is_photo_hash(&hex) {
        Ok(Some(hex))
    } else {
        Err(ApiError::unprocessable(
            "bad_metadata",
            "the sha256 metadata must be the file's sha256 as 64 hex digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode() {
        let m = parse_metadata("filename d2FsbC5qcGc=,is_confidential, sha256 YWJj").unwrap();
        assert_eq!(m["filename"], b"wall.jpg");
        assert_eq!(m["is_confidential"], b"");
        assert_eq!(m["sha256"], b"abc");
        assert!(parse_metadata("").unwrap().is_empty());
        assert_eq!(
            parse_metadata("empty ").unwrap()["empty"],
            b"",
            "tuspy's empty value"
        );
        let bad = |raw: &str| parse_metadata(raw).map(|_| ()).map_err(|e| e.status());
        for malformed in [
            "filename !!",
            "a YQ",
            "a YR==",
            " ",
            "a,",
            ",a",
            "a\tb YQ==",
            "a  YQ==",
        ] {
            assert_eq!(
                bad(malformed),
                Err(StatusCode::BAD_REQUEST),
                "{malformed:?}"
            );
        }
        assert_eq!(bad("a YQ==,a Yg=="), Err(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(declared_sha256(&m).is_err(), "abc is not a sha256");
    }
}
