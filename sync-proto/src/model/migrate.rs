//! Schema migrations: how a document type moves to its next schema version
//! without losing data and without splitting replicas.
//!
//! A document is edited on many replicas, some offline for days, some still
//! running the previous release. So a migration never rewrites data on one
//! replica; it is a list of [`Step`]s, and each step:
//! - may only *create* things at the document's root: a container a new
//!   feature appends to, or a constant default;
//! - runs as one automerge change built the same way everywhere: its own
//!   actor, sequence 1, time 0, no message, depending only on the type's
//!   earlier steps. Every replica that upgrades a document therefore makes
//!   the byte-identical change, with the same hash, and automerge keeps one
//!   copy when the replicas merge. The server upgrading a document and a
//!   phone upgrading its offline copy never end up with two `notes` lists,
//!   one of which would hide its entries.
//!
//! # Invariants
//! - A document's version is 1 + the number of its type's steps whose change
//!   it holds ([`version_of`]); the version in a header is a claim, this is
//!   the fact.
//! - Readers of version n read every older version (new fields have serde
//!   defaults). A change of a field's shape is a read-time upcast in the
//!   reader, never a migration change.
//! - Only a step writes the root keys it creates ([`check_reserved`]): a key
//!   written by any other change would conflict with the step's value.
//! - A change set made only of step changes is nobody's edit: the server
//!   accepts it from any device that may read the document.
//!
//! Who upgrades: the SDK before its first local write to an older document,
//! the server when it accepts a change to one. Untouched documents stay at
//! their version, and both releases read them.

use std::collections::HashSet;
use std::sync::OnceLock;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, Change, ChangeHash, ObjType, ROOT, ReadDoc};

use super::DocType;

/// One step from version `to_version - 1` of a type to `to_version`.
pub struct Step {
    pub doc_type: DocType,
    pub to_version: u32,
    /// The root keys the step creates; no other change may write them.
    pub creates: &'static [&'static str],
    apply: fn(&mut Transaction<'_>) -> Result<(), AutomergeError>,
}

/// Every step of every type, in version order per type.
pub const STEPS: &[Step] = &[
    // Patrol 2: append-only notes (handover notes, remarks on the round).
    Step {
        doc_type: DocType::Patrol,
        to_version: 2,
        creates: &["notes"],
        apply: |tx| tx.put_object(ROOT, "notes", ObjType::List).map(|_| ()),
    },
];

/// The steps of one type, oldest first.
pub fn steps(doc_type: DocType) -> impl Iterator<Item = &'static Step> {
    STEPS.iter().filter(move |s| s.doc_type == doc_type)
}

/// The schema version this build writes for `doc_type`.
pub fn current_version(doc_type: DocType) -> u32 {
    1 + steps(doc_type).count() as u32
}

/// A type's step changes, built once.
struct Built {
    changes: Vec<Change>,
    /// Per step, the id of what it put at each key it creates, in the
    /// order of `Step::creates`.
    keys: Vec<Vec<automerge::ObjId>>,
}

fn built(doc_type: DocType) -> &'static Built {
    static BUILT: OnceLock<Vec<Built>> = OnceLock::new();
    let all = BUILT.get_or_init(|| DocType::ALL.iter().map(|&t| build(t)).collect());
    let i = DocType::ALL
        .iter()
        .position(|&t| t == doc_type)
        .expect("DocType::ALL lists every type");
    &all[i]
}

/// The actor of a step: the same bytes on every replica, and never a
/// device's (device actors are 16 random bytes).
fn step_actor(step: &Step) -> ActorId {
    ActorId::from(
        format!(
            "fieldsync-migrate:{}:v{}",
            step.doc_type.as_str(),
            step.to_version
        )
        .as_bytes(),
    )
}

fn build(doc_type: DocType) -> Built {
    let mut doc = Automerge::new();
    let mut changes = Vec::new();
    let mut keys = Vec::new();
    for step in steps(doc_type) {
        debug_assert_eq!(
            step.to_version as usize,
            changes.len() + 2,
            "steps in order"
        );
        doc.set_actor(step_actor(step));
        let mut tx = doc.transaction();
        (step.apply)(&mut tx).expect("a migration step writes only at the root of its own change");
        tx.commit_with(CommitOptions::default().with_time(0));
        changes.push(
            doc.get_last_local_change()
                .expect("a migration step makes a change"),
        );
        keys.push(
            step.creates
                .iter()
                .map(|&k| {
                    let (_, id) = doc
                        .get(ROOT, k)
                        .ok()
                        .flatten()
                        .expect("a step creates the keys it names");
                    id
                })
                .collect(),
        );
    }
    Built { changes, keys }
}

/// Whether `hash` is the change of some type's migration step.
pub fn is_step_change(hash: &ChangeHash) -> bool {
    static HASHES: OnceLock<HashSet<ChangeHash>> = OnceLock::new();
    HASHES
        .get_or_init(|| {
            DocType::ALL
                .iter()
                .flat_map(|&t| built(t).changes.iter().map(Change::hash))
                .collect()
        })
        .contains(hash)
}

/// The schema version of a document: 1 plus the number of its type's steps
/// it holds, in order.
pub fn version_of(doc_type: DocType, doc: &impl ReadDoc) -> u32 {
    1 + built(doc_type)
        .changes
        .iter()
        .take_while(|c| doc.get_change_by_hash(&c.hash()).is_some())
        .count() as u32
}

/// Brings a document to the current version of its type. Returns whether it
/// changed. Safe on any replica at any time: the step changes are the same
/// everywhere.
pub fn upgrade(doc_type: DocType, doc: &mut Automerge) -> Result<bool, AutomergeError> {
    let missing: Vec<Change> = built(doc_type)
        .changes
        .iter()
        .filter(|c| doc.get_change_by_hash(&c.hash()).is_none())
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    doc.apply_changes(missing)?;
    Ok(true)
}

/// An empty document of `doc_type` at the current version: what every new
/// document starts from.
pub fn new_doc(doc_type: DocType) -> Automerge {
    let mut doc = Automerge::new();
    upgrade(doc_type, &mut doc).expect("step changes apply to an empty document");
    doc
}

/// Whether some step of `doc_type` creates the root key `key`.
pub fn is_reserved(doc_type: DocType, key: &str) -> bool {
    steps(doc_type).any(|s| s.creates.contains(&key))
}

/// Checks that only the steps wrote their root keys: each key is there,
/// unconflicted, exactly as its step made it once the document holds the
/// step, and absent before. `Err` says which key is wrong.
pub fn check_reserved(doc_type: DocType, doc: &impl ReadDoc) -> Result<(), String> {
    let built = built(doc_type);
    for ((step, change), keys) in steps(doc_type).zip(&built.changes).zip(&built.keys) {
        let held = doc.get_change_by_hash(&change.hash()).is_some();
        for (key, made) in step.creates.iter().zip(keys) {
            let values = doc
                .get_all(ROOT, *key)
                .map_err(|e| format!("cannot read {key}: {e}"))?;
            let ok = if held {
                values.len() == 1 && values[0].1 == *made
            } else {
                values.is_empty()
            };
            if !ok {
                return Err(format!(
                    "reserved_key: `{key}` of a {} document is created by the v{} schema migration \
                     alone; it may not be written, replaced or deleted",
                    doc_type.as_str(),
                    step.to_version
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patrol_v1(actor: u8, started_by: &str) -> Automerge {
        let mut doc = Automerge::new();
        doc.set_actor(ActorId::from(vec![actor; 16]));
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put(ROOT, "started_by", started_by)?;
            tx.put(ROOT, "started_at_ms", 1_800_000_000_000i64)?;
            tx.put_object(ROOT, "checkins", ObjType::List)?;
            Ok(())
        })
        .unwrap();
        doc
    }

    fn append_note(doc: &mut Automerge, actor: u8, text: &str) {
        doc.set_actor(ActorId::from(vec![actor; 16]));
        doc.transact::<_, _, AutomergeError>(|tx| {
            let (_, notes) = tx.get(ROOT, "notes")?.expect("the notes list");
            let n = tx.length(&notes);
            let note = tx.insert_object(&notes, n, ObjType::Map)?;
            tx.put(&note, "text", text)?;
            Ok(())
        })
        .unwrap();
    }

    fn notes(doc: &Automerge) -> Vec<String> {
        let Some((_, list)) = doc.get(ROOT, "notes").unwrap() else {
            return Vec::new();
        };
        (0..doc.length(&list))
            .map(|i| {
                let (_, note) = doc.get(&list, i).unwrap().unwrap();
                doc.get(&note, "text").unwrap().unwrap().0.to_string()
            })
            .collect()
    }

    #[test]
    fn versions_follow_the_steps() {
        assert_eq!(current_version(DocType::Patrol), 2);
        assert_eq!(DocType::Patrol.current_schema(), 2);
        assert_eq!(current_version(DocType::Hazard), 1);
        let mut doc = patrol_v1(1, "user-a");
        assert_eq!(version_of(DocType::Patrol, &doc), 1);
        assert!(upgrade(DocType::Patrol, &mut doc).unwrap());
        assert_eq!(version_of(DocType::Patrol, &doc), 2);
        assert!(!upgrade(DocType::Patrol, &mut doc).unwrap(), "idempotent");
        assert_eq!(version_of(DocType::Patrol, &new_doc(DocType::Patrol)), 2);
        assert_eq!(version_of(DocType::Hazard, &new_doc(DocType::Hazard)), 1);
        assert!(new_doc(DocType::Hazard).get_heads().is_empty());
    }

    #[test]
    fn every_replica_makes_the_same_step_change() {
        let a = build(DocType::Patrol);
        let b = build(DocType::Patrol);
        assert_eq!(a.changes.len(), 1);
        assert_eq!(a.changes[0].hash(), b.changes[0].hash());
        assert_eq!(a.changes[0].raw_bytes(), b.changes[0].raw_bytes());
        assert!(is_step_change(&a.changes[0].hash()));
        assert!(a.changes[0].deps().is_empty());
    }

    /// The server and an offline phone upgrade the same v1 patrol on their
    /// own, each appends notes, and the merge keeps one list with every note.
    #[test]
    fn independent_upgrades_merge_into_one_list() {
        let server_copy = patrol_v1(1, "user-a");
        let mut phone = server_copy.fork();
        phone.set_actor(ActorId::from(vec![2; 16]));
        let mut server = server_copy;
        // Both replicas move on before upgrading, so their heads differ.
        server
            .transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "ended_at_ms", 5i64).map(|_| ()))
            .unwrap();
        upgrade(DocType::Patrol, &mut server).unwrap();
        upgrade(DocType::Patrol, &mut phone).unwrap();
        append_note(&mut server, 3, "server side");
        append_note(&mut phone, 2, "stairwell light out on 5F");
        append_note(&mut phone, 2, "handover: gate B chained");
        check_reserved(DocType::Patrol, &server).unwrap();
        check_reserved(DocType::Patrol, &phone).unwrap();

        let mut merged_at_server = server.fork();
        merged_at_server.merge(&mut phone.fork()).unwrap();
        let mut merged_at_phone = phone.fork();
        merged_at_phone.merge(&mut server.fork()).unwrap();
        assert_eq!(merged_at_server.get_heads(), merged_at_phone.get_heads());
        assert_eq!(
            merged_at_server.get_all(ROOT, "notes").unwrap().len(),
            1,
            "one notes list, not two"
        );
        let mut all = notes(&merged_at_server);
        all.sort();
        assert_eq!(
            all,
            [
                "\"handover: gate B chained\"",
                "\"server side\"",
                "\"stairwell light out on 5F\""
            ]
        );
        assert_eq!(notes(&merged_at_server), notes(&merged_at_phone));
        check_reserved(DocType::Patrol, &merged_at_server).unwrap();
        assert_eq!(version_of(DocType::Patrol, &merged_at_server), 2);
    }

    #[test]
    fn reserved_keys_are_the_steps_alone() {
        // A v1 document that grows its own `notes` list.
        let mut forged = patrol_v1(1, "user-a");
        forged
            .transact::<_, _, AutomergeError>(|tx| {
                tx.put_object(ROOT, "notes", ObjType::List).map(|_| ())
            })
            .unwrap();
        let e = check_reserved(DocType::Patrol, &forged).unwrap_err();
        assert!(e.starts_with("reserved_key: `notes`"), "{e}");
        // ... and the same after upgrading: two values of `notes` conflict.
        upgrade(DocType::Patrol, &mut forged).unwrap();
        assert!(check_reserved(DocType::Patrol, &forged).is_err());

        // Replacing or deleting the step's list.
        let mut doc = patrol_v1(1, "user-a");
        upgrade(DocType::Patrol, &mut doc).unwrap();
        let mut replaced = doc.fork();
        replaced
            .transact::<_, _, AutomergeError>(|tx| {
                tx.put_object(ROOT, "notes", ObjType::List).map(|_| ())
            })
            .unwrap();
        assert!(check_reserved(DocType::Patrol, &replaced).is_err());
        let mut deleted = doc.fork();
        deleted
            .transact::<_, _, AutomergeError>(|tx| tx.delete(ROOT, "notes"))
            .unwrap();
        assert!(check_reserved(DocType::Patrol, &deleted).is_err());
        assert!(check_reserved(DocType::Patrol, &doc).is_ok());
    }

    /// A change that claims a step's actor but carries other content is not a
    /// step change.
    #[test]
    fn a_steps_actor_is_not_enough() {
        let step = &STEPS[0];
        let mut doc = Automerge::new();
        doc.set_actor(step_actor(step));
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put_object(ROOT, "notes", ObjType::List)?;
            tx.put(ROOT, "started_by", "someone-else")?;
            Ok(())
        })
        .unwrap();
        let forged = doc.get_last_local_change().unwrap();
        assert!(!is_step_change(&forged.hash()));
        assert_eq!(version_of(DocType::Patrol, &doc), 1);
    }
}
