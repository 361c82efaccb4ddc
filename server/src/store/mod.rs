//! Storage: one [`Store`] over two backends, SQLite (embedded default) and
//! PostgreSQL. The SQL is written once in `sql.rs` and instantiated for both.
//!
//! # Invariants
//! - A document's rows change only through `Store::commit` (called by
//!   `crate::commit` alone), which assigns the community change sequence and
//!   checks the writer's expected `seq`, so two writers never overwrite each
//!   other's view of a document. Compaction and rebuilds rewrite chunks,
//!   scopes and projections from the documents, never their content.
//! - Every chunk of a document, loaded in `chunk_id` order, rebuilds it exactly.

mod admin_sql;
mod chain_sql;
mod duty_sql;
mod postgres;
mod rows;
mod sql;
mod sqlite;
mod web_sql;

use std::path::Path;

use fieldsync_proto::{DocHeader, DocId, DocType};

pub use postgres::PgStore;
pub use rows::{
    AlertRow, AttendanceRow, CheckinRow, ComplianceRow, HazardLedgerQuery, HazardLedgerRow,
    HazardRow, IncidentRow, PatrolRow, ProjectionRows, RosterRow, RouteRow, ScopedHazardRow,
    ShiftRow,
};

pub use sqlite::SqliteStore;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The failure of a group commit, as each writer in it sees it.
    #[error("{0}")]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// The database ran out of space (SQLite `SQLITE_FULL`, PostgreSQL
    /// `disk_full`): nothing of the write was stored, and the same write can
    /// succeed once space returns.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("13" | "53100"))
                    || e.message().contains("database or disk is full")
            }
            StoreError::Shared(e) => e.is_storage_full(),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An advisory lock held on its own database connection (`Store::lease`);
/// dropping it, or the process dying, releases it.
pub struct Lease(Option<sqlx::PgConnection>);

impl Lease {
    /// Whether the lock is still held: its connection still answers.
    pub async fn alive(&mut self) -> bool {
        match &mut self.0 {
            None => true,
            Some(conn) => sqlx::Connection::ping(conn).await.is_ok(),
        }
    }
}

/// A user account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub community_id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub disabled: i64,
}

/// A user as the office manages them: profile, scope, and live devices.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AdminUserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub team_id: Option<String>,
    /// The grids the user owns, a JSON array of grid ids.
    pub grids: String,
    /// 1 when the account may not log in.
    pub disabled: i64,
    /// Devices that are not revoked.
    pub devices: i64,
}

/// A user's team and grids (a JSON array of grid ids).
#[derive(Debug, Clone, Default)]
pub struct UserScope {
    pub team_id: Option<String>,
    pub grids: String,
}

/// A device as the office sees it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AdminDeviceRow {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub name: String,
    pub created_at: i64,
    pub last_login_at: i64,
    pub revoked_at: Option<i64>,
}

/// A patrol team and the grid it patrols.
#[derive(
    Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct TeamRow {
    #[schema(value_type = crate::admin::Id)]
    pub id: String,
    #[schema(value_type = crate::admin::Text)]
    pub name: String,
    /// The grid the team patrols.
    #[schema(value_type = Option<crate::admin::Id>)]
    pub grid_id: Option<String>,
}

/// One admin write, as it is recorded.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    pub user_id: String,
    pub device_id: String,
    /// What was done, e.g. `user.create`.
    pub action: String,
    /// The id of what it was done to.
    pub subject: String,
    pub detail: serde_json::Value,
}

/// A recorded admin write.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub user_id: String,
    pub device_id: String,
    pub action: String,
    pub subject: String,
    /// JSON of the request's details (never a password).
    pub detail: String,
}

/// Which audit entries to list; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub action: Option<String>,
    /// Entries at or after this time (Unix milliseconds).
    pub from_ms: Option<i64>,
    /// Entries before this time.
    pub until_ms: Option<i64>,
}

/// A recorded admin write with the names of who made it and their device
/// (`None` when the user or device row is gone).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditLine {
    pub id: i64,
    pub at: i64,
    pub user_id: String,
    pub display_name: Option<String>,
    pub device_id: String,
    pub device_name: Option<String>,
    pub action: String,
    pub subject: String,
    /// JSON of the request's details (never a password).
    pub detail: String,
}

/// A post: a place where check-ins are expected.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PostRow {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub floor: Option<i64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    /// The grid the post lies in.
    pub grid_id: Option<String>,
}

impl PostRow {
    /// The row of one of a stairwell's posts, placed at `lat`/`lon` within
    /// `radius_m`, in `grid_id`.
    pub fn of_stairwell(
        post: fieldsync_proto::model::places::Post,
        lat: Option<f64>,
        lon: Option<f64>,
        radius_m: Option<f64>,
        grid_id: Option<String>,
    ) -> PostRow {
        PostRow {
            id: post.id,
            label_zh: post.label_zh,
            label_en: post.label_en,
            building: Some(post.building),
            unit: Some(post.unit),
            floor: Some(i64::from(post.floor)),
            lat,
            lon,
            radius_m,
            grid_id,
        }
    }
}

/// A key that signs post tags. Only the server ever sees `secret`.
#[derive(Clone, sqlx::FromRow)]
pub struct TagKeyRow {
    pub id: String,
    pub secret: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for TagKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagKeyRow")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// A registered device.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: String,
    pub community_id: String,
    pub name: String,
    pub revoked_at: Option<i64>,
    pub token_generation: i64,
}

/// A refresh token as stored (by hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub device_id: String,
    pub generation: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A dashboard session with what each request checks of its user and
/// device.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebSessionRow {
    /// sha256 of the cookie's token.
    pub token_hash: String,
    pub community_id: String,
    pub user_id: String,
    pub device_id: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The user's role now (not at sign-in).
    pub role: String,
    pub display_name: String,
    pub disabled: i64,
    /// When the session's device was revoked.
    pub revoked_at: Option<i64>,
}

/// A document's metadata row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocRow {
    pub id: String,
    pub doc_type: String,
    pub schema_version: i64,
    pub seq: i64,
    pub heads: Vec<u8>,
    pub stored_bytes: i64,
    pub chunk_count: i64,
    /// Who may read it: JSON of a `DocScope`. `None` (rows stored before
    /// scopes existed) or JSON that does not parse: the office's and
    /// auditors' only, until `rebuild-projections` derives it again.
    pub scope: Option<String>,
}

impl DocRow {
    /// The document envelope, checked.
    pub fn header(&self) -> Result<DocHeader> {
        let id = DocId::new(self.id.clone()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let doc_type = DocType::parse(&self.doc_type)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown doc type {}", self.doc_type)))?;
        Ok(DocHeader {
            id,
            doc_type,
            schema_version: self.schema_version as u32,
        })
    }

    /// The stored heads as wire heads.
    pub fn wire_heads(&self) -> Result<Vec<fieldsync_proto::wire::Head>> {
        decode_heads(&self.heads)
    }
}

/// Heads are stored as concatenated 32-byte hashes.
pub fn encode_heads(heads: &[automerge::ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

fn decode_heads(bytes: &[u8]) -> Result<Vec<fieldsync_proto::wire::Head>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt(
            "heads are not a multiple of 32 bytes".into(),
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| fieldsync_proto::wire::Head(c.try_into().expect("chunks_exact yields 32 bytes")))
        .collect())
}

/// A document as stored: its row and its chunks in order.
#[derive(Debug)]
pub struct StoredDoc {
    pub row: DocRow,
    pub chunks: Vec<Vec<u8>>,
}

/// One document write in a commit.
#[derive(Debug, Clone)]
pub struct DocWrite {
    pub header: DocHeader,
    /// The `seq` the writer loaded; `None` when it created the document.
    pub expected_seq: Option<i64>,
    /// The new changes as one chunk.
    pub chunk: Vec<u8>,
    /// The document's heads after this write.
    pub heads: Vec<u8>,
    pub device_id: String,
    /// Its entry in the audit chain, appended in the same transaction.
    pub record: crate::audit::Record,
    /// Who may read it (JSON of a `DocScope`), derived from its content.
    pub scope: String,
    /// Projection rows to write in the same transaction when the write is stored.
    pub projection: ProjectionRows,
}

/// The result of one write in a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored under this community change sequence.
    Stored { seq: i64, chunk_count: i64 },
    /// The document changed since the writer loaded it; nothing was stored.
    Conflict,
}

/// Which backend a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The server's storage, on one of the two backends.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Forwards a call to whichever backend is in use.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

// Declared after `dispatch!`, which it uses.
mod blobs;
pub use blobs::{BlobLink, BlobRow, UploadPart, UploadRow};
pub(crate) mod reports;
pub use reports::{
    CheckinExportQuery, DutyCount, ExportCheckin, IssuedReport, PeriodHazard, PeriodIncident,
    PersonCount, SlotLine, StatusCount,
};

impl Store {
    /// Caps the embedded database at `pages` pages (SQLite's
    /// `max_page_count`, on the one writer connection), or lifts the cap: a
    /// safety valve that makes the store refuse writes as if the disk were
    /// full before it really is. PostgreSQL has no such cap (an error).
    pub async fn cap_pages(&self, pages: Option<u64>) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.cap_pages(pages).await,
            Store::Postgres(_) => Err(StoreError::Corrupt(
                "a page cap exists on the embedded store only".into(),
            )),
        }
    }

    /// Opens the store: PostgreSQL when `database_url` is given, else SQLite in
    /// `data_dir`. Applies migrations.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Store> {
        match database_url {
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                Ok(Store::Postgres(PgStore::connect(url).await?))
            }
            Some(url) if url.starts_with("sqlite:") => {
                Ok(Store::Sqlite(SqliteStore::open_url(url).await?))
            }
            Some(url) => Err(StoreError::Corrupt(format!(
                "unsupported database URL scheme in {:?}: use postgres:// or sqlite://",
                url.split(':').next().unwrap_or_default()
            ))),
            None => Ok(Store::Sqlite(
                SqliteStore::open(&data_dir.join("fieldsync.db")).await?,
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn close(&self) {
        dispatch!(self.close())
    }

    pub async fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        dispatch!(self.secret(name))
    }

    /// Stores a secret unless one exists; returns the one in effect.
    pub async fn secret_or_insert(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        dispatch!(self.secret_or_insert(name, value))
    }

    pub async fn community_count(&self) -> Result<i64> {
        dispatch!(self.community_count())
    }

    pub async fn insert_community(
        &self,
        id: &str,
        name: &str,
        time_zone: &str,
        now: i64,
    ) -> Result<()> {
        dispatch!(self.insert_community(id, name, time_zone, now))
    }

    pub async fn insert_user(&self, user: &UserRow, now: i64) -> Result<()> {
        dispatch!(self.insert_user(user, now))
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        dispatch!(self.user_by_username(username))
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        dispatch!(self.user(id))
    }

    pub async fn device(&self, id: &str) -> Result<Option<DeviceRow>> {
        dispatch!(self.device(id))
    }

    /// Registers a device on login (or refreshes its name), and a new automerge
    /// actor for it.
    pub async fn register_login(&self, device: &DeviceRow, actor_id: &str, now: i64) -> Result<()> {
        dispatch!(self.register_login(device, actor_id, now))
    }

    pub async fn device_actors(&self, device_id: &str) -> Result<Vec<String>> {
        dispatch!(self.device_actors(device_id))
    }

    /// Revokes a device: marks it, and invalidates every token it holds.
    pub async fn revoke_device(&self, device_id: &str, now: i64) -> Result<bool> {
        dispatch!(self.revoke_device(device_id, now))
    }

    /// Invalidates every token of a device without revoking it.
    pub async fn revoke_device_tokens(&self, device_id: &str) -> Result<()> {
        dispatch!(self.revoke_device_tokens(device_id))
    }

    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        device_id: &str,
        generation: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        dispatch!(self.insert_refresh_token(hash, device_id, generation, now, expires_at))
    }

    /// Marks an unused, unexpired refresh token used and returns it; `None` if
    /// there is no such usable token.
    pub async fn use_refresh_token(&self, hash: &str, now: i64) -> Result<Option<RefreshRow>> {
        dispatch!(self.use_refresh_token(hash, now))
    }

    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRow>> {
        dispatch!(self.refresh_token(hash))
    }

    pub async fn load_doc(&self, community: &str, id: &DocId) -> Result<Option<StoredDoc>> {
        dispatch!(self.load_doc(community, id))
    }

    /// Where the community's audit chain ends.
    pub async fn audit_head(&self, community: &str) -> Result<crate::audit::Head> {
        dispatch!(self.audit_head(community))
    }

    /// Up to `limit` audit chain entries after `after`, in order.
    pub async fn audit_chain_page(
        &self,
        community: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<crate::audit::Entry>> {
        dispatch!(self.audit_chain_page(community, after, limit))
    }

    pub async fn community_ids(&self) -> Result<Vec<String>> {
        dispatch!(self.community_ids())
    }

    /// Replaces a document's stored read scope (rebuilds).
    pub async fn set_scope(&self, community: &str, id: &DocId, scope: &str) -> Result<()> {
        dispatch!(self.set_scope(community, id, scope))
    }

    /// Writes projection rows in their own transaction (rebuilds).
    pub async fn write_projection(
        &self,
        community: &str,
        rows: &crate::store::ProjectionRows,
    ) -> Result<()> {
        dispatch!(self.write_projection(community, rows))
    }

    pub async fn hazard_rows(&self, community: &str) -> Result<Vec<crate::store::HazardRow>> {
        dispatch!(self.hazard_rows(community))
    }

    /// The hazard ledger: every hazard's row with its stored read scope.
    pub async fn hazard_ledger(&self, community: &str) -> Result<Vec<ScopedHazardRow>> {
        dispatch!(self.hazard_ledger(community))
    }

    /// One hazard's row.
    pub async fn hazard_row(&self, community: &str, id: &str) -> Result<Option<HazardRow>> {
        dispatch!(self.hazard_row(community, id))
    }

    /// One page of the hazard ledger, newest first, filtered in SQL; the
    /// caller applies the read scopes.
    pub async fn hazard_ledger_page(
        &self,
        community: &str,
        q: &HazardLedgerQuery,
    ) -> Result<Vec<HazardLedgerRow>> {
        dispatch!(self.hazard_ledger_page(community, q))
    }

    pub async fn patrol_rows(&self, community: &str) -> Result<Vec<crate::store::PatrolRow>> {
        dispatch!(self.patrol_rows(community))
    }

    pub async fn checkin_rows(&self, community: &str) -> Result<Vec<crate::store::CheckinRow>> {
        dispatch!(self.checkin_rows(community))
    }

    /// Deletes the projection rows a rebuild derives again from the documents
    /// alone (before a rebuild from scratch). Check-in rows stay (their first
    /// receive time is in no document), and so do compliance and attendance.
    pub async fn clear_projections(&self) -> Result<()> {
        dispatch!(self.clear_projections())
    }

    pub async fn insert_post(&self, community: &str, post: &PostRow, now: i64) -> Result<()> {
        dispatch!(self.insert_post(community, post, now))
    }

    /// Posts of a community, optionally of one building.
    pub async fn posts(&self, community: &str, building: Option<&str>) -> Result<Vec<PostRow>> {
        dispatch!(self.posts(community, building))
    }

    pub async fn post(&self, community: &str, id: &str) -> Result<Option<PostRow>> {
        dispatch!(self.post(community, id))
    }

    pub async fn insert_tag_key(
        &self,
        community: &str,
        id: &str,
        secret: &[u8],
        now: i64,
    ) -> Result<()> {
        dispatch!(self.insert_tag_key(community, id, secret, now))
    }

    /// Every tag key of a community, oldest first, revoked ones included.
    pub async fn tag_keys(&self, community: &str) -> Result<Vec<TagKeyRow>> {
        dispatch!(self.tag_keys(community))
    }

    /// Revokes a key; false when there is no such unrevoked key.
    pub async fn revoke_tag_key(&self, community: &str, id: &str, now: i64) -> Result<bool> {
        dispatch!(self.revoke_tag_key(community, id, now))
    }

    /// Loads the stored ones of `ids` (absent ones are missing from the map).
    pub async fn load_docs(
        &self,
        community: &str,
        ids: &[DocId],
    ) -> Result<std::collections::HashMap<DocId, StoredDoc>> {
        dispatch!(self.load_docs(community, ids))
    }

    /// Commits document writes in one transaction, each under a new community
    /// change sequence. Only `crate::commit` calls it: every document write
    /// takes that one path.
    ///
    /// `wake`: the other replicas' compliance engines are to run at once
    /// (their notice of the commit is sent in its transaction).
    pub(crate) async fn commit(
        &self,
        community: &str,
        writes: &[DocWrite],
        now: i64,
        wake: bool,
    ) -> Result<Vec<WriteOutcome>> {
        dispatch!(self.commit(community, writes, now, wake))
    }

    /// Sends `notice` to the other replicas (PostgreSQL NOTIFY; nothing on
    /// the embedded store, which has no others).
    pub async fn notify(&self, notice: &crate::replicas::notice::Notice) -> Result<()> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(s) => s.notify(notice).await,
        }
    }

    /// Takes the advisory lock `key` for as long as the returned lease
    /// lives; `None` while another replica holds it. The embedded store
    /// serves one process, which always gets it.
    pub async fn lease(&self, key: i64) -> Result<Option<Lease>> {
        match self {
            Store::Sqlite(_) => Ok(Some(Lease(None))),
            Store::Postgres(s) => Ok(s.try_lock(key).await?.map(|c| Lease(Some(c)))),
        }
    }

    /// Devices revoked at or after `since` (ms).
    pub async fn devices_revoked_since(&self, since: i64) -> Result<Vec<String>> {
        dispatch!(self.devices_revoked_since(since))
    }

    /// Replaces a document's chunks by one snapshot, unless it changed since `seq`.
    pub async fn compact(
        &self,
        community: &str,
        id: &DocId,
        seq: i64,
        snapshot: &[u8],
    ) -> Result<bool> {
        dispatch!(self.compact(community, id, seq, snapshot))
    }

    /// Documents whose latest change is after `cursor`, oldest first.
    pub async fn changed_since(
        &self,
        community: &str,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<DocRow>> {
        dispatch!(self.changed_since(community, cursor, limit))
    }

    pub async fn community_seq(&self, community: &str) -> Result<i64> {
        dispatch!(self.community_seq(community))
    }

    pub async fn doc_count(&self, community: &str) -> Result<i64> {
        dispatch!(self.doc_count(community))
    }

    /// Shifts that overlap `[from, to)`.
    pub async fn shifts_between(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<ShiftRow>> {
        dispatch!(self.shifts_between(community, from, to))
    }

    pub async fn rosters(&self, community: &str, ids: &[String]) -> Result<Vec<RosterRow>> {
        dispatch!(self.rosters(community, ids))
    }

    pub async fn routes(&self, community: &str) -> Result<Vec<RouteRow>> {
        dispatch!(self.routes(community))
    }

    /// Check-ins whose device time is in `[from, to)`.
    pub async fn checkins_between(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<CheckinRow>> {
        dispatch!(self.checkins_between(community, from, to))
    }

    /// Flagged check-ins the server took at `since` or later.
    pub async fn flagged_checkins(&self, community: &str, since: i64) -> Result<Vec<CheckinRow>> {
        dispatch!(self.flagged_checkins(community, since))
    }

    /// Patrols started in `[from, to)`.
    pub async fn patrols_between(
        &self,
        community: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<PatrolRow>> {
        dispatch!(self.patrols_between(community, from, to))
    }

    pub async fn compliance_rows(
        &self,
        community: &str,
        shift_key: &str,
    ) -> Result<Vec<ComplianceRow>> {
        dispatch!(self.compliance_rows(community, shift_key))
    }

    /// Replaces the compliance and attendance rows of one shift.
    pub async fn replace_compliance(
        &self,
        community: &str,
        shift_key: &str,
        rows: &[ComplianceRow],
        attendance: &[AttendanceRow],
        now: i64,
    ) -> Result<()> {
        dispatch!(self.replace_compliance(community, shift_key, rows, attendance, now))
    }

    pub async fn attendance_rows(
        &self,
        community: &str,
        shift_key: &str,
    ) -> Result<Vec<AttendanceRow>> {
        dispatch!(self.attendance_rows(community, shift_key))
    }

    pub async fn incident_rows(&self, community: &str) -> Result<Vec<IncidentRow>> {
        dispatch!(self.incident_rows(community))
    }

    pub async fn alert_rows(&self, community: &str) -> Result<Vec<AlertRow>> {
        dispatch!(self.alert_rows(community))
    }

    pub async fn insert_team(
        &self,
        community: &str,
        id: &str,
        name: &str,
        grid: Option<&str>,
    ) -> Result<()> {
        dispatch!(self.insert_team(community, id, name, grid))
    }

    /// Every team of a community: id, name, grid.
    pub async fn teams(&self, community: &str) -> Result<Vec<(String, String, Option<String>)>> {
        dispatch!(self.teams(community))
    }

    /// Puts a user in a team and gives them grids (a JSON array of grid ids).
    pub async fn set_user_scope(&self, user: &str, team: Option<&str>, grids: &str) -> Result<()> {
        dispatch!(self.set_user_scope(user, team, grids))
    }

    /// Appends one entry to the admin audit log (for writes that are not
    /// the store's own admin writes, which record themselves).
    pub async fn append_audit(&self, community: &str, entry: &AuditEntry) -> Result<()> {
        dispatch!(self.append_audit(community, entry))
    }

    /// The newest audit entries with an id below `before`, newest first.
    pub async fn audit_log(
        &self,
        community: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        dispatch!(self.audit_log(community, before, limit))
    }

    /// The audit entries matching `filter` with an id below `before`,
    /// newest first.
    pub async fn audit_search(
        &self,
        community: &str,
        filter: &AuditFilter,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditLine>> {
        dispatch!(self.audit_search(community, filter, before, limit))
    }

    pub async fn admin_users(&self, community: &str) -> Result<Vec<AdminUserRow>> {
        dispatch!(self.admin_users(community))
    }

    pub async fn admin_user(&self, community: &str, id: &str) -> Result<Option<AdminUserRow>> {
        dispatch!(self.admin_user(community, id))
    }

    /// Creates a user in a team and grids; false when the username is taken.
    pub async fn admin_create_user(
        &self,
        user: &UserRow,
        scope: &UserScope,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        dispatch!(self.admin_create_user(user, scope, now, audit))
    }

    /// Stores a user's profile; when it is disabled, revokes their devices
    /// and refresh tokens and returns the devices revoked.
    pub async fn admin_update_user(
        &self,
        community: &str,
        user: &AdminUserRow,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<Vec<String>> {
        dispatch!(self.admin_update_user(community, user, now, audit))
    }

    pub async fn admin_set_password(
        &self,
        community: &str,
        user: &str,
        hash: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        dispatch!(self.admin_set_password(community, user, hash, audit))
    }

    /// Devices of a community, or of one user.
    pub async fn admin_devices(
        &self,
        community: &str,
        user: Option<&str>,
    ) -> Result<Vec<AdminDeviceRow>> {
        dispatch!(self.admin_devices(community, user))
    }

    /// Creates (`create`) or updates a team; false on a taken or unknown id.
    pub async fn admin_put_team(
        &self,
        community: &str,
        team: &TeamRow,
        create: bool,
        audit: &AuditEntry,
    ) -> Result<bool> {
        dispatch!(self.admin_put_team(community, team, create, audit))
    }

    /// Creates posts, all or none; false when one of the ids exists.
    pub async fn admin_create_posts(
        &self,
        community: &str,
        posts: &[PostRow],
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        dispatch!(self.admin_create_posts(community, posts, now, audit))
    }

    pub async fn admin_update_post(
        &self,
        community: &str,
        post: &PostRow,
        audit: &AuditEntry,
    ) -> Result<bool> {
        dispatch!(self.admin_update_post(community, post, audit))
    }

    pub async fn admin_delete_post(
        &self,
        community: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        dispatch!(self.admin_delete_post(community, id, audit))
    }

    pub async fn insert_web_session(&self, session: &WebSessionRow) -> Result<()> {
        dispatch!(self.insert_web_session(session))
    }

    /// A dashboard session by the sha256 of its token, with its user's role
    /// and state and its device's revocation.
    pub async fn web_session(&self, token_hash: &str) -> Result<Option<WebSessionRow>> {
        dispatch!(self.web_session(token_hash))
    }

    /// Deletes a dashboard session, and every expired one.
    pub async fn delete_web_session(&self, token_hash: &str, now: i64) -> Result<()> {
        dispatch!(self.delete_web_session(token_hash, now))
    }

    /// Every roster of a community.
    pub async fn all_rosters(&self, community: &str) -> Result<Vec<RosterRow>> {
        dispatch!(self.all_rosters(community))
    }

    /// What decides what a user reads.
    pub async fn reader(
        &self,
        user: &str,
        role: fieldsync_proto::model::Role,
    ) -> Result<fieldsync_proto::model::scope::Reader> {
        let (team, team_grid, grids) =
            dispatch!(self.user_scope(user))?.unwrap_or((None, None, "[]".into()));
        Ok(fieldsync_proto::model::scope::Reader {
            user_id: user.to_owned(),
            role,
            team,
            team_grid,
            grids: serde_json::from_str(&grids).unwrap_or_default(),
        })
    }
}
