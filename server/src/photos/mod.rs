//! Photos (DESIGN.md §9): resumable uploads over tus 1.0.0, checks and
//! re-encoding of the image, content-addressed blob storage through
//! `object_store`, and signed, expiring links to read a blob.
//!
//! # Invariants
//! - A blob is addressed by the sha256 of the bytes the phone uploaded (the
//!   hash the phone records in its documents), whatever is stored under it.
//! - Only an image that passed every check is stored, and what is stored is
//!   re-encoded from its pixels: no EXIF (GPS, serials, maker notes), no ICC
//!   profile, no other metadata of the upload survives.
//! - A blob's objects are written before its row: a row means its objects
//!   exist, so a hash with a row is never processed again.
//! - An upload is visible only to the user and device that created it.
//! - Blob rows are per community: a community reads only blobs it holds.

mod access;
mod expiry;
mod ingest;
mod links;
mod objects;
mod sanitize;
pub(crate) mod serve;
pub(crate) mod tus;
mod workers;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;

pub use access::may_read_blob;
pub use expiry::spawn_expiry;
pub use links::{LinkError, LinkSigner};
pub use objects::{BlobObjects, Variant};
pub use sanitize::{ImageLimits, Processed, Rejection, process};

use crate::app::AppState;
use crate::config::{Config, PhotoConfig};
use crate::store::Store;

/// Largest body of the photo routes other than a PATCH (they carry none).
const SMALL_BODY_LIMIT: usize = 64 << 10;

/// Whether `s` is a blob address: a sha256 in lowercase hex.
pub fn is_blob_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The photo side of the server state.
#[derive(Clone)]
pub struct Photos {
    inner: Arc<Inner>,
}

struct Inner {
    config: PhotoConfig,
    uploads_dir: PathBuf,
    objects: BlobObjects,
    links: LinkSigner,
    /// Bounds the images being processed or stored at once (each holds a
    /// full-size bitmap, then its encoded forms).
    processing: Semaphore,
    /// The threads that decode and re-encode.
    workers: workers::ImageWorkers,
    /// Uploads a request is writing to right now.
    busy: Mutex<HashSet<String>>,
}

impl Photos {
    /// Opens the blob store (`<data_dir>/blobs`, or S3 when configured),
    /// creates `<data_dir>/uploads`, and loads or creates the link secret.
    pub async fn open(config: &Config, store: &Store) -> anyhow::Result<Photos> {
        let uploads_dir = config.data_dir.join("uploads");
        std::fs::create_dir_all(&uploads_dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", uploads_dir.display()))?;
        let objects = match &config.photos.s3 {
            Some(s3) => BlobObjects::s3(s3)?,
            None => BlobObjects::local(&config.data_dir)?,
        };
        let secret = store
            .secret_or_insert("blobs", &crate::auth::new_secret())
            .await?;
        Ok(Photos {
            inner: Arc::new(Inner {
                config: config.photos.clone(),
                uploads_dir,
                objects,
                links: LinkSigner::new(&secret),
                processing: Semaphore::new(config.photos.processing_slots.max(1)),
                workers: workers::ImageWorkers::start(config.photos.processing_slots.max(1))?,
                busy: Mutex::default(),
            }),
        })
    }

    pub fn config(&self) -> &PhotoConfig {
        &self.inner.config
    }

    /// Where blobs' objects are stored.
    pub fn objects(&self) -> &BlobObjects {
        &self.inner.objects
    }

    /// Signs and checks blob links.
    pub fn links(&self) -> &LinkSigner {
        &self.inner.links
    }

    /// The file holding an unfinished upload's bytes.
    fn partial_path(&self, id: &str) -> PathBuf {
        self.inner.uploads_dir.join(id)
    }

    fn uploads_dir(&self) -> &Path {
        &self.inner.uploads_dir
    }

    fn image_limits(&self) -> ImageLimits {
        let c = &self.inner.config;
        ImageLimits {
            max_bytes: c.max_upload_bytes,
            max_pixels: c.max_pixels,
            max_side: c.max_side,
        }
    }

    /// Claims an upload for one request; `None` while another one holds it.
    fn lock_upload(&self, id: &str) -> Option<UploadLock> {
        let mut busy = self.inner.busy.lock().expect("upload lock set poisoned");
        busy.insert(id.to_owned()).then(|| UploadLock {
            photos: self.clone(),
            id: id.to_owned(),
        })
    }
}

/// One request's claim on an upload, released on drop.
struct UploadLock {
    photos: Photos,
    id: String,
}

impl Drop for UploadLock {
    fn drop(&mut self) {
        self.photos
            .inner
            .busy
            .lock()
            .expect("upload lock set poisoned")
            .remove(&self.id);
    }
}

/// The photo routes. PATCH carries up to `max_upload` bytes; every other
/// photo route at most 64 KiB (they carry no body).
pub fn routes(max_upload: usize) -> crate::api::Routes<AppState> {
    use axum::http::Method as M;
    let small = |m: axum::routing::MethodRouter<AppState>| {
        m.layer(RequestBodyLimitLayer::new(SMALL_BODY_LIMIT))
    };
    let big = move |m: axum::routing::MethodRouter<AppState>| {
        m.layer(RequestBodyLimitLayer::new(max_upload))
    };
    crate::api::Routes::default()
        .add_with(M::POST, "/api/v1/uploads", tus::create, small)
        .add_with(M::OPTIONS, "/api/v1/uploads", tus::options, small)
        .add_with(M::HEAD, "/api/v1/uploads/{id}", tus::status, small)
        .add_with(M::DELETE, "/api/v1/uploads/{id}", tus::terminate, small)
        .add_with(
            M::OPTIONS,
            "/api/v1/uploads/{id}",
            tus::options_upload,
            small,
        )
        .add_with(M::PATCH, "/api/v1/uploads/{id}", tus::append, big)
        .map(|r| r.layer(axum::middleware::from_fn(tus::protocol)))
        .add_with(M::GET, "/api/v1/blobs/{hash}", serve::read, small)
        .add_with(M::GET, "/api/v1/blobs/{hash}/url", serve::signed_url, small)
        .add_with(M::GET, "/api/v1/blobs/{hash}/meta", serve::metadata, small)
}

/// The photo routes with their state.
pub fn router(state: AppState) -> Router {
    let max_upload = usize::try_from(state.photos.config().max_upload_bytes).unwrap_or(usize::MAX);
    routes(max_upload).into_router().with_state(state)
}
