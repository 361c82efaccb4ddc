//! [`LocalDocs`] in memory: a device's documents without a disk, for tests,
//! fuzzing, and the load simulator's many devices in one process.

use std::collections::HashMap;

use automerge::sync::SyncDoc;
use automerge::{Automerge, ChangeHash, ReadDoc};

use super::{LocalDocs, SavedSync};
use crate::{DocHeader, DocId, RejectCode};

impl MemDocs {
    /// Adds a document made on this device (not yet synced).
    pub fn insert(&mut self, header: DocHeader, doc: Automerge) {
        self.docs.insert(
            header.id.clone(),
            MemDoc {
                header,
                doc,
                state: None,
                acked: Vec::new(),
            },
        );
    }
}

/// One document of a [`MemDocs`].
pub struct MemDoc {
    pub header: DocHeader,
    pub doc: Automerge,
    /// The sync state saved when the last exchange finished.
    pub state: Option<automerge::sync::State>,
    /// The heads the server has durably stored.
    pub acked: Vec<ChangeHash>,
}

/// A device's store, in memory.
#[derive(Default)]
pub struct MemDocs {
    pub docs: HashMap<DocId, MemDoc>,
    /// Refused change sets: the document, the code, the changes.
    pub quarantine: Vec<(DocId, RejectCode, Vec<u8>)>,
}

impl LocalDocs for MemDocs {
    type Error = String;

    fn header(&mut self, id: &DocId) -> Result<Option<DocHeader>, String> {
        Ok(self.docs.get(id).map(|d| d.header.clone()))
    }

    fn has_heads(&mut self, id: &DocId, heads: &[ChangeHash]) -> Result<bool, String> {
        Ok(self
            .docs
            .get(id)
            .is_some_and(|d| d.doc.get_missing_deps(heads).is_empty()))
    }

    fn saved_sync(&mut self, id: &DocId) -> Result<SavedSync, String> {
        Ok(match self.docs.get(id) {
            None => SavedSync::default(),
            Some(d) => {
                let shared = d
                    .state
                    .as_ref()
                    .map(|s| s.shared_heads.clone())
                    .unwrap_or_default();
                SavedSync {
                    state: d
                        .state
                        .as_ref()
                        .map(|s| automerge::sync::State::decode(&s.encode()).unwrap()),
                    has_local_changes: d.doc.get_heads() != shared,
                }
            }
        })
    }

    fn generate(
        &mut self,
        id: &DocId,
        state: &mut automerge::sync::State,
    ) -> Result<Option<automerge::sync::Message>, String> {
        Ok(match self.docs.get(id) {
            Some(d) => d.doc.generate_sync_message(state),
            None => Automerge::new().generate_sync_message(state),
        })
    }

    fn receive(
        &mut self,
        header: &DocHeader,
        state: &mut automerge::sync::State,
        message: automerge::sync::Message,
    ) -> Result<(bool, Vec<ChangeHash>), String> {
        let d = self
            .docs
            .entry(header.id.clone())
            .or_insert_with(|| MemDoc {
                header: header.clone(),
                doc: Automerge::new(),
                state: None,
                acked: vec![],
            });
        let before = d.doc.get_heads();
        d.doc
            .receive_sync_message(state, message)
            .map_err(|e| e.to_string())?;
        let after = d.doc.get_heads();
        Ok((before != after, after))
    }

    fn acked(&mut self, id: &DocId, durable: &[ChangeHash]) -> Result<(), String> {
        if let Some(d) = self.docs.get_mut(id) {
            d.acked = durable.to_vec();
        }
        Ok(())
    }

    fn finished(&mut self, id: &DocId, state: &automerge::sync::State) -> Result<(), String> {
        if let Some(d) = self.docs.get_mut(id) {
            d.state = Some(automerge::sync::State::decode(&state.encode()).unwrap());
        }
        Ok(())
    }

    fn rejected(&mut self, id: &DocId, code: RejectCode, _message: &str) -> Result<(), String> {
        let d = self.docs.remove(id).ok_or("no such doc")?;
        self.quarantine
            .push((id.clone(), code, d.doc.save_after(&d.acked)));
        if !d.acked.is_empty() {
            let restored = d.doc.fork_at(&d.acked).map_err(|e| e.to_string())?;
            self.docs.insert(
                id.clone(),
                MemDoc {
                    header: d.header,
                    doc: restored,
                    state: None,
                    acked: d.acked,
                },
            );
        }
        Ok(())
    }
}
