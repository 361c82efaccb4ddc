//! Incident reports on the phone: file one (offline), add updates, and — for
//! leaders and the office — acknowledge and close. Checked here with the
//! server's rules first.

use fieldsync_proto::model::hazard::HazardPlace;
use fieldsync_proto::model::incident::{self, IncidentAction, IncidentDoc, IncidentEvent};
use fieldsync_proto::model::validate;

use crate::error::{Error, Result};
use crate::now_ms;
use crate::{Client, DocId, DocType};

/// What the reporter writes down.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewIncident {
    pub occurred_at_ms: i64,
    pub place: HazardPlace,
    pub persons: String,
    pub cause: String,
    pub handling: String,
    pub outcome: String,
    /// Photo hashes from [`Client::import_photo`].
    pub photos: Vec<String>,
}

impl Client {
    fn incident_event(&self, action: IncidentAction, note: &str) -> Result<IncidentEvent> {
        let author = self.author()?;
        Ok(IncidentEvent {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at_ms: now_ms(),
            by: author.user_id,
            role: author.role,
            device: author.device_id,
            action,
            note: note.to_owned(),
        })
    }

    /// Files an incident report; works offline.
    pub fn file_incident(&self, new: NewIncident) -> Result<DocId> {
        crate::photos::check_refs(&new.photos)?;
        let report = self.incident_event(IncidentAction::Report, "")?;
        let doc = IncidentDoc {
            occurred_at_ms: new.occurred_at_ms,
            place: new.place,
            persons: new.persons,
            cause: new.cause,
            handling: new.handling,
            outcome: new.outcome,
            reporter: report.by.clone(),
            photos: new.photos,
            events: vec![report],
        };
        incident::check_new_events(&[], &doc.reporter, &doc.events.iter().collect::<Vec<_>>())
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.create_from(DocType::Incident, &doc)
    }

    /// Adds an update, acknowledgement or closing to an incident.
    pub fn add_incident_event(&self, id: &DocId, action: IncidentAction, note: &str) -> Result<()> {
        let doc = self.incident(id)?;
        let event = self.incident_event(action, note)?;
        incident::check_new_events(&doc.events, &doc.reporter, &[&event])
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.append_to(id, "events", &event)
    }

    /// Reads an incident.
    pub fn incident(&self, id: &DocId) -> Result<IncidentDoc> {
        self.read_document(id, validate::read_incident)?
            .map_err(|r| Error::Document(r.message))
    }
}
