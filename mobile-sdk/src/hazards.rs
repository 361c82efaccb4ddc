//! The hazard ledger on the phone: report a hazard, move it through its
//! lifecycle, read its folded state. Every rule the server enforces is checked
//! here first (same code, from `fieldsync-proto`), so a volunteer offline is
//! told at once instead of after the next sync.

use fieldsync_proto::model::hazard::{self, Hazard, HazardAction, HazardEvent, Severity};
use fieldsync_proto::model::hazard::{HazardDoc, HazardPlace};
use fieldsync_proto::model::validate;

use crate::error::{Error, Result};
use crate::now_ms;
use crate::{Client, DocId, DocType};

/// What a volunteer fills in when reporting.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHazard {
    /// One of [`validate::HAZARD_CATEGORIES`].
    pub category: String,
    pub severity: Severity,
    /// Fixable on the spot (may go straight to rectified).
    pub immediate: bool,
    pub description: String,
    pub place: HazardPlace,
    /// Photo hashes from [`Client::import_photo`].
    pub photos: Vec<String>,
}

/// A hazard as stored on this device, with its folded state.
#[derive(Debug, Clone, PartialEq)]
pub struct HazardView {
    pub id: DocId,
    pub doc: HazardDoc,
    pub folded: Hazard,
}

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(e.to_string())
}

impl Client {
    /// The author of a new event: the logged-in user on this device.
    fn event(
        &self,
        prev: Option<String>,
        action: HazardAction,
        note: &str,
        photos: Vec<String>,
    ) -> Result<HazardEvent> {
        let author = self.author()?;
        Ok(HazardEvent {
            id: uuid::Uuid::new_v4().simple().to_string(),
            prev,
            at_ms: now_ms(),
            by: author.user_id,
            role: author.role,
            device: author.device_id,
            action,
            note: note.to_owned(),
            photos,
        })
    }

    /// Reports a hazard; works offline.
    pub fn report_hazard(&self, new: NewHazard) -> Result<DocId> {
        crate::photos::check_refs(&new.photos)?;
        if !validate::HAZARD_CATEGORIES.contains(&new.category.as_str()) {
            return Err(invalid(format!(
                "unknown hazard category {:?}",
                new.category
            )));
        }
        let report = self.event(
            None,
            HazardAction::Report {
                severity: new.severity,
                immediate: new.immediate,
            },
            "",
            new.photos.clone(),
        )?;
        hazard::check_transition(None, &report).map_err(invalid)?;
        let doc = HazardDoc {
            category: new.category,
            severity: new.severity,
            description: new.description,
            place: new.place,
            photos: new.photos,
            events: vec![report],
        };
        self.create_from(DocType::Hazard, &doc)
    }

    /// Reads a hazard and folds its history.
    pub fn hazard(&self, id: &DocId) -> Result<HazardView> {
        let doc = self
            .read_document(id, validate::read_hazard)?
            .map_err(|r| Error::Document(r.message))?;
        let folded = hazard::fold(&doc.events);
        Ok(HazardView {
            id: id.clone(),
            doc,
            folded,
        })
    }

    /// Appends a transition (or a comment) after the hazard's current state.
    /// Refused here, with the rule's code, when the server would refuse it.
    pub fn transition_hazard(
        &self,
        id: &DocId,
        action: HazardAction,
        note: &str,
        photos: Vec<String>,
    ) -> Result<()> {
        crate::photos::check_refs(&photos)?;
        let view = self.hazard(id)?;
        let event = self.event(view.folded.head.clone(), action, note, photos)?;
        hazard::check_transition(view.folded.current.as_ref(), &event)
            .map_err(|e| invalid(format!("{}: {e}", e.code())))?;
        self.append_to(id, "events", &event)
    }

    /// Hazards on this device whose folded state is open.
    pub fn open_hazards(&self) -> Result<Vec<HazardView>> {
        let mut open = Vec::new();
        for id in self.document_ids(Some(DocType::Hazard))? {
            if let Ok(v) = self.hazard(&id)
                && v.folded.current.as_ref().is_some_and(|s| s.state.is_open())
            {
                open.push(v);
            }
        }
        Ok(open)
    }
}
