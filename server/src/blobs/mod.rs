//! Photo storage, apart from HTTP: content-addressed blobs in an object
//! store (a local directory or S3), the image checks and re-encoding on a
//! fixed pool of threads, signed links, and the directory where chunks are
//! spooled and complete uploads put together (the bytes of unfinished
//! uploads are parts in the object store). The endpoints that use it are in `crate::photos`.
//!
//! # Invariants
//! - A blob is addressed by the sha256 of the bytes the phone uploaded (the
//!   hash the phone records in its documents), whatever is stored under it.
//! - Only an image that passed every check is stored, and what is stored is
//!   re-encoded from its pixels: no EXIF (GPS, serials, maker notes), no ICC
//!   profile, no other metadata of the upload survives.
//! - A blob's objects are written before its row: a row means its objects
//!   exist, so a hash with a row is never processed again.

mod links;
mod objects;
mod sanitize;
mod workers;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

pub use links::{LinkError, LinkSigner};
pub use objects::{BlobObjects, Variant};
pub use sanitize::{ImageLimits, Processed, Rejection, process};
pub use workers::WorkerFailed;

use crate::config::{Config, PhotoConfig};
use crate::store::Store;

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

    /// Signed links to the thumbnail and the display size of photo `hash`,
    /// valid until `exp` (Unix seconds); `None` while the community holds no
    /// blob of it (not uploaded yet). For a viewer who may read the record
    /// that references it.
    pub async fn viewable(
        &self,
        store: &Store,
        community: &str,
        hash: &str,
        exp: i64,
    ) -> Result<Option<(String, String)>, crate::store::StoreError> {
        Ok(store.blob(community, hash).await?.map(|_| {
            let signer = self.links();
            (
                signer.path(hash, Variant::Thumb, exp),
                signer.path(hash, Variant::Display, exp),
            )
        }))
    }

    /// The file a complete upload's parts are put together in, to be
    /// checked and stored.
    pub(crate) fn partial_path(&self, id: &str) -> PathBuf {
        self.inner.uploads_dir.join(id)
    }

    /// The file one request spools its chunk of upload `id` to.
    pub(crate) fn spool_path(&self, id: &str, part: &str) -> PathBuf {
        self.inner.uploads_dir.join(format!("{id}.{part}"))
    }

    pub(crate) fn uploads_dir(&self) -> &Path {
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

    /// Waits for one of the processing slots: an image holds its slot from
    /// decoding until its forms are stored (a full-size bitmap, then the
    /// encoded forms, are in memory meanwhile).
    pub(crate) async fn processing_slot(
        &self,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, tokio::sync::AcquireError> {
        self.inner.processing.acquire().await
    }

    /// Checks and re-encodes the image at `path` on the image threads,
    /// without blocking the reactor.
    pub(crate) async fn process(
        &self,
        path: PathBuf,
    ) -> Result<Result<Processed, Rejection>, WorkerFailed> {
        let limits = self.image_limits();
        self.inner
            .workers
            .run(move || process(&path, &limits))
            .await
    }

    /// Claims an upload for one request; `None` while another one holds it.
    pub fn lock_upload(&self, id: &str) -> Option<UploadLock> {
        let mut busy = self.inner.busy.lock().expect("upload lock set poisoned");
        busy.insert(id.to_owned()).then(|| UploadLock {
            photos: self.clone(),
            id: id.to_owned(),
        })
    }
}

/// One request's claim on an upload, released on drop.
pub struct UploadLock {
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
