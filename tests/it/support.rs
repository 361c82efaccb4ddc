//! Test support: servers in-process and as child processes, fresh PostgreSQL
//! databases, SDK devices, and a raw protocol client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use automerge::Automerge;
use automerge::sync::SyncDoc;
use fieldsync_proto::{ClientMsg, PROTOCOL_VERSION, ServerMsg};
use fieldsync_sdk::Client;
use fieldsync_server::state::AppState;
use fieldsync_server::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use sqlx::Connection;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "fieldsync-demo";
pub const JWT_SECRET: &str = "e2e-test-secret";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::support::Backend::Postgres).await
            }
        }
    };
}

pub fn admin_url() -> String {
    std::env::var("FIELDSYNC_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database, dropped by [`PgDb::drop_db`].
pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
    pub async fn create() -> PgDb {
        let name = format!("fieldsync_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for these tests: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        PgDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop_db(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Storage for one test: a temp dir, plus a fresh database on PostgreSQL.
pub struct TestStorage {
    pub dir: tempfile::TempDir,
    pub pg: Option<PgDb>,
}

impl TestStorage {
    pub async fn new(backend: Backend) -> TestStorage {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDb::create().await),
        };
        TestStorage {
            dir: tempfile::tempdir().unwrap(),
            pg,
        }
    }

    pub fn database_url(&self) -> Option<String> {
        self.pg.as_ref().map(|p| p.url.clone())
    }

    pub async fn cleanup(self) {
        if let Some(pg) = self.pg {
            pg.drop_db().await;
        }
    }
}

/// A server running in this process on 127.0.0.1:0.
pub struct TestServer {
    pub url: String,
    pub state: AppState,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    storage: TestStorage,
    config: Config,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let storage = TestStorage::new(backend).await;
        let mut config = Config {
            data_dir: storage.dir.path().join("server"),
            database_url: storage.database_url(),
            jwt_secret: Some(JWT_SECRET.into()),
            demo_documents: false,
            ..Config::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::launch(config, listener, storage).await
    }

    async fn launch(
        config: Config,
        listener: tokio::net::TcpListener,
        storage: TestStorage,
    ) -> TestServer {
        let server = Server::start(config.clone()).await.expect("server starts");
        let state = server.state().clone();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(server.serve(listener, shutdown.clone()));
        TestServer {
            url,
            state,
            shutdown,
            handle,
            storage,
            config,
        }
    }

    /// Shuts the server down gracefully and starts it again on the same
    /// address, data dir and database.
    pub async fn restart(self) -> TestServer {
        let addr = self.url.trim_start_matches("http://").to_owned();
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task ends")
            .expect("the server stops cleanly");
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .expect("the server's address is free again");
        Self::launch(self.config, listener, self.storage).await
    }

    /// Shuts the server down gracefully and starts it again on the same
    /// address with another data dir (a restored backup).
    pub async fn restart_on(mut self, data_dir: std::path::PathBuf) -> TestServer {
        self.config.data_dir = data_dir;
        self.restart().await
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
        self.storage.cleanup().await;
    }

    /// Whether the server stored a document of the demo community.
    pub async fn has_doc(&self, id: &fieldsync_sdk::DocId) -> bool {
        self.state
            .store
            .load_doc("demo", id)
            .await
            .unwrap()
            .is_some()
    }

    /// A document of the demo community as the server stored it.
    pub async fn stored_doc(&self, id: &fieldsync_sdk::DocId) -> automerge::Automerge {
        let stored = self
            .state
            .store
            .load_doc("demo", id)
            .await
            .unwrap()
            .expect("stored");
        automerge::Automerge::load(&stored.chunks.concat()).unwrap()
    }

    /// The server's data directory (its SQLite file lives here).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.config.data_dir.clone()
    }

    /// The PostgreSQL database of this server, if it runs on one.
    pub fn database_url(&self) -> Option<String> {
        self.storage.database_url()
    }

    /// Runs one SQL statement with `$1` bound to `arg` on the server's
    /// database, behind the server's back (what a bad restore or a disk
    /// error would do); returns the rows it changed.
    pub async fn execute_sql(&self, sql: &'static str, arg: &str) -> u64 {
        use sqlx::Connection;
        // The same statement on either backend's connection type.
        macro_rules! run {
            ($conn:expr) => {
                sqlx::query(sql)
                    .bind(arg)
                    .execute(&mut $conn.unwrap())
                    .await
                    .unwrap()
                    .rows_affected()
            };
        }
        match self.database_url() {
            Some(url) => run!(sqlx::PgConnection::connect(&url).await),
            None => {
                let path = self.data_dir().join("fieldsync.db");
                run!(sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await)
            }
        }
    }

    /// A phone app's client through the FFI surface (own data dir), logged in.
    pub async fn ffi_phone(
        &self,
        username: &str,
    ) -> (
        std::sync::Arc<fieldsync_ffi::FieldsyncClient>,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let phone = fieldsync_ffi::FieldsyncClient::open(
            dir.path().to_string_lossy().into_owned(),
            self.url.clone(),
        )
        .unwrap();
        phone.login(username.into(), PASSWORD.into()).await.unwrap();
        (phone, dir)
    }

    /// A new device (own data dir) logged in as `username`.
    pub async fn device(&self, username: &str) -> Device {
        Device::login(&self.url, username).await
    }
}

/// An SDK client with its own data dir.
pub struct Device {
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl Device {
    pub async fn login(url: &str, username: &str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::open(dir.path(), url).unwrap();
        client.login(username, PASSWORD).await.expect("demo login");
        Device {
            client,
            dir,
            url: url.to_owned(),
        }
    }

    /// Drops the client (as if the app were killed) and opens the same data dir again.
    pub fn reopen(&mut self) {
        let placeholder = Client::open(tempfile::tempdir().unwrap().path(), &self.url).unwrap();
        drop(std::mem::replace(&mut self.client, placeholder));
        self.client = Client::open(self.dir.path(), &self.url).unwrap();
    }
}

/// The `fieldsync` binary running as a child process, so it can be killed -9.
pub struct ChildServer {
    pub url: String,
    child: Child,
}

impl ChildServer {
    /// The server on `listen`, with the demo's people and places but not
    /// its documents.
    pub fn spawn(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        listen: &str,
    ) -> ChildServer {
        let mut args = vec!["--listen", listen, "--no-demo-documents"];
        if let Some(url) = database_url {
            args.extend(["--database-url", url]);
        }
        ChildServer::spawn_with(data_dir, &args)
    }

    /// `fieldsync serve --data-dir <data_dir> <args>`.
    pub fn spawn_with(data_dir: &std::path::Path, args: &[&str]) -> ChildServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldsync-test-server"));
        cmd.arg("serve").arg("--data-dir").arg(data_dir).args(args);
        cmd.env("FIELDSYNC_JWT_SECRET", JWT_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn the server binary");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("server printed its address").unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ChildServer { url, child }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw protocol client, for feeding the server bad input.
pub struct RawClient {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl RawClient {
    pub async fn connect(url: &str) -> RawClient {
        let ws_url = format!("{}/api/v1/sync", url.replacen("http://", "ws://", 1));
        let (ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        RawClient { ws }
    }

    /// Sends `bytes` as one frame while reading what the server says, for
    /// frames the server may refuse (and close on) before they are sent
    /// whole; returns the first error the server sent.
    pub async fn send_refused(
        self,
        bytes: Vec<u8>,
    ) -> Option<(fieldsync_proto::ErrorCode, String)> {
        let (mut sink, mut stream) = self.ws.split();
        let send = tokio::spawn(async move {
            let _ = sink.send(Message::Binary(bytes.into())).await;
        });
        let mut error = None;
        while let Ok(Some(frame)) =
            tokio::time::timeout(Duration::from_secs(20), stream.next()).await
        {
            match frame {
                Ok(Message::Binary(b)) => {
                    if let Ok(ServerMsg::Error { code, message }) = ServerMsg::decode(&b) {
                        error = Some((code, message));
                        break;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        send.abort();
        error
    }

    pub async fn send_bytes(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::Binary(bytes.into())).await.unwrap();
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_bytes(msg.encode()).await;
    }

    /// The next protocol message, or `None` when the server closed.
    pub async fn recv(&mut self) -> Option<ServerMsg> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("server answered in time");
            match frame {
                Some(Ok(Message::Binary(b))) => return Some(ServerMsg::decode(&b).unwrap()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads until the server sends an error, returning it.
    /// Waits for a `Changed` that announces `doc` and returns how long it
    /// took; fails when the connection closes first or after `within`.
    pub async fn announced(&mut self, doc: &fieldsync_sdk::DocId, within: Duration) -> Duration {
        let start = std::time::Instant::now();
        let wait = async {
            loop {
                match self.recv().await {
                    Some(ServerMsg::Changed { docs, .. })
                        if docs.iter().any(|a| a.header.id.as_str() == doc.as_str()) =>
                    {
                        return start.elapsed();
                    }
                    Some(_) => continue,
                    None => panic!("the connection closed before {doc} was announced"),
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .unwrap_or_else(|_| panic!("{doc} not announced within {within:?}"))
    }

    pub async fn expect_error(&mut self) -> (fieldsync_proto::ErrorCode, String) {
        while let Some(m) = self.recv().await {
            if let ServerMsg::Error { code, message } = m {
                return (code, message);
            }
        }
        panic!("server closed without an error message");
    }
}

/// `GET url+path` with a bearer token.
pub async fn get_with_token(url: &str, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Logs in as `username` on a fresh device id and `GET`s `path` as JSON.
pub async fn get_json_as(url: &str, username: &str, path: &str) -> serde_json::Value {
    let login = login_json(url, username, &format!("dev-http-{username}")).await;
    get_with_token(url, login["access_token"].as_str().unwrap(), path)
        .await
        .json()
        .await
        .unwrap()
}

/// Rewrites `field` of the first entry of the list at root key `list` — what
/// a tampered app would do to an append-only history.
pub fn edit_first_entry(
    client: &Client,
    id: &fieldsync_sdk::DocId,
    list: &str,
    field: &str,
    value: &str,
) {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    client
        .change_document(id, |tx| {
            let (_, entries) = tx.get(automerge::ROOT, list)?.expect("the list");
            let (_, first) = tx.get(&entries, 0)?.expect("a first entry");
            tx.put(&first, field, value)?;
            Ok(())
        })
        .unwrap();
}

/// The first message of a raw protocol session.
pub fn hello(device_id: &str, token: &str) -> ClientMsg {
    ClientMsg::Hello {
        protocol_version: PROTOCOL_VERSION,
        device_id: device_id.into(),
        token: token.into(),
        cursor: 0,
    }
}

/// Logs in device `device_id` as the demo volunteer and completes a raw handshake.
pub async fn raw_session(server: &TestServer, device_id: &str) -> (RawClient, serde_json::Value) {
    raw_session_as(server, "demo-volunteer", device_id).await
}

/// Logs in device `device_id` as `username` and completes a raw handshake:
/// a client speaking the wire protocol itself, as another app release would.
pub async fn raw_session_as(
    server: &TestServer,
    username: &str,
    device_id: &str,
) -> (RawClient, serde_json::Value) {
    raw_session_at(&server.url, username, device_id).await
}

/// [`raw_session_as`] against the server at `url`.
pub async fn raw_session_at(
    url: &str,
    username: &str,
    device_id: &str,
) -> (RawClient, serde_json::Value) {
    let login = login_json(url, username, device_id).await;
    let mut raw = RawClient::connect(url).await;
    raw.send(&hello(device_id, login["access_token"].as_str().unwrap()))
        .await;
    assert!(matches!(raw.recv().await, Some(ServerMsg::Welcome { .. })));
    loop {
        match raw.recv().await {
            Some(ServerMsg::Changed {
                caught_up: true, ..
            }) => break,
            Some(ServerMsg::Changed { .. }) => continue,
            other => panic!("expected the change list, got {other:?}"),
        }
    }
    (raw, login)
}

/// Every document on `client` with its heads.
pub fn all_heads(client: &Client) -> std::collections::BTreeMap<fieldsync_sdk::DocId, Vec<String>> {
    client
        .document_ids(None)
        .unwrap()
        .into_iter()
        .map(|id| {
            let heads = client.document_heads(&id).unwrap();
            (id, heads)
        })
        .collect()
}

/// A sync message that carries all of `doc` to a server that has nothing.
pub fn push_message(doc: &Automerge) -> Vec<u8> {
    let mut state = automerge::sync::State::new();
    state.their_heads = Some(vec![]);
    state.their_need = Some(vec![]);
    state.their_have = Some(vec![automerge::sync::Have::default()]);
    doc.generate_sync_message(&mut state).unwrap().encode()
}

/// Bytes from hex (actor ids in login responses).
pub fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Logs in over HTTP; returns the token response JSON.
pub async fn login_json(url: &str, username: &str, device_id: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "username": username, "password": PASSWORD,
            "device_id": device_id, "device_name": "test",
        }))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "login failed: {}",
        resp.status()
    );
    resp.json().await.unwrap()
}

/// Proves the server still serves: health answers and a fresh device syncs.
pub async fn assert_still_serving(server: &TestServer) {
    let health: serde_json::Value = reqwest::get(format!("{}/api/v1/health", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let d = server.device("demo-volunteer-2").await;
    let id = d
        .client
        .create_document(fieldsync_sdk::DocType::Note, |tx| {
            use automerge::transaction::Transactable;
            tx.put(automerge::ROOT, "title", "still serving")?;
            Ok(())
        })
        .unwrap();
    d.client
        .sync_now()
        .await
        .expect("a good device still syncs");
    assert_eq!(
        d.client.pending_changes().unwrap(),
        0,
        "document {id} acked"
    );
}

/// The printed tag payload of a demo post (`post-b<building>-…`), as the
/// office gets it.
pub async fn printed_payload(server: &TestServer, post: &str) -> String {
    let building = post
        .strip_prefix("post-b")
        .and_then(|rest| rest.split('-').next())
        .unwrap_or("3");
    let tags = get_json_as(
        &server.url,
        "demo-office",
        &format!("/api/v1/posts/tags?building={building}"),
    )
    .await;
    tags.as_array()
        .unwrap()
        .iter()
        .find(|t| t["post_id"] == post)
        .and_then(|t| t["payload"].as_str())
        .unwrap()
        .to_owned()
}

/// A TCP relay between a phone and the server, standing in for a weak
/// mobile link: what the phone sends is paced to `bytes_per_sec`, and the
/// link can drop (every connection cut, new ones refused) and come back.
/// It also stands in for the load balancer in front of replicas: new
/// connections can be sent to another server ([`WeakSignal::redirect`]).
pub struct WeakSignal {
    /// The URL the phone uses instead of the server's.
    pub url: String,
    state: std::sync::Arc<SignalState>,
    accept: tokio::task::JoinHandle<()>,
}

struct SignalState {
    online: std::sync::atomic::AtomicBool,
    /// Cancelled when the link drops; replaced when it comes back.
    cut: std::sync::Mutex<CancellationToken>,
    sent: std::sync::atomic::AtomicU64,
    bytes_per_sec: u64,
    /// `host:port` new connections go to.
    upstream: std::sync::Mutex<String>,
}

impl WeakSignal {
    pub async fn start(server_url: &str, bytes_per_sec: u64) -> WeakSignal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = std::sync::Arc::new(SignalState {
            online: std::sync::atomic::AtomicBool::new(true),
            cut: std::sync::Mutex::new(CancellationToken::new()),
            sent: Default::default(),
            bytes_per_sec,
            upstream: std::sync::Mutex::new(host_port(server_url)),
        });
        let s = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((phone, _)) = listener.accept().await {
                if !s.online.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the phone sees the connection fail
                }
                let cut = s.cut.lock().unwrap().clone();
                let upstream = s.upstream.lock().unwrap().clone();
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = relay(phone, server, &s) => {}
                        _ = cut.cancelled() => {}
                    }
                });
            }
        });
        WeakSignal { url, state, accept }
    }

    /// Drops the link (cutting every open connection) or brings it back.
    pub fn set_online(&self, online: bool) {
        self.state
            .online
            .store(online, std::sync::atomic::Ordering::SeqCst);
        let mut cut = self.state.cut.lock().unwrap();
        if online {
            *cut = CancellationToken::new();
        } else {
            cut.cancel();
        }
    }

    /// Sends new connections to `server_url`; open ones stay where they are.
    pub fn redirect(&self, server_url: &str) {
        *self.state.upstream.lock().unwrap() = host_port(server_url);
    }

    /// Bytes the phone has sent through the link.
    pub fn bytes_sent(&self) -> u64 {
        self.state.sent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for WeakSignal {
    fn drop(&mut self) {
        self.accept.abort();
        self.set_online(false);
    }
}

fn host_port(server_url: &str) -> String {
    server_url
        .strip_prefix("http://")
        .expect("an http:// server URL")
        .to_owned()
}

/// Copies both ways; the phone's bytes paced to the link's rate.
async fn relay(phone: tokio::net::TcpStream, server: tokio::net::TcpStream, s: &SignalState) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut phone_rx, mut phone_tx) = phone.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = async {
        let started = tokio::time::Instant::now();
        let mut sent = 0u64;
        let mut buf = vec![0u8; 8 << 10];
        loop {
            let n = match phone_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if server_tx.write_all(&buf[..n]).await.is_err() {
                break;
            }
            sent += n as u64;
            s.sent
                .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
            let due = started + Duration::from_secs_f64(sent as f64 / s.bytes_per_sec as f64);
            tokio::time::sleep_until(due).await;
        }
        let _ = server_tx.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut server_rx, &mut phone_tx).await;
        let _ = phone_tx.shutdown().await;
    };
    tokio::join!(up, down);
}

/// The demo night team 1 walked, as `GET /api/v1/compliance` gives it (the
/// only shift of the last four days with an on-time post).
pub async fn walked_demo_shift(server: &TestServer) -> serde_json::Value {
    let shifts = get_json_as(&server.url, "demo-office", "/api/v1/compliance?hours=96").await;
    let walked: Vec<&serde_json::Value> = shifts
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["posts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["status"] == "on_time")
        })
        .collect();
    assert_eq!(walked.len(), 1, "{shifts}");
    walked[0].clone()
}
