//! The device's local store: one SQLite file holding documents, their sync
//! state, the outbox of unacknowledged changes, quarantined rejections, the
//! change cursor, the session, and the photo queue (the photos themselves
//! are files beside the database, see [`photos`]).
//!
//! Two connections to that file: [`LocalStore`], the one writer (every write,
//! and the reads that belong to a write), and [`StoreReader`], read-only, for
//! what the app reads. In WAL mode a reader never waits for the writer, so
//! the pending-change badge or a document on screen answers at once while a
//! sync applies a batch of pulled documents; the reader sees what was
//! committed when its statement began. The queries themselves are written
//! once, in [`Reads`], for both.
//!
//! # Invariants
//! - Only [`LocalStore`] writes; [`StoreReader`]'s connection is opened
//!   read-only.
//! - A local edit and its outbox entry are written in one transaction.
//! - An outbox entry is deleted only when the server's durable heads cover
//!   every change in it.
//! - A rejected change set moves to `quarantine` (never deleted) and the
//!   document returns to the server's last acknowledged state.

use std::collections::HashSet;
use std::path::Path;

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, ChangeHash, ReadDoc};
use fieldsync_proto::model::migrate;
use fieldsync_proto::session::{LocalDocs, SavedSync};
use fieldsync_proto::{DocHeader, DocId, DocType, RejectCode};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::now_ms;

mod photos;

pub(crate) use photos::PhotoReads;
pub use photos::{PhotoState, PhotoUpload};

/// The database file in the data directory.
const DB_FILE: &str = "fieldsync.db";
/// How long a statement waits for a lock another connection holds (the
/// writer's own checkpoints, another process) before it fails.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// 2 added the photo queue, 3 the documents in recovery (both created by
/// `SCHEMA`'s `IF NOT EXISTS`).
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id             TEXT PRIMARY KEY,
    doc_type       TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data           BLOB NOT NULL,
    sync_state     BLOB,
    acked_heads    BLOB NOT NULL DEFAULT x'',
    updated_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_type ON documents(doc_type);
CREATE TABLE IF NOT EXISTS outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id        TEXT NOT NULL,
    change_hashes BLOB NOT NULL,
    data          BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_doc ON outbox(doc_id);
CREATE TABLE IF NOT EXISTS quarantine (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS photos (
    hash        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mime        TEXT NOT NULL,
    state       TEXT NOT NULL,
    upload_url  TEXT,
    sent        INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_due ON photos(state, next_try_at);
CREATE TABLE IF NOT EXISTS recovery (
    doc_id TEXT PRIMARY KEY
);
";

/// A rejected local change set, kept so nothing typed on the device is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedChange {
    pub doc_id: String,
    pub code: String,
    pub message: String,
    /// The rejected changes, loadable with `Automerge::load_incremental`.
    pub data: Vec<u8>,
    pub created_at: i64,
}

fn encode_hashes(hashes: &[ChangeHash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

fn decode_hashes(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .map(|c| ChangeHash(c.try_into().expect("chunks_exact yields 32 bytes")))
        .collect()
}

/// Documents kept parsed in memory: a sync exchange touches each document
/// several times in quick succession.
const CACHED_DOCS: usize = 512;

/// The local SQLite store.
///
/// Every write goes through this type, so the in-memory cache of parsed
/// documents always holds the stored version.
pub struct LocalStore {
    conn: Connection,
    cache: lru::LruCache<DocId, (DocHeader, Automerge)>,
}

impl LocalStore {
    /// Opens (creating if needed) `fieldsync.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            Error::InvalidInput(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        let store = LocalStore {
            conn,
            cache: lru::LruCache::new(std::num::NonZeroUsize::new(CACHED_DOCS).expect("non-zero")),
        };
        store.init().map_err(|e| match e {
            Error::Store(m) => Error::Store(format!(
                "cannot open the local database in {} ({m}); it may be corrupt",
                data_dir.display()
            )),
            other => other,
        })?;
        Ok(store)
    }

    fn init(&self) -> Result<()> {
        // WAL + NORMAL survives the app being killed at any point; the journal
        // is checked so a corrupt file fails here, not later. WAL is also what
        // lets `StoreReader` read beside a writing transaction, so a file that
        // cannot use it is refused rather than silently slow.
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Store(format!(
                "the database cannot use WAL mode (journal mode {mode})"
            )));
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(Error::Store(format!("integrity check failed: {check}")));
        }
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "database schema {version} is newer than this SDK ({SCHEMA_VERSION})"
            )));
        }
        self.conn.execute_batch(SCHEMA)?;
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(())
    }

    /// Runs `f` atomically. Nests: inside another call it is a savepoint.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT fieldsync")?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("RELEASE fieldsync")?;
                Ok(v)
            }
            Err(e) => {
                // Parsed documents may hold writes that are being rolled back.
                self.cache.clear();
                let _ = self
                    .conn
                    .execute_batch("ROLLBACK TO fieldsync; RELEASE fieldsync");
                Err(e)
            }
        }
    }

    /// The server lost changes it had acknowledged (restored from an older
    /// backup): every local document goes into recovery and forgets what the
    /// server was last known to hold of it. Returns them all.
    pub fn start_recovery(&self) -> Result<Vec<DocHeader>> {
        self.conn.execute(
            "INSERT OR IGNORE INTO recovery (doc_id) SELECT id FROM documents",
            [],
        )?;
        self.conn
            .execute("UPDATE documents SET sync_state = NULL", [])?;
        self.recovering()
    }

    /// Documents in recovery: exchanged in every session until the server
    /// holds all of them (see [`pushable`]).
    pub fn recovering(&self) -> Result<Vec<DocHeader>> {
        self.headers(
            "SELECT d.id, d.doc_type, d.schema_version FROM recovery r JOIN documents d ON d.id = r.doc_id ORDER BY d.id",
        )
    }

    fn in_recovery(&self, id: &DocId) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM recovery WHERE doc_id = ?1",
                [id.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Sets a value in the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Removes values from the `meta` table.
    pub fn delete_meta(&self, keys: &[&str]) -> Result<()> {
        for k in keys {
            self.conn.execute("DELETE FROM meta WHERE key = ?1", [k])?;
        }
        Ok(())
    }

    /// Loads a document and its header (parsed once, then from the cache).
    pub fn load(&mut self, id: &DocId) -> Result<Option<(DocHeader, Automerge)>> {
        if let Some((h, d)) = self.cache.get(id) {
            return Ok(Some((h.clone(), d.clone())));
        }
        let loaded = self.stored_document(id)?;
        if let Some((h, d)) = &loaded {
            self.cache.put(id.clone(), (h.clone(), d.clone()));
        }
        Ok(loaded)
    }

    fn save(&mut self, header: &DocHeader, doc: &Automerge) -> Result<()> {
        // The version the document is at, whatever the caller's header said.
        let header = &DocHeader {
            schema_version: migrate::version_of(header.doc_type, doc),
            ..header.clone()
        };
        // Dropped first: if the write fails, the next load reads what is stored.
        self.cache.pop(&header.id);
        self.conn.execute(
            "INSERT INTO documents (id, doc_type, schema_version, data, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET schema_version = excluded.schema_version, data = excluded.data,
             updated_at = excluded.updated_at",
            params![
                header.id.as_str(),
                header.doc_type.as_str(),
                header.schema_version as i64,
                doc.save(),
                now_ms()
            ],
        )?;
        self.cache
            .put(header.id.clone(), (header.clone(), doc.clone()));
        Ok(())
    }

    /// Records a local edit: saves the document and queues its new changes.
    pub fn record_local_change(
        &mut self,
        header: &DocHeader,
        doc: &Automerge,
        before: &[ChangeHash],
    ) -> Result<()> {
        let new: Vec<ChangeHash> = doc.get_changes(before).iter().map(|c| c.hash()).collect();
        if new.is_empty() {
            return Ok(());
        }
        let data = doc.save_after(before);
        self.transaction(|s| {
            s.save(header, doc)?;
            s.conn.execute(
                "INSERT INTO outbox (doc_id, change_hashes, data, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![header.id.as_str(), encode_hashes(&new), data, now_ms()],
            )?;
            Ok(())
        })
    }
}

/// The store's read-only queries, written once and run on whichever
/// connection holds the view the caller needs: [`LocalStore`]'s inside a
/// write (it sees the transaction's own writes), [`StoreReader`]'s for the
/// app's reads.
pub(crate) trait Reads {
    /// The connection the queries run on.
    fn conn(&self) -> &Connection;

    /// A value from the `meta` table (device id, session, tokens, cursor).
    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// A document and its header as stored, parsed anew (no cache).
    fn stored_document(&self, id: &DocId) -> Result<Option<(DocHeader, Automerge)>> {
        let row: Option<(String, i64, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT doc_type, schema_version, data FROM documents WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((doc_type, schema_version, data)) = row else {
            return Ok(None);
        };
        let doc_type = DocType::parse(&doc_type)
            .ok_or_else(|| Error::Store(format!("unknown document type {doc_type}")))?;
        let doc = Automerge::load(&data)
            .map_err(|e| Error::Store(format!("document {id} is corrupt: {e}")))?;
        Ok(Some((
            DocHeader {
                id: id.clone(),
                doc_type,
                schema_version: schema_version as u32,
            },
            doc,
        )))
    }

    /// Ids of documents, optionally of one type.
    fn document_ids(&self, doc_type: Option<DocType>) -> Result<Vec<DocId>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM documents WHERE ?1 IS NULL OR doc_type = ?1 ORDER BY id",
        )?;
        let ids = stmt
            .query_map([doc_type.map(|t| t.as_str())], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.into_iter()
            .map(|id| DocId::new(id).map_err(|e| Error::Store(e.to_string())))
            .collect()
    }

    /// Headers of documents with unacknowledged local changes.
    fn unsynced(&self) -> Result<Vec<DocHeader>> {
        self.headers(
            "SELECT DISTINCT d.id, d.doc_type, d.schema_version FROM outbox o JOIN documents d ON d.id = o.doc_id",
        )
    }

    fn headers(&self, sql: &str) -> Result<Vec<DocHeader>> {
        let mut stmt = self.conn().prepare_cached(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, t, v)| {
                Ok(DocHeader {
                    id: DocId::new(id).map_err(|e| Error::Store(e.to_string()))?,
                    doc_type: DocType::parse(&t)
                        .ok_or_else(|| Error::Store(format!("unknown type {t}")))?,
                    schema_version: v as u32,
                })
            })
            .collect()
    }

    /// Number of local change sets not yet acknowledged by the server.
    fn outbox_len(&self) -> Result<usize> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// The heads the server last acknowledged for a document.
    fn acked_heads(&self, id: &DocId) -> Result<Vec<ChangeHash>> {
        let bytes: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT acked_heads FROM documents WHERE id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(bytes.map(|b| decode_hashes(&b)).unwrap_or_default())
    }

    /// Rejected change sets, oldest first.
    fn quarantined(&self) -> Result<Vec<QuarantinedChange>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT doc_id, code, message, data, created_at FROM quarantine ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(QuarantinedChange {
                    doc_id: r.get(0)?,
                    code: r.get(1)?,
                    message: r.get(2)?,
                    data: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Unacknowledged local change sets of one document.
    fn outbox_count(&self, id: &DocId) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM outbox WHERE doc_id = ?1",
            [id.as_str()],
            |r| r.get(0),
        )?)
    }
}

impl Reads for LocalStore {
    fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// A read-only connection to the store, for what the app reads (documents,
/// pending changes, quarantine, photo queue, session) while [`LocalStore`]
/// may be in the middle of a long write.
///
/// Reads are never cached here: only the writer knows when a document
/// changes, and parsing one stored document is cheap next to waiting for a
/// batch of sync writes.
pub struct StoreReader {
    conn: Connection,
}

impl StoreReader {
    /// Opens the store in `data_dir` read-only; [`LocalStore::open`] must have
    /// created it (and put it in WAL mode) first.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            data_dir.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(StoreReader { conn })
    }
}

impl Reads for StoreReader {
    fn conn(&self) -> &Connection {
        &self.conn
    }
}

impl LocalDocs for LocalStore {
    type Error = Error;

    fn header(&mut self, id: &DocId) -> Result<Option<DocHeader>> {
        Ok(self.load(id)?.map(|(h, _)| h))
    }

    fn has_heads(&mut self, id: &DocId, heads: &[ChangeHash]) -> Result<bool> {
        Ok(match self.load(id)? {
            Some((_, doc)) => doc.get_missing_deps(heads).is_empty(),
            None => heads.is_empty(),
        })
    }

    fn saved_sync(&mut self, id: &DocId) -> Result<SavedSync> {
        let state: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT sync_state FROM documents WHERE id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let state = match state.flatten() {
            Some(bytes) => Some(
                sync::State::decode(&bytes)
                    .map_err(|e| Error::Store(format!("sync state of {id}: {e}")))?,
            ),
            None => None,
        };
        Ok(SavedSync {
            state,
            has_local_changes: self.outbox_count(id)? > 0,
        })
    }

    fn generate(&mut self, id: &DocId, state: &mut sync::State) -> Result<Option<sync::Message>> {
        let Some((_, doc)) = self.load(id)? else {
            return Ok(Automerge::new().generate_sync_message(state));
        };
        // In recovery, once the server has said what it holds: only what
        // this device may push (the server refuses others' changes from it).
        if let Some(theirs) = state.their_heads.clone()
            && self.in_recovery(id)?
        {
            let mine = crate::hex_actor(&self.meta(crate::keys::ACTOR)?.unwrap_or_default())?;
            return Ok(pushable(&doc, &theirs, &mine).generate_sync_message(state));
        }
        Ok(doc.generate_sync_message(state))
    }

    fn receive(
        &mut self,
        header: &DocHeader,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<(bool, Vec<ChangeHash>)> {
        let (header, mut doc) = self
            .load(&header.id)?
            .unwrap_or_else(|| (header.clone(), Automerge::new()));
        let before = doc.get_heads();
        doc.receive_sync_message(state, message).map_err(|e| {
            Error::Protocol(format!("cannot apply server changes to {}: {e}", header.id))
        })?;
        let after = doc.get_heads();
        let changed = before != after;
        if changed {
            self.save(&header, &doc)?;
        }
        Ok((changed, after))
    }

    fn acked(&mut self, id: &DocId, durable_heads: &[ChangeHash]) -> Result<()> {
        self.conn.execute(
            "UPDATE documents SET acked_heads = ?2 WHERE id = ?1",
            params![id.as_str(), encode_hashes(durable_heads)],
        )?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, change_hashes FROM outbox WHERE doc_id = ?1")?;
        let rows = stmt
            .query_map([id.as_str()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(stmt);
        if rows.is_empty() {
            return Ok(());
        }
        let Some((_, doc)) = self.load(id)? else {
            return Ok(());
        };
        let unacked: HashSet<ChangeHash> = doc
            .get_changes(durable_heads)
            .iter()
            .map(|c| c.hash())
            .collect();
        for (row_id, hashes) in rows {
            if decode_hashes(&hashes).iter().all(|h| !unacked.contains(h)) {
                self.conn
                    .execute("DELETE FROM outbox WHERE id = ?1", [row_id])?;
            }
        }
        Ok(())
    }

    fn finished(&mut self, id: &DocId, state: &sync::State) -> Result<()> {
        self.conn.execute(
            "UPDATE documents SET sync_state = ?2 WHERE id = ?1",
            params![id.as_str(), state.encode()],
        )?;
        // Out of recovery once the server holds the whole document.
        if let Some((_, doc)) = self.load(id)?
            && let Some(theirs) = &state.their_heads
            && doc.get_heads().iter().all(|h| theirs.contains(h))
        {
            self.conn
                .execute("DELETE FROM recovery WHERE doc_id = ?1", [id.as_str()])?;
        }
        Ok(())
    }

    fn rejected(&mut self, id: &DocId, code: RejectCode, message: &str) -> Result<()> {
        let Some((header, doc)) = self.load(id)? else {
            return Ok(());
        };
        let acked = self.acked_heads(id)?;
        let code = serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{code:?}"));
        self.transaction(|s| {
            s.conn.execute(
                "INSERT INTO quarantine (doc_id, code, message, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.as_str(), code, message, doc.save_after(&acked), now_ms()],
            )?;
            s.conn.execute("DELETE FROM outbox WHERE doc_id = ?1", [id.as_str()])?;
            if acked.is_empty() {
                s.cache.pop(id);
                s.conn.execute("DELETE FROM documents WHERE id = ?1", [id.as_str()])?;
            } else {
                let restored = doc.fork_at(&acked)?;
                s.save(&header, &restored)?;
                s.conn.execute("UPDATE documents SET sync_state = NULL WHERE id = ?1", [id.as_str()])?;
            }
            Ok(())
        })
    }
}

/// What of `doc` this device may push to a server that holds `theirs` (its
/// heads): the server takes new changes only from the pushing device's own
/// actor (and schema migration steps from anyone), so after a restore each
/// device gives back its own changes, and those of others reach the server
/// from their authors. A change of ours that depends on another's change the
/// server lacks waits for it (the document stays in recovery).
pub fn pushable(doc: &Automerge, theirs: &[ChangeHash], mine: &automerge::ActorId) -> Automerge {
    let known: Vec<ChangeHash> = theirs
        .iter()
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .copied()
        .collect();
    let beyond = doc.get_changes(&known);
    let missing: HashSet<ChangeHash> = beyond.iter().map(|c| c.hash()).collect();
    let mut ok: HashSet<ChangeHash> = HashSet::new();
    // `get_changes` lists them in causal order: deps come first.
    for c in &beyond {
        let ours =
            c.actor_id() == mine || fieldsync_proto::model::migrate::is_step_change(&c.hash());
        if ours
            && c.deps()
                .iter()
                .all(|d| !missing.contains(d) || ok.contains(d))
        {
            ok.insert(c.hash());
        }
    }
    if ok.len() == beyond.len() {
        return doc.clone();
    }
    let heads: Vec<ChangeHash> = known.into_iter().chain(ok).collect();
    doc.fork_at(&heads).unwrap_or_else(|_| doc.clone())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;

    fn note(id: &str) -> (DocHeader, Automerge) {
        let mut doc = Automerge::new();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "title", id).map(|_| ())
        })
        .unwrap();
        (DocHeader::new(DocId::new(id).unwrap(), DocType::Note), doc)
    }

    #[test]
    fn the_reader_sees_what_is_committed_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LocalStore::open(dir.path()).unwrap();
        let reader = StoreReader::open(dir.path()).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal", "readers beside a writer need WAL");

        let (first, doc) = note("note-first");
        store.record_local_change(&first, &doc, &[]).unwrap();
        store
            .transaction(|s| {
                let (second, doc) = note("note-second");
                s.record_local_change(&second, &doc, &[])?;
                s.set_meta(crate::keys::CURSOR, "7")?;
                // Inside the writer's open transaction the reader answers at
                // once, with the last commit.
                assert_eq!(reader.outbox_len()?, 1);
                assert_eq!(reader.document_ids(None)?, vec![first.id.clone()]);
                assert_eq!(reader.meta(crate::keys::CURSOR)?, None);
                assert_eq!(s.outbox_len()?, 2, "the writer sees its own writes");
                Ok(())
            })
            .unwrap();
        assert_eq!(reader.outbox_len().unwrap(), 2);
        assert_eq!(
            reader.meta(crate::keys::CURSOR).unwrap().as_deref(),
            Some("7")
        );
        let (_, read) = reader.stored_document(&first.id).unwrap().unwrap();
        assert_eq!(read.get_heads(), doc.get_heads());

        let refused = reader.conn.execute("DELETE FROM outbox", []);
        assert!(refused.is_err(), "the read connection is read-only");
        assert_eq!(store.outbox_len().unwrap(), 2);
    }
}
