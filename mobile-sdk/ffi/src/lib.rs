//! The fieldsync SDK for Kotlin, Swift and Python: the uniffi surface over
//! [`fieldsync_sdk`] — [`FieldsyncClient`], its records and enums, the
//! [`SyncListener`] foreign trait and the public [`FieldsyncError`]. The
//! only crate that knows uniffi; the `uniffi-bindgen` binary beside it
//! generates the bindings from the built library.
//!
//! The bindings' namespace stays `fieldsync_sdk` (the Python module, the
//! Kotlin file) whatever this crate is called, so apps import what they did.
//!
//! # Invariants
//! - The SDK owns its tokio runtime (built lazily on first use). Every method that touches
//!   disk or network is `async` and runs there, so no call blocks the caller's
//!   thread; the few synchronous methods only read memory.
//! - Nothing panics across the boundary: async work runs in spawned tasks
//!   whose panics surface as `JoinError`s, synchronous bodies run under
//!   `catch_unwind`; both become [`FieldsyncError::Internal`].
//! - Listener callbacks run on a blocking-pool thread, one at a time and in
//!   order, never on a runtime worker, so a slow app callback cannot stall sync.
//!   None runs once `shutdown` (or replacing the listener) has returned.

uniffi::setup_scaffolding!("fieldsync_sdk");

mod duty;
mod photos;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::runtime::Runtime;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use fieldsync_sdk::{
    Client, DocId, DocType, Error, ErrorCode, HazardAction, HazardPlace, HazardState,
    IncidentAction, RejectCode, Severity, SyncEvent,
};

fn runtime() -> &'static Runtime {
    static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(8)
            .thread_name("fieldsync-sdk")
            .enable_all()
            .build()
            .expect("the SDK cannot work without its runtime")
    });
    &RUNTIME
}

/// Every failure an app can see. Stable: new variants are added, never renamed.
/// (The text field is `reason`, not `message`: Kotlin exceptions already have
/// a `message`.)
///
/// `Offline` and `ServerUnavailable` are retryable (the background loop
/// retries them by itself); the others need the app or the user to act.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FieldsyncError {
    /// The server cannot be reached or the connection dropped. Retryable.
    #[error("offline: {reason}")]
    Offline { reason: String },
    /// The server is failing, shutting down, or spoke a protocol this SDK
    /// version does not understand. Retryable.
    #[error("server unavailable: {reason}")]
    ServerUnavailable { reason: String },
    /// Nobody is logged in, the credentials were refused, or the device was
    /// revoked: log in again. `code` is the server's stable code when known.
    #[error("authentication needed ({code}): {reason}")]
    AuthRequired { code: String, reason: String },
    /// An argument was not acceptable (path, URL, JSON, id).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// No such document on this device.
    #[error("no document {id}")]
    NotFound { id: String },
    /// The local database failed or is corrupt.
    #[error("local storage: {reason}")]
    Storage { reason: String },
    /// The client was shut down.
    #[error("the client is shut down")]
    Closed,
    /// A bug in the SDK, caught at the boundary. Please report it.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl From<Error> for FieldsyncError {
    fn from(e: Error) -> Self {
        let reason = e.to_string();
        match e {
            Error::NotLoggedIn => FieldsyncError::AuthRequired {
                code: "not_logged_in".into(),
                reason,
            },
            Error::Auth { code, message } => FieldsyncError::AuthRequired {
                code,
                reason: message,
            },
            Error::Offline(reason) => FieldsyncError::Offline { reason },
            Error::Server { code, .. } if !code.is_retryable() && is_auth(code) => {
                FieldsyncError::AuthRequired {
                    code: serde_json::to_value(code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    reason,
                }
            }
            Error::Server { .. } | Error::Protocol(_) => {
                FieldsyncError::ServerUnavailable { reason }
            }
            Error::Store(reason) => FieldsyncError::Storage { reason },
            Error::NotFound(id) => FieldsyncError::NotFound { id },
            Error::InvalidInput(reason) | Error::Document(reason) => {
                FieldsyncError::InvalidInput { reason }
            }
        }
    }
}

fn is_auth(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Unauthenticated
            | ErrorCode::TokenExpired
            | ErrorCode::DeviceRevoked
            | ErrorCode::DeviceMismatch
    )
}

/// Whether the same call can succeed later without the user doing anything.
#[uniffi::export]
pub fn is_retryable(error: &FieldsyncError) -> bool {
    matches!(
        error,
        FieldsyncError::Offline { .. } | FieldsyncError::ServerUnavailable { .. }
    )
}

type FfiResult<T> = Result<T, FieldsyncError>;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Runs `f` on the SDK runtime's blocking pool (it touches SQLite).
async fn blocking<T, F>(f: F) -> FfiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Error> + Send + 'static,
{
    joined(runtime().spawn_blocking(f)).await
}

/// Runs `fut` on the SDK runtime.
async fn spawned<T, F>(fut: F) -> FfiResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    joined(runtime().spawn(fut)).await
}

async fn joined<T>(handle: JoinHandle<Result<T, Error>>) -> FfiResult<T> {
    match handle.await {
        Ok(r) => r.map_err(Into::into),
        Err(e) if e.is_panic() => Err(FieldsyncError::Internal {
            reason: panic_message(&*e.into_panic()),
        }),
        Err(e) => Err(FieldsyncError::Internal {
            reason: e.to_string(),
        }),
    }
}

fn guarded<T>(f: impl FnOnce() -> FfiResult<T>) -> FfiResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(FieldsyncError::Internal {
            reason: panic_message(&*p),
        })
    })
}

fn parse_doc_id(id: &str) -> FfiResult<DocId> {
    DocId::new(id).map_err(|e| FieldsyncError::InvalidInput {
        reason: e.to_string(),
    })
}

#[uniffi::remote(Enum)]
pub enum DocType {
    Places,
    Route,
    Roster,
    Patrol,
    Hazard,
    Incident,
    Alert,
    Note,
}

#[uniffi::remote(Enum)]
pub enum RejectCode {
    ForeignActor,
    DocumentTooLarge,
    MessageTooLarge,
    InvalidSyncMessage,
    InvalidHeader,
    SchemaViolation,
    Forbidden,
    Conflict,
}

#[uniffi::remote(Enum)]
pub enum Severity {
    General,
    Major,
}

#[uniffi::remote(Enum)]
pub enum HazardState {
    Reported,
    Assigned,
    Rectifying,
    Rectified,
    Verified,
    Closed,
    Reopened,
}

#[uniffi::remote(Enum)]
pub enum HazardAction {
    Report {
        severity: Severity,
        immediate: bool,
    },
    Assign {
        unit: String,
        person: String,
        deadline_ms: i64,
    },
    StartRectifying,
    Rectify,
    Verify,
    Close,
    Reopen,
    Comment,
}

/// What a volunteer fills in when reporting a hazard.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewHazard {
    /// A category name, e.g. `exit_blocked`, `ebike`, `wiring` (see the glossary).
    pub category: String,
    pub severity: Severity,
    /// Fixable on the spot.
    pub immediate: bool,
    pub description: String,
    pub post_id: Option<String>,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub floor: Option<i64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Photo hashes from `import_photo`.
    pub photos: Vec<String>,
}

/// A hazard as this device sees it, with its folded state.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HazardSummary {
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub description: String,
    pub post_id: Option<String>,
    /// `None` only for a damaged history.
    pub state: Option<HazardState>,
    /// Concurrent transitions wait for a leader.
    pub in_conflict: bool,
    pub event_count: u64,
    pub assigned_person: Option<String>,
    pub deadline_ms: Option<i64>,
}

impl From<fieldsync_sdk::HazardView> for HazardSummary {
    fn from(v: fieldsync_sdk::HazardView) -> Self {
        let current = v.folded.current.as_ref();
        HazardSummary {
            id: v.id.into(),
            category: v.doc.category,
            severity: v.doc.severity,
            description: v.doc.description,
            post_id: v.doc.place.post_id,
            state: current.map(|s| s.state),
            in_conflict: v.folded.in_conflict(),
            event_count: v.doc.events.len() as u64,
            assigned_person: current.and_then(|s| s.assignment.as_ref().map(|a| a.1.clone())),
            deadline_ms: current.and_then(|s| s.assignment.as_ref().map(|a| a.2)),
        }
    }
}

#[uniffi::remote(Enum)]
pub enum IncidentAction {
    Report,
    Update,
    Acknowledge,
    Close,
}

/// What the reporter of an incident writes down.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewIncident {
    /// When it happened, ms since the Unix epoch.
    pub occurred_at_ms: i64,
    pub post_id: Option<String>,
    pub building: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Persons involved, as free text.
    pub persons: String,
    pub cause: String,
    pub handling: String,
    pub outcome: String,
    pub photos: Vec<String>,
}

/// An incident as this device sees it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct IncidentSummary {
    pub id: String,
    pub occurred_at_ms: i64,
    pub persons: String,
    pub cause: String,
    pub handling: String,
    pub outcome: String,
    pub reporter: String,
    pub acknowledged: bool,
    pub closed: bool,
    pub event_count: u64,
}

/// A GPS fix.
#[derive(Debug, Clone, uniffi::Record)]
pub struct GpsFix {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

impl From<GpsFix> for fieldsync_sdk::Fix {
    fn from(f: GpsFix) -> Self {
        fieldsync_sdk::Fix {
            lat: f.lat,
            lon: f.lon,
            accuracy_m: f.accuracy_m,
        }
    }
}

/// One check-in of a patrol.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CheckInSummary {
    pub id: String,
    pub post_id: String,
    /// The tag payload, when a tag was scanned.
    pub tag_payload: Option<String>,
    /// Why no tag was scanned, for manual check-ins.
    pub manual_reason: Option<String>,
    pub at_ms: i64,
    pub by: String,
    /// Set when the server stored it flagged (its tag did not verify, or it
    /// was made away from the post): why, `code: explanation`. A flagged
    /// check-in is kept as evidence and never counts as verified.
    pub flag_reason: Option<String>,
}

/// A note on a patrol: a handover note, a remark on the round.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PatrolNoteSummary {
    pub id: String,
    pub at_ms: i64,
    pub by: String,
    pub text: String,
}

/// A patrol as this device sees it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PatrolSummary {
    pub id: String,
    pub team: String,
    pub route: String,
    pub started_by: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub checkins: Vec<CheckInSummary>,
    pub notes: Vec<PatrolNoteSummary>,
}

/// Where syncing stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// Not connected.
    Offline,
    /// Connected and exchanging changes.
    Syncing,
    /// Everything local is acknowledged and everything remote is here.
    UpToDate,
    /// The last attempt failed; `retryable` errors are retried by the loop.
    Error { message: String, retryable: bool },
}

impl From<fieldsync_sdk::SyncStatus> for SyncStatus {
    fn from(s: fieldsync_sdk::SyncStatus) -> Self {
        match s {
            fieldsync_sdk::SyncStatus::Offline => SyncStatus::Offline,
            fieldsync_sdk::SyncStatus::Syncing => SyncStatus::Syncing,
            fieldsync_sdk::SyncStatus::UpToDate => SyncStatus::UpToDate,
            fieldsync_sdk::SyncStatus::Error { message, retryable } => {
                SyncStatus::Error { message, retryable }
            }
        }
    }
}

/// The logged-in user of this device.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Session {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub community_id: String,
    pub device_id: String,
}

impl From<fieldsync_sdk::Session> for Session {
    fn from(s: fieldsync_sdk::Session) -> Self {
        Session {
            user_id: s.user_id,
            username: s.username,
            display_name: s.display_name,
            role: s.role,
            community_id: s.community_id,
            device_id: s.device_id,
        }
    }
}

/// What one sync session did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncReport {
    /// Documents whose changes the server acknowledged as durably stored.
    pub acked_docs: u64,
    /// Documents that received remote changes.
    pub pulled_docs: u64,
    /// Change sets the server rejected (kept in quarantine).
    pub rejected: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl From<fieldsync_sdk::SyncReport> for SyncReport {
    fn from(r: fieldsync_sdk::SyncReport) -> Self {
        SyncReport {
            acked_docs: r.acked_docs as u64,
            pulled_docs: r.pulled_docs as u64,
            rejected: r.rejected as u64,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
        }
    }
}

/// A local change set the server rejected; kept on the device so nothing
/// typed is lost, while the document returned to the accepted state.
#[derive(Debug, Clone, uniffi::Record)]
pub struct QuarantinedChange {
    pub doc_id: String,
    pub code: String,
    pub message: String,
    /// When it was rejected, milliseconds since the Unix epoch.
    pub rejected_at_ms: i64,
}

/// Bytes the sync transport moved since the client was opened.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TransportCounters {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connections: u64,
}

/// Implemented by the app to hear about sync. Called on an SDK thread, one
/// call at a time in event order; post to the UI thread yourself.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// The sync status changed.
    fn on_status(&self, status: SyncStatus);
    /// Remote changes arrived for these documents.
    fn on_documents_changed(&self, doc_ids: Vec<String>);
    /// The server rejected a local change set to `doc_id`; it is quarantined
    /// and the document shows the server's accepted state again.
    fn on_rejected(&self, doc_id: String, code: RejectCode, message: String);
    /// A photo's upload moved: `sent` of `total` bytes are on the server.
    fn on_photo_progress(&self, hash: String, sent: u64, total: u64);
    /// A photo is on the server.
    fn on_photo_uploaded(&self, hash: String);
    /// A photo's upload attempt failed. With `will_retry` it stays queued;
    /// without, the server refused the photo (`message` says why).
    fn on_photo_failed(&self, hash: String, message: String, will_retry: bool);
}

fn deliver(listener: &dyn SyncListener, event: SyncEvent) {
    match event {
        SyncEvent::Status(s) => listener.on_status(s.into()),
        SyncEvent::DocumentsChanged(ids) => {
            listener.on_documents_changed(ids.into_iter().map(String::from).collect())
        }
        SyncEvent::Rejected { doc, code, message } => {
            listener.on_rejected(doc.into(), code, message)
        }
        SyncEvent::PhotoProgress { hash, sent, total } => {
            listener.on_photo_progress(hash, sent, total)
        }
        SyncEvent::PhotoUploaded { hash } => listener.on_photo_uploaded(hash),
        SyncEvent::PhotoFailed {
            hash,
            message,
            retrying,
        } => listener.on_photo_failed(hash, message, retrying),
    }
}

/// A fieldsync client: one local store (a directory) bound to one server.
///
/// Open it once per app process and keep it. Edits are stored locally first
/// and work offline; `sync_now` or the background loop (`start_sync`) moves
/// them to the server.
#[derive(uniffi::Object)]
pub struct FieldsyncClient {
    client: Mutex<Option<Arc<Client>>>,
    listener_task: Mutex<Option<JoinHandle<()>>>,
    /// The current listener's gate: open while it may be called, held during
    /// each callback, so closing it waits for the one in progress.
    listener_gate: Mutex<Option<Arc<Mutex<bool>>>>,
}

impl FieldsyncClient {
    fn client(&self) -> FfiResult<Arc<Client>> {
        self.client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(FieldsyncError::Closed)
    }

    /// Stops the listener and returns once no callback runs or will run:
    /// an app may tear down what its listener uses (an interpreter at exit)
    /// as soon as this returns.
    fn stop_listener(&self) {
        if let Some(h) = self
            .listener_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            h.abort();
        }
        let gate = self
            .listener_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(gate) = gate {
            *gate.lock().unwrap_or_else(|p| p.into_inner()) = false;
        }
    }
}

impl Drop for FieldsyncClient {
    fn drop(&mut self) {
        self.stop_listener();
    }
}

#[uniffi::export]
impl FieldsyncClient {
    /// Opens (creating if needed) the local store in `data_dir` for the server
    /// at `server_url` (`https://host` or `http://host:port`). Works offline:
    /// nothing is sent until login or sync.
    #[uniffi::constructor]
    pub fn open(data_dir: String, server_url: String) -> FfiResult<Arc<Self>> {
        guarded(|| {
            if data_dir.is_empty() {
                return Err(FieldsyncError::InvalidInput {
                    reason: "data_dir is empty".into(),
                });
            }
            // Check the URL before anything is created on disk.
            fieldsync_sdk::transport::sync_url(&server_url)?;
            let dir = std::path::Path::new(&data_dir);
            std::fs::create_dir_all(dir).map_err(|e| FieldsyncError::InvalidInput {
                reason: format!("cannot use {data_dir} as the data directory: {e}"),
            })?;
            let client = Client::open(dir, &server_url)?;
            Ok(Arc::new(FieldsyncClient {
                client: Mutex::new(Some(Arc::new(client))),
                listener_task: Mutex::new(None),
                listener_gate: Mutex::new(None),
            }))
        })
    }

    /// This installation's device id (stable across logins).
    pub async fn device_id(&self) -> FfiResult<String> {
        let c = self.client()?;
        blocking(move || c.device_id()).await
    }

    /// Logs in and registers this device to the user.
    pub async fn login(&self, username: String, password: String) -> FfiResult<Session> {
        let c = self.client()?;
        spawned(async move { c.login(&username, &password).await })
            .await
            .map(Into::into)
    }

    /// Forgets the session. Local documents and unsynced edits stay.
    pub async fn logout(&self) -> FfiResult<()> {
        let c = self.client()?;
        c.stop_sync();
        blocking(move || c.logout()).await
    }

    /// The logged-in user, if any.
    pub async fn session(&self) -> FfiResult<Option<Session>> {
        let c = self.client()?;
        blocking(move || c.session())
            .await
            .map(|s| s.map(Into::into))
    }

    /// Creates a document of `doc_type` from a JSON object and returns its id.
    pub async fn create_document(&self, doc_type: DocType, json: String) -> FfiResult<String> {
        let c = self.client()?;
        blocking(move || c.create_document_json(doc_type, &json))
            .await
            .map(String::from)
    }

    /// Updates a document with a JSON Merge Patch (RFC 7386): keys replace,
    /// nested objects merge, `null` deletes.
    pub async fn update_document(&self, doc_id: String, patch_json: String) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        blocking(move || c.update_document_json(&id, &patch_json)).await
    }

    /// Appends a JSON value to the list at root key `key`; appends made
    /// offline on several devices all survive.
    pub async fn append_to_list(
        &self,
        doc_id: String,
        key: String,
        item_json: String,
    ) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        blocking(move || c.append_document_json(&id, &key, &item_json)).await
    }

    /// A document's content as a JSON object.
    pub async fn document_json(&self, doc_id: String) -> FfiResult<String> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        blocking(move || c.document_json(&id).map(|v| v.to_string())).await
    }

    /// Reports a hazard (works offline) and returns its document id.
    pub async fn report_hazard(&self, hazard: NewHazard) -> FfiResult<String> {
        let c = self.client()?;
        let new = fieldsync_sdk::NewHazard {
            category: hazard.category,
            severity: hazard.severity,
            immediate: hazard.immediate,
            description: hazard.description,
            place: HazardPlace {
                post_id: hazard.post_id,
                building: hazard.building,
                unit: hazard.unit,
                floor: hazard.floor,
                lat: hazard.lat,
                lon: hazard.lon,
            },
            photos: hazard.photos,
        };
        blocking(move || c.report_hazard(new))
            .await
            .map(String::from)
    }

    /// Moves a hazard on (assign, rectify, verify, close, reopen) or comments
    /// on it. Refused with `InvalidInput` naming the rule (e.g.
    /// `self_verification`) when the transition is not allowed.
    pub async fn transition_hazard(
        &self,
        doc_id: String,
        action: HazardAction,
        note: String,
        photos: Vec<String>,
    ) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        blocking(move || c.transition_hazard(&id, action, &note, photos)).await
    }

    /// One hazard with its current state.
    pub async fn hazard(&self, doc_id: String) -> FfiResult<HazardSummary> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        blocking(move || c.hazard(&id)).await.map(Into::into)
    }

    /// Hazards on this device that are not closed.
    pub async fn open_hazards(&self) -> FfiResult<Vec<HazardSummary>> {
        let c = self.client()?;
        blocking(move || c.open_hazards())
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
    }

    /// Files an incident report (works offline) and returns its document id.
    pub async fn file_incident(&self, incident: NewIncident) -> FfiResult<String> {
        let c = self.client()?;
        let new = fieldsync_sdk::NewIncident {
            occurred_at_ms: incident.occurred_at_ms,
            place: HazardPlace {
                post_id: incident.post_id,
                building: incident.building,
                lat: incident.lat,
                lon: incident.lon,
                ..HazardPlace::default()
            },
            persons: incident.persons,
            cause: incident.cause,
            handling: incident.handling,
            outcome: incident.outcome,
            photos: incident.photos,
        };
        blocking(move || c.file_incident(new))
            .await
            .map(String::from)
    }

    /// Adds an update (anyone), an acknowledgement (leader, office) or the
    /// closing (office) to an incident.
    pub async fn add_incident_event(
        &self,
        doc_id: String,
        action: IncidentAction,
        note: String,
    ) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        blocking(move || c.add_incident_event(&id, action, &note)).await
    }

    /// One incident.
    pub async fn incident(&self, doc_id: String) -> FfiResult<IncidentSummary> {
        let c = self.client()?;
        let id = parse_doc_id(&doc_id)?;
        let d = blocking(move || c.incident(&id)).await?;
        Ok(IncidentSummary {
            id: doc_id,
            occurred_at_ms: d.occurred_at_ms,
            acknowledged: d.acknowledged(),
            closed: d.closed(),
            event_count: d.events.len() as u64,
            persons: d.persons,
            cause: d.cause,
            handling: d.handling,
            outcome: d.outcome,
            reporter: d.reporter,
        })
    }

    /// Starts a patrol now (works offline) and returns its document id.
    pub async fn start_patrol(&self, team: String, route: String) -> FfiResult<String> {
        let c = self.client()?;
        blocking(move || c.start_patrol(&team, &route))
            .await
            .map(String::from)
    }

    /// Checks in at a post: with the scanned tag payload, or without one and
    /// a reason. Returns the check-in id. A payload that is not a fieldsync
    /// tag for this post is refused at once (`InvalidInput`).
    pub async fn check_in(
        &self,
        patrol_id: String,
        post_id: String,
        tag_payload: Option<String>,
        reason: String,
        fix: Option<GpsFix>,
        note: String,
    ) -> FfiResult<String> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        let fix = fix.map(Into::into);
        blocking(move || c.check_in(&id, &post_id, tag_payload.as_deref(), &reason, fix, &note))
            .await
    }

    /// Adds a note to a patrol (works offline) and returns its id. Empty
    /// notes and notes over 2000 characters are refused (`InvalidInput`).
    pub async fn add_patrol_note(&self, patrol_id: String, text: String) -> FfiResult<String> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        blocking(move || c.add_patrol_note(&id, &text)).await
    }

    /// Ends a patrol now.
    pub async fn end_patrol(&self, patrol_id: String) -> FfiResult<()> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        blocking(move || c.end_patrol(&id)).await
    }

    /// A patrol with its check-ins.
    pub async fn patrol(&self, patrol_id: String) -> FfiResult<PatrolSummary> {
        let c = self.client()?;
        let id = parse_doc_id(&patrol_id)?;
        let (p, flagged) = blocking(move || Ok((c.patrol(&id)?, c.flagged_checkins()?))).await?;
        let mut flags: std::collections::HashMap<String, String> = flagged
            .into_iter()
            .filter(|f| f.patrol_id == patrol_id)
            .map(|f| (f.checkin_id, f.reason))
            .collect();
        Ok(PatrolSummary {
            id: patrol_id,
            team: p.team,
            route: p.route,
            started_by: p.started_by,
            started_at_ms: p.started_at_ms,
            ended_at_ms: p.ended_at_ms,
            checkins: p
                .checkins
                .into_iter()
                .map(|ci| {
                    let (tag_payload, manual_reason) = match ci.proof {
                        fieldsync_sdk::Proof::Tag { payload } => (Some(payload), None),
                        fieldsync_sdk::Proof::Manual { reason } => (None, Some(reason)),
                    };
                    CheckInSummary {
                        flag_reason: flags.remove(&ci.id),
                        id: ci.id,
                        post_id: ci.post_id,
                        tag_payload,
                        manual_reason,
                        at_ms: ci.at_ms,
                        by: ci.by,
                    }
                })
                .collect(),
            notes: p
                .notes
                .into_iter()
                .map(|n| PatrolNoteSummary {
                    id: n.id,
                    at_ms: n.at_ms,
                    by: n.by,
                    text: n.text,
                })
                .collect(),
        })
    }

    /// Ids of the documents on this device, optionally of one type.
    pub async fn list_documents(&self, doc_type: Option<DocType>) -> FfiResult<Vec<String>> {
        let c = self.client()?;
        blocking(move || c.document_ids(doc_type))
            .await
            .map(|ids| ids.into_iter().map(String::from).collect())
    }

    /// Local change sets the server has not acknowledged yet.
    pub async fn pending_changes(&self) -> FfiResult<u64> {
        let c = self.client()?;
        blocking(move || c.pending_changes().map(|n| n as u64)).await
    }

    /// Change sets the server rejected, kept on the device.
    pub async fn quarantined(&self) -> FfiResult<Vec<QuarantinedChange>> {
        let c = self.client()?;
        blocking(move || c.quarantined()).await.map(|q| {
            q.into_iter()
                .map(|q| QuarantinedChange {
                    doc_id: q.doc_id,
                    code: q.code,
                    message: q.message,
                    rejected_at_ms: q.created_at,
                })
                .collect()
        })
    }

    /// Connects, pushes every unacknowledged edit, pulls what changed, and
    /// returns once up to date. Call it from WorkManager / BGTaskScheduler.
    pub async fn sync_now(&self) -> FfiResult<SyncReport> {
        let c = self.client()?;
        spawned(async move { c.sync_now().await })
            .await
            .map(Into::into)
    }

    /// Starts background sync while the app is in the foreground: a live
    /// connection that pushes edits as they happen and reconnects with
    /// backoff. Idempotent.
    pub fn start_sync(&self) -> FfiResult<()> {
        guarded(|| {
            let c = self.client()?;
            let _rt = runtime().enter();
            c.start_sync();
            Ok(())
        })
    }

    /// Stops background sync.
    pub fn stop_sync(&self) -> FfiResult<()> {
        guarded(|| {
            self.client()?.stop_sync();
            Ok(())
        })
    }

    /// The current sync status.
    pub fn status(&self) -> FfiResult<SyncStatus> {
        guarded(|| Ok(self.client()?.status().into()))
    }

    /// Bytes moved by the sync transport since the client was opened.
    pub fn transport_counters(&self) -> FfiResult<TransportCounters> {
        guarded(|| {
            let t = self.client()?.transport_counters();
            Ok(TransportCounters {
                bytes_sent: t.bytes_sent,
                bytes_received: t.bytes_received,
                connections: t.connections,
            })
        })
    }

    /// Sets (or with `None` removes) the listener for sync events.
    pub fn set_listener(&self, listener: Option<Arc<dyn SyncListener>>) -> FfiResult<()> {
        guarded(|| {
            let c = self.client()?;
            self.stop_listener();
            let Some(listener) = listener else {
                return Ok(());
            };
            let mut events = c.subscribe();
            let gate = Arc::new(Mutex::new(true));
            *self.listener_gate.lock().unwrap_or_else(|p| p.into_inner()) = Some(gate.clone());
            let task = runtime().spawn(async move {
                loop {
                    let event = match events.recv().await {
                        Ok(e) => e,
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "listener fell behind; events dropped");
                            continue;
                        }
                        Err(RecvError::Closed) => return,
                    };
                    let (l, gate) = (listener.clone(), gate.clone());
                    // An app callback that throws must not take sync down.
                    let _ = tokio::task::spawn_blocking(move || {
                        let open = gate.lock().unwrap_or_else(|p| p.into_inner());
                        if *open {
                            deliver(&*l, event);
                        }
                    })
                    .await;
                }
            });
            *self.listener_task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
            Ok(())
        })
    }

    /// Stops sync and the listener and closes the local store. Every later
    /// call fails with `Closed`. Unsynced edits stay on disk for next time.
    pub fn shutdown(&self) {
        self.stop_listener();
        if let Some(c) = self.client.lock().unwrap_or_else(|p| p.into_inner()).take() {
            c.stop_sync();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A URL nothing listens on: a port bound and released again.
    fn closed_port_url() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    }

    fn open(dir: &std::path::Path) -> Arc<FieldsyncClient> {
        FieldsyncClient::open(dir.to_string_lossy().into_owned(), closed_port_url()).unwrap()
    }

    #[test]
    fn bad_paths_and_urls_are_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        for (path, url) in [
            (String::new(), closed_port_url()),
            (file.to_string_lossy().into_owned(), closed_port_url()),
            (
                dir.path().to_string_lossy().into_owned(),
                "not a url".into(),
            ),
            (dir.path().to_string_lossy().into_owned(), "ftp://x".into()),
        ] {
            let err = FieldsyncClient::open(path.clone(), url.clone()).err();
            assert!(
                matches!(err, Some(FieldsyncError::InvalidInput { .. })),
                "{path:?} {url:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_corrupt_store_is_a_storage_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fieldsync.db"), vec![0x5a; 8192]).unwrap();
        let err =
            FieldsyncClient::open(dir.path().to_string_lossy().into_owned(), closed_port_url())
                .err();
        assert!(
            matches!(err, Some(FieldsyncError::Storage { .. })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn documents_work_offline_and_bad_json_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        // No login yet: writing needs the device's actor.
        let err = c.create_document(DocType::Note, "{}".into()).await;
        assert!(
            matches!(err, Err(FieldsyncError::AuthRequired { .. })),
            "{err:?}"
        );
        let err = c
            .login("demo-volunteer".into(), "x".into())
            .await
            .unwrap_err();
        assert!(matches!(err, FieldsyncError::Offline { .. }), "{err:?}");
        assert!(is_retryable(&err));
        for bad in ["[1,2]", "{", "\"text\"", ""] {
            let err = c
                .create_document(DocType::Note, bad.into())
                .await
                .unwrap_err();
            assert!(
                matches!(err, FieldsyncError::InvalidInput { .. }),
                "{err:?}"
            );
        }
        for bad in ["", "no spaces allowed", "x/y"] {
            let err = c.document_json(bad.into()).await.unwrap_err();
            assert!(
                matches!(err, FieldsyncError::InvalidInput { .. }),
                "{err:?}"
            );
        }
        let err = c.document_json("note-missing".into()).await.unwrap_err();
        assert!(matches!(err, FieldsyncError::NotFound { .. }), "{err:?}");
        assert!(!is_retryable(&err));
    }

    #[tokio::test]
    async fn every_call_after_shutdown_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        let device = c.device_id().await.unwrap();
        c.shutdown();
        assert!(matches!(c.device_id().await, Err(FieldsyncError::Closed)));
        assert!(matches!(c.sync_now().await, Err(FieldsyncError::Closed)));
        assert!(matches!(c.status(), Err(FieldsyncError::Closed)));
        assert!(matches!(c.start_sync(), Err(FieldsyncError::Closed)));
        assert!(matches!(
            c.create_document(DocType::Note, "{}".into()).await,
            Err(FieldsyncError::Closed)
        ));
        // Nothing on disk was lost: the same directory opens as the same device.
        let again = open(dir.path());
        assert_eq!(again.device_id().await.unwrap(), device);
    }

    struct Recorder(Mutex<Vec<SyncStatus>>);

    impl SyncListener for Recorder {
        fn on_status(&self, status: SyncStatus) {
            let first = status == SyncStatus::Syncing;
            self.0.lock().unwrap().push(status);
            // An app callback that throws must not stop later deliveries.
            assert!(!first, "listener failure (expected by the test)");
        }
        fn on_documents_changed(&self, _: Vec<String>) {}
        fn on_rejected(&self, _: String, _: RejectCode, _: String) {}
        fn on_photo_progress(&self, _: String, _: u64, _: u64) {}
        fn on_photo_uploaded(&self, _: String) {}
        fn on_photo_failed(&self, _: String, _: String, _: bool) {}
    }

    #[tokio::test]
    async fn the_listener_hears_a_failed_sync() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        let rec = Arc::new(Recorder(Mutex::new(Vec::new())));
        c.set_listener(Some(rec.clone())).unwrap();
        // Not logged in: the attempt fails permanently and says so.
        let err = c.sync_now().await.unwrap_err();
        assert!(
            matches!(err, FieldsyncError::AuthRequired { .. }),
            "{err:?}"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let seen = rec.0.lock().unwrap().clone();
            if seen.iter().any(|s| {
                matches!(
                    s,
                    SyncStatus::Error {
                        retryable: false,
                        ..
                    }
                )
            }) {
                assert_eq!(seen.first(), Some(&SyncStatus::Syncing), "{seen:?}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "saw only {seen:?}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A listener whose callbacks take a while, as an app's UI work might.
    struct Slow {
        /// (started, finished) of each callback.
        calls: Mutex<Vec<(std::time::Instant, std::time::Instant)>>,
    }

    impl SyncListener for Slow {
        fn on_status(&self, _: SyncStatus) {
            let started = std::time::Instant::now();
            std::thread::sleep(std::time::Duration::from_millis(200));
            self.calls
                .lock()
                .unwrap()
                .push((started, std::time::Instant::now()));
        }
        fn on_documents_changed(&self, _: Vec<String>) {}
        fn on_rejected(&self, _: String, _: RejectCode, _: String) {}
        fn on_photo_progress(&self, _: String, _: u64, _: u64) {}
        fn on_photo_uploaded(&self, _: String) {}
        fn on_photo_failed(&self, _: String, _: String, _: bool) {}
    }

    /// An app may tear down what its listener uses (an interpreter at exit)
    /// once `shutdown` returns: no callback is running then, and none starts.
    #[tokio::test]
    async fn no_callback_runs_after_shutdown_returns() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        let slow = Arc::new(Slow {
            calls: Mutex::new(Vec::new()),
        });
        c.set_listener(Some(slow.clone())).unwrap();
        // Syncing, then the error: two callbacks of 200 ms each.
        let _ = c.sync_now().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while slow.calls.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "no callback came");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let shut = tokio::task::spawn_blocking({
            let c = c.clone();
            move || {
                c.shutdown();
                std::time::Instant::now()
            }
        })
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        for (started, finished) in slow.calls.lock().unwrap().iter() {
            assert!(
                *finished <= shut,
                "a callback ran on after shutdown returned ({:?})",
                finished.duration_since(shut)
            );
            assert!(*started <= shut, "a callback started after shutdown");
        }
    }
}
