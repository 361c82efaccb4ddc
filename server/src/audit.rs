//! The audit chain (docs/security.md#the-audit-chain): one append-only entry
//! per accepted change set (phones, REST, the dashboard, the server itself)
//! and per admin action, each chained by hash to the one before, per
//! community. Editing, deleting or reordering entries breaks a link that
//! [`verify`] finds; the chain head goes into every monthly report, so a
//! copy of it lives outside the database.
//!
//! This module is the rule, no I/O: what an entry holds, how it is hashed,
//! how a chain is checked. The store appends entries in the same transaction
//! as the write they record (`Store::commit`, the admin writes).

use automerge::{Automerge, ChangeHash};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev` of a community's first entry.
pub const GENESIS: &str = "";

/// What an entry records, before it is placed in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Default, sqlx::FromRow, Serialize)]
pub struct Record {
    /// `change` (a document change set) or `admin` (an admin action).
    pub kind: String,
    pub user_id: String,
    pub device_id: String,
    /// The automerge actors of the changes, comma-separated (empty for admin
    /// actions).
    pub actor: String,
    /// The document id, or the admin action's subject.
    pub subject: String,
    /// The document type, or the admin action.
    pub action: String,
    /// The change hashes, comma-separated, or the admin action's detail (JSON).
    pub detail: String,
}

impl Record {
    /// The record of a change set: who wrote it, and the changes of `doc`
    /// that are not under `before`.
    pub fn change(
        user_id: &str,
        device_id: &str,
        doc_id: &str,
        doc_type: &str,
        doc: &Automerge,
        before: &[ChangeHash],
    ) -> Record {
        let changes = doc.get_changes(before);
        let mut actors: Vec<String> = changes
            .iter()
            .map(|c| c.actor_id().to_hex_string())
            .collect();
        actors.sort();
        actors.dedup();
        Record {
            kind: "change".into(),
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            actor: actors.join(","),
            subject: doc_id.to_owned(),
            action: doc_type.to_owned(),
            detail: changes
                .iter()
                .map(|c| c.hash().to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// One entry as stored: a record in its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Entry {
    pub seq: i64,
    /// Server time, ms.
    pub at: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub record: Record,
    /// The hash of the entry before (hex), [`GENESIS`] for the first.
    pub prev: String,
    /// This entry's hash (hex), over `prev` and every field above.
    pub hash: String,
}

/// Where a community's chain ends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// Places `record` after `prev` (the head before it) as entry `seq` at `at`.
pub fn link(prev: &Head, at: i64, record: Record) -> Entry {
    let mut e = Entry {
        seq: prev.seq + 1,
        at,
        record,
        prev: prev.hash.clone(),
        hash: String::new(),
    };
    e.hash = hash(&e);
    e
}

/// Places `records` one after the other from `head`; returns the entries and
/// the new head.
pub fn extend(head: &Head, at: i64, records: Vec<Record>) -> (Vec<Entry>, Head) {
    let mut head = head.clone();
    let entries = records
        .into_iter()
        .map(|r| {
            let e = link(&head, at, r);
            head = Head {
                seq: e.seq,
                hash: e.hash.clone(),
            };
            e
        })
        .collect();
    (entries, head)
}

/// The hash of an entry: SHA-256 over its fields, each length-prefixed so no
/// two entries concatenate to the same bytes.
pub fn hash(e: &Entry) -> String {
    let mut h = Sha256::new();
    let seq = e.seq.to_string();
    let at = e.at.to_string();
    let r = &e.record;
    for part in [
        "fieldsync-audit-v1",
        &e.prev,
        &seq,
        &at,
        &r.kind,
        &r.user_id,
        &r.device_id,
        &r.actor,
        &r.subject,
        &r.action,
        &r.detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("entry {seq}: its contents do not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("entry {seq}: it does not follow the entry before it (deleted, inserted or reordered)")]
    Unlinked { seq: i64 },
    #[error("entry {seq} is missing (expected {seq}, found {found})")]
    Missing { seq: i64, found: i64 },
    #[error("the chain ends at entry {last}, but the community's head is entry {head}")]
    Truncated { last: i64, head: i64 },
    #[error("the chain's last hash does not match the community's head")]
    HeadMismatch,
}

/// Checks a chain entry by entry, in `seq` order as read.
#[derive(Debug, Clone)]
pub struct Verifier {
    last: Head,
}

impl Default for Verifier {
    fn default() -> Verifier {
        Verifier {
            last: Head {
                seq: 0,
                hash: GENESIS.to_owned(),
            },
        }
    }
}

impl Verifier {
    /// The next entry: it must follow the last one and match its own hash.
    pub fn push(&mut self, e: Entry) -> Result<(), Broken> {
        let last = &self.last;
        if e.seq > last.seq + 1 {
            return Err(Broken::Missing {
                seq: last.seq + 1,
                found: e.seq,
            });
        }
        if e.seq != last.seq + 1 {
            return Err(Broken::Unlinked { seq: e.seq });
        }
        if hash(&e) != e.hash {
            return Err(Broken::Edited { seq: e.seq });
        }
        if e.prev != last.hash {
            return Err(Broken::Unlinked { seq: e.seq });
        }
        self.last = Head {
            seq: e.seq,
            hash: e.hash,
        };
        Ok(())
    }

    /// The end of the chain must be the head the community row holds;
    /// returns how many entries were checked.
    pub fn finish(self, head: &Head) -> Result<i64, Broken> {
        if self.last.seq != head.seq {
            return Err(Broken::Truncated {
                last: self.last.seq,
                head: head.seq,
            });
        }
        if self.last.hash != head.hash {
            return Err(Broken::HeadMismatch);
        }
        Ok(self.last.seq)
    }
}

/// Checks a community's entries against each other and against its head.
pub fn verify(entries: impl IntoIterator<Item = Entry>, head: &Head) -> Result<i64, Broken> {
    let mut v = Verifier::default();
    for e in entries {
        v.push(e)?;
    }
    v.finish(head)
}

/// Checks a community's chain as stored, a page at a time.
pub async fn verify_stored(
    store: &crate::store::Store,
    community: &str,
) -> Result<Result<i64, Broken>, crate::store::StoreError> {
    // The head first: entries appended while this runs are past it.
    let head = store.audit_head(community).await?;
    let mut v = Verifier::default();
    let mut after = 0;
    while after < head.seq {
        let page = store
            .audit_chain_page(community, after, 10_000.min(head.seq - after))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page {
            if let Err(broken) = v.push(e) {
                return Ok(Err(broken));
            }
        }
    }
    Ok(v.finish(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> Record {
        Record {
            kind: "admin".into(),
            user_id: "user-demo-office".into(),
            device_id: "dev-office".into(),
            subject: format!("user-{n}"),
            action: "user.create".into(),
            detail: "{}".into(),
            ..Record::default()
        }
    }

    fn chain(n: usize) -> (Vec<Entry>, Head) {
        extend(
            &Head::default(),
            1_800_000_000_000,
            (0..n).map(record).collect(),
        )
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (entries, head) = chain(5);
        assert_eq!(verify(entries, &head), Ok(5));
        assert_eq!(verify(Vec::new(), &Head::default()), Ok(0));
    }

    #[test]
    fn every_kind_of_tampering_is_found_at_its_entry() {
        let (entries, head) = chain(5);
        let mut edited = entries.clone();
        edited[2].record.user_id = "user-someone-else".into();
        assert_eq!(verify(edited, &head), Err(Broken::Edited { seq: 3 }));

        // Recomputing the edited entry's own hash breaks the next link.
        let mut rehashed = entries.clone();
        rehashed[2].record.detail = "{\"forged\":true}".into();
        rehashed[2].hash = hash(&rehashed[2]);
        assert_eq!(verify(rehashed, &head), Err(Broken::Unlinked { seq: 4 }));

        let mut deleted = entries.clone();
        deleted.remove(1);
        assert_eq!(
            verify(deleted, &head),
            Err(Broken::Missing { seq: 2, found: 3 })
        );

        // Two entries swapped, seq numbers and all.
        let mut reordered = entries.clone();
        reordered.swap(1, 2);
        (reordered[1].seq, reordered[2].seq) = (2, 3);
        assert_eq!(verify(reordered, &head), Err(Broken::Edited { seq: 2 }));

        let mut cut = entries.clone();
        cut.pop();
        assert_eq!(
            verify(cut, &head),
            Err(Broken::Truncated { last: 4, head: 5 })
        );
    }
}
