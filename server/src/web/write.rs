//! What the dashboard writes: documents changed through the one commit path
//! as the signed-in user, from their browser session's device and with its
//! automerge actor, checked by the same rules as a phone's change — so the
//! history says who signed, and phones get it by sync.

use automerge::ActorId;
use fieldsync_proto::model::alert::AlertAck;
use fieldsync_proto::model::hazard::{HazardAction, HazardEvent};
use fieldsync_proto::{DocHeader, DocId, DocType};

use super::WebError;
use super::session::Viewer;
use crate::clock::now_ms;
use crate::documents::{self, Existing, PutError, Writer};
use crate::state::AppState;

/// The writer the viewer's changes are made and checked as.
async fn writer(app: &AppState, viewer: &Viewer) -> Result<Writer, WebError> {
    let actor = app
        .store
        .device_actors(&viewer.device_id)
        .await?
        .first()
        .and_then(|hex_id| hex::decode(hex_id).ok())
        .map(ActorId::from)
        .ok_or_else(|| WebError::internal("the browser session's device has no actor"))?;
    Ok(Writer {
        user_id: viewer.user_id.clone(),
        role: viewer.role,
        device_id: viewer.device_id.clone(),
        actor,
    })
}

/// What the rules' refusal of a dashboard write shows.
fn refused(e: PutError) -> WebError {
    match e {
        PutError::Rejected(r) => WebError::Refused(r.message),
        PutError::NotFound | PutError::WrongType(_) => WebError::NotFound,
        PutError::Conflict => WebError::Refused(
            "the record changed at the same moment; open it again and retry".into(),
        ),
        PutError::Store(e) => e.into(),
    }
}

/// Appends `item` to the list at root key `key` of the stored document `id`
/// of `doc_type`, as the viewer.
pub async fn append(
    app: &AppState,
    viewer: &Viewer,
    doc_type: DocType,
    id: &str,
    key: &'static str,
    item: serde_json::Value,
) -> Result<i64, WebError> {
    if !viewer.may_act() {
        return Err(WebError::Forbidden);
    }
    let id = DocId::new(id.to_owned()).map_err(|_| WebError::NotFound)?;
    let writer = writer(app, viewer).await?;
    documents::write(
        &app.commits,
        &viewer.community,
        writer,
        DocHeader::new(id, doc_type),
        Existing::Required,
        move |doc| {
            doc.transact(|tx| fieldsync_proto::json::append(tx, key, &item))
                .map(|_| ())
                .map_err(|f| f.error)
        },
    )
    .await
    .map_err(refused)
}

/// The viewer's acknowledgement of alert `id`.
pub async fn acknowledge_alert(app: &AppState, viewer: &Viewer, id: &str) -> Result<i64, WebError> {
    let ack = AlertAck {
        id: format!("ack-{}", uuid::Uuid::new_v4().simple()),
        at_ms: now_ms(),
        by: viewer.user_id.clone(),
        role: viewer.role,
        device: viewer.device_id.clone(),
        note: String::new(),
    };
    let item = serde_json::to_value(&ack).map_err(WebError::internal)?;
    append(app, viewer, DocType::Alert, id, "acks", item).await
}

/// The viewer's `action` on hazard `id`, made after `prev` (the head of the
/// fold they saw), appended to its history.
pub async fn hazard_event(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    prev: Option<String>,
    action: HazardAction,
    note: &str,
) -> Result<i64, WebError> {
    let event = HazardEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        prev,
        at_ms: now_ms(),
        by: viewer.user_id.clone(),
        role: viewer.role,
        device: viewer.device_id.clone(),
        action,
        note: note.to_owned(),
        photos: Vec::new(),
    };
    let item = serde_json::to_value(&event).map_err(WebError::internal)?;
    append(app, viewer, DocType::Hazard, id, "events", item).await
}
