//! Where blobs' bytes live: an `object_store` (a directory under the data dir,
//! or an S3-compatible bucket), keyed `blobs/<hash>/<variant>`.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

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
        let store = LocalFileSystem::new_with_prefix(data_dir)?;
        Ok(BlobObjects {
            store: Arc::new(store),
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
}
