//! A complete upload becomes a blob: hash the bytes, check the declared hash,
//! and unless the blob is stored already, check and re-encode the image and
//! store its forms, then its row.

use std::path::PathBuf;

use axum::http::StatusCode;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::blobs::{Rejection, Variant};
use crate::clock::now_ms;
use crate::http::ApiError;
use crate::state::AppState;
use crate::store::{BlobRow, UploadRow};

/// tus's status for a checksum that does not match.
pub(super) fn checksum_mismatch(message: String) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(460).expect("460 is a valid status code"),
        "checksum_mismatch",
        message,
    )
}

/// Whether completing an upload stored its blob or found it stored in the
/// uploader's community.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoredAs {
    New,
    Existing,
}

impl StoredAs {
    /// From whether inserting the community's blob row added one.
    fn from_inserted(inserted: bool) -> StoredAs {
        if inserted {
            StoredAs::New
        } else {
            StoredAs::Existing
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            StoredAs::New => "new",
            StoredAs::Existing => "existing",
        }
    }
}

/// Turns a complete upload into a blob and marks the upload finished.
///
/// A rejected image (or a hash other than the declared one) deletes the
/// upload: nothing of it is stored. A server-side failure (storage down)
/// keeps it, so a retry can complete it without sending the bytes again.
pub(super) async fn complete(
    app: &AppState,
    upload: &UploadRow,
) -> Result<(String, StoredAs), ApiError> {
    let (path, hash) = assemble(app, upload).await?;
    if let Some(declared) = &upload.declared_sha256
        && *declared != hash
    {
        discard(app, &upload.id).await;
        return Err(checksum_mismatch(format!(
            "the uploaded bytes have sha256 {hash} but the metadata declared {declared}; nothing was stored"
        )));
    }
    let stored_as = match store_blob(app, upload, &hash, path).await {
        Ok(s) => s,
        Err(Refused::Image(rejection)) => {
            discard(app, &upload.id).await;
            tracing::info!(upload = %upload.id, device = %upload.device_id, code = rejection.code(), "refused an upload");
            return Err(rejection_error(rejection));
        }
        Err(Refused::Server(e)) => return Err(e),
    };
    app.store
        .finish_upload(&upload.id, &hash, stored_as.as_str(), now_ms())
        .await?;
    remove_partial(app, &upload.id).await;
    Ok((hash, stored_as))
}

enum Refused {
    Image(Rejection),
    Server(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Server(e)
    }
}

impl From<crate::store::StoreError> for Refused {
    fn from(e: crate::store::StoreError) -> Self {
        Refused::Server(e.into())
    }
}

async fn store_blob(
    app: &AppState,
    upload: &UploadRow,
    hash: &str,
    path: PathBuf,
) -> Result<StoredAs, Refused> {
    let row = |from: Option<BlobRow>, width: i64, height: i64, mime: &str| BlobRow {
        community_id: upload.community_id.clone(),
        hash: hash.to_owned(),
        size: upload.length,
        width: from.as_ref().map_or(width, |b| b.width),
        height: from.as_ref().map_or(height, |b| b.height),
        mime: from.map_or_else(|| mime.to_owned(), |b| b.mime),
        uploaded_by: upload.user_id.clone(),
        device_id: upload.device_id.clone(),
        created_at: now_ms(),
    };
    if app.store.blob(&upload.community_id, hash).await?.is_some() {
        return Ok(StoredAs::Existing);
    }
    if let Some(elsewhere) = app.store.blob_by_hash(hash).await? {
        // Stored for another community: the objects are there and this
        // community gets its own row. To this community the blob is new:
        // the answer must not tell that another community has the photo.
        let new = app
            .store
            .insert_blob(&row(Some(elsewhere), 0, 0, ""))
            .await?;
        return Ok(StoredAs::from_inserted(new));
    }
    // Holding a slot until the forms are stored bounds the bitmaps and
    // encoded forms in memory at once.
    let _slot = app
        .photos
        .processing_slot()
        .await
        .map_err(ApiError::internal)?;
    let processed = app
        .photos
        .process(path)
        .await
        .map_err(ApiError::internal)?
        .map_err(|r| match r {
            Rejection::Io(e) => Refused::Server(ApiError::internal(e)),
            r => Refused::Image(r),
        })?;
    let (width, height, mime) = (processed.width, processed.height, processed.mime);
    // The original last: its presence means the others are there too.
    let forms = [
        (Variant::Thumb, processed.thumb),
        (Variant::Display, processed.display),
        (Variant::Original, processed.original),
    ];
    for (variant, bytes) in forms {
        app.photos
            .objects()
            .put(hash, variant, bytes)
            .await
            .map_err(ApiError::internal)?;
    }
    let new = app
        .store
        .insert_blob(&row(None, i64::from(width), i64::from(height), mime))
        .await?;
    Ok(StoredAs::from_inserted(new))
}

fn rejection_error(r: Rejection) -> ApiError {
    let status = match r {
        Rejection::NotAnImage(_) | Rejection::UnsupportedFormat(_) => {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        }
        Rejection::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Rejection::Invalid(_) | Rejection::Io(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, r.code(), format!("{r}; nothing was stored"))
}

/// Puts a complete upload's parts together in its partial file; returns
/// the file and the sha256 (hex) of its bytes.
async fn assemble(app: &AppState, upload: &UploadRow) -> Result<(PathBuf, String), ApiError> {
    let parts = app.store.upload_parts(&upload.id).await?;
    let mut at = 0;
    for part in &parts {
        if part.start_at != at {
            return Err(ApiError::internal(format!(
                "upload {}: a part starts at {} where {at} was expected",
                upload.id, part.start_at
            )));
        }
        at = part.end_at;
    }
    if at != upload.length {
        return Err(ApiError::internal(format!(
            "upload {}: its parts end at {at}, not {}",
            upload.id, upload.length
        )));
    }
    let path = app.photos.partial_path(&upload.id);
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut out = tokio::io::BufWriter::with_capacity(64 << 10, file);
    let mut hasher = Sha256::new();
    for part in &parts {
        let mut bytes = app
            .photos
            .objects()
            .read_part(&upload.id, &part.object_key)
            .await
            .map_err(ApiError::internal)?;
        while let Some(chunk) = bytes.try_next().await.map_err(ApiError::internal)? {
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(ApiError::internal)?;
        }
    }
    out.flush().await.map_err(ApiError::internal)?;
    Ok((path, hex::encode(hasher.finalize())))
}

/// Deletes an upload and its bytes.
pub(super) async fn discard(app: &AppState, id: &str) {
    remove_partial(app, id).await;
    if let Err(e) = app.store.delete_upload(id).await {
        tracing::warn!(upload = %id, error = %e, "cannot delete an upload row");
    }
}

/// Deletes an upload's parts and the file they were put together in.
async fn remove_partial(app: &AppState, id: &str) {
    match tokio::fs::remove_file(app.photos.partial_path(id)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(upload = %id, error = %e, "cannot delete an upload's file"),
    }
    if let Err(e) = app.photos.objects().delete_parts(id).await {
        tracing::warn!(upload = %id, error = %e, "cannot delete an upload's parts");
    }
}
