//! Drives a [`ClientSession`] over the WebSocket: one-shot (`sync_now`) or as
//! a background loop with exponential backoff and jitter.
//!
//! A session is two halves: an async pump that moves frames from the socket
//! to the applier and the applier's messages to the socket, and the applier,
//! one blocking thread for the session's life, which owns the session's
//! state and applies frames to the store. Neither waits for the other while
//! there is work: the socket is read while frames are applied.
//!
//! # Invariants
//! - Store work never runs on a runtime worker: frames and local changes are
//!   applied on the session's blocking thread.
//! - One write transaction holds the writer for at most
//!   [`TRANSACTION_BUDGET`] (plus the frame in hand), so an app's edit waits
//!   at most that long during a large pull; the app's reads do not wait at
//!   all (they use the read connection).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_proto::session::{ClientEvent, ClientSession, SessionError};
use fieldsync_proto::{ClientMsg, DocHeader, ErrorCode, ServerMsg};
use futures_util::{FutureExt, SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::error::{Error, Result};
use crate::store::{LocalStore, Reads};
use crate::transport;
use crate::{Inner, SyncEvent, keys};

/// Largest frame the SDK accepts from the server.
const MAX_FRAME: usize = 64 << 20;
/// Most frames taken off the socket at once (bounds what one batch holds
/// in memory).
const FRAMES_PER_BATCH: usize = 256;
/// How long one local transaction may keep applying frames before it
/// commits and lets the writer go. The app's edits (a check-in during a
/// big pull) take the same writer, so this is how long they can wait;
/// committing more often costs little (WAL with `synchronous=NORMAL` does not
/// sync the disk on commit), and each frame is applied whole, so the
/// invariants hold at every commit: acks delete outbox entries only for what
/// the server holds, and the cursor moves only when the session says so.
const TRANSACTION_BUDGET: Duration = Duration::from_millis(50);

/// Where syncing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    /// Not connected.
    Offline,
    /// Connected and exchanging changes.
    Syncing,
    /// Connected (or just finished) with nothing left to exchange.
    UpToDate,
    /// The last attempt failed. `retryable` errors are retried by the loop;
    /// permanent ones (revoked device, login needed) stop it.
    Error { message: String, retryable: bool },
}

/// What one sync session did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Documents whose changes the server acknowledged as durably stored.
    pub acked_docs: usize,
    /// Documents that received remote changes.
    pub pulled_docs: usize,
    /// Change sets the server rejected (quarantined).
    pub rejected: usize,
    /// The cursor after the session.
    pub cursor: u64,
    /// The server was behind this device (restored from an older backup):
    /// every local document was exchanged again.
    pub resynced_all: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// One session until up to date.
pub(crate) async fn sync_once(inner: &Arc<Inner>) -> Result<SyncReport> {
    let _guard = inner.sync_lock.lock().await;
    inner.emit(SyncEvent::Status(SyncStatus::Syncing));
    let result = run_session(inner, false).await;
    inner.emit(SyncEvent::Status(match &result {
        Ok(_) => SyncStatus::UpToDate,
        Err(e) => status_for(e),
    }));
    result
}

fn status_for(e: &Error) -> SyncStatus {
    match e {
        Error::Offline(_) => SyncStatus::Offline,
        other => SyncStatus::Error {
            message: other.to_string(),
            retryable: other.is_retryable(),
        },
    }
}

/// The background loop: keep a live session, reconnect with backoff.
pub(crate) async fn run_loop(inner: Arc<Inner>) {
    let mut attempt: u32 = 0;
    loop {
        let started = Instant::now();
        let result = {
            let _guard = inner.sync_lock.lock().await;
            inner.emit(SyncEvent::Status(SyncStatus::Syncing));
            run_session(&inner, true).await
        };
        match result {
            Ok(_) => inner.emit(SyncEvent::Status(SyncStatus::Offline)),
            Err(e) => {
                tracing::info!(error = %e, "sync session ended");
                if !e.is_retryable() {
                    // Kept before the status goes out, so `sync_now` finds it.
                    *inner.loop_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                    inner.emit(SyncEvent::Status(status_for(&e)));
                    return;
                }
                inner.emit(SyncEvent::Status(status_for(&e)));
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            attempt = 0;
        }
        tokio::time::sleep(backoff(attempt)).await;
        attempt = attempt.saturating_add(1);
    }
}

/// Exponential backoff from 0.5 s to 60 s with "equal jitter".
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(500)
        .saturating_mul(1 << attempt.min(7))
        .min(Duration::from_secs(60));
    let half = cap / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

async fn run_session(inner: &Arc<Inner>, live: bool) -> Result<SyncReport> {
    let token = access_token(inner, false).await?;
    match session(inner, &token, live).await {
        Err(Error::Server {
            code: ErrorCode::TokenExpired,
            ..
        }) => {
            let token = access_token(inner, true).await?;
            session(inner, &token, live).await
        }
        other => other,
    }
}

/// A valid access token, refreshed when it expires within a minute (or when
/// `force`d).
pub(crate) async fn access_token(inner: &Arc<Inner>, force: bool) -> Result<String> {
    let (access, exp, refresh) = inner
        .on_reader(|store| {
            Ok((
                store.meta(keys::ACCESS)?,
                store
                    .meta(keys::ACCESS_EXP)?
                    .and_then(|e| e.parse::<i64>().ok())
                    .unwrap_or(0),
                store.meta(keys::REFRESH)?,
            ))
        })
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    match (access, refresh) {
        (Some(a), _) if !force && exp > now + 60 => Ok(a),
        (_, Some(r)) => {
            let resp = crate::post_tokens(
                inner,
                "/api/v1/auth/refresh",
                &serde_json::json!({ "refresh_token": r }),
            )
            .await?;
            inner
                .on_writer(move |_, store| {
                    crate::store_tokens(store, &resp)?;
                    Ok(resp.access_token)
                })
                .await
        }
        _ => Err(Error::NotLoggedIn),
    }
}

fn session_error(e: SessionError) -> Error {
    match e {
        SessionError::Protocol(m) => Error::Protocol(m),
        SessionError::Store(m) => Error::Store(m),
    }
}

/// What handling a batch of frames asks the driver to do.
#[derive(Default)]
struct Outcome {
    send: Vec<ClientMsg>,
    events: Vec<SyncEvent>,
    failed: Option<Error>,
    closed: bool,
    idle: bool,
    /// Photos became due: wake the uploader once this is committed (it
    /// reads the queue on the read connection).
    wake_uploader: bool,
}

impl Outcome {
    /// Adds what a later part of the same batch asks for.
    fn absorb(&mut self, later: Outcome) {
        self.send.extend(later.send);
        self.events.extend(later.events);
        self.failed = self.failed.take().or(later.failed);
        self.closed |= later.closed;
        self.idle |= later.idle;
        self.wake_uploader |= later.wake_uploader;
    }
}

/// A sync session's state: the applier owns it for the session's life and
/// hands it back at the end.
struct Progress {
    session: ClientSession,
    report: SyncReport,
}

fn apply_events(
    events: Vec<ClientEvent>,
    store: &mut LocalStore,
    session: &mut ClientSession,
    out: &mut Outcome,
    report: &mut SyncReport,
    inner: &Inner,
) -> Result<()> {
    let mut changed = Vec::new();
    for ev in events {
        match ev {
            ClientEvent::Send(m) => out.send.push(m),
            ClientEvent::Welcome { server_behind, .. } => {
                // The server is reachable again: photos waiting out a retry
                // delay go now.
                store.photos_due_now()?;
                out.wake_uploader = true;
                inner
                    .local_changes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                // Everything in the outbox, including edits made while
                // offline, and the documents in recovery. When the server
                // lost changes it had acknowledged (restored from an older
                // backup), every document goes into recovery, so the server
                // gets back from this device what it lost.
                let mut headers = if server_behind {
                    tracing::warn!(
                        "the server is behind this device's cursor: every document goes into recovery"
                    );
                    report.resynced_all = true;
                    store.start_recovery()?
                } else {
                    store.recovering()?
                };
                headers.extend(store.unsynced()?);
                for header in headers {
                    let evs = session.local_change(header, store).map_err(session_error)?;
                    apply_events(evs, store, session, out, report, inner)?;
                }
            }
            ClientEvent::RemoteChange(id) => {
                report.pulled_docs += 1;
                changed.push(id);
            }
            ClientEvent::Acked(_) => report.acked_docs += 1,
            ClientEvent::Rejected { doc, code, message } => {
                report.rejected += 1;
                out.events.push(SyncEvent::Rejected { doc, code, message });
            }
            ClientEvent::Cursor(c) => {
                store.set_meta(keys::CURSOR, &c.to_string())?;
                report.cursor = c;
            }
            ClientEvent::Idle => out.idle = true,
            ClientEvent::Failed { code, message } => {
                out.failed = Some(Error::Server { code, message })
            }
        }
    }
    if !changed.is_empty() {
        out.events.push(SyncEvent::DocumentsChanged(changed));
    }
    Ok(())
}

type Frame = Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>;

/// Applies frames from the front of `frames` in one transaction until none
/// is left or the budget is spent. A closed or failed connection drops the
/// frames after it, as nothing may follow.
fn apply_frames(
    inner: &Inner,
    store: &mut LocalStore,
    progress: &mut Progress,
    frames: &mut VecDeque<Frame>,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut out = Outcome::default();
    let Progress { session, report } = progress;
    store.transaction(|store| {
        while let Some(frame) = frames.pop_front() {
            match frame {
                None | Some(Ok(Message::Close(_))) => {
                    out.closed = true;
                    frames.clear();
                }
                Some(Err(e)) => {
                    out.failed = Some(Error::Offline(format!("connection lost: {e}")));
                    frames.clear();
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let msg =
                        ServerMsg::decode(&bytes).map_err(|e| Error::Protocol(e.to_string()))?;
                    tracing::trace!(kind = msg.kind(), len = bytes.len(), "receive");
                    let events = session.receive(msg, store).map_err(session_error)?;
                    apply_events(events, store, session, &mut out, report, inner)?;
                }
                Some(Ok(_)) => {}
            }
            if started.elapsed() >= TRANSACTION_BUDGET {
                break;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Queues the documents edited locally since the last look.
fn local_changes(
    inner: &Inner,
    store: &mut LocalStore,
    progress: &mut Progress,
) -> Result<Outcome> {
    let headers: Vec<DocHeader> = std::mem::take(
        &mut *inner
            .local_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    let mut out = Outcome::default();
    let Progress { session, report } = progress;
    for h in headers {
        let events = session.local_change(h, store).map_err(session_error)?;
        apply_events(events, store, session, &mut out, report, inner)?;
    }
    Ok(out)
}

async fn send_all<S>(ws: &mut S, msgs: Vec<ClientMsg>) -> Result<()>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    for m in msgs {
        let bytes = m.encode();
        tracing::trace!(kind = m.kind(), len = bytes.len(), "send");
        ws.feed(Message::Binary(bytes.into()))
            .await
            .map_err(|e| Error::Offline(format!("send failed: {e}")))?;
    }
    ws.flush()
        .await
        .map_err(|e| Error::Offline(format!("send failed: {e}")))
}

/// What the pump hands the applier.
enum Input {
    /// Frames read off the socket together, in order.
    Frames(VecDeque<Frame>),
    /// The app edited documents.
    LocalChanges,
}

/// Batches the pump may queue for the applier before it stops reading the
/// socket (backpressure reaches the server through TCP).
const INPUT_QUEUE: usize = 4;
/// Message batches the applier may queue for the socket.
const OUTPUT_QUEUE: usize = 16;

async fn session(inner: &Arc<Inner>, token: &str, live: bool) -> Result<SyncReport> {
    let before = inner.stats.snapshot();
    let mut ws = transport::connect(&inner.server_url, inner.stats.clone(), MAX_FRAME).await?;
    let (device_id, cursor) = inner
        .on_reader(|store| {
            Ok((
                store.meta(keys::DEVICE_ID)?.ok_or(Error::NotLoggedIn)?,
                crate::cursor(store)?,
            ))
        })
        .await?;
    let (session, hello) = ClientSession::start(&device_id, token, cursor);
    send_all(&mut ws, vec![hello]).await?;
    let progress = Progress {
        session,
        report: SyncReport {
            cursor,
            ..Default::default()
        },
    };
    let (mut sink, mut stream) = ws.split();
    let (input, input_rx) = mpsc::channel::<Input>(INPUT_QUEUE);
    let (output_tx, mut output) = mpsc::channel::<Vec<ClientMsg>>(OUTPUT_QUEUE);
    let applier = {
        let inner = inner.clone();
        tokio::task::spawn_blocking(move || {
            apply_session(&inner, progress, input_rx, output_tx, live)
        })
    };

    // The pump. It always drains the applier's messages, so neither side can
    // wait on the other forever.
    let mut pending: Option<Input> = None;
    let mut reading = true;
    let pumped: Result<()> = loop {
        tokio::select! {
            msgs = output.recv() => match msgs {
                Some(msgs) => {
                    if let Err(e) = send_all(&mut sink, msgs).await {
                        break Err(e);
                    }
                }
                // The applier is done; its result says why.
                None => break Ok(()),
            },
            permit = input.reserve(), if pending.is_some() => match permit {
                Ok(permit) => permit.send(pending.take().expect("checked by the guard")),
                Err(_) => break Ok(()),
            },
            frame = stream.next(), if pending.is_none() && reading => {
                let mut frames = VecDeque::from([frame]);
                while frames.len() < FRAMES_PER_BATCH {
                    match stream.next().now_or_never() {
                        Some(f) => frames.push_back(f),
                        None => break,
                    }
                }
                // Nothing follows the end of the connection.
                reading = !frames
                    .iter()
                    .any(|f| matches!(f, None | Some(Err(_)) | Some(Ok(Message::Close(_)))));
                pending = Some(Input::Frames(frames));
            }
            _ = inner.local_notify.notified(), if live && pending.is_none() => {
                pending = Some(Input::LocalChanges);
            }
        }
    };
    drop(input);
    let (progress, applied) = match applier.await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            return Err(Error::Store(format!(
                "the sync session's store work stopped: {e}"
            )));
        }
    };
    let _ = sink.close().await;
    applied?;
    pumped?;
    let after = inner.stats.snapshot();
    let mut report = progress.report;
    report.bytes_sent = after.bytes_sent - before.bytes_sent;
    report.bytes_received = after.bytes_received - before.bytes_received;
    Ok(report)
}

/// The applier: applies what the pump hands it until the session is done
/// (up to date, when not `live`), fails, or the pump stops. Runs on a
/// blocking thread; holds the store's writer one transaction at a time, so
/// the app's edits get in between.
fn apply_session(
    inner: &Arc<Inner>,
    mut progress: Progress,
    mut input: mpsc::Receiver<Input>,
    output: mpsc::Sender<Vec<ClientMsg>>,
    live: bool,
) -> (Progress, Result<()>) {
    let result = (|| loop {
        let Some(first) = input.blocking_recv() else {
            return Ok(());
        };
        // What queued up meanwhile joins this batch: fewer, larger
        // transactions when the store is the slower side.
        let (mut frames, mut local) = (VecDeque::new(), false);
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Input::Frames(more) => frames.extend(more),
                Input::LocalChanges => local = true,
            }
            if frames.len() < FRAMES_PER_BATCH * INPUT_QUEUE {
                next = input.try_recv().ok();
            }
        }
        let mut out = Outcome::default();
        while !frames.is_empty() {
            out.absorb(apply_frames(
                inner,
                &mut inner.store(),
                &mut progress,
                &mut frames,
            )?);
        }
        if local {
            out.absorb(local_changes(inner, &mut inner.store(), &mut progress)?);
        }
        if !out.send.is_empty() && output.blocking_send(out.send).is_err() {
            return Ok(());
        }
        if out.wake_uploader {
            inner.photo_notify.notify_one();
        }
        for e in out.events {
            inner.emit(e);
        }
        if let Some(e) = out.failed {
            return Err(e);
        }
        if out.closed {
            return Err(Error::Offline("server closed the connection".into()));
        }
        if out.idle {
            inner.emit(SyncEvent::Status(SyncStatus::UpToDate));
            if !live {
                return Ok(());
            }
        } else if progress.session.pending() > 0 {
            inner.emit(SyncEvent::Status(SyncStatus::Syncing));
        }
    })();
    (progress, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let cap = Duration::from_millis(500)
                .saturating_mul(1 << attempt.min(7))
                .min(Duration::from_secs(60));
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(20) <= Duration::from_secs(60));
    }
}
