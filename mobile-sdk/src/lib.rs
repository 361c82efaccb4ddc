//! fieldsync mobile SDK: an offline store of automerge documents and a sync
//! client for the fieldsync server.
//!
//! Everything a user does is written to the local store first and works with
//! no network. [`Client::sync_now`] or the background loop
//! ([`Client::start_sync`]) pushes local changes, which stay in the outbox until
//! the server acknowledges them as durably stored, and pulls what changed on
//! the server since the stored cursor.
//!
//! This crate is plain Rust; apps in Kotlin, Swift or Python use it through
//! `fieldsync-ffi` (`mobile-sdk/ffi/`), the crate that holds their bindings.

mod duty;
mod error;
mod hazards;
mod incidents;
mod patrols;
mod photos;
mod store;
mod sync;
pub mod transport;

use std::path::Path;
use std::sync::{Arc, Mutex};

use automerge::transaction::Transaction;
use automerge::{ActorId, Automerge, AutomergeError};
use fieldsync_proto::json;
use serde::Deserialize;
use tokio::sync::{Notify, broadcast};

pub use duty::{FlaggedCheckIn, PostStatus};
pub use error::{Error, Result};
pub use fieldsync_proto::model::hazard::{HazardAction, HazardState, Severity};
pub use fieldsync_proto::model::hazard::{HazardDoc, HazardPlace};
pub use fieldsync_proto::model::incident::{IncidentAction, IncidentDoc};
pub use fieldsync_proto::model::patrol::{CheckIn, Fix, PatrolDoc, Proof};
pub use fieldsync_proto::model::photo::is_photo_hash;
pub use fieldsync_proto::{DocHeader, DocId, DocType, ErrorCode, RejectCode};
pub use hazards::{HazardView, NewHazard};
pub use incidents::NewIncident;
pub use patrols::Visit;
pub use photos::{MAX_PHOTO_BYTES, UPLOAD_CONCURRENCY, UploadReport};
pub use store::{PhotoState, PhotoUpload, QuarantinedChange};
pub use sync::{SyncReport, SyncStatus};
pub use transport::TransportCounters;

use store::{LocalStore, Reads, StoreReader};
use transport::TransportStats;

/// Something the app may want to react to.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    /// The sync status changed.
    Status(SyncStatus),
    /// Documents changed by remote changes.
    DocumentsChanged(Vec<DocId>),
    /// The server rejected a local change set; it was quarantined and the
    /// document returned to the server's accepted state.
    Rejected {
        doc: DocId,
        code: RejectCode,
        message: String,
    },
    /// A photo's upload moved: `sent` of `total` bytes are on the server.
    PhotoProgress { hash: String, sent: u64, total: u64 },
    /// A photo is on the server.
    PhotoUploaded { hash: String },
    /// A photo's upload attempt failed; with `retrying` it stays queued and
    /// is tried again later, else the server refused the photo for good.
    PhotoFailed {
        hash: String,
        message: String,
        retrying: bool,
    },
}

/// The logged-in user of this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub community_id: String,
    pub device_id: String,
}

pub(crate) mod keys {
    pub const DEVICE_ID: &str = "device_id";
    pub const DEVICE_NAME: &str = "device_name";
    pub const ACTOR: &str = "actor_id";
    pub const ACCESS: &str = "access_token";
    pub const ACCESS_EXP: &str = "access_expires_at";
    pub const REFRESH: &str = "refresh_token";
    pub const SESSION: &str = "session";
    pub const CURSOR: &str = "cursor";
    pub const SERVER: &str = "server_url";
    pub const SESSION_KEYS: [&str; 6] = [ACTOR, ACCESS, ACCESS_EXP, REFRESH, SESSION, CURSOR];
}

pub(crate) struct Inner {
    server_url: String,
    http: reqwest::Client,
    /// The one writer connection.
    store: Mutex<LocalStore>,
    /// The read-only connection for the app's reads, so they never wait for
    /// the writer (one connection is enough: each read is short).
    reader: Mutex<StoreReader>,
    events: broadcast::Sender<SyncEvent>,
    stats: Arc<TransportStats>,
    /// Documents edited locally since the live session last looked.
    local_changes: Mutex<Vec<DocHeader>>,
    local_notify: Notify,
    /// One sync session at a time.
    sync_lock: tokio::sync::Mutex<()>,
    status: Mutex<SyncStatus>,
    /// Why the background loop stopped, when it stopped on a permanent error.
    loop_error: Mutex<Option<Error>>,
    /// Photos copied into the store, named by their hash.
    photos_dir: std::path::PathBuf,
    /// Wakes the uploader: a photo was queued or the network came back.
    photo_notify: Notify,
    /// Photos being uploaded by some task right now.
    uploading: Mutex<std::collections::HashSet<String>>,
    /// HTTP for uploads: no overall deadline (a photo on a slow link takes
    /// minutes), but a stalled connection is given up.
    upload_http: reqwest::Client,
}

impl Inner {
    /// The writer. Taking [`Inner::reader`] while holding it is fine; the
    /// other way round could deadlock against a writer that reads.
    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, LocalStore> {
        // A panic while holding the lock leaves SQLite consistent (every
        // write is a transaction), so a poisoned lock is safe to reuse.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The read-only connection: what was committed, at once, whatever the
    /// writer is doing.
    pub(crate) fn reader(&self) -> std::sync::MutexGuard<'_, StoreReader> {
        // Reads leave nothing half done, so a poisoned lock is safe to reuse.
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with the writer on the blocking pool. Async code calls the
    /// store only through this or [`Inner::on_reader`]: SQLite and automerge
    /// work would otherwise stall a runtime worker, and with it every task
    /// on it, for as long as the work takes.
    pub(crate) async fn on_writer<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut LocalStore) -> Result<T> + Send + 'static,
    {
        let inner = self.clone();
        off_reactor(move || f(&inner, &mut inner.store())).await
    }

    /// Runs `f` with the read-only connection on the blocking pool (see
    /// [`Inner::on_writer`]).
    pub(crate) async fn on_reader<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&StoreReader) -> Result<T> + Send + 'static,
    {
        let inner = self.clone();
        off_reactor(move || f(&inner.reader())).await
    }

    pub(crate) fn emit(&self, event: SyncEvent) {
        if let SyncEvent::Status(s) = &event {
            let mut cur = self.status.lock().unwrap_or_else(|p| p.into_inner());
            if *cur == *s {
                return;
            }
            *cur = s.clone();
        }
        let _ = self.events.send(event);
    }
}

/// A fieldsync client bound to one data directory and one server.
///
/// Dropping it stops its background sync.
pub struct Client {
    inner: Arc<Inner>,
    background: Mutex<Option<tokio::task::JoinHandle<()>>>,
    uploader: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.abort_background();
    }
}

/// Who writes a new history entry: the logged-in user on this device.
pub(crate) struct Author {
    pub user_id: String,
    pub role: fieldsync_proto::model::Role,
    pub device_id: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    access_expires_at: i64,
    refresh_token: String,
    actor_id: Option<String>,
    user: UserInfo,
}

#[derive(Deserialize)]
struct UserInfo {
    id: String,
    username: String,
    display_name: String,
    role: String,
    community_id: String,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    error: String,
    message: String,
}

impl Client {
    /// Opens (creating if needed) the local store in `data_dir` for the server
    /// at `server_url` (`http://host:port` or `https://…`). Works offline.
    pub fn open(data_dir: impl AsRef<Path>, server_url: &str) -> Result<Client> {
        transport::sync_url(server_url)?;
        let store = LocalStore::open(data_dir.as_ref())?;
        let reader = StoreReader::open(data_dir.as_ref())?;
        if store.meta(keys::DEVICE_ID)?.is_none() {
            store.set_meta(
                keys::DEVICE_ID,
                &format!("dev-{}", uuid::Uuid::new_v4().simple()),
            )?;
        }
        match store.meta(keys::SERVER)? {
            Some(s) if s != server_url && store.meta(keys::SESSION)?.is_some() => {
                return Err(Error::InvalidInput(format!(
                    "this data dir belongs to server {s}; log out first or use another dir"
                )));
            }
            _ => store.set_meta(keys::SERVER, server_url)?,
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::InvalidInput(format!("HTTP client: {e}")))?;
        let upload_http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(15))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| Error::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                server_url: server_url.trim_end_matches('/').to_owned(),
                http,
                store: Mutex::new(store),
                reader: Mutex::new(reader),
                events: broadcast::channel(1024).0,
                stats: Arc::default(),
                local_changes: Mutex::default(),
                local_notify: Notify::new(),
                sync_lock: tokio::sync::Mutex::new(()),
                status: Mutex::new(SyncStatus::Offline),
                loop_error: Mutex::new(None),
                photos_dir: data_dir.as_ref().join("photos"),
                photo_notify: Notify::new(),
                uploading: Mutex::default(),
                upload_http,
            }),
            background: Mutex::new(None),
            uploader: Mutex::new(None),
        })
    }

    /// This installation's device id.
    pub fn device_id(&self) -> Result<String> {
        device_id(&*self.inner.reader())
    }

    /// Logs in; the device is registered to the user and gets a fresh
    /// automerge actor for its edits.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session> {
        let (device_id, device_name) = self
            .inner
            .on_reader(|r| {
                let name = r.meta(keys::DEVICE_NAME)?;
                Ok((device_id(r)?, name))
            })
            .await?;
        let device_name = device_name.unwrap_or_else(|| "fieldsync device".to_owned());
        let body = serde_json::json!({
            "username": username, "password": password,
            "device_id": device_id, "device_name": device_name,
        });
        let resp = self.post_json("/api/v1/auth/login", &body).await?;
        let actor = resp
            .actor_id
            .clone()
            .ok_or_else(|| Error::Protocol("login response lacks actor_id".into()))?;
        hex_actor(&actor)?;
        let session = Session {
            user_id: resp.user.id.clone(),
            username: resp.user.username.clone(),
            display_name: resp.user.display_name.clone(),
            role: resp.user.role.clone(),
            community_id: resp.user.community_id.clone(),
            device_id,
        };
        let stored = session.clone();
        self.inner
            .on_writer(move |_, store| {
                if let Some(previous) = store.meta(keys::SESSION)?
                    && serde_json::from_str::<serde_json::Value>(&previous)
                        .ok()
                        .and_then(|v| v["community_id"].as_str().map(str::to_owned))
                        != Some(stored.community_id.clone())
                {
                    // Another community's cursor means nothing here.
                    store.delete_meta(&[keys::CURSOR])?;
                }
                store.set_meta(keys::ACTOR, &actor)?;
                store_tokens(store, &resp)?;
                store.set_meta(
                    keys::SESSION,
                    &serde_json::json!({
                        "user_id": stored.user_id, "username": stored.username,
                        "display_name": stored.display_name, "role": stored.role,
                        "community_id": stored.community_id,
                    })
                    .to_string(),
                )
            })
            .await?;
        Ok(session)
    }

    /// Forgets the session (tokens and actor). Local documents and unsynced
    /// changes stay on the device.
    pub fn logout(&self) -> Result<()> {
        self.inner.store().delete_meta(&keys::SESSION_KEYS)
    }

    /// The logged-in user, if any.
    pub fn session(&self) -> Result<Option<Session>> {
        let store = self.inner.reader();
        let Some(json) = store.meta(keys::SESSION)? else {
            return Ok(None);
        };
        let v: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| Error::Store(e.to_string()))?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Ok(Some(Session {
            user_id: s("user_id"),
            username: s("username"),
            display_name: s("display_name"),
            role: s("role"),
            community_id: s("community_id"),
            device_id: store.meta(keys::DEVICE_ID)?.unwrap_or_default(),
        }))
    }

    fn actor(&self) -> Result<ActorId> {
        let hex = self
            .inner
            .reader()
            .meta(keys::ACTOR)?
            .ok_or(Error::NotLoggedIn)?;
        hex_actor(&hex)
    }

    /// Creates a document of `doc_type`, filled by `init`, and queues it for sync.
    pub fn create_document<F>(&self, doc_type: DocType, init: F) -> Result<DocId>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let id = DocId::new(format!(
            "{}-{}",
            doc_type.as_str(),
            uuid::Uuid::new_v4().simple()
        ))
        .expect("generated ids are valid");
        self.write(Target::New(DocHeader::new(id.clone(), doc_type)), init)?;
        Ok(id)
    }

    /// Changes a document with `f` and queues the change for sync.
    pub fn change_document<F>(&self, id: &DocId, f: F) -> Result<()>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        self.write(Target::Stored(id), f)
    }

    /// Applies `f` as one local change of `target` and records it with its
    /// outbox entry. A stored document is loaded and saved under one hold of
    /// the writer, so a sync applying remote changes meanwhile is never
    /// overwritten.
    fn write<F>(&self, target: Target<'_>, f: F) -> Result<()>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let actor = self.actor()?;
        let mut store = self.inner.store();
        let (header, mut doc) = match target {
            Target::New(header) => (header, Automerge::new()),
            Target::Stored(id) => store
                .load(id)?
                .ok_or_else(|| Error::NotFound(id.to_string()))?,
        };
        let before = doc.get_heads();
        // An older document is brought to the current schema first; the
        // step changes are the same on every replica and sync like edits.
        fieldsync_proto::model::migrate::upgrade(header.doc_type, &mut doc)?;
        doc.set_actor(actor);
        let mut tx = doc.transaction();
        if let Err(e) = f(&mut tx) {
            tx.rollback();
            return Err(e.into());
        }
        tx.commit();
        // The server refuses a write to a key only a migration step makes
        // (such lists are appended to, never written whole): refuse it here.
        fieldsync_proto::model::migrate::check_reserved(header.doc_type, &doc)
            .map_err(Error::InvalidInput)?;
        store.record_local_change(&header, &doc, &before)?;
        drop(store);
        self.inner
            .local_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(header);
        self.inner.local_notify.notify_one();
        Ok(())
    }

    /// Reads a document.
    pub fn read_document<T>(&self, id: &DocId, f: impl FnOnce(&Automerge) -> T) -> Result<T> {
        let (_, doc) = self
            .inner
            .reader()
            .stored_document(id)?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        Ok(f(&doc))
    }

    /// Creates a document of `doc_type` whose content is the JSON object
    /// `content` (see [`fieldsync_proto::json`] for the mapping).
    pub fn create_document_json(&self, doc_type: DocType, content: &str) -> Result<DocId> {
        let content = json::parse_object(content).map_err(invalid_json)?;
        self.create_document(doc_type, |tx| json::fill(tx, &content))
    }

    /// Applies the JSON Merge Patch `patch` to a document.
    pub fn update_document_json(&self, id: &DocId, patch: &str) -> Result<()> {
        let patch = json::parse_object(patch).map_err(invalid_json)?;
        self.change_document(id, |tx| json::merge_patch(tx, &automerge::ROOT, &patch))
    }

    /// Appends the JSON value `item` to the list at root key `key` (created if
    /// absent). Appends made concurrently on several devices all survive.
    pub fn append_document_json(&self, id: &DocId, key: &str, item: &str) -> Result<()> {
        let item: serde_json::Value = serde_json::from_str(item)
            .map_err(|e| Error::InvalidInput(format!("invalid JSON: {e}")))?;
        if !self.read_document(id, |d| json::is_list_or_absent(d, key))?? {
            return Err(Error::InvalidInput(format!("{key:?} is not a list")));
        }
        self.change_document(id, |tx| json::append(tx, key, &item))
    }

    /// A document's content as JSON.
    pub fn document_json(&self, id: &DocId) -> Result<serde_json::Value> {
        self.read_document(id, json::to_value)
    }

    /// Ids of local documents, optionally only of one type.
    pub fn document_ids(&self, doc_type: Option<DocType>) -> Result<Vec<DocId>> {
        self.inner.reader().document_ids(doc_type)
    }

    /// The heads of a document, hex-encoded (for comparing replicas).
    pub fn document_heads(&self, id: &DocId) -> Result<Vec<String>> {
        self.read_document(id, |d| {
            d.get_heads().iter().map(|h| h.to_string()).collect()
        })
    }

    /// Local change sets not yet acknowledged by the server.
    pub fn pending_changes(&self) -> Result<usize> {
        self.inner.reader().outbox_len()
    }

    /// Documents with local changes the server has not yet acknowledged.
    pub fn unacked_documents(&self) -> Result<Vec<DocId>> {
        Ok(self
            .inner
            .reader()
            .unsynced()?
            .into_iter()
            .map(|h| h.id)
            .collect())
    }

    /// Change sets the server rejected, kept on the device.
    pub fn quarantined(&self) -> Result<Vec<QuarantinedChange>> {
        self.inner.reader().quarantined()
    }

    /// The community change sequence this device has fully synced.
    pub fn cursor(&self) -> Result<u64> {
        cursor(&*self.inner.reader())
    }

    /// Subscribes to sync events.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.inner.events.subscribe()
    }

    /// The current sync status.
    pub fn status(&self) -> SyncStatus {
        self.inner
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Bytes moved by the transport since this client was opened.
    pub fn transport_counters(&self) -> TransportCounters {
        self.inner.stats.snapshot()
    }

    /// Connects, pushes every unacknowledged change, pulls everything changed
    /// since the cursor, and returns once up to date.
    ///
    /// While the background loop runs, its live session is already doing this:
    /// the call then waits (up to two minutes) until that session has nothing
    /// left to push.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        let looping = self
            .background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|h| !h.is_finished());
        if !looping {
            return sync::sync_once(&self.inner).await;
        }
        self.inner.local_notify.notify_one();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let status = self.status();
            if status == SyncStatus::UpToDate {
                let (pending, cursor) = self
                    .inner
                    .on_reader(|r| Ok((r.outbox_len()?, cursor(r)?)))
                    .await?;
                if pending == 0 {
                    return Ok(SyncReport {
                        cursor,
                        ..Default::default()
                    });
                }
            }
            match status {
                SyncStatus::Error {
                    message,
                    retryable: false,
                } => {
                    // The loop's own error, so its kind (auth, revoked…) survives.
                    let kept = self
                        .inner
                        .loop_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    return Err(kept.unwrap_or(Error::Protocol(message)));
                }
                _ if tokio::time::Instant::now() > deadline => {
                    return Err(Error::Offline(
                        "background sync did not catch up in time".into(),
                    ));
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    /// Starts the background sync loop (reconnects with exponential backoff and
    /// jitter; pushes local changes as they happen) and the photo uploader
    /// beside it. Needs a tokio runtime.
    pub fn start_sync(&self) {
        let mut up = self.uploader.lock().unwrap_or_else(|p| p.into_inner());
        if up.as_ref().is_none_or(|h| h.is_finished()) {
            *up = Some(tokio::spawn(photos::run_uploads(self.inner.clone())));
        }
        let mut bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
        if bg.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        *self
            .inner
            .loop_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        *bg = Some(tokio::spawn(sync::run_loop(self.inner.clone())));
    }

    /// Stops the background sync loop and the photo uploader.
    pub fn stop_sync(&self) {
        self.abort_background();
        self.inner.emit(SyncEvent::Status(SyncStatus::Offline));
    }

    fn abort_background(&self) {
        for task in [&self.background, &self.uploader] {
            if let Some(h) = task.lock().unwrap_or_else(|p| p.into_inner()).take() {
                h.abort();
            }
        }
    }

    /// The author of a new history entry (hazard event, check-in, incident event).
    pub(crate) fn author(&self) -> Result<Author> {
        let session = self.session()?.ok_or(Error::NotLoggedIn)?;
        let role = fieldsync_proto::model::Role::parse(&session.role)
            .ok_or_else(|| Error::Protocol(format!("unknown role {:?}", session.role)))?;
        Ok(Author {
            user_id: session.user_id,
            role,
            device_id: session.device_id,
        })
    }

    /// Creates a document of `doc_type` from a typed value (which must
    /// serialize to a JSON object).
    pub(crate) fn create_from<T: serde::Serialize>(
        &self,
        doc_type: DocType,
        value: &T,
    ) -> Result<DocId> {
        let content = match serde_json::to_value(value) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(Error::Document(format!(
                    "a {} document must serialize to an object",
                    doc_type.as_str()
                )));
            }
        };
        self.create_document(doc_type, |tx| json::fill(tx, &content))
    }

    /// Appends a typed value to the list at root key `key` of a document.
    pub(crate) fn append_to<T: serde::Serialize>(
        &self,
        id: &DocId,
        key: &str,
        item: &T,
    ) -> Result<()> {
        let item = serde_json::to_value(item).map_err(|e| Error::Document(e.to_string()))?;
        self.change_document(id, |tx| json::append(tx, key, &item))
    }

    async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<TokenResponse> {
        post_tokens(&self.inner, path, body).await
    }
}

pub(crate) async fn post_tokens(
    inner: &Inner,
    path: &str,
    body: &serde_json::Value,
) -> Result<TokenResponse> {
    let url = format!("{}{path}", inner.server_url);
    let resp = inner
        .http
        .post(&url)
        .json(body)
        .send()
        .await
        .map_err(|e| Error::Offline(format!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    if status.is_success() {
        return resp
            .json()
            .await
            .map_err(|e| Error::Protocol(format!("bad response from {path}: {e}")));
    }
    let err: Option<ApiErrorBody> = resp.json().await.ok();
    let (code, message) = err
        .map(|e| (e.error, e.message))
        .unwrap_or_else(|| ("http".into(), status.to_string()));
    if status.is_server_error() {
        Err(Error::Offline(format!("server error {status}: {message}")))
    } else if status.as_u16() == 400 {
        Err(Error::InvalidInput(message))
    } else {
        Err(Error::Auth { code, message })
    }
}

/// This device's id, set when its store was first opened.
fn device_id(store: &impl Reads) -> Result<String> {
    store
        .meta(keys::DEVICE_ID)?
        .ok_or(Error::Store("device id missing".into()))
}

/// The community change sequence the device has fully synced.
fn cursor(store: &impl Reads) -> Result<u64> {
    Ok(store
        .meta(keys::CURSOR)?
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// Runs store work (SQLite, automerge) on the blocking pool and waits for
/// it without holding a runtime worker. A panic in `f` stays a panic of the
/// awaiting task, as if `f` had run there.
pub(crate) async fn off_reactor<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Store(format!("store work did not run: {e}"))),
    }
}

/// Keeps the tokens of a login or refresh answer.
pub(crate) fn store_tokens(store: &LocalStore, resp: &TokenResponse) -> Result<()> {
    store.set_meta(keys::ACCESS, &resp.access_token)?;
    store.set_meta(keys::ACCESS_EXP, &resp.access_expires_at.to_string())?;
    store.set_meta(keys::REFRESH, &resp.refresh_token)
}

/// The device clock, ms since the Unix epoch: what the SDK stamps check-ins,
/// events and notes with, and so the "now" to pass to
/// [`Client::my_route_status`].
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub(crate) fn hex_actor(hex: &str) -> Result<ActorId> {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::Protocol(format!("bad actor id {hex:?}")))?;
    Ok(ActorId::from(bytes))
}

/// The document a local write goes to.
enum Target<'a> {
    /// A new document.
    New(DocHeader),
    /// A stored one, loaded when the write holds the store.
    Stored(&'a DocId),
}

/// JSON text an app passed that cannot be a document's root.
fn invalid_json(e: json::ObjectError) -> Error {
    Error::InvalidInput(e.to_string())
}
