//! The photo queue: photos copied into the store and their upload state.
//!
//! # Invariants
//! - A row exists only once its photo file is complete on disk (the file is
//!   renamed into place before the row is written).
//! - `sent` and `upload_url` are hints: the server's offset (tus `HEAD`) is
//!   the truth, so a row that lags after a kill costs a round trip, not data.
//! - A photo is `uploaded` only after the server named the blob it became
//!   and that blob's hash is the photo's.

use rusqlite::{OptionalExtension, params};

use super::{LocalStore, Reads};
use crate::error::{Error, Result};

/// Where a photo's upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoState {
    /// Waiting for (or in the middle of) its upload.
    Pending,
    /// On the server.
    Uploaded,
    /// The server refused it for good (e.g. not a photo it accepts); the
    /// reason is in `last_error`. Importing the photo again queues it again.
    Failed,
}

impl PhotoState {
    /// `pending`, `uploaded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoState::Pending => "pending",
            PhotoState::Uploaded => "uploaded",
            PhotoState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<PhotoState> {
        match s {
            "pending" => Ok(PhotoState::Pending),
            "uploaded" => Ok(PhotoState::Uploaded),
            "failed" => Ok(PhotoState::Failed),
            other => Err(Error::Store(format!("unknown photo state {other:?}"))),
        }
    }
}

/// A photo in the local store and its upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoUpload {
    /// sha256 of the photo's bytes, lowercase hex: what documents reference.
    pub hash: String,
    pub size: u64,
    pub mime: String,
    pub state: PhotoState,
    /// Bytes the server had confirmed when last heard from.
    pub sent: u64,
    /// Failed attempts so far (reset when the upload completes).
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When the photo was imported (device clock, ms since the Unix epoch).
    pub created_at: i64,
    /// The tus upload on the server, once created.
    pub(crate) upload_url: Option<String>,
}

const COLUMNS: &str = "hash, size, mime, state, sent, attempts, last_error, created_at, upload_url";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(PhotoUpload, String)> {
    Ok((
        PhotoUpload {
            hash: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            mime: r.get(2)?,
            state: PhotoState::Pending,
            sent: r.get::<_, i64>(4)? as u64,
            attempts: r.get::<_, i64>(5)? as u32,
            last_error: r.get(6)?,
            created_at: r.get(7)?,
            upload_url: r.get(8)?,
        },
        r.get(3)?,
    ))
}

fn with_state((mut p, state): (PhotoUpload, String)) -> Result<PhotoUpload> {
    p.state = PhotoState::parse(&state)?;
    Ok(p)
}

/// The photo queue's read-only queries, for the writer and the read
/// connection alike (see [`Reads`]).
pub(crate) trait PhotoReads: Reads {
    /// One photo's queue entry.
    fn photo(&self, hash: &str) -> Result<Option<PhotoUpload>> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM photos WHERE hash = ?1"),
                [hash],
                row,
            )
            .optional()?
            .map(with_state)
            .transpose()
    }

    /// Every photo, oldest first.
    fn photos(&self) -> Result<Vec<PhotoUpload>> {
        self.photos_where("1 = 1", params![])
    }

    /// Pending photos whose next attempt is due at `now`, oldest first.
    fn due_photos(&self, now: i64) -> Result<Vec<PhotoUpload>> {
        self.photos_where("state = 'pending' AND next_try_at <= ?1", params![now])
    }

    /// Photos matching the SQL `filter` (with `args`), oldest first.
    fn photos_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<PhotoUpload>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {COLUMNS} FROM photos WHERE {filter} ORDER BY created_at, hash"
        ))?;
        let rows = stmt
            .query_map(args, row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(with_state).collect()
    }

    /// When the next pending photo is due, if any is pending.
    fn next_photo_due(&self) -> Result<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_try_at) FROM photos WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }
}

impl<T: Reads> PhotoReads for T {}

impl LocalStore {
    /// Queues an imported photo. Queuing one already there does nothing,
    /// unless it had failed: then it is queued again from the start.
    pub fn queue_photo(&self, hash: &str, size: u64, mime: &str, now: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO photos (hash, size, mime, state, created_at, next_try_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, 0)
             ON CONFLICT(hash) DO UPDATE SET state = 'pending', attempts = 0,
                 last_error = NULL, upload_url = NULL, sent = 0, next_try_at = 0
             WHERE photos.state = 'failed'",
            params![hash, size as i64, mime, now],
        )?;
        Ok(())
    }

    /// Makes every pending photo due now (the network came back).
    pub fn photos_due_now(&self) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET next_try_at = 0 WHERE state = 'pending'",
            [],
        )?;
        Ok(())
    }

    /// Remembers the photo's tus upload (or forgets it, with `None`).
    pub fn set_photo_upload(&self, hash: &str, url: Option<&str>, sent: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET upload_url = ?2, sent = ?3 WHERE hash = ?1",
            params![hash, url, sent as i64],
        )?;
        Ok(())
    }

    /// Records the server's offset after a chunk.
    pub fn photo_sent(&self, hash: &str, sent: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET sent = ?2 WHERE hash = ?1",
            params![hash, sent as i64],
        )?;
        Ok(())
    }

    /// A failed attempt that may succeed later: try again at `next_try_at`.
    pub fn photo_retry_at(&self, hash: &str, error: &str, next_try_at: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET attempts = attempts + 1, last_error = ?2, next_try_at = ?3
             WHERE hash = ?1 AND state = 'pending'",
            params![hash, error, next_try_at],
        )?;
        Ok(())
    }

    /// The photo is on the server.
    pub fn photo_uploaded(&self, hash: &str, size: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET state = 'uploaded', sent = ?2, attempts = 0, last_error = NULL,
                 upload_url = NULL
             WHERE hash = ?1",
            params![hash, size as i64],
        )?;
        Ok(())
    }

    /// The server refused the photo for good.
    pub fn photo_failed(&self, hash: &str, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET state = 'failed', attempts = attempts + 1, last_error = ?2,
                 upload_url = NULL
             WHERE hash = ?1",
            params![hash, error],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_keeps_state_across_reopen_and_requeues_failures() {
        let dir = tempfile::tempdir().unwrap();
        let hash = "ab".repeat(32);
        {
            let s = LocalStore::open(dir.path()).unwrap();
            s.queue_photo(&hash, 100, "image/jpeg", 5).unwrap();
            s.queue_photo(&hash, 100, "image/jpeg", 6).unwrap();
            s.set_photo_upload(&hash, Some("/api/v1/uploads/x"), 0)
                .unwrap();
            s.photo_sent(&hash, 40).unwrap();
            s.photo_retry_at(&hash, "offline", 1_000).unwrap();
            assert!(s.due_photos(999).unwrap().is_empty());
            assert_eq!(s.next_photo_due().unwrap(), Some(1_000));
        }
        let s = LocalStore::open(dir.path()).unwrap();
        let p = s.photo(&hash).unwrap().unwrap();
        assert_eq!(
            (p.state, p.sent, p.attempts, p.created_at),
            (PhotoState::Pending, 40, 1, 5)
        );
        assert_eq!(p.upload_url.as_deref(), Some("/api/v1/uploads/x"));
        assert_eq!(p.last_error.as_deref(), Some("offline"));
        s.photos_due_now().unwrap();
        assert_eq!(s.due_photos(0).unwrap().len(), 1);

        s.photo_failed(&hash, "not a photo").unwrap();
        assert!(s.due_photos(i64::MAX).unwrap().is_empty());
        assert_eq!(s.next_photo_due().unwrap(), None);
        s.queue_photo(&hash, 100, "image/jpeg", 7).unwrap();
        let p = s.photo(&hash).unwrap().unwrap();
        assert_eq!((p.state, p.sent, p.attempts), (PhotoState::Pending, 0, 0));
        assert_eq!(p.upload_url, None);

        s.photo_uploaded(&hash, 100).unwrap();
        s.queue_photo(&hash, 100, "image/jpeg", 8).unwrap();
        let p = s.photo(&hash).unwrap().unwrap();
        assert_eq!((p.state, p.sent), (PhotoState::Uploaded, 100));
        assert_eq!(s.photos().unwrap().len(), 1);
    }
}
