//! Documents the sync path loaded or wrote lately, kept in memory by
//! (community, id, sequence), so that the next message for one (a teammate
//! pulling the patrol a volunteer just pushed, the volunteer's next
//! check-in) does not rebuild it from its stored chunks.
//!
//! An entry is found only under the sequence the database holds for the
//! document now: a write anywhere (this process, another replica, the
//! server's own alerts) gives it a new sequence, and the stale entry is
//! never used. Bounded by count and by an estimate of memory; the least
//! recently used go first.

use std::collections::HashMap;
use std::sync::Mutex;

use automerge::Automerge;
use fieldsync_proto::DocId;

/// Documents kept at most.
const MAX_DOCS: usize = 2_048;
/// Memory kept at most, estimated as eight times a document's stored
/// (compressed) size.
const MAX_BYTES: usize = 32 << 20;
const INFLATION: usize = 8;

struct Entry {
    seq: i64,
    doc: Automerge,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    docs: HashMap<(String, DocId), Entry>,
    bytes: usize,
    clock: u64,
}

/// The cache; one per process.
#[derive(Default)]
pub struct DocCache {
    inner: Mutex<Inner>,
}

impl DocCache {
    /// A copy of the document as of `seq`, if it is here.
    pub fn get(&self, community: &str, id: &DocId, seq: i64) -> Option<Automerge> {
        let mut inner = self.inner.lock().expect("document cache lock poisoned");
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.docs.get_mut(&(community.to_owned(), id.clone()))?;
        if entry.seq != seq {
            return None;
        }
        entry.used = now;
        Some(entry.doc.clone())
    }

    /// Keeps `doc` as the document at `seq` (its stored size `stored_bytes`).
    pub fn put(&self, community: &str, id: &DocId, seq: i64, doc: Automerge, stored_bytes: usize) {
        let bytes = stored_bytes.saturating_mul(INFLATION);
        if bytes > MAX_BYTES / 8 {
            return;
        }
        let mut inner = self.inner.lock().expect("document cache lock poisoned");
        inner.clock += 1;
        let used = inner.clock;
        let key = (community.to_owned(), id.clone());
        if let Some(old) = inner.docs.remove(&key) {
            inner.bytes -= old.bytes;
        }
        while !inner.docs.is_empty()
            && (inner.docs.len() >= MAX_DOCS || inner.bytes + bytes > MAX_BYTES)
        {
            let oldest = inner
                .docs
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some(gone) = inner.docs.remove(&oldest) {
                inner.bytes -= gone.bytes;
            }
        }
        inner.bytes += bytes;
        inner.docs.insert(
            key,
            Entry {
                seq,
                doc,
                bytes,
                used,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    use super::*;

    fn doc(value: &str) -> Automerge {
        let mut d = Automerge::new();
        d.transact(|tx| tx.put(ROOT, "v", value)).unwrap();
        d
    }

    #[test]
    fn an_entry_is_found_only_under_its_sequence() {
        let cache = DocCache::default();
        let id = DocId::new("note-1").unwrap();
        cache.put("c1", &id, 7, doc("a"), 100);
        assert!(cache.get("c1", &id, 8).is_none(), "a newer write");
        assert!(cache.get("c2", &id, 7).is_none(), "another community");
        let got = cache.get("c1", &id, 7).unwrap();
        assert_eq!(
            got.get(ROOT, "v")
                .unwrap()
                .unwrap()
                .0
                .into_string()
                .ok()
                .as_deref(),
            Some("a")
        );
        cache.put("c1", &id, 8, doc("b"), 100);
        assert!(cache.get("c1", &id, 7).is_none(), "replaced");
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let cache = DocCache::default();
        let ids: Vec<DocId> = (0..=MAX_DOCS)
            .map(|i| DocId::new(format!("note-{i}")).unwrap())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            cache.put("c1", id, 1, Automerge::new(), 10);
            if i == 0 {
                continue;
            }
            // The first stays in use.
            assert!(cache.get("c1", &ids[0], 1).is_some());
        }
        assert!(cache.get("c1", &ids[0], 1).is_some());
        assert!(cache.get("c1", &ids[1], 1).is_none(), "evicted");
        assert!(cache.get("c1", &ids[MAX_DOCS], 1).is_some());
    }
}
