//! Where blobs' bytes live: an `object_store` (a directory under the data dir,
//! or an S3-compatible bucket), keyed `blobs/<hash>/<variant>`; the chunks of
//! unfinished uploads beside them, keyed `upload-parts/<upload>/<part>`.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::config::S3Config;

/// The stored forms of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Full size, orientation applied, re-encoded without metadata.
    Original,
    /// At most [`Variant::DISPLAY_EDGE`] pixels on the long edge.
    Display,
    /// At most [`Variant::THUMB_EDGE`] pixels on the long edge.
    Thumb,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Original, Variant::Display, Variant::Thumb];
    pub const DISPLAY_EDGE: u32 = 1280;
    pub const THUMB_EDGE: u32 = 320;

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Display => "display",
            Variant::Thumb => "thumb",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The blob object store.
#[derive(Clone)]
pub struct BlobObjects {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: its parts are synced to disk before
    /// they count as stored.
    local_root: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for BlobObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobObjects({})", self.store)
    }
}

impl BlobObjects {
    /// Files under `<data_dir>/blobs/`.
    pub fn local(data_dir: &Path) -> anyhow::Result<BlobObjects> {
        std::fs::create_dir_all(data_dir.join("blobs"))
            .map_err(|e| anyhow::anyhow!("cannot create {}/blobs: {e}", data_dir.display()))?;
        // Deleting the last part of an upload removes its directory too.
        let store = LocalFileSystem::new_with_prefix(data_dir)?.with_automatic_cleanup(true);
        Ok(BlobObjects {
            store: Arc::new(store),
            local_root: Some(data_dir.to_owned()),
        })
    }

    /// An S3 bucket; an `http://` endpoint is allowed (local S3-compatible
    /// servers).
    pub fn s3(config: &S3Config) -> anyhow::Result<BlobObjects> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&config.bucket);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        Ok(BlobObjects {
            store: Arc::new(builder.build()?),
            local_root: None,
        })
    }

    /// The key of one variant of a blob.
    pub fn key(hash: &str, variant: Variant) -> object_store::path::Path {
        object_store::path::Path::from(format!("blobs/{hash}/{}", variant.as_str()))
    }

    /// Stores one variant (an atomic replace: readers see old or new bytes).
    pub async fn put(
        &self,
        hash: &str,
        variant: Variant,
        bytes: Vec<u8>,
    ) -> object_store::Result<()> {
        self.store
            .put(&Self::key(hash, variant), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The size of a stored variant; `None` when it is not stored.
    pub async fn size(&self, hash: &str, variant: Variant) -> object_store::Result<Option<u64>> {
        match self.store.head(&Self::key(hash, variant)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads `range` of a stored variant as a stream.
    pub async fn read(
        &self,
        hash: &str,
        variant: Variant,
        range: Range<u64>,
    ) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        Ok(self
            .store
            .get_opts(&Self::key(hash, variant), options)
            .await?
            .into_stream())
    }

    /// Reads a whole variant into memory.
    pub async fn read_all(&self, hash: &str, variant: Variant) -> object_store::Result<Bytes> {
        self.store
            .get(&Self::key(hash, variant))
            .await?
            .bytes()
            .await
    }

    fn part_key(upload: &str, part: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{PARTS}/{upload}/{part}"))
    }

    /// Stores a chunk of upload `upload` as its part `part`, streaming it
    /// from `file` (memory holds at most 8 MiB of it). When this
    /// returns, the part is durable.
    pub async fn put_part(
        &self,
        upload: &str,
        part: &str,
        file: &Path,
    ) -> Result<(), std::io::Error> {
        let key = Self::part_key(upload, part);
        let mut from = tokio::fs::File::open(file).await?;
        let mut to = BufWriter::with_capacity(Arc::clone(&self.store), key.clone(), PART_BUFFER);
        if let Err(e) = tokio::io::copy(&mut from, &mut to).await {
            let _ = to.abort().await;
            return Err(e);
        }
        to.shutdown().await?;
        if let Some(root) = &self.local_root {
            let path = root.join(key.as_ref());
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&path)?.sync_all()?;
                if let Some(dir) = path.parent() {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(std::io::Error::other)??;
        }
        Ok(())
    }

    /// Deletes one part of an upload.
    pub async fn delete_part(&self, upload: &str, part: &str) -> object_store::Result<()> {
        match self.store.delete(&Self::part_key(upload, part)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads a part of an upload as a stream.
    pub async fn read_part(
        &self,
        upload: &str,
        part: &str,
    ) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        Ok(self
            .store
            .get(&Self::part_key(upload, part))
            .await?
            .into_stream())
    }

    /// Deletes every part of an upload, recorded or not.
    pub async fn delete_parts(&self, upload: &str) -> object_store::Result<()> {
        let prefix = object_store::path::Path::from(format!("{PARTS}/{upload}"));
        let locations = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .boxed();
        self.store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// The uploads that have parts stored last modified before `before`
    /// (Unix milliseconds), each once.
    pub async fn uploads_with_parts_before(
        &self,
        before: i64,
    ) -> object_store::Result<std::collections::BTreeSet<String>> {
        let prefix = object_store::path::Path::from(PARTS);
        let mut out = std::collections::BTreeSet::new();
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.try_next().await? {
            if meta.last_modified.timestamp_millis() >= before {
                continue;
            }
            if let Some(upload) = meta.location.parts().nth(1) {
                out.insert(upload.as_ref().to_owned());
            }
        }
        Ok(out)
    }
}

/// The prefix of upload parts in the object store.
const PARTS: &str = "upload-parts";

/// The most of a part held in memory while it is stored; larger parts go up
/// in pieces of this size (S3's multipart minimum is 5 MiB).
const PART_BUFFER: usize = 8 << 20;
