//! Photo storage rows: resumable uploads, blobs (one row per community that
//! holds a photo) and the documents that reference them. The SQL is written
//! once for both backends, like `sql.rs`.

use super::{Result, Store};

/// A resumable upload as stored. Its bytes are its [`UploadPart`]s.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UploadRow {
    pub id: String,
    pub community_id: String,
    pub user_id: String,
    pub device_id: String,
    /// Declared total size (`Upload-Length`).
    pub length: i64,
    /// Bytes received and durable so far (`Upload-Offset`).
    pub received: i64,
    /// `Upload-Metadata` as the client sent it.
    pub metadata: String,
    /// The sha256 (hex) the client declared in the metadata, if any.
    pub declared_sha256: Option<String>,
    /// The blob the upload became, once complete.
    pub blob_hash: Option<String>,
    /// `new` when completing it stored the blob, `existing` when the blob was
    /// already stored.
    pub stored_as: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Bytes `start_at..end_at` of an upload: one object in the blob store.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UploadPart {
    pub start_at: i64,
    pub end_at: i64,
    pub object_key: String,
}

/// A photo held by a community: what the server knows of its content.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct BlobRow {
    pub community_id: String,
    /// sha256 of the uploaded bytes, lowercase hex: the blob's address.
    pub hash: String,
    /// Size of the uploaded bytes.
    pub size: i64,
    /// Pixels after the EXIF orientation was applied.
    pub width: i64,
    pub height: i64,
    /// Media type of the stored variants.
    pub mime: String,
    pub uploaded_by: String,
    pub device_id: String,
    pub created_at: i64,
}

/// A document that references a blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobLink {
    pub hash: String,
    pub doc_id: String,
}

/// Links a blob to a document (idempotent); shared by [`Store::link_blob`]
/// and the projection writer.
pub(super) const INSERT_BLOB_LINK: &str = "INSERT INTO blob_links (community_id, hash, doc_id) \
     VALUES ($1, $2, $3) ON CONFLICT (community_id, hash, doc_id) DO NOTHING";

pub(super) const UPLOAD_COLUMNS: &str = "id, community_id, user_id, device_id, length, received, metadata, \
     declared_sha256, blob_hash, stored_as, created_at, updated_at";

pub(super) const BLOB_COLUMNS: &str =
    "community_id, hash, size, width, height, mime, uploaded_by, device_id, created_at";

/// Instantiates the photo SQL for a store type with `read` and `write` pools.
macro_rules! blob_store_impl {
    ($store:ty) => {
        impl $store {
            pub async fn insert_upload(&self, u: &$crate::store::UploadRow) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO uploads (id, community_id, user_id, device_id, length, received, metadata, \
                     declared_sha256, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&u.id)
                .bind(&u.community_id)
                .bind(&u.user_id)
                .bind(&u.device_id)
                .bind(u.length)
                .bind(u.received)
                .bind(&u.metadata)
                .bind(&u.declared_sha256)
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            pub async fn upload(&self, id: &str) -> $crate::store::Result<Option<$crate::store::UploadRow>> {
                let sql = format!("SELECT {} FROM uploads WHERE id = $1", $crate::store::blobs::UPLOAD_COLUMNS);
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.write)
                    .await?)
            }

            pub async fn advance_upload(&self, id: &str, from: i64, to: i64, part: &str, now: i64) -> $crate::store::Result<bool> {
                let mut tx = self.write.begin().await?;
                let moved = sqlx::query("UPDATE uploads SET received = $3, updated_at = $4 WHERE id = $1 AND received = $2")
                    .bind(id)
                    .bind(from)
                    .bind(to)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() == 1;
                if moved && to > from {
                    sqlx::query("INSERT INTO upload_parts (upload_id, start_at, end_at, object_key) VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(from)
                        .bind(to)
                        .bind(part)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(moved)
            }

            pub async fn upload_parts(&self, id: &str) -> $crate::store::Result<Vec<$crate::store::UploadPart>> {
                Ok(sqlx::query_as("SELECT start_at, end_at, object_key FROM upload_parts WHERE upload_id = $1 ORDER BY start_at")
                    .bind(id)
                    .fetch_all(&self.write)
                    .await?)
            }

            pub async fn finish_upload(&self, id: &str, hash: &str, stored_as: &str, now: i64) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                sqlx::query("UPDATE uploads SET blob_hash = $2, stored_as = $3, updated_at = $4 WHERE id = $1")
                    .bind(id)
                    .bind(hash)
                    .bind(stored_as)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn delete_upload(&self, id: &str) -> $crate::store::Result<bool> {
                Ok(sqlx::query("DELETE FROM uploads WHERE id = $1")
                    .bind(id)
                    .execute(&self.write)
                    .await?
                    .rows_affected() == 1)
            }

            pub async fn uploads_idle_since(&self, before: i64, limit: i64) -> $crate::store::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM uploads WHERE updated_at < $1 ORDER BY updated_at LIMIT $2")
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&self.write)
                    .await?)
            }

            pub async fn insert_blob(&self, b: &$crate::store::BlobRow) -> $crate::store::Result<bool> {
                Ok(sqlx::query(
                    "INSERT INTO blobs (community_id, hash, size, width, height, mime, uploaded_by, device_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (community_id, hash) DO NOTHING",
                )
                .bind(&b.community_id)
                .bind(&b.hash)
                .bind(b.size)
                .bind(b.width)
                .bind(b.height)
                .bind(&b.mime)
                .bind(&b.uploaded_by)
                .bind(&b.device_id)
                .bind(b.created_at)
                .execute(&self.write)
                .await?
                .rows_affected() == 1)
            }

            pub async fn blob(&self, community: &str, hash: &str) -> $crate::store::Result<Option<$crate::store::BlobRow>> {
                let sql = format!(
                    "SELECT {} FROM blobs WHERE community_id = $1 AND hash = $2",
                    $crate::store::blobs::BLOB_COLUMNS
                );
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(community)
                    .bind(hash)
                    .fetch_optional(&self.write)
                    .await?)
            }

            pub async fn blob_by_hash(&self, hash: &str) -> $crate::store::Result<Option<$crate::store::BlobRow>> {
                let sql = format!(
                    "SELECT {} FROM blobs WHERE hash = $1 ORDER BY created_at LIMIT 1",
                    $crate::store::blobs::BLOB_COLUMNS
                );
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(hash)
                    .fetch_optional(&self.write)
                    .await?)
            }

            pub async fn link_blob(&self, community: &str, link: &$crate::store::BlobLink) -> $crate::store::Result<()> {
                sqlx::query($crate::store::blobs::INSERT_BLOB_LINK)
                    .bind(community)
                    .bind(&link.hash)
                    .bind(&link.doc_id)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            pub async fn blob_links(&self, community: &str, hash: &str) -> $crate::store::Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT doc_id FROM blob_links WHERE community_id = $1 AND hash = $2 ORDER BY doc_id",
                )
                .bind(community)
                .bind(hash)
                .fetch_all(&self.write)
                .await?)
            }
        }
    };
}

pub(crate) use blob_store_impl;

impl Store {
    /// Records a new, empty upload.
    pub async fn insert_upload(&self, upload: &UploadRow) -> Result<()> {
        dispatch!(self.insert_upload(upload))
    }

    pub async fn upload(&self, id: &str) -> Result<Option<UploadRow>> {
        dispatch!(self.upload(id))
    }

    /// Moves an upload's offset from `from` to `to` and records the part
    /// (object `part`) that holds those bytes; false when it was no longer at
    /// `from` (another request, perhaps on another server, advanced it).
    pub async fn advance_upload(
        &self,
        id: &str,
        from: i64,
        to: i64,
        part: &str,
        now: i64,
    ) -> Result<bool> {
        dispatch!(self.advance_upload(id, from, to, part, now))
    }

    /// The parts of an upload, in order of their offsets.
    pub async fn upload_parts(&self, id: &str) -> Result<Vec<UploadPart>> {
        dispatch!(self.upload_parts(id))
    }

    /// Marks an upload complete: it became blob `hash`.
    pub async fn finish_upload(
        &self,
        id: &str,
        hash: &str,
        stored_as: &str,
        now: i64,
    ) -> Result<()> {
        dispatch!(self.finish_upload(id, hash, stored_as, now))
    }

    /// Forgets an upload; false when there was none.
    pub async fn delete_upload(&self, id: &str) -> Result<bool> {
        dispatch!(self.delete_upload(id))
    }

    /// Uploads (finished or not) that received nothing since `before`,
    /// oldest first.
    pub async fn uploads_idle_since(&self, before: i64, limit: i64) -> Result<Vec<String>> {
        dispatch!(self.uploads_idle_since(before, limit))
    }

    /// Records that a community holds a blob; false when it already did.
    pub async fn insert_blob(&self, blob: &BlobRow) -> Result<bool> {
        dispatch!(self.insert_blob(blob))
    }

    /// A blob as one community holds it.
    pub async fn blob(&self, community: &str, hash: &str) -> Result<Option<BlobRow>> {
        dispatch!(self.blob(community, hash))
    }

    /// A blob as the first community that stored it holds it: its content's
    /// properties (size, pixels, type) are the same in every community.
    pub async fn blob_by_hash(&self, hash: &str) -> Result<Option<BlobRow>> {
        dispatch!(self.blob_by_hash(hash))
    }

    /// Records that document `link.doc_id` references blob `link.hash`
    /// (idempotent). The blob need not be uploaded yet.
    pub async fn link_blob(&self, community: &str, link: &BlobLink) -> Result<()> {
        dispatch!(self.link_blob(community, link))
    }

    /// Ids of the community's documents that reference a blob.
    pub async fn blob_links(&self, community: &str, hash: &str) -> Result<Vec<String>> {
        dispatch!(self.blob_links(community, hash))
    }
}
