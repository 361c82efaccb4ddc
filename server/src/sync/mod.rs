//! The sync WebSocket: handshake, per-document automerge sync with validation,
//! batched durable commits, and change announcements.
//!
//! # Invariants
//! - A `Sync` reply (the ack) is sent only after the transaction holding its
//!   changes committed.
//! - Every new change is checked (`fieldsync_proto::session::apply_client_sync`) against the device's
//!   registered actors and the size limits before it reaches the store; a
//!   rejected message stores nothing.
//! - The connection never buffers without bound: outgoing messages go through
//!   a bounded queue, and the reader waits when it is full.
//! - A commit costs no query per connection: the community's feed
//!   (`crate::feed`) reads what changed once, and each connection filters it
//!   by its reader's scope; only a connection that fell behind queries.

mod batch;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use automerge::ActorId;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use fieldsync_proto::model::Role;
use fieldsync_proto::model::scope::Reader;
use fieldsync_proto::wire::Announce;
use fieldsync_proto::{ClientMsg, DocHeader, DocId, ErrorCode, PROTOCOL_VERSION, ServerMsg};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tracing::Instrument;

use crate::auth::AuthFailure;
use crate::auth::{Claims, TokenError};
use crate::feed::{Entry, Item, PAGE, Page};
use crate::http::ApiError;
use crate::metrics::METRICS;
use crate::state::AppState;

/// Bytes the WebSocket reads at a time (the transport's default is 128 KiB
/// for each direction, which 10,000 idle devices would hold in vain).
const READ_BUFFER: usize = 4 << 10;

/// How far a device's cursor may trail the community before it is told of
/// the new position even with nothing in it to read: this bounds what its
/// next reconnect has to look through.
const CURSOR_LAG: i64 = 2_000;

/// Upgrades `GET /api/v1/sync` to a WebSocket; a request that is not a
/// WebSocket upgrade gets a JSON error like every other route.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync",
    description = "WebSocket upgrade. Binary CBOR frames of the sync protocol (`fieldsync_proto::wire`); the access token travels in the `Hello` frame.",
    params(
        ("Connection" = String, Header, description = "Includes `Upgrade`"),
        ("Upgrade" = String, Header, description = "`websocket`"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes, base64 (RFC 6455)")),
    responses(
        (status = 101, description = "Switching to the WebSocket sync protocol"),
        (status = 400, description = "Not a WebSocket upgrade: a header above is missing or wrong (`not_websocket`)", body = crate::http::ErrorBody),
        (status = 426, description = "The connection cannot be upgraded (`not_websocket`)", body = crate::http::ErrorBody)))]
pub async fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(app): State<AppState>,
) -> Result<Response, ApiError> {
    let ws = ws?;
    // The transport's own limit sits well above ours, so an oversized frame
    // reaches us and gets a clear `frame_too_large` instead of a dropped socket.
    let hard = app
        .config
        .limits
        .max_frame_bytes
        .saturating_mul(2)
        .max(1 << 20);
    Ok(ws
        .max_frame_size(hard)
        .max_message_size(hard)
        // An idle device costs what its socket holds: read in small steps
        // (a frame larger than that grows the buffer while it arrives), and
        // write each frame out as it is sent rather than gathering them.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let tasks = app.tasks.clone();
            tasks.track_future(run(socket, app))
        }))
}

/// A reason to end the connection, sent to the client as `ServerMsg::Error`.
#[derive(Debug)]
struct Fatal {
    code: ErrorCode,
    message: String,
}

impl Fatal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Fatal {
            code,
            message: message.into(),
        }
    }

    fn internal(err: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(incident = %id, error = %err, "sync connection failed");
        Fatal::new(
            ErrorCode::Internal,
            format!("internal error; incident {id}"),
        )
    }
}

impl From<crate::store::StoreError> for Fatal {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_storage_full() {
            // Nothing of the batch was committed and nothing was acked; the
            // device keeps its changes and retries (`internal` is retryable).
            tracing::error!(error = %e, "storage full: refusing writes until space returns");
            return Fatal::new(
                ErrorCode::Internal,
                "storage_full: the server's storage is full; nothing was stored, retry later",
            );
        }
        Fatal::internal(e)
    }
}

enum Outgoing {
    Msg(ServerMsg),
    Close,
}

async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(out) = rx.recv().await {
        let res = match out {
            Outgoing::Msg(m) => sink.send(Message::Binary(m.encode().into())).await,
            Outgoing::Close => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: 1000,
                        reason: "bye".into(),
                    })))
                    .await;
                break;
            }
        };
        if res.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn run(socket: WebSocket, app: AppState) {
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(app.config.limits.outbound_queue.max(1));
    let writer = tokio::spawn(write_loop(sink, rx));
    let result = Connection::handshake(&app, stream, tx.clone()).await;
    let fatal = match result {
        Ok(mut conn) => {
            METRICS.connections.inc();
            METRICS.connections_opened.inc();
            let span =
                tracing::info_span!("sync", device = %conn.claims.dev, user = %conn.claims.sub);
            let end = conn.serve().instrument(span).await.err();
            METRICS.connections.dec();
            end
        }
        Err(f) => Some(f),
    };
    if let Some(f) = fatal {
        crate::metrics::count(&METRICS.connection_errors, f.code);
        tracing::info!(code = ?f.code, message = %f.message, "closing sync connection");
        let _ = tx
            .send(Outgoing::Msg(ServerMsg::Error {
                code: f.code,
                message: f.message,
            }))
            .await;
    }
    let _ = tx.send(Outgoing::Close).await;
    drop(tx);
    // Give the writer a moment to flush the error and close frame.
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
}

/// One incoming frame, checked against the limits and decoded.
enum Incoming {
    Msg(ClientMsg),
    Closed,
}

fn check_frame(
    app: &AppState,
    frame: Option<Result<Message, axum::Error>>,
) -> Result<Option<Incoming>, Fatal> {
    let max = app.config.limits.max_frame_bytes;
    match frame {
        None | Some(Ok(Message::Close(_))) => Ok(Some(Incoming::Closed)),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(None),
        Some(Ok(Message::Text(_))) => Err(Fatal::new(
            ErrorCode::Malformed,
            "text frames are not part of the protocol; send binary CBOR",
        )),
        Some(Ok(Message::Binary(bytes))) => {
            if bytes.len() > max {
                return Err(Fatal::new(
                    ErrorCode::FrameTooLarge,
                    format!(
                        "frame of {} bytes exceeds the limit of {max} bytes",
                        bytes.len()
                    ),
                ));
            }
            ClientMsg::decode(&bytes)
                .map(|m| Some(Incoming::Msg(m)))
                .map_err(|e| Fatal::new(ErrorCode::Malformed, e.to_string()))
        }
        Some(Err(e)) => {
            let text = e.to_string();
            if text.contains("too long") || text.contains("Space limit") || text.contains("size") {
                Err(Fatal::new(
                    ErrorCode::FrameTooLarge,
                    format!("frame exceeds the limit of {max} bytes"),
                ))
            } else {
                tracing::debug!(error = %text, "sync transport error");
                Ok(Some(Incoming::Closed))
            }
        }
    }
}

/// An authenticated sync connection.
struct Connection {
    app: AppState,
    stream: SplitStream<WebSocket>,
    tx: mpsc::Sender<Outgoing>,
    claims: Claims,
    /// What the user may read.
    reader: Reader,
    actors: HashSet<ActorId>,
    /// Highest community sequence whose documents this device was told of
    /// (the ones it may read).
    sent_upto: i64,
    /// The last position sent in a `Changed`, which the device keeps as its
    /// cursor; it trails `sent_upto` while nothing readable changes.
    told_upto: i64,
    /// Documents this connection wrote, by the sequence of the write: the
    /// device already has them, so they are not announced back.
    own_writes: HashMap<DocId, i64>,
    feed: broadcast::Receiver<Item>,
    revoked: broadcast::Receiver<String>,
}

impl Connection {
    async fn handshake(
        app: &AppState,
        mut stream: SplitStream<WebSocket>,
        tx: mpsc::Sender<Outgoing>,
    ) -> Result<Connection, Fatal> {
        let timeout = Duration::from_secs(app.config.limits.handshake_timeout_secs);
        let first = loop {
            let frame = tokio::time::timeout(timeout, stream.next())
                .await
                .map_err(|_| {
                    Fatal::new(
                        ErrorCode::HandshakeRequired,
                        "no hello within the handshake timeout",
                    )
                })?;
            match check_frame(app, frame)? {
                None => continue,
                Some(Incoming::Closed) => {
                    return Err(Fatal::new(
                        ErrorCode::HandshakeRequired,
                        "closed before hello",
                    ));
                }
                Some(Incoming::Msg(m)) => break m,
            }
        };
        let ClientMsg::Hello {
            protocol_version,
            device_id,
            token,
            cursor,
        } = first
        else {
            return Err(Fatal::new(
                ErrorCode::HandshakeRequired,
                "the first message must be hello",
            ));
        };
        if protocol_version != PROTOCOL_VERSION {
            return Err(Fatal::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "protocol version {protocol_version} is not supported; this server speaks {PROTOCOL_VERSION}"
                ),
            ));
        }
        let claims = app.authenticate(&token).await.map_err(|e| match e {
            AuthFailure::Token(TokenError::Missing) => {
                Fatal::new(ErrorCode::Unauthenticated, "missing access token")
            }
            AuthFailure::Token(TokenError::Expired) => {
                Fatal::new(ErrorCode::TokenExpired, "access token expired; refresh it")
            }
            AuthFailure::Token(TokenError::Invalid) => {
                Fatal::new(ErrorCode::Unauthenticated, "invalid access token")
            }
            AuthFailure::Superseded => {
                Fatal::new(ErrorCode::Unauthenticated, "access token was revoked")
            }
            AuthFailure::Revoked => {
                Fatal::new(ErrorCode::DeviceRevoked, "this device has been revoked")
            }
            AuthFailure::Store(e) => Fatal::internal(e),
        })?;
        if claims.dev != device_id {
            return Err(Fatal::new(
                ErrorCode::DeviceMismatch,
                "the token was issued to another device",
            ));
        }
        let actors = app
            .store
            .device_actors(&device_id)
            .await?
            .iter()
            .filter_map(|hex_id| hex::decode(hex_id).ok().map(ActorId::from))
            .collect();
        let role = Role::parse(&claims.role)
            .ok_or_else(|| Fatal::new(ErrorCode::Unauthenticated, "unknown role in token"))?;
        let reader = app.store.reader(&claims.sub, role).await?;
        let revoked = app.revocations.subscribe();
        let feed = app.commits.feeds().subscribe(&claims.com);
        let server_cursor = app.store.community_seq(&claims.com).await?;
        // A cursor from the future belongs to another server's history: start over.
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        let sent_upto = if cursor > server_cursor { 0 } else { cursor };
        let conn = Connection {
            app: app.clone(),
            stream,
            tx,
            claims,
            reader,
            actors,
            sent_upto,
            told_upto: sent_upto,
            own_writes: HashMap::new(),
            feed,
            revoked,
        };
        conn.send(ServerMsg::Welcome {
            protocol_version: PROTOCOL_VERSION,
            user_id: conn.claims.sub.clone(),
            community_id: conn.claims.com.clone(),
            server_cursor: server_cursor as u64,
        })
        .await?;
        tracing::info!(device = %conn.claims.dev, cursor, "sync connection open");
        Ok(conn)
    }

    async fn send(&self, msg: ServerMsg) -> Result<(), Fatal> {
        self.tx
            .send(Outgoing::Msg(msg))
            .await
            .map_err(|_| Fatal::new(ErrorCode::Internal, "connection writer stopped"))
    }

    async fn serve(&mut self) -> Result<(), Fatal> {
        self.announce(true).await?;
        let shutdown = self.app.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    return Err(Fatal::new(ErrorCode::ShuttingDown, "server is shutting down; reconnect later"));
                }
                r = self.revoked.recv() => match r {
                    Ok(dev) if dev == self.claims.dev => return Err(revoked()),
                    Err(broadcast::error::RecvError::Lagged(_)) if self.app.revocations.is_revoked(&self.claims.dev) => {
                        return Err(revoked());
                    }
                    _ => {}
                },
                frame = self.stream.next() => {
                    let mut batch = Vec::new();
                    let mut closed = self.take_frame(frame, &mut batch)?;
                    while !closed && batch.len() < self.app.config.limits.batch_messages {
                        match self.stream.next().now_or_never() {
                            Some(frame) => closed = self.take_frame(frame, &mut batch)?,
                            None => break,
                        }
                    }
                    if !batch.is_empty() {
                        self.process(batch).await?;
                    }
                    if closed {
                        return Ok(());
                    }
                }
                item = self.feed.recv() => match item {
                    Ok(Item::Page(page)) => self.on_page(&page).await?,
                    Ok(Item::Readers(users)) => {
                        if users.contains(&self.claims.sub) {
                            self.reload_reader().await?;
                        }
                    }
                    // Fell behind the feed: catch up with a query of our
                    // own, and reread the scope in case a notice was missed.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        METRICS.feed_lagged.inc();
                        self.reload_reader().await?;
                        self.announce(false).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(Fatal::new(ErrorCode::ShuttingDown, "server is shutting down; reconnect later"));
                    }
                },
            }
        }
    }

    /// Checks one frame and adds its sync message to `batch`; true when the
    /// client closed.
    fn take_frame(
        &self,
        frame: Option<Result<Message, axum::Error>>,
        batch: &mut Vec<(DocHeader, Vec<u8>)>,
    ) -> Result<bool, Fatal> {
        if self.app.revocations.is_revoked(&self.claims.dev) {
            return Err(revoked());
        }
        match check_frame(&self.app, frame)? {
            None => Ok(false),
            Some(Incoming::Closed) => Ok(true),
            Some(Incoming::Msg(ClientMsg::Hello { .. })) => Err(Fatal::new(
                ErrorCode::HandshakeRequired,
                "hello may only be sent once",
            )),
            Some(Incoming::Msg(ClientMsg::Sync { header, message })) => {
                batch.push((header, message));
                Ok(false)
            }
        }
    }

    /// Processes sync messages, at most one per document per transaction.
    async fn process(&mut self, batch: Vec<(DocHeader, Vec<u8>)>) -> Result<(), Fatal> {
        let mut part = Vec::new();
        let mut seen = HashSet::new();
        for item in batch {
            if !seen.insert(item.0.id.clone()) {
                self.process_part(std::mem::take(&mut part)).await?;
                seen.clear();
                seen.insert(item.0.id.clone());
            }
            part.push(item);
        }
        self.process_part(part).await
    }

    async fn process_part(&mut self, part: Vec<(DocHeader, Vec<u8>)>) -> Result<(), Fatal> {
        if part.is_empty() {
            return Ok(());
        }
        let span = tracing::debug_span!("sync_batch", messages = part.len());
        let replies =
            batch::apply_and_commit(&self.app, &self.claims, &self.reader, &self.actors, part)
                .instrument(span)
                .await?;
        for r in replies {
            if let batch::Reply::Synced {
                seq: Some(seq),
                ref doc,
                ..
            } = r
            {
                self.own_writes.insert(doc.clone(), seq);
                METRICS.acks.inc();
            }
            self.send(r.into_message()).await?;
        }
        Ok(())
    }

    /// Sends the documents changed since `sent_upto`, in pages. The first call
    /// after the handshake always sends at least one page, and the last page
    /// always says `caught_up`, so the device learns when it is.
    async fn announce(&mut self, first: bool) -> Result<(), Fatal> {
        let mut must_send = first;
        loop {
            let rows = self
                .app
                .store
                .changed_since(&self.claims.com, self.sent_upto, PAGE)
                .await?;
            crate::metrics::METRICS.catch_up_queries.inc();
            let full = rows.len() as i64 == PAGE;
            let Some(upto) = rows.last().map(|r| r.seq) else {
                if must_send {
                    self.tell(Vec::new(), true).await?;
                }
                return Ok(());
            };
            let docs = crate::feed::entries(rows)
                .iter()
                .filter(|e| self.wants(e))
                .map(|e| e.announce.clone())
                .collect();
            self.sent_upto = upto;
            self.own_writes.retain(|_, seq| *seq > upto);
            self.tell(docs, !full).await?;
            // After a full page the device waits for a page that says caught
            // up, even an empty one.
            must_send = full;
            if !full {
                return Ok(());
            }
        }
    }
}

impl Connection {
    /// Whether the device is to hear of `entry`: it may read it, and did not
    /// write this version of it itself.
    fn wants(&self, entry: &Entry) -> bool {
        let seq = entry.announce.seq as i64;
        self.own_writes.get(&entry.announce.header.id) != Some(&seq)
            && entry.readable_by(&self.reader)
    }

    /// Sends `docs` with the position `sent_upto`, which becomes the
    /// device's cursor once it has them.
    async fn tell(&mut self, docs: Vec<Announce>, caught_up: bool) -> Result<(), Fatal> {
        self.told_upto = self.sent_upto;
        self.send(ServerMsg::Changed {
            docs,
            upto: self.sent_upto as u64,
            caught_up,
        })
        .await
    }

    /// A page of the community's feed: the documents of it this device may
    /// read, and nothing at all when there are none and its cursor is not
    /// too far behind. A page past this connection's position (it had not
    /// caught up when the page was read) makes it catch up by query.
    async fn on_page(&mut self, page: &Page) -> Result<(), Fatal> {
        if page.upto <= self.sent_upto {
            return Ok(());
        }
        if page.after > self.sent_upto {
            self.announce(false).await?;
            // The query ran after the page was read, so it saw all of it.
            self.sent_upto = self.sent_upto.max(page.upto);
            return Ok(());
        }
        let docs: Vec<Announce> = page
            .entries
            .iter()
            .filter(|e| e.announce.seq as i64 > self.sent_upto && self.wants(e))
            .map(|e| e.announce.clone())
            .collect();
        self.sent_upto = page.upto;
        self.own_writes.retain(|_, seq| *seq > page.upto);
        if docs.is_empty() && page.upto - self.told_upto < CURSOR_LAG {
            return Ok(());
        }
        let caught_up = (page.entries.len() as i64) < PAGE;
        self.tell(docs, caught_up).await
    }

    /// Rereads what the user may read (their team or grids moved). Documents
    /// they may read now and could not before, committed before this
    /// connection's position, are announced; the rest reach them as they
    /// change.
    async fn reload_reader(&mut self) -> Result<(), Fatal> {
        let reader = self
            .app
            .store
            .reader(&self.claims.sub, self.reader.role)
            .await?;
        if reader == self.reader {
            return Ok(());
        }
        tracing::info!(device = %self.claims.dev, "read scope changed on a live connection");
        let old = std::mem::replace(&mut self.reader, reader);
        let mut after = 0;
        while after < self.sent_upto {
            let rows = self
                .app
                .store
                .changed_since(&self.claims.com, after, PAGE)
                .await?;
            crate::metrics::METRICS.catch_up_queries.inc();
            let full = rows.len() as i64 == PAGE;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            let docs: Vec<Announce> = crate::feed::entries(rows)
                .into_iter()
                .filter(|e| {
                    e.announce.seq as i64 <= self.sent_upto
                        && e.readable_by(&self.reader)
                        && !e.readable_by(&old)
                })
                .map(|e| e.announce)
                .collect();
            if !docs.is_empty() {
                self.send(ServerMsg::Changed {
                    docs,
                    upto: self.told_upto as u64,
                    caught_up: true,
                })
                .await?;
            }
            if !full {
                break;
            }
            after = last;
        }
        Ok(())
    }
}

fn revoked() -> Fatal {
    Fatal::new(ErrorCode::DeviceRevoked, "this device has been revoked")
}
