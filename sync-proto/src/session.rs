//! Sans-IO sync sessions.
//!
//! [`ClientSession`] is the device side of one connection: feed it decoded
//! [`ServerMsg`]s and local-change notifications, and it returns messages to send
//! and events to act on. Documents are reached through the [`LocalDocs`] trait,
//! which the SDK implements over its SQLite store and tests implement in memory.
//!
//! [`apply_client_sync`] is the server's per-document step: it applies one client
//! sync message to the server's copy and checks every new change before the
//! caller stores it.
//!
//! # Invariants
//! - A document exchange is finished only after the server's reply to our last
//!   message arrived and neither side has anything left to send.
//! - The cursor advances to `upto` only when every document announced in pages
//!   up to `upto` is finished, so a reconnect from a stored cursor misses nothing.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::sync::{self, BloomFilter, Capability, Have, SyncDoc};
use automerge::{ActorId, Automerge, ChangeHash};

use crate::model::{DocHeader, DocId};
use crate::wire::{
    Announce, ClientMsg, ErrorCode, PROTOCOL_VERSION, RejectCode, ServerMsg, from_wire_heads,
};

/// How many documents a client keeps in exchange at once by default.
pub const DEFAULT_WINDOW: usize = 128;

/// Sync state the device persisted for a document.
#[derive(Debug, Default)]
pub struct SavedSync {
    /// The document's sync state with the server, if it was ever synced.
    pub state: Option<sync::State>,
    /// Whether the local copy has changes (local heads differ from the state's
    /// shared heads, or it was never synced).
    pub has_local_changes: bool,
}

/// The device's documents as the sync session needs them.
pub trait LocalDocs {
    /// Storage error type.
    type Error: std::fmt::Display;

    /// The header of a local document, if it exists.
    fn header(&mut self, id: &DocId) -> Result<Option<DocHeader>, Self::Error>;
    /// Whether the local document contains every change in `heads`.
    fn has_heads(&mut self, id: &DocId, heads: &[ChangeHash]) -> Result<bool, Self::Error>;
    /// The persisted sync state of a document.
    fn saved_sync(&mut self, id: &DocId) -> Result<SavedSync, Self::Error>;
    /// Generates the next sync message for a document (empty document if absent).
    fn generate(
        &mut self,
        id: &DocId,
        state: &mut sync::State,
    ) -> Result<Option<sync::Message>, Self::Error>;
    /// Applies a server sync message, creating the document if absent, and
    /// persists it. Returns whether the document changed and its heads after.
    fn receive(
        &mut self,
        header: &DocHeader,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<(bool, Vec<ChangeHash>), Self::Error>;
    /// The server durably stored everything up to `durable_heads`.
    fn acked(&mut self, id: &DocId, durable_heads: &[ChangeHash]) -> Result<(), Self::Error>;
    /// The exchange finished; persist the sync state for the next connection.
    fn finished(&mut self, id: &DocId, state: &sync::State) -> Result<(), Self::Error>;
    /// The server rejected our changes: quarantine them and return the document
    /// to the server's accepted state.
    fn rejected(&mut self, id: &DocId, code: RejectCode, message: &str) -> Result<(), Self::Error>;
}

/// What the session asks its driver to do or tells it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Send this message to the server.
    Send(ClientMsg),
    /// The handshake completed.
    Welcome {
        user_id: String,
        community_id: String,
        /// The server's change sequence is behind the cursor this device
        /// sent: it lost changes it had acknowledged (restored from an older
        /// backup). The server announces everything again; the driver
        /// should exchange every local document from scratch, so the server
        /// gets back what it lost ([`ClientSession::local_change`]).
        server_behind: bool,
    },
    /// Remote changes were applied to a local document.
    RemoteChange(DocId),
    /// The server durably stored the document up to these heads.
    Acked(DocId),
    /// The server rejected a local change set; it has been quarantined.
    Rejected {
        doc: DocId,
        code: RejectCode,
        message: String,
    },
    /// Every document up to this community sequence is synced; persist it.
    Cursor(u64),
    /// Nothing is left to exchange: the device is up to date.
    Idle,
    /// The server refused or closed the connection.
    Failed { code: ErrorCode, message: String },
}

/// A session-level failure.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The server sent something this protocol does not allow here.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The local store failed.
    #[error("local store: {0}")]
    Store(String),
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    AwaitWelcome,
    Ready,
    Closed,
}

struct Exchange {
    header: DocHeader,
    state: sync::State,
    /// The document changed locally while this exchange ran: sync it again.
    again: bool,
}

/// The device side of one sync connection.
pub struct ClientSession {
    phase: Phase,
    window: usize,
    queue: VecDeque<DocHeader>,
    queued: HashSet<DocId>,
    active: HashMap<DocId, Exchange>,
    cursor_waits: VecDeque<(u64, HashSet<DocId>)>,
    caught_up: bool,
    idle_reported: bool,
    /// The cursor sent in the `Hello`.
    cursor: u64,
}

impl ClientSession {
    /// Starts a session; returns it with the `Hello` to send first.
    pub fn start(device_id: &str, token: &str, cursor: u64) -> (Self, ClientMsg) {
        let session = ClientSession {
            phase: Phase::AwaitWelcome,
            window: DEFAULT_WINDOW,
            queue: VecDeque::new(),
            queued: HashSet::new(),
            active: HashMap::new(),
            cursor_waits: VecDeque::new(),
            caught_up: false,
            idle_reported: false,
            cursor,
        };
        let hello = ClientMsg::Hello {
            protocol_version: PROTOCOL_VERSION,
            device_id: device_id.to_owned(),
            token: token.to_owned(),
            cursor,
        };
        (session, hello)
    }

    /// Sets how many documents may be in exchange at once (at least 1).
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// True once the server has caught us up and no exchange is pending.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Ready
            && self.caught_up
            && self.queue.is_empty()
            && self.active.is_empty()
    }

    /// True after the server refused or closed the session.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Number of documents queued or in exchange.
    pub fn pending(&self) -> usize {
        self.queue.len() + self.active.len()
    }

    /// A local document changed: make sure it is pushed.
    pub fn local_change<D: LocalDocs>(
        &mut self,
        header: DocHeader,
        docs: &mut D,
    ) -> Result<Vec<ClientEvent>, SessionError> {
        if let Some(ex) = self.active.get_mut(&header.id) {
            ex.again = true;
        } else {
            self.enqueue(header);
        }
        let mut out = Vec::new();
        self.pump(docs, &mut out)?;
        Ok(out)
    }

    /// Handles one message from the server.
    pub fn receive<D: LocalDocs>(
        &mut self,
        msg: ServerMsg,
        docs: &mut D,
    ) -> Result<Vec<ClientEvent>, SessionError> {
        let mut out = Vec::new();
        match (self.phase, msg) {
            (_, ServerMsg::Error { code, message }) => {
                self.phase = Phase::Closed;
                out.push(ClientEvent::Failed { code, message });
                return Ok(out);
            }
            (
                Phase::AwaitWelcome,
                ServerMsg::Welcome {
                    protocol_version,
                    user_id,
                    community_id,
                    server_cursor,
                },
            ) => {
                if protocol_version != PROTOCOL_VERSION {
                    return Err(SessionError::Protocol(format!(
                        "server speaks protocol {protocol_version}, we speak {PROTOCOL_VERSION}"
                    )));
                }
                self.phase = Phase::Ready;
                out.push(ClientEvent::Welcome {
                    user_id,
                    community_id,
                    server_behind: server_cursor < self.cursor,
                });
            }
            (Phase::AwaitWelcome, other) => {
                return Err(SessionError::Protocol(format!(
                    "expected welcome, got {}",
                    variant_name(&other)
                )));
            }
            (Phase::Closed, _) => return Ok(out),
            (Phase::Ready, ServerMsg::Welcome { .. }) => {
                return Err(SessionError::Protocol("second welcome".into()));
            }
            (
                Phase::Ready,
                ServerMsg::Changed {
                    docs: announced,
                    upto,
                    caught_up,
                },
            ) => {
                self.on_changed(announced, upto, docs)?;
                if caught_up {
                    self.caught_up = true;
                }
            }
            (
                Phase::Ready,
                ServerMsg::Sync {
                    doc,
                    message,
                    durable_heads,
                },
            ) => {
                self.on_sync(
                    doc,
                    message,
                    &from_wire_heads(&durable_heads),
                    docs,
                    &mut out,
                )?;
            }
            (Phase::Ready, ServerMsg::Reject { doc, code, message }) => {
                self.on_reject(doc, code, message, docs, &mut out)?;
            }
        }
        self.pump(docs, &mut out)?;
        self.advance_cursor(&mut out);
        if self.is_idle() {
            if !self.idle_reported {
                self.idle_reported = true;
                out.push(ClientEvent::Idle);
            }
        } else {
            self.idle_reported = false;
        }
        Ok(out)
    }

    fn enqueue(&mut self, header: DocHeader) {
        if self.queued.insert(header.id.clone()) {
            self.queue.push_back(header);
        }
    }

    fn on_changed<D: LocalDocs>(
        &mut self,
        announced: Vec<Announce>,
        upto: u64,
        docs: &mut D,
    ) -> Result<(), SessionError> {
        let mut waiting = HashSet::new();
        for a in announced {
            let heads = from_wire_heads(&a.heads);
            if docs.has_heads(&a.header.id, &heads).map_err(store)? {
                continue;
            }
            waiting.insert(a.header.id.clone());
            if let Some(ex) = self.active.get_mut(&a.header.id) {
                ex.again = true;
            } else {
                self.enqueue(a.header);
            }
        }
        self.cursor_waits.push_back((upto, waiting));
        Ok(())
    }

    fn on_sync<D: LocalDocs>(
        &mut self,
        doc: DocId,
        message: Option<Vec<u8>>,
        durable_heads: &[ChangeHash],
        docs: &mut D,
        out: &mut Vec<ClientEvent>,
    ) -> Result<(), SessionError> {
        let Some(mut ex) = self.active.remove(&doc) else {
            return Err(SessionError::Protocol(format!(
                "sync reply for {doc}, which is not in exchange"
            )));
        };
        let mut heads_now = None;
        if let Some(bytes) = message {
            let msg = sync::Message::decode(&bytes)
                .map_err(|e| SessionError::Protocol(format!("bad sync message for {doc}: {e}")))?;
            check_sync_message(&msg)
                .map_err(|e| SessionError::Protocol(format!("bad sync message for {doc}: {e}")))?;
            let (changed, heads) = docs
                .receive(&ex.header, &mut ex.state, msg)
                .map_err(store)?;
            if changed {
                out.push(ClientEvent::RemoteChange(doc.clone()));
            }
            heads_now = Some(heads);
        }
        if !durable_heads.is_empty() {
            docs.acked(&doc, durable_heads).map_err(store)?;
            out.push(ClientEvent::Acked(doc.clone()));
        }
        // The server keeps no per-device state, so once our heads equal the
        // heads it just told us, there is nothing left to tell it.
        let in_sync = heads_now.is_some() && ex.state.their_heads == heads_now;
        let next = if in_sync {
            None
        } else {
            docs.generate(&doc, &mut ex.state).map_err(store)?
        };
        match next {
            Some(m) => {
                out.push(ClientEvent::Send(ClientMsg::Sync {
                    header: ex.header.clone(),
                    message: m.encode(),
                }));
                self.active.insert(doc, ex);
            }
            None => {
                docs.finished(&doc, &ex.state).map_err(store)?;
                self.finish(&doc, ex.again.then_some(ex.header));
            }
        }
        Ok(())
    }

    fn on_reject<D: LocalDocs>(
        &mut self,
        doc: DocId,
        code: RejectCode,
        message: String,
        docs: &mut D,
        out: &mut Vec<ClientEvent>,
    ) -> Result<(), SessionError> {
        let Some(ex) = self.active.remove(&doc) else {
            return Err(SessionError::Protocol(format!(
                "reject for {doc}, which is not in exchange"
            )));
        };
        if code.is_retryable() {
            self.finish(&doc, Some(ex.header));
            return Ok(());
        }
        docs.rejected(&doc, code, &message).map_err(store)?;
        out.push(ClientEvent::Rejected {
            doc: doc.clone(),
            code,
            message,
        });
        self.finish(&doc, None);
        Ok(())
    }

    fn finish(&mut self, doc: &DocId, again: Option<DocHeader>) {
        self.queued.remove(doc);
        match again {
            Some(h) => self.enqueue(h),
            None => {
                for (_, set) in self.cursor_waits.iter_mut() {
                    set.remove(doc);
                }
            }
        }
    }

    fn pump<D: LocalDocs>(
        &mut self,
        docs: &mut D,
        out: &mut Vec<ClientEvent>,
    ) -> Result<(), SessionError> {
        if self.phase != Phase::Ready {
            return Ok(());
        }
        while self.active.len() < self.window {
            let Some(header) = self.queue.pop_front() else {
                break;
            };
            let saved = docs.saved_sync(&header.id).map_err(store)?;
            let mut state = saved.state.unwrap_or_default();
            if saved.has_local_changes {
                assume_server_has_shared_heads(&mut state);
            }
            match docs.generate(&header.id, &mut state).map_err(store)? {
                Some(m) => {
                    out.push(ClientEvent::Send(ClientMsg::Sync {
                        header: header.clone(),
                        message: m.encode(),
                    }));
                    self.active.insert(
                        header.id.clone(),
                        Exchange {
                            header,
                            state,
                            again: false,
                        },
                    );
                }
                None => {
                    let id = header.id.clone();
                    self.finish(&id, None);
                }
            }
        }
        Ok(())
    }

    fn advance_cursor(&mut self, out: &mut Vec<ClientEvent>) {
        let mut last = None;
        while let Some((upto, set)) = self.cursor_waits.front() {
            if !set.is_empty() {
                break;
            }
            last = Some(*upto);
            self.cursor_waits.pop_front();
        }
        if let Some(upto) = last {
            out.push(ClientEvent::Cursor(upto));
        }
    }
}

/// Lets the first message of an exchange carry our changes instead of waiting a
/// round trip for the server's bloom filter: we assume the server has exactly
/// what we last synced with it (nothing, for a document we created). If it has
/// more, automerge's protocol still converges; we only sent a few bytes extra.
fn assume_server_has_shared_heads(state: &mut sync::State) {
    let shared = state.shared_heads.clone();
    state.their_heads = Some(shared.clone());
    state.their_need = Some(Vec::new());
    state.their_have = Some(if shared.is_empty() {
        Vec::new()
    } else {
        vec![Have {
            last_sync: shared,
            bloom: BloomFilter::default(),
        }]
    });
    state.their_capabilities = Some(vec![Capability::MessageV2, Capability::SyncReset]);
}

fn store(e: impl std::fmt::Display) -> SessionError {
    SessionError::Store(e.to_string())
}

fn variant_name(m: &ServerMsg) -> &'static str {
    match m {
        ServerMsg::Welcome { .. } => "welcome",
        ServerMsg::Changed { .. } => "changed",
        ServerMsg::Sync { .. } => "sync",
        ServerMsg::Reject { .. } => "reject",
        ServerMsg::Error { .. } => "error",
    }
}

/// Limits the server applies to one incoming document sync message.
#[derive(Debug, Clone, Copy)]
pub struct DocLimits {
    /// Largest accepted automerge sync message, in bytes.
    pub max_message_bytes: usize,
    /// Largest accepted stored document, in bytes.
    pub max_document_bytes: usize,
}

/// The outcome of applying one client message on the server.
#[derive(Debug)]
pub struct Applied {
    /// Number of the client's changes the server did not have before.
    pub new_changes: usize,
    /// Every one of them is a schema migration step's change: nobody's edit.
    pub only_steps: bool,
    /// The new changes as one incremental chunk (empty when none), to store.
    pub incremental: Vec<u8>,
    /// The reply to send once `incremental` is durably stored.
    pub reply: Option<sync::Message>,
}

/// A rejected client message: a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

impl Rejection {
    fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

/// Applies one client sync message to the server's copy of a document and checks
/// every change it adds: each must come from an actor in `device_actors` or be
/// a schema migration step's change, and the document must stay under the
/// size limit. `stored_bytes` is the size the document already takes in
/// storage. A document that gains changes is brought to the current schema
/// version of `doc_type` ([`crate::model::migrate`]); the step changes are
/// stored and sent back with the client's.
///
/// The server keeps no sync state between messages: each message carries the
/// client's heads, needs and bloom filter, which is all a reply needs.
///
/// On `Err`, `doc` may hold the rejected changes: the caller must discard it.
pub fn apply_client_sync(
    doc: &mut Automerge,
    doc_type: crate::DocType,
    message: &[u8],
    device_actors: &HashSet<ActorId>,
    stored_bytes: usize,
    limits: DocLimits,
) -> Result<Applied, Rejection> {
    if message.len() > limits.max_message_bytes {
        return Err(Rejection::new(
            RejectCode::MessageTooLarge,
            format!(
                "sync message of {} bytes exceeds the limit of {} bytes",
                message.len(),
                limits.max_message_bytes
            ),
        ));
    }
    let msg = sync::Message::decode(message).map_err(|e| {
        Rejection::new(
            RejectCode::InvalidSyncMessage,
            format!("cannot decode sync message: {e}"),
        )
    })?;
    check_sync_message(&msg).map_err(|e| {
        Rejection::new(
            RejectCode::InvalidSyncMessage,
            format!("bad sync message: {e}"),
        )
    })?;
    let before = doc.get_heads();
    let mut state = sync::State::new();
    doc.receive_sync_message(&mut state, msg).map_err(|e| {
        Rejection::new(
            RejectCode::InvalidSyncMessage,
            format!("cannot apply changes: {e}"),
        )
    })?;
    let new = doc.get_changes(&before);
    let new_changes = new.len();
    let mut only_steps = true;
    for change in &new {
        let step = crate::model::migrate::is_step_change(&change.hash());
        only_steps &= step;
        if !step && !device_actors.contains(change.actor_id()) {
            return Err(Rejection::new(
                RejectCode::ForeignActor,
                format!(
                    "change {} was made by actor {}, which is not registered to this device",
                    change.hash(),
                    change.actor_id()
                ),
            ));
        }
    }
    drop(new);
    if new_changes > 0 {
        crate::model::migrate::upgrade(doc_type, doc).map_err(|e| {
            Rejection::new(
                RejectCode::InvalidSyncMessage,
                format!("cannot upgrade the document's schema: {e}"),
            )
        })?;
    }
    let incremental = if new_changes == 0 {
        Vec::new()
    } else {
        doc.save_after(&before)
    };
    if stored_bytes + incremental.len() > limits.max_document_bytes {
        return Err(Rejection::new(
            RejectCode::DocumentTooLarge,
            format!(
                "document would grow to {} bytes, over the limit of {} bytes",
                stored_bytes + incremental.len(),
                limits.max_document_bytes
            ),
        ));
    }
    let reply = doc.generate_sync_message(&mut state);
    Ok(Applied {
        new_changes,
        only_steps: new_changes > 0 && only_steps,
        incremental,
        reply,
    })
}

/// Most hash probes a bloom filter of a sync message may ask for (automerge
/// writes 7).
const MAX_BLOOM_PROBES: u64 = 64;

/// Refuses a decoded sync message that automerge would fail on instead of
/// answering: a bloom filter with entries but no bits (a division by zero)
/// or an absurd number of probes (an allocation of gigabytes). Found by the
/// fuzz harness `server_apply`.
pub fn check_sync_message(msg: &sync::Message) -> Result<(), String> {
    fn leb(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    for have in &msg.have {
        let encoded = have.bloom.to_bytes();
        if encoded.is_empty() {
            continue;
        }
        let mut r = &encoded[..];
        let (Some(_entries), Some(bits_per_entry), Some(probes)) =
            (leb(&mut r), leb(&mut r), leb(&mut r))
        else {
            return Err("a bloom filter does not parse".into());
        };
        if bits_per_entry == 0 || r.is_empty() {
            return Err("a bloom filter has entries but no bits".into());
        }
        if probes == 0 || probes > MAX_BLOOM_PROBES {
            return Err(format!(
                "a bloom filter asks for {probes} probes (at most {MAX_BLOOM_PROBES})"
            ));
        }
    }
    Ok(())
}

mod memory;
#[cfg(test)]
mod tests;

pub use memory::{MemDoc, MemDocs};
