//! The one path every document write takes to the store, whoever makes it: a
//! device's sync batch (`crate::sync`), a REST write by the office
//! (`crate::documents::put`), a document the server raises itself (alerts,
//! the demo community).
//!
//! A source applies and checks the change (`validate::check_change`, as the
//! author it knows) and hands over a [`Write`] with the checked content. Here
//! the same steps follow for every source: the checks only the database can
//! make (a route's posts exist), the read scope, the projection rows (with
//! the flags of check-ins whose tag does not verify) and photo links, the
//! commit with the optimistic sequence check, compaction, publishing the
//! community's change sequence, and waking the compliance engine.
//!
//! # Invariants
//! - Nothing else calls `Store::commit`.
//! - A write is stored with the scope and projection rows derived from its
//!   checked content, in the same transaction.
//! - A write is committed only if the document's sequence is still the one
//!   its writer loaded; otherwise it is a [`Outcome::Conflict`] and nothing
//!   of it is stored.
//! - The change feed is published after the transaction committed, never
//!   before: whoever hears of a sequence can read it.
//! - Writers of a community commit in turn, and a turn commits every write
//!   queued by then (a group commit); each writer still gets exactly its
//!   own outcomes, and a failed group is retried writer by writer.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::ChangeHash;
use fieldsync_proto::model::patrol::Proof;
use fieldsync_proto::model::validate::{self, Checked};
use fieldsync_proto::session::Rejection;
use fieldsync_proto::{DocHeader, DocType, RejectCode};
use tokio::sync::{Notify, oneshot};

use crate::clock::now_ms;
use crate::feed::Feeds;
use crate::scope::{self, Grids, Seed};
use crate::store::{DocWrite, PostRow, Store, StoreError, TagKeyRow, WriteOutcome, encode_heads};

/// Chunks a document may accumulate before it is compacted into one snapshot.
pub const COMPACT_AFTER_CHUNKS: i64 = 32;

/// One checked document write, from any source.
#[derive(Debug, Clone)]
pub struct Write {
    /// The document; its schema version as computed from the document.
    pub header: DocHeader,
    /// The `seq` the writer loaded; `None` when it creates the document.
    pub expected_seq: Option<i64>,
    /// The new changes as one chunk (the whole document when it is new).
    pub chunk: Vec<u8>,
    /// The document's heads after this write.
    pub heads: Vec<ChangeHash>,
    /// Who made it and which changes it holds (the device is `"server"` for
    /// the server's own): its audit chain entry.
    pub record: crate::audit::Record,
    /// What the checks read of the document after the change.
    pub checked: Checked,
    /// The whole document saved, when it has grown to
    /// [`COMPACT_AFTER_CHUNKS`] chunks: stored in place of them once the
    /// write is committed (see [`wants_snapshot`]).
    pub snapshot: Option<Vec<u8>>,
}

/// Whether a document stored in `chunk_count` chunks will be compacted after
/// its next write, so its writer saves a snapshot with it.
pub fn wants_snapshot(chunk_count: i64) -> bool {
    chunk_count + 1 > COMPACT_AFTER_CHUNKS
}

/// What became of one write.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Committed under this community change sequence.
    Stored { seq: i64 },
    /// A check only the database can make refused it; nothing was stored.
    Rejected(Rejection),
    /// The document changed since the writer loaded it; nothing was stored.
    Conflict,
}

/// Whether a stored document of this type changes what the compliance
/// engine computes, so it runs at once instead of at its next tick. Alerts
/// are what the engine writes itself: they must not wake it.
fn wakes_compliance(doc_type: DocType) -> bool {
    match doc_type {
        DocType::Patrol | DocType::Route | DocType::Roster => true,
        DocType::Places | DocType::Hazard | DocType::Incident | DocType::Alert | DocType::Note => {
            false
        }
    }
}

/// The commit path: the store, the change feeds it publishes, and the bell
/// of the compliance engine.
#[derive(Clone)]
pub struct Committer {
    store: Store,
    feeds: Feeds,
    compliance: Arc<Notify>,
    groups: Groups,
}

/// A writer's writes waiting for a group commit, and where its outcomes go.
struct Queued {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<Vec<Outcome>, Arc<StoreError>>>,
}

/// Per community: the writes waiting, and whose turn it is to commit.
#[derive(Default)]
struct Group {
    queue: std::sync::Mutex<Vec<Queued>>,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Group {
    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        self.queue.lock().expect("commit queue lock poisoned")
    }
}

#[derive(Clone, Default)]
struct Groups(Arc<std::sync::Mutex<HashMap<String, Arc<Group>>>>);

impl Groups {
    fn of(&self, community: &str) -> Arc<Group> {
        let mut groups = self.0.lock().expect("commit group lock poisoned");
        groups.entry(community.to_owned()).or_default().clone()
    }
}

impl Committer {
    pub fn new(store: Store) -> Committer {
        Committer {
            feeds: Feeds::new(store.clone()),
            store,
            groups: Groups::default(),
            compliance: Arc::new(Notify::new()),
        }
    }

    /// The store, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The communities' change feeds.
    pub fn feeds(&self) -> &Feeds {
        &self.feeds
    }

    /// Asks the compliance engine to run now (a replica's commit woke it).
    pub fn wake_compliance(&self) {
        self.compliance.notify_one();
    }

    /// Waits until a committed patrol, route or roster asks the compliance
    /// engine to run.
    pub async fn duty_changed(&self) {
        self.compliance.notified().await;
    }

    /// Commits `writes` of `community`; one outcome per write, in order.
    ///
    /// Writers of a community take turns, and whoever has the turn commits
    /// everything that queued up meanwhile, from every writer, in one
    /// transaction (a group commit): one fsync and one audit-chain append
    /// for many devices' change sets. When such a transaction fails, each
    /// writer's writes are tried again alone, so one bad write fails only
    /// its own writer.
    pub async fn commit(
        &self,
        community: &str,
        writes: Vec<Write>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let group = self.groups.of(community);
        let (done, mut result) = oneshot::channel();
        group.lock_queue().push(Queued { writes, done });
        let turn = group.turn.clone().lock_owned().await;
        // The writer before us may have committed ours with its own.
        if let Ok(outcome) = result.try_recv() {
            return outcome.map_err(StoreError::Shared);
        }
        let queued = std::mem::take(&mut *group.lock_queue());
        // On a task of its own, so that a writer that goes away (its
        // connection closed) does not cancel the others' commit.
        let (this, community) = (self.clone(), community.to_owned());
        tokio::spawn(async move {
            let _turn = turn;
            this.commit_group(&community, queued).await;
        });
        result
            .await
            .map_err(|_| StoreError::Corrupt("the group commit stopped".into()))?
            .map_err(StoreError::Shared)
    }

    /// Commits the queued writes of several writers together, and answers
    /// each.
    async fn commit_group(&self, community: &str, queued: Vec<Queued>) {
        if queued.len() == 1 {
            let Queued { writes, done } = queued.into_iter().next().expect("one");
            let _ = done.send(self.commit_now(community, writes).await.map_err(Arc::new));
            return;
        }
        // Kept for the retry, one writer at a time; the originals go in.
        let retry: Vec<Vec<Write>> = queued.iter().map(|q| q.writes.clone()).collect();
        let (all, dones): (Vec<Vec<Write>>, Vec<_>) =
            queued.into_iter().map(|q| (q.writes, q.done)).unzip();
        match self
            .commit_now(community, all.into_iter().flatten().collect())
            .await
        {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for (done, writes) in dones.into_iter().zip(&retry) {
                    let _ = done.send(Ok(outcomes.by_ref().take(writes.len()).collect()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writers = dones.len(), "group commit failed; committing each writer alone");
                for (done, writes) in dones.into_iter().zip(retry) {
                    let _ = done.send(self.commit_now(community, writes).await.map_err(Arc::new));
                }
            }
        }
    }

    /// Commits `writes` in one transaction.
    async fn commit_now(
        &self,
        community: &str,
        writes: Vec<Write>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let started = std::time::Instant::now();
        let now = now_ms();
        let seeds: Vec<Seed> = writes.iter().map(|w| scope::seed(&w.checked)).collect();
        let facts = Facts::load(&self.store, community, &writes, &seeds).await?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; writes.len()];
        let mut doc_writes = Vec::with_capacity(writes.len());
        let mut kept = Vec::with_capacity(writes.len());
        for (i, (w, seed)) in writes.into_iter().zip(&seeds).enumerate() {
            if let Err(rejection) = facts.check(&w.header, &w.checked) {
                outcomes[i] = Some(Outcome::Rejected(rejection));
                continue;
            }
            doc_writes.push(DocWrite {
                scope: facts.grids.resolve(seed),
                projection: crate::projection::rows(
                    &w.header.id,
                    w.checked,
                    crate::projection::Judge {
                        community,
                        posts: &facts.posts,
                        keys: &facts.keys,
                    },
                    |_| now,
                ),
                header: w.header,
                expected_seq: w.expected_seq,
                chunk: w.chunk,
                heads: encode_heads(&w.heads),
                device_id: w.record.device_id.clone(),
                record: w.record,
            });
            kept.push((i, w.snapshot));
        }
        let wakes = doc_writes
            .iter()
            .any(|w| wakes_compliance(w.header.doc_type));
        let stored = self
            .store
            .commit(community, &doc_writes, now, wakes)
            .await?;
        let mut max_seq = None;
        let mut wake = false;
        for ((w, (i, snapshot)), outcome) in doc_writes.iter().zip(kept).zip(stored) {
            outcomes[i] = Some(match outcome {
                WriteOutcome::Stored { seq, chunk_count } => {
                    max_seq = max_seq.max(Some(seq));
                    wake |= wakes_compliance(w.header.doc_type);
                    if let Some(snapshot) = snapshot.filter(|_| chunk_count > COMPACT_AFTER_CHUNKS)
                    {
                        self.store
                            .compact(community, &w.header.id, seq, &snapshot)
                            .await?;
                    }
                    Outcome::Stored { seq }
                }
                WriteOutcome::Conflict => Outcome::Conflict,
            });
        }
        crate::metrics::observe_since(&crate::metrics::METRICS.commit_seconds, started);
        if let Some(seq) = max_seq {
            self.feeds.committed(community, seq);
            if wake {
                self.compliance.notify_one();
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every write has an outcome"))
            .collect())
    }
}

/// What only the database knows, read once per commit and only when a write
/// needs it: the community's posts (routes, check-ins, the geofence, grids),
/// tag keys (new check-ins), and the grids of posts and teams (scopes).
struct Facts {
    posts: Vec<PostRow>,
    keys: Vec<TagKeyRow>,
    grids: Grids,
}

impl Facts {
    async fn load(
        store: &Store,
        community: &str,
        writes: &[Write],
        seeds: &[Seed],
    ) -> Result<Facts, StoreError> {
        let checkins = writes.iter().any(|w| {
            matches!(&w.checked, Checked::Patrol { new_checkins, .. }
                if new_checkins.iter().any(|c| matches!(c.proof, Proof::Tag { .. })))
        });
        let grids = seeds.iter().any(Seed::needs_grids);
        let posts = grids
            || writes
                .iter()
                .any(|w| matches!(w.checked, Checked::Patrol { .. } | Checked::Route(_)));
        let posts = if posts {
            store.posts(community, None).await?
        } else {
            Vec::new()
        };
        let keys = if checkins {
            store.tag_keys(community).await?
        } else {
            Vec::new()
        };
        let grids = if grids {
            Grids::new(&posts, &store.teams(community).await?)
        } else {
            Grids::default()
        };
        Ok(Facts { posts, keys, grids })
    }

    /// The checks of a write that need the database.
    fn check(&self, header: &DocHeader, checked: &Checked) -> Result<(), Rejection> {
        if checked.doc_type() != header.doc_type {
            return Err(Rejection {
                code: RejectCode::InvalidHeader,
                message: format!(
                    "document {} is a {} document, not {}",
                    header.id,
                    checked.doc_type().as_str(),
                    header.doc_type.as_str()
                ),
            });
        }
        match checked {
            Checked::Route(route) => {
                validate::check_route_posts(route, |id| self.posts.iter().any(|p| p.id == id))
            }
            // A check-in whose post or tag does not check out is evidence
            // all the same: it is stored, flagged (`crate::tags::flag`).
            Checked::Patrol { .. }
            | Checked::Hazard(_)
            | Checked::Incident(_)
            | Checked::Roster(_)
            | Checked::Alert(_)
            | Checked::Places
            | Checked::Note => Ok(()),
        }
    }
}
