//! Photos: copied into the store the moment they are taken, referenced by
//! hash in documents, and uploaded in the background with the tus protocol
//! (`/api/v1/uploads`), resuming from the server's offset after a lost
//! connection or a killed app.
//!
//! Document sync never waits for photos: a hazard syncs at once with its
//! photo hashes, and the server links the photo when it arrives.
//!
//! # Invariants
//! - `photos/<hash>` holds exactly the bytes whose sha256 is `hash`: a file
//!   is written under a temporary name, synced, and renamed into place.
//! - At most [`UPLOAD_CONCURRENCY`] uploads run at a time, and one photo is
//!   uploaded by one task at a time (`Inner::uploading`).
//! - A photo counts as uploaded only when the server's answer names a blob
//!   with the photo's hash.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fieldsync_proto::model::photo::is_photo_hash;
use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::{Error, Result};
use crate::store::{PhotoReads, PhotoState, PhotoUpload};
use crate::{Client, Inner, SyncEvent, now_ms, sync};

/// Largest photo accepted (the server's default limit).
pub const MAX_PHOTO_BYTES: u64 = 20 << 20;
/// Uploads running at once.
pub const UPLOAD_CONCURRENCY: usize = 2;
/// Bytes per `PATCH`. A request cut short keeps what arrived (no per-chunk
/// checksum), so the size only bounds how often progress is recorded.
const CHUNK_BYTES: u64 = 512 << 10;
/// How often one pass asks the server again where an upload stands after a
/// 409: another request still holds it (typically this phone's own, cut off
/// by a restart before the server noticed), or its bytes moved the offset.
/// Waits 0.2, 0.4, 0.8 and 1.6 s, so about 3 s in all.
const CONFLICT_RESUMES: u32 = 4;
const TUS_VERSION: &str = "1.0.0";

/// What one pass over the photo queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Photos now on the server.
    pub uploaded: usize,
    /// Photos the server refused for good.
    pub failed: usize,
    /// Photos still waiting (offline, or the server busy) after the pass.
    pub waiting: usize,
}

/// The photo formats the server accepts, by their first bytes.
fn sniff(head: &[u8]) -> Result<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Ok("image/webp")
    } else if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && [&b"heic"[..], b"heix", b"heif", b"mif1", b"msf1"].contains(&&head[8..12])
    {
        Err(Error::InvalidInput(
            "HEIC/HEIF photos are not accepted: set the camera to JPEG (\"most compatible\")"
                .into(),
        ))
    } else {
        Err(Error::InvalidInput(
            "not a photo: only JPEG, PNG and WebP are accepted".into(),
        ))
    }
}

/// Refuses references that are not photo hashes, before they reach a document.
pub(crate) fn check_refs(photos: &[String]) -> Result<()> {
    match photos.iter().find(|p| !is_photo_hash(p)) {
        Some(bad) => Err(Error::InvalidInput(format!(
            "{bad:?} is not a photo reference: attach photos by the hash import_photo returns"
        ))),
        None => Ok(()),
    }
}

impl Client {
    /// Copies the photo at `path` into the store and queues its upload;
    /// returns its hash, to put in a hazard, check-in or incident. Works
    /// offline. Importing the same photo twice stores it once.
    pub fn import_photo(&self, path: impl AsRef<Path>) -> Result<String> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)
            .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
        let len = file
            .metadata()
            .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?
            .len();
        self.import_from(file, len)
    }

    /// [`Client::import_photo`] for a photo in memory.
    pub fn import_photo_bytes(&self, bytes: &[u8]) -> Result<String> {
        self.import_from(bytes, bytes.len() as u64)
    }

    fn import_from(&self, mut from: impl Read, len: u64) -> Result<String> {
        if len > MAX_PHOTO_BYTES {
            return Err(Error::InvalidInput(format!(
                "the photo has {len} bytes; at most {MAX_PHOTO_BYTES} are accepted"
            )));
        }
        let mut head = [0u8; 12];
        let mut got = 0;
        while got < head.len() {
            match from.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::InvalidInput(format!("cannot read the photo: {e}"))),
            }
        }
        let mime = sniff(&head[..got])?;
        let dir = &self.inner.photos_dir;
        std::fs::create_dir_all(dir).map_err(store_io)?;
        let tmp = dir.join(format!(".import-{}", uuid::Uuid::new_v4().simple()));
        let written = copy_hashing(&head[..got], from, &tmp);
        let (hash, size) = match written {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        std::fs::rename(&tmp, dir.join(&hash)).map_err(store_io)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        self.inner
            .store()
            .queue_photo(&hash, size, mime, now_ms())?;
        self.inner.photo_notify.notify_one();
        Ok(hash)
    }

    /// Every photo in the store and where its upload stands, oldest first.
    pub fn photo_uploads(&self) -> Result<Vec<PhotoUpload>> {
        self.inner.reader().photos()
    }

    /// One photo's upload, if the photo is in the store.
    pub fn photo_upload(&self, hash: &str) -> Result<Option<PhotoUpload>> {
        self.inner.reader().photo(hash)
    }

    /// The stored copy of a photo taken on this device, to show offline.
    pub fn photo_path(&self, hash: &str) -> Option<PathBuf> {
        let path = self.inner.photos_dir.join(hash);
        (is_photo_hash(hash) && path.is_file()).then_some(path)
    }

    /// Uploads every waiting photo now (retry delays ignored), at most
    /// [`UPLOAD_CONCURRENCY`] at a time, and returns when each has been
    /// tried once. Offline, the photos stay queued (`waiting`).
    pub async fn upload_photos_now(&self) -> Result<UploadReport> {
        upload_round(&self.inner, true).await
    }
}

/// Copies `head` and then the rest of `from` to `to`, synced; returns the
/// sha256 (hex) and the size.
fn copy_hashing(head: &[u8], mut from: impl Read, to: &Path) -> Result<(String, u64)> {
    let mut out = std::fs::File::create(to).map_err(store_io)?;
    let mut hasher = Sha256::new();
    hasher.update(head);
    out.write_all(head).map_err(store_io)?;
    let mut size = head.len() as u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::InvalidInput(format!("cannot read the photo: {e}"))),
        };
        size += n as u64;
        if size > MAX_PHOTO_BYTES {
            return Err(Error::InvalidInput(format!(
                "the photo has more than {MAX_PHOTO_BYTES} bytes"
            )));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(store_io)?;
    }
    out.sync_all().map_err(store_io)?;
    Ok((hex(&hasher.finalize()), size))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn store_io(e: std::io::Error) -> Error {
    Error::Store(format!("photo store: {e}"))
}

/// The background uploader: a pass whenever a photo is queued, the network
/// comes back, or a retry falls due.
pub(crate) async fn run_uploads(inner: Arc<Inner>) {
    loop {
        if let Err(e) = upload_round(&inner, false).await {
            tracing::info!(error = %e, "photo uploads paused");
        }
        let next = inner.on_reader(|r| r.next_photo_due()).await.ok().flatten();
        let wait = next.map_or(60_000, |at| (at - now_ms()).clamp(250, 60_000));
        tokio::select! {
            _ = inner.photo_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
    }
}

/// Claims a photo for this task; released on drop.
struct Claim<'a> {
    set: &'a std::sync::Mutex<HashSet<String>>,
    hash: String,
}

impl<'a> Claim<'a> {
    fn take(set: &'a std::sync::Mutex<HashSet<String>>, hash: &str) -> Option<Claim<'a>> {
        let fresh = set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash.to_owned());
        fresh.then(|| Claim {
            set,
            hash: hash.to_owned(),
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.hash);
    }
}

/// One pass: every due photo (every pending one with `all`) tried once.
/// Fails only when no upload can work without the user (not logged in,
/// device revoked); the photos stay queued.
async fn upload_round(inner: &Arc<Inner>, all: bool) -> Result<UploadReport> {
    let due_at = if all { i64::MAX } else { now_ms() };
    let due = inner.on_reader(move |r| r.due_photos(due_at)).await?;
    let outcomes: Vec<Result<PhotoState>> = futures_util::stream::iter(due)
        .map(|photo| upload_one(inner, photo))
        .buffer_unordered(UPLOAD_CONCURRENCY)
        .collect()
        .await;
    let mut report = UploadReport::default();
    let mut stop = None;
    for outcome in outcomes {
        match outcome {
            Ok(PhotoState::Uploaded) => report.uploaded += 1,
            Ok(PhotoState::Failed) => report.failed += 1,
            Ok(PhotoState::Pending) => {}
            Err(e) => stop = Some(e),
        }
    }
    if let Some(e) = stop {
        return Err(e);
    }
    report.waiting = inner
        .on_reader(|r| r.photos())
        .await?
        .iter()
        .filter(|p| p.state == PhotoState::Pending)
        .count();
    Ok(report)
}

/// Why an upload attempt ended without the photo on the server.
enum Stop {
    /// The server refused the photo; trying again cannot help.
    Refused(String),
    /// Try again later.
    Again(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Again(e)
    }
}

/// Tries one photo's upload; records and announces the outcome. An error
/// means the user must act (log in again) before any upload can work.
async fn upload_one(inner: &Arc<Inner>, photo: PhotoUpload) -> Result<PhotoState> {
    let Some(_claim) = Claim::take(&inner.uploading, &photo.hash) else {
        return Ok(PhotoState::Pending);
    };
    let hash = photo.hash.clone();
    match attempt(inner, &photo).await {
        Ok(()) => {
            let (stored, size) = (hash.clone(), photo.size);
            inner
                .on_writer(move |_, s| s.photo_uploaded(&stored, size))
                .await?;
            inner.emit(SyncEvent::PhotoUploaded { hash });
            Ok(PhotoState::Uploaded)
        }
        Err(Stop::Refused(message)) => {
            tracing::warn!(photo = %hash, %message, "photo refused");
            let (stored, reason) = (hash.clone(), message.clone());
            inner
                .on_writer(move |_, s| s.photo_failed(&stored, &reason))
                .await?;
            inner.emit(SyncEvent::PhotoFailed {
                hash,
                message,
                retrying: false,
            });
            Ok(PhotoState::Failed)
        }
        Err(Stop::Again(e)) => {
            let delay = sync::backoff(photo.attempts);
            let message = e.to_string();
            let (stored, reason) = (hash.clone(), message.clone());
            let next_try_at = now_ms() + delay.as_millis() as i64;
            inner
                .on_writer(move |_, s| s.photo_retry_at(&stored, &reason, next_try_at))
                .await?;
            inner.emit(SyncEvent::PhotoFailed {
                hash,
                message,
                retrying: true,
            });
            if e.is_retryable() {
                Ok(PhotoState::Pending)
            } else {
                Err(e)
            }
        }
    }
}

/// Resumes (or starts) the photo's tus upload and sends what the server lacks.
async fn attempt(inner: &Arc<Inner>, photo: &PhotoUpload) -> Result<(), Stop> {
    let path = inner.photos_dir.join(&photo.hash);
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
        Stop::Refused(format!(
            "the stored copy of the photo is gone ({}): {e}",
            path.display()
        ))
    })?;
    let known = match &photo.upload_url {
        Some(url) => head(inner, url).await?.map(|offset| (url.clone(), offset)),
        None => None,
    };
    let (url, mut offset) = match known {
        Some(found) => found,
        None => {
            // A new upload, unless an earlier one (or another device) already
            // delivered this photo.
            if blob_exists(inner, &photo.hash).await? {
                return Ok(());
            }
            let url = create(inner, photo).await?;
            let (hash, location) = (photo.hash.clone(), url.clone());
            inner
                .on_writer(move |_, s| s.set_photo_upload(&hash, Some(&location), 0))
                .await?;
            (url, 0)
        }
    };
    let mut resumes = 0;
    loop {
        let hash = photo.hash.clone();
        inner
            .on_writer(move |_, s| s.photo_sent(&hash, offset))
            .await?;
        inner.emit(SyncEvent::PhotoProgress {
            hash: photo.hash.clone(),
            sent: offset,
            total: photo.size,
        });
        let end = (offset + CHUNK_BYTES).min(photo.size);
        let mut chunk = vec![0u8; (end - offset) as usize];
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .and(file.read_exact(&mut chunk).await.map(|_| ()))
            .map_err(|e| {
                Stop::Refused(format!("the stored copy of the photo is unreadable: {e}"))
            })?;
        let resp = send(inner, Method::PATCH, &url, |r| {
            r.header("Upload-Offset", offset)
                .header("Content-Type", "application/offset+octet-stream")
                .body(chunk.clone())
        })
        .await?;
        if resp.status() == StatusCode::CONFLICT && resumes < CONFLICT_RESUMES {
            resumes += 1;
            tokio::time::sleep(Duration::from_millis(100 << resumes)).await;
            match head(inner, &url).await? {
                // The request that held it brought the last byte.
                Some(now_at) if now_at >= photo.size => {
                    return if blob_exists(inner, &photo.hash).await? {
                        Ok(())
                    } else {
                        Err(Error::Offline("the server is still storing the photo".into()).into())
                    };
                }
                Some(now_at) => {
                    offset = now_at;
                    continue;
                }
                None => {
                    return Err(Error::Offline("the server no longer has the upload".into()).into());
                }
            }
        }
        if !resp.status().is_success() {
            return Err(refusal(resp).await);
        }
        let next = header_u64(&resp, "upload-offset").ok_or_else(|| {
            Error::Protocol("the server's PATCH answer lacks Upload-Offset".into())
        })?;
        if let Some(blob) = resp
            .headers()
            .get("fieldsync-blob-hash")
            .and_then(|v| v.to_str().ok())
        {
            return if blob == photo.hash {
                Ok(())
            } else {
                Err(Stop::Refused(format!(
                    "the server stored blob {blob}, not this photo ({})",
                    photo.hash
                )))
            };
        }
        if next <= offset || next > photo.size {
            return Err(Error::Protocol(format!(
                "the server moved the upload from {offset} to {next} of {}",
                photo.size
            ))
            .into());
        }
        offset = next;
    }
}

/// The upload's offset on the server, or `None` when the server no longer
/// has it (finished and cleaned up, or expired).
async fn head(inner: &Arc<Inner>, url: &str) -> Result<Option<u64>, Stop> {
    let resp = send(inner, Method::HEAD, url, |r| r).await?;
    match resp.status() {
        StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
        s if s.is_success() => header_u64(&resp, "upload-offset").map(Some).ok_or_else(|| {
            Error::Protocol("the server's HEAD answer lacks Upload-Offset".into()).into()
        }),
        _ => Err(refusal(resp).await),
    }
}

/// Whether this community's server already holds the photo.
async fn blob_exists(inner: &Arc<Inner>, hash: &str) -> Result<bool, Stop> {
    let resp = send(
        inner,
        Method::GET,
        &format!("/api/v1/blobs/{hash}/meta"),
        |r| r,
    )
    .await?;
    match resp.status() {
        s if s.is_success() => Ok(true),
        // Unknown, or held but not yet visible to this user: upload it (the
        // server stores a photo it already has once).
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Ok(false),
        _ => Err(refusal(resp).await),
    }
}

/// Creates the tus upload; returns its location.
async fn create(inner: &Arc<Inner>, photo: &PhotoUpload) -> Result<String, Stop> {
    let b64 = |s: &str| STANDARD.encode(s);
    let metadata = format!(
        "filename {},filetype {},sha256 {}",
        b64(&photo.hash),
        b64(&photo.mime),
        b64(&photo.hash)
    );
    let resp = send(inner, Method::POST, "/api/v1/uploads", |r| {
        r.header("Upload-Length", photo.size)
            .header("Upload-Metadata", metadata.as_str())
    })
    .await?;
    if resp.status() != StatusCode::CREATED {
        return Err(refusal(resp).await);
    }
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::Protocol("the server's POST answer lacks Location".into()).into())
}

/// Sends an authenticated tus request to `url` (absolute, or a path on the
/// server); an expired token is refreshed once.
async fn send(
    inner: &Arc<Inner>,
    method: Method,
    url: &str,
    build: impl Fn(RequestBuilder) -> RequestBuilder,
) -> Result<Response> {
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{}{url}", inner.server_url)
    };
    let mut force = false;
    loop {
        let token = sync::access_token(inner, force).await?;
        let request = inner
            .upload_http
            .request(method.clone(), &url)
            .bearer_auth(token)
            .header("Tus-Resumable", TUS_VERSION);
        let resp = build(request)
            .send()
            .await
            .map_err(|e| Error::Offline(format!("upload to {url} cut: {e}")))?;
        if resp.status() == StatusCode::UNAUTHORIZED && !force {
            force = true;
            continue;
        }
        return Ok(resp);
    }
}

/// What a refusal means for the photo: the server busy or down → later;
/// the device or session refused → the user must act; the photo refused →
/// for good.
async fn refusal(resp: Response) -> Stop {
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let code = body["error"].as_str().unwrap_or("http").to_owned();
    let message = body["message"]
        .as_str()
        .map_or_else(|| status.to_string(), str::to_owned);
    match status.as_u16() {
        408 | 409 | 423 | 429 | 500..=599 => Stop::Again(Error::Offline(format!(
            "server answered {status}: {message}"
        ))),
        401 | 403 => Stop::Again(Error::Auth { code, message }),
        _ => Stop::Refused(format!("{code}: {message}")),
    }
}

fn header_u64(resp: &Response, name: &str) -> Option<u64> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_recognised_by_their_first_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0d").unwrap(), "image/png");
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ").unwrap(), "image/webp");
        let heic = sniff(b"\0\0\0\x18ftypheic").unwrap_err().to_string();
        assert!(heic.contains("HEIC"), "{heic}");
        for not_photo in [
            &b""[..],
            b"hello, world",
            b"%PDF-1.7\n",
            b"RIFF\0\0\0\0WAVE",
        ] {
            assert!(
                matches!(sniff(not_photo), Err(Error::InvalidInput(_))),
                "{not_photo:?}"
            );
        }
    }

    #[test]
    fn references_must_be_lowercase_sha256_hex() {
        assert!(check_refs(&["0a".repeat(32)]).is_ok());
        for bad in [
            "0A".repeat(32),
            "0a".repeat(31),
            "zz".repeat(32),
            String::new(),
        ] {
            assert!(check_refs(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn imported_photos_are_stored_once_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::open(dir.path(), "http://127.0.0.1:9").unwrap();
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.extend((0..100_000u32).map(|i| (i % 251) as u8));
        let hash = client.import_photo_bytes(&jpeg).unwrap();
        assert_eq!(hash, hex(&Sha256::digest(&jpeg)));
        let file = dir.path().join("photo.jpg");
        std::fs::write(&file, &jpeg).unwrap();
        assert_eq!(client.import_photo(&file).unwrap(), hash);
        let queue = client.photo_uploads().unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(
            (queue[0].size, queue[0].mime.as_str(), queue[0].state),
            (jpeg.len() as u64, "image/jpeg", PhotoState::Pending)
        );
        let stored = client.photo_path(&hash).unwrap();
        assert_eq!(std::fs::read(stored).unwrap(), jpeg);

        // Refused: nothing stored, nothing queued.
        std::fs::write(&file, b"just some text named .jpg").unwrap();
        assert!(matches!(
            client.import_photo(&file),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            client.import_photo(dir.path().join("missing.jpg")),
            Err(Error::InvalidInput(_))
        ));
        let mut huge = jpeg[..4].to_vec();
        huge.resize(MAX_PHOTO_BYTES as usize + 1, 0);
        assert!(matches!(
            client.import_photo_bytes(&huge),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(client.photo_uploads().unwrap().len(), 1);
        let files = std::fs::read_dir(dir.path().join("photos"))
            .unwrap()
            .count();
        assert_eq!(files, 1, "no temporary file is left behind");
    }
}
