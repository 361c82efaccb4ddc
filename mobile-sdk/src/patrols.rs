//! Patrols on the phone: start, check in at posts (tag or manual reason), end.
//! Check-ins are appended, never edited, so offline check-ins from several
//! phones of one team all survive the merge.

use fieldsync_proto::model::breadcrumbs::{self, Breadcrumb};
use fieldsync_proto::model::patrol::{self, CheckIn, Fix, PatrolDoc, PatrolNote, Proof};
use fieldsync_proto::model::tag::Tag;
use fieldsync_proto::model::validate;

use crate::error::{Error, Result};
use crate::now_ms;
use crate::store::Reads;
use crate::{Client, DocId, DocType};

/// Breadcrumbs buffered on the phone before they become one chunk of the
/// patrol document (one every 30 s: a chunk every half hour).
pub const BREADCRUMBS_PER_CHUNK: usize = 60;

/// A check-in as the member makes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visit {
    pub post_id: String,
    /// The scanned tag (QR/NFC), or `None` for a manual check-in.
    pub tag_payload: Option<String>,
    /// Why there is no tag (manual check-ins only).
    pub reason: String,
    pub fix: Option<Fix>,
    pub note: String,
    /// Photo hashes from [`Client::import_photo`].
    pub photos: Vec<String>,
}

impl Client {
    /// Starts a patrol of `team` on `route` now; works offline.
    pub fn start_patrol(&self, team: &str, route: &str) -> Result<DocId> {
        let author = self.author()?;
        let doc = PatrolDoc {
            team: team.to_owned(),
            route: route.to_owned(),
            started_by: author.user_id.clone(),
            started_at_ms: now_ms(),
            ended_at_ms: None,
            members: vec![author.user_id],
            checkins: Vec::new(),
            breadcrumbs: Vec::new(),
            notes: Vec::new(),
        };
        self.create_from(DocType::Patrol, &doc)
    }

    /// Checks in at `post_id` of a patrol. With a tag payload the tag must be
    /// a fieldsync tag for that very post (the server verifies its signature
    /// when it arrives); without one, `reason` says why. Returns the
    /// check-in's id.
    pub fn check_in(
        &self,
        patrol_id: &DocId,
        post_id: &str,
        tag_payload: Option<&str>,
        reason: &str,
        fix: Option<Fix>,
        note: &str,
    ) -> Result<String> {
        self.check_in_with(
            patrol_id,
            Visit {
                post_id: post_id.to_owned(),
                tag_payload: tag_payload.map(str::to_owned),
                reason: reason.to_owned(),
                fix,
                note: note.to_owned(),
                photos: Vec::new(),
            },
        )
    }

    /// [`Client::check_in`] with everything a check-in may carry, photos
    /// included.
    pub fn check_in_with(&self, patrol_id: &DocId, visit: Visit) -> Result<String> {
        crate::photos::check_refs(&visit.photos)?;
        let Visit {
            post_id,
            tag_payload,
            reason,
            fix,
            note,
            photos,
        } = visit;
        let proof = match tag_payload {
            Some(p) => {
                let tag = Tag::parse(&p)
                    .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
                if tag.post_id != post_id {
                    return Err(Error::InvalidInput(format!(
                        "this tag belongs to {}, not {post_id}",
                        tag.post_id
                    )));
                }
                Proof::Tag {
                    payload: p.trim().to_owned(),
                }
            }
            None => Proof::Manual { reason },
        };
        let author = self.author()?;
        let checkin = CheckIn {
            id: uuid::Uuid::new_v4().simple().to_string(),
            post_id,
            proof,
            at_ms: now_ms(),
            fix,
            by: author.user_id,
            device: author.device_id,
            note,
            photos,
            corrects: None,
        };
        // The same rules the server applies, before anything is stored.
        patrol::check_checkins(
            &[],
            std::slice::from_ref(&checkin),
            &checkin.by,
            &checkin.device,
        )
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.append_to(patrol_id, "checkins", &checkin)?;
        Ok(checkin.id)
    }

    /// Adds a note to a patrol: a handover note, a remark on the round.
    /// Works offline; notes from several phones all survive the merge, and
    /// nobody edits or deletes one. Returns the note's id.
    pub fn add_patrol_note(&self, patrol_id: &DocId, text: &str) -> Result<String> {
        let author = self.author()?;
        let note = PatrolNote {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at_ms: now_ms(),
            by: author.user_id,
            device: author.device_id,
            text: text.trim().to_owned(),
        };
        patrol::check_notes(&[], std::slice::from_ref(&note), &note.by, &note.device)
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.append_to(patrol_id, "notes", &note)?;
        Ok(note.id)
    }

    /// Records a GPS point of an open patrol. Points are kept in the device
    /// store (they survive the app being killed) and written to the patrol
    /// as one compact chunk every 60 points (`BREADCRUMBS_PER_CHUNK`), and when
    /// the patrol ends.
    pub fn record_breadcrumb(&self, patrol_id: &DocId, fix: Fix) -> Result<()> {
        let point = Breadcrumb {
            at_ms: now_ms(),
            lat: fix.lat,
            lon: fix.lon,
            accuracy_m: fix.accuracy_m,
        };
        breadcrumbs::encode(std::slice::from_ref(&point))
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        let key = format!("breadcrumbs:{patrol_id}");
        let buffered = {
            // Read and written under one lock, so two points recorded at
            // once both stay.
            let store = self.inner.store();
            let mut pending = pending_breadcrumbs(&*store, &key)?;
            pending.push(point);
            let text =
                serde_json::to_string(&pending).map_err(|e| Error::Document(e.to_string()))?;
            store.set_meta(&key, &text)?;
            pending.len()
        };
        if buffered >= BREADCRUMBS_PER_CHUNK {
            self.flush_breadcrumbs(patrol_id)?;
        }
        Ok(())
    }

    /// Writes the buffered points of a patrol as one chunk.
    pub fn flush_breadcrumbs(&self, patrol_id: &DocId) -> Result<()> {
        let key = format!("breadcrumbs:{patrol_id}");
        let pending = pending_breadcrumbs(&*self.inner.store(), &key)?;
        if pending.is_empty() {
            return Ok(());
        }
        let chunk = breadcrumbs::encode(&pending)
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", e.code())))?;
        self.append_to(patrol_id, "breadcrumbs", &chunk)?;
        self.inner.store().delete_meta(&[key.as_str()])
    }

    /// Every breadcrumb of a patrol, written or still buffered.
    pub fn breadcrumbs(&self, patrol_id: &DocId) -> Result<Vec<Breadcrumb>> {
        let mut out = Vec::new();
        for chunk in self.patrol(patrol_id)?.breadcrumbs {
            out.extend(breadcrumbs::decode(&chunk).map_err(|e| Error::Document(e.to_string()))?);
        }
        out.extend(pending_breadcrumbs(
            &*self.inner.reader(),
            &format!("breadcrumbs:{patrol_id}"),
        )?);
        Ok(out)
    }

    /// Ends a patrol now (writing its buffered breadcrumbs first).
    pub fn end_patrol(&self, patrol_id: &DocId) -> Result<()> {
        self.flush_breadcrumbs(patrol_id)?;
        let at = now_ms();
        self.change_document(patrol_id, |tx| {
            use automerge::transaction::Transactable;
            tx.put(automerge::ROOT, "ended_at_ms", at).map(|_| ())
        })
    }

    /// Reads a patrol.
    pub fn patrol(&self, patrol_id: &DocId) -> Result<PatrolDoc> {
        self.read_document(patrol_id, validate::read_patrol)?
            .map_err(|r| Error::Document(r.message))
    }
}

/// The points buffered under `key`, not yet written to the patrol.
fn pending_breadcrumbs(store: &impl Reads, key: &str) -> Result<Vec<Breadcrumb>> {
    match store.meta(key)? {
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::Document(e.to_string())),
        None => Ok(Vec::new()),
    }
}
