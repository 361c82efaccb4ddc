//! Documents written on the server's side rather than synced from a phone:
//! routes and rosters the office puts through the REST API ([`put`]), and
//! documents the server makes itself ([`created`]: alerts, the demo
//! community). Each one is made by the server's automerge actor and handed
//! to the one commit path (`crate::commit`) like a synced change set, so
//! scopes, projections, compliance and delivery to phones follow from there.
//!
//! # Invariants
//! - A document [`put`] writes passes `validate::check_change` as its author
//!   (the user of the token), then the commit path's checks; otherwise
//!   nothing is stored.
//! - It is committed with the sequence it was loaded at: a concurrent change
//!   from a phone makes the write a conflict, never an overwrite.

use automerge::{ActorId, Automerge};
use fieldsync_proto::model::validate::{self, Author, Checked};
use fieldsync_proto::model::{Role, migrate};
use fieldsync_proto::session::Rejection;
use fieldsync_proto::{DocHeader, DocType, RejectCode};

use crate::audit::Record;
use crate::auth::Claims;
use crate::commit::{self, Committer, Outcome, Write};
use crate::store::StoreError;

/// The automerge actor of every document change the server makes.
pub const SERVER_ACTOR: &[u8] = b"fieldsync-server";
/// The device id recorded for documents the server writes itself.
pub const SERVER_DEVICE: &str = "server";

/// Why a server-side document write stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The content fails the checks a synced change set must pass.
    #[error("{}: {}", .0.code.as_str(), .0.message)]
    Rejected(Rejection),
    /// A document of another type has this id.
    #[error("document is a {} document", .0.as_str())]
    WrongType(DocType),
    /// The document changed while it was written; try again.
    #[error("the document changed concurrently")]
    Conflict,
    /// The write changes a stored document, and there is none.
    #[error("no such document")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes the root of `doc` hold exactly `content`, as one change (by the
/// actor `doc` has). Keys a schema migration of `doc_type` creates are left
/// as they are.
pub fn replace_root(doc: &mut Automerge, doc_type: DocType, content: &serde_json::Value) {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let mut map = content.as_object().cloned().unwrap_or_default();
    // Keys a schema migration creates stay as the migration made them.
    map.retain(|k, _| !migrate::is_reserved(doc_type, k));
    doc.transact(|tx| {
        let stale: Vec<String> = tx
            .keys(automerge::ROOT)
            .filter(|k| !map.contains_key(k) && !migrate::is_reserved(doc_type, k))
            .collect();
        for key in stale {
            tx.delete(automerge::ROOT, key.as_str())?;
        }
        fieldsync_proto::json::fill(tx, &map)
    })
    .expect("writing JSON into a document's root cannot fail");
}

/// What to store of `doc` when the store held `stored_heads` of it: the
/// whole document when it is new, else the changes since.
pub fn chunk_since(doc: &Automerge, stored_heads: &[automerge::ChangeHash]) -> Vec<u8> {
    if stored_heads.is_empty() {
        doc.save()
    } else {
        doc.save_after(stored_heads)
    }
}

/// A new document the server writes itself (an alert, the demo community's
/// documents), attributed to the server's device: `content` becomes its
/// root, after the type's migration steps. `checked` is what the checks read
/// of it (the server made it, so no author rules apply).
pub fn created(header: DocHeader, content: &serde_json::Value, checked: Checked) -> Write {
    let mut doc = migrate::new_doc(header.doc_type);
    doc.set_actor(ActorId::from(SERVER_ACTOR));
    replace_root(&mut doc, header.doc_type, content);
    Write {
        record: Record::change(
            SERVER_DEVICE,
            SERVER_DEVICE,
            header.id.as_str(),
            header.doc_type.as_str(),
            &doc,
            &[],
        ),
        header: DocHeader {
            schema_version: migrate::version_of(header.doc_type, &doc),
            ..header
        },
        expected_seq: None,
        chunk: doc.save(),
        heads: doc.get_heads(),
        checked,
        snapshot: None,
    }
}

/// Who writes a document from the server's side: the user and device the
/// change is attributed to (and checked as), and the automerge actor that
/// makes it.
#[derive(Clone, Debug)]
pub struct Writer {
    pub user_id: String,
    pub role: Role,
    pub device_id: String,
    pub actor: ActorId,
}

/// Whether a write may create the document or only change a stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Create it when absent.
    CreateOrChange,
    /// Only a stored document: absent is [`PutError::NotFound`].
    Required,
}

/// Creates or replaces the document `header` with `content`, written by
/// the token's user from the token's device; returns its new sequence.
pub async fn put(
    commits: &Committer,
    claims: &Claims,
    header: DocHeader,
    content: &serde_json::Value,
) -> Result<i64, PutError> {
    let role = Role::parse(&claims.role).ok_or_else(|| {
        PutError::Rejected(Rejection {
            code: RejectCode::Forbidden,
            message: "unknown role".into(),
        })
    })?;
    let writer = Writer {
        user_id: claims.sub.clone(),
        role,
        device_id: claims.dev.clone(),
        actor: ActorId::from(SERVER_ACTOR),
    };
    let (doc_type, content) = (header.doc_type, content.clone());
    write(
        commits,
        &claims.com,
        writer,
        header,
        Existing::CreateOrChange,
        move |doc| {
            replace_root(doc, doc_type, &content);
            Ok(())
        },
    )
    .await
}

/// Applies `edit` to the document `header` of `community` (after its
/// missing schema migration steps), with `writer`'s actor, checks the change
/// as `writer` (`validate::check_change`) and hands it to the commit path
/// with the sequence it was loaded at; returns its new sequence.
pub async fn write(
    commits: &Committer,
    community: &str,
    writer: Writer,
    header: DocHeader,
    existing: Existing,
    edit: impl FnOnce(&mut Automerge) -> Result<(), automerge::AutomergeError> + Send + 'static,
) -> Result<i64, PutError> {
    let stored = commits.store().load_doc(community, &header.id).await?;
    let (expected_seq, chunk_count) = match &stored {
        Some(s) => {
            let stored_type = s.row.header()?.doc_type;
            if stored_type != header.doc_type {
                return Err(PutError::WrongType(stored_type));
            }
            (Some(s.row.seq), s.row.chunk_count)
        }
        None if existing == Existing::Required => return Err(PutError::NotFound),
        None => (None, 0),
    };
    let chunks = stored.map(|s| s.chunks.concat());
    let write = tokio::task::spawn_blocking(move || {
        let doc_type = header.doc_type;
        let mut doc = match chunks {
            Some(bytes) => Automerge::load(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("stored document does not load: {e}")))?,
            None => Automerge::new(),
        };
        let stored_heads = doc.get_heads();
        migrate::upgrade(doc_type, &mut doc)
            .map_err(|e| StoreError::Corrupt(format!("cannot upgrade the document: {e}")))?;
        let prior = if expected_seq.is_some() {
            validate::prior(doc_type, &doc)
        } else {
            validate::Prior::Nothing
        };
        doc.set_actor(writer.actor.clone());
        edit(&mut doc).map_err(|e| {
            PutError::Rejected(Rejection {
                code: RejectCode::SchemaViolation,
                message: format!("the change does not fit the document: {e}"),
            })
        })?;
        let author = Author {
            user_id: &writer.user_id,
            role: writer.role,
            device_id: &writer.device_id,
        };
        let checked =
            validate::check_change(doc_type, &prior, &doc, author).map_err(PutError::Rejected)?;
        Ok::<_, PutError>(Write {
            record: Record::change(
                &writer.user_id,
                &writer.device_id,
                header.id.as_str(),
                doc_type.as_str(),
                &doc,
                &stored_heads,
            ),
            header: DocHeader {
                schema_version: migrate::version_of(doc_type, &doc),
                ..header
            },
            expected_seq,
            chunk: chunk_since(&doc, &stored_heads),
            heads: doc.get_heads(),
            snapshot: commit::wants_snapshot(chunk_count).then(|| doc.save()),
            checked,
        })
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("document task failed: {e}")))??;
    match commits.commit(community, vec![write]).await?.pop() {
        Some(Outcome::Stored { seq }) => Ok(seq),
        Some(Outcome::Rejected(rejection)) => Err(PutError::Rejected(rejection)),
        Some(Outcome::Conflict) | None => Err(PutError::Conflict),
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::model::alert::{AlertAck, AlertDoc, AlertKind};

    use super::*;

    /// The rule a crafted client would meet: scopes keep an alert off the
    /// phones of those it is not for, and this keeps their acks out.
    #[test]
    fn only_an_alerts_recipients_acknowledge_it() {
        let alert = AlertDoc {
            kind: AlertKind::Missed,
            subject: "shift-1/post-b3-u2-f9/1794834000000".into(),
            raised_at_ms: 1_794_834_000_000,
            recipients: vec!["user-leader".into()],
            roles: vec![Role::Office],
            title_zh: "3栋2单元 9F 漏巡".into(),
            title_en: "Bldg 3 Unit 2 · 9F missed".into(),
            post_id: Some("post-b3-u2-f9".into()),
            shift_id: Some("shift-1".into()),
            due_at_ms: Some(1_794_834_000_000),
            doc_id: None,
            checkin_id: None,
            reason: None,
            acks: Vec::new(),
        };
        let mut stored = Automerge::new();
        replace_root(
            &mut stored,
            DocType::Alert,
            &serde_json::to_value(&alert).unwrap(),
        );
        let prior = validate::prior(DocType::Alert, &stored);
        for (user, role, allowed) in [
            ("user-leader", Role::Leader, true),
            ("user-office", Role::Office, true),
            ("user-other-leader", Role::Leader, false),
            ("user-volunteer", Role::Volunteer, false),
            ("user-grid", Role::GridWorker, false),
        ] {
            let mut acked = alert.clone();
            acked.acks.push(AlertAck {
                id: "ack-1".into(),
                at_ms: 1_794_834_100_000,
                by: user.into(),
                role,
                device: "dev-1".into(),
                note: String::new(),
            });
            let mut after = stored.fork();
            replace_root(
                &mut after,
                DocType::Alert,
                &serde_json::to_value(&acked).unwrap(),
            );
            let checked = validate::check_change(
                DocType::Alert,
                &prior,
                &after,
                Author {
                    user_id: user,
                    role,
                    device_id: "dev-1",
                },
            );
            match checked {
                Ok(_) => assert!(allowed, "{user} must not acknowledge"),
                Err(r) => {
                    assert!(!allowed, "{user}: {}", r.message);
                    assert_eq!(r.code, RejectCode::Forbidden, "{user}");
                    assert!(r.message.starts_with("not_recipient"), "{}", r.message);
                }
            }
        }
    }
}
