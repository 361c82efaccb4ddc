//! Photos across the FFI: import into the store, attach to a check-in, and
//! the upload queue (progress arrives through the `SyncListener`).

use super::{FfiResult, FieldsyncClient, GpsFix, blocking, parse_doc_id, spawned};

/// A photo in the device store and where its upload stands.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PhotoUploadSummary {
    /// What documents reference: the sha256 of the photo, hex.
    pub hash: String,
    pub size: u64,
    pub mime: String,
    /// `pending`, `uploaded` or `failed` (refused by the server for good).
    pub state: String,
    /// Bytes the server had when last heard from.
    pub sent: u64,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The stored copy, to show the photo offline.
    pub path: Option<String>,
}

/// What one pass over the photo queue did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct UploadReport {
    pub uploaded: u64,
    pub failed: u64,
    /// Still queued (offline, or the server busy).
    pub waiting: u64,
}

/// A check-in with everything it may carry.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Visit {
    pub post_id: String,
    /// The scanned tag, or `None` for a manual check-in with `reason`.
    pub tag_payload: Option<String>,
    pub reason: String,
    pub fix: Option<GpsFix>,
    pub note: String,
    /// Hashes from `import_photo`.
    pub photos: Vec<String>,
}

#[uniffi::export]
impl FieldsyncClient {
    /// Copies the photo file at `path` into the device store (JPEG, PNG or
    /// WebP) and queues its upload; returns the hash to attach to a hazard,
    /// check-in or incident. Works offline; the same photo twice is stored
    /// once.
    pub async fn import_photo(&self, path: String) -> FfiResult<String> {
        let c = self.client()?;
        blocking(move || c.import_photo(&path)).await
    }

    /// Every photo in the device store and its upload, oldest first.
    pub async fn photo_uploads(&self) -> FfiResult<Vec<PhotoUploadSummary>> {
        let c = self.client()?;
        blocking(move || {
            Ok(c.photo_uploads()?
                .into_iter()
                .map(|p| PhotoUploadSummary {
                    path: c
                        .photo_path(&p.hash)
                        .map(|p| p.to_string_lossy().into_owned()),
                    hash: p.hash,
                    size: p.size,
                    mime: p.mime,
                    state: p.state.as_str().to_owned(),
                    sent: p.sent,
                    attempts: p.attempts,
                    last_error: p.last_error,
                })
                .collect())
        })
        .await
    }

    /// Uploads every queued photo now (the background loop started by
    /// `start_sync` does this by itself) and returns when each was tried.
    pub async fn upload_photos_now(&self) -> FfiResult<UploadReport> {
        let c = self.client()?;
        let r = spawned(async move { c.upload_photos_now().await }).await?;
        Ok(UploadReport {
            uploaded: r.uploaded as u64,
            failed: r.failed as u64,
            waiting: r.waiting as u64,
        })
    }

    /// Checks in at a post with photos (see `check_in`). Returns the
    /// check-in id.
    pub async fn check_in_visit(&self, patrol_id: String, visit: Visit) -> FfiResult<String> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        let visit = fieldsync_sdk::Visit {
            post_id: visit.post_id,
            tag_payload: visit.tag_payload,
            reason: visit.reason,
            fix: visit.fix.map(Into::into),
            note: visit.note,
            photos: visit.photos,
        };
        blocking(move || c.check_in_with(&id, visit)).await
    }
}
