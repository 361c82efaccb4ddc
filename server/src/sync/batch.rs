//! One batch of client sync messages: load the documents, apply and check the
//! messages off the reactor, hand every accepted change to the commit path
//! (`crate::commit`, one transaction), then build the replies.

use std::collections::HashSet;

use automerge::{ActorId, Automerge};
use fieldsync_proto::model::scope::Reader;
use fieldsync_proto::model::validate::{self, Author, Checked};
use fieldsync_proto::model::{Role, migrate};
use fieldsync_proto::session::{DocLimits, Rejection, apply_client_sync};
use fieldsync_proto::wire::to_wire_heads;
use fieldsync_proto::{DocHeader, DocId, RejectCode, ServerMsg};

use super::Fatal;
use crate::audit::Record;
use crate::auth::Claims;
use crate::commit::{self, Outcome, Write};
use crate::state::AppState;
use crate::store::StoredDoc;

/// The reply to one client message.
pub enum Reply {
    Synced {
        doc: DocId,
        message: Option<Vec<u8>>,
        heads: Vec<automerge::ChangeHash>,
        /// The change sequence this message's changes were stored under.
        seq: Option<i64>,
    },
    Rejected {
        doc: DocId,
        rejection: Rejection,
    },
}

impl Reply {
    pub fn into_message(self) -> ServerMsg {
        match self {
            Reply::Synced {
                doc,
                message,
                heads,
                ..
            } => ServerMsg::Sync {
                doc,
                message,
                durable_heads: to_wire_heads(&heads),
            },
            Reply::Rejected { doc, rejection } => ServerMsg::Reject {
                doc,
                code: rejection.code,
                message: rejection.message,
            },
        }
    }
}

/// What applying one message produced, before the commit.
enum Applied {
    Unchanged {
        doc: DocId,
        message: Option<Vec<u8>>,
        heads: Vec<automerge::ChangeHash>,
    },
    Write {
        write: Box<Write>,
        message: Option<Vec<u8>>,
    },
    Rejected {
        doc: DocId,
        rejection: Rejection,
    },
}

fn reject(doc: &DocId, code: RejectCode, message: impl Into<String>) -> Applied {
    Applied::Rejected {
        doc: doc.clone(),
        rejection: Rejection {
            code,
            message: message.into(),
        },
    }
}

/// Applies one message to its stored document (CPU work; runs off the reactor).
fn apply_one(
    header: DocHeader,
    message: Vec<u8>,
    stored: Option<StoredDoc>,
    actors: &HashSet<ActorId>,
    limits: DocLimits,
    author: Author<'_>,
    reader: &Reader,
) -> Applied {
    let id = header.id.clone();
    if let Some(s) = &stored
        && !crate::scope::may_read_row(reader, &s.row)
    {
        return reject(
            &id,
            RejectCode::Forbidden,
            format!("not_in_scope: document {id} is outside what you may read"),
        );
    }
    if !header.doc_type.supports_schema(header.schema_version) {
        return reject(
            &id,
            RejectCode::InvalidHeader,
            format!(
                "schema version {} of {} documents is not supported (this server knows 1..={})",
                header.schema_version,
                header.doc_type.as_str(),
                header.doc_type.current_schema()
            ),
        );
    }
    let (mut doc, stored_bytes, expected_seq, chunk_count) = match &stored {
        None => (Automerge::new(), 0usize, None, 0),
        Some(s) => {
            match s.row.header() {
                Ok(h) if h.doc_type == header.doc_type => {}
                Ok(h) => {
                    return reject(
                        &id,
                        RejectCode::InvalidHeader,
                        format!(
                            "document {id} is a {} document, not {}",
                            h.doc_type.as_str(),
                            header.doc_type.as_str()
                        ),
                    );
                }
                Err(e) => return reject(&id, RejectCode::InvalidHeader, e.to_string()),
            }
            let doc = match Automerge::load(&s.chunks.concat()) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(doc = %id, error = %e, "stored document does not load");
                    return reject(
                        &id,
                        RejectCode::InvalidSyncMessage,
                        "the stored document is unreadable; the office has been alerted",
                    );
                }
            };
            (
                doc,
                s.row.stored_bytes as usize,
                Some(s.row.seq),
                s.row.chunk_count,
            )
        }
    };
    let prior = if stored.is_some() {
        validate::prior(header.doc_type, &doc)
    } else {
        validate::Prior::Nothing
    };
    let before = doc.get_heads();
    let applied = match apply_client_sync(
        &mut doc,
        header.doc_type,
        &message,
        actors,
        stored_bytes,
        limits,
    ) {
        Ok(a) => a,
        Err(rejection) => return Applied::Rejected { doc: id, rejection },
    };
    let heads = doc.get_heads();
    let message = applied.reply.map(|m| m.encode());
    if applied.new_changes == 0 {
        // Nothing to store. When nothing is stored either, the device asked
        // for a document that does not exist (yet): empty heads.
        let heads = if stored.is_some() { heads } else { Vec::new() };
        return Applied::Unchanged {
            doc: id,
            message,
            heads,
        };
    }
    // A stored document that only gained schema migration steps: nobody's
    // edit, so no author rules apply (an auditor's phone may upgrade too).
    let checked = if applied.only_steps && stored.is_some() {
        validate::read(header.doc_type, &doc).map(Checked::settled)
    } else {
        validate::check_change(header.doc_type, &prior, &doc, author)
    };
    let checked = match checked {
        Ok(c) => c,
        Err(rejection) => return Applied::Rejected { doc: id, rejection },
    };
    let header = DocHeader {
        schema_version: migrate::version_of(header.doc_type, &doc),
        ..header
    };
    Applied::Write {
        write: Box::new(Write {
            record: Record::change(
                author.user_id,
                author.device_id,
                id.as_str(),
                header.doc_type.as_str(),
                &doc,
                &before,
            ),
            header,
            expected_seq,
            chunk: applied.incremental,
            heads,
            checked,
            snapshot: commit::wants_snapshot(chunk_count).then(|| doc.save()),
        }),
        message,
    }
}

/// Applies a batch (at most one message per document) and commits it.
pub async fn apply_and_commit(
    app: &AppState,
    claims: &Claims,
    reader: &Reader,
    actors: &HashSet<ActorId>,
    part: Vec<(DocHeader, Vec<u8>)>,
) -> Result<Vec<Reply>, Fatal> {
    let ids: Vec<DocId> = part.iter().map(|(h, _)| h.id.clone()).collect();
    let mut stored = app.store.load_docs(&claims.com, &ids).await?;
    let items: Vec<_> = part
        .into_iter()
        .map(|(header, message)| {
            let s = stored.remove(&header.id);
            (header, message, s)
        })
        .collect();
    let limits = DocLimits {
        max_message_bytes: app.config.limits.max_message_bytes,
        max_document_bytes: app.config.limits.max_document_bytes,
    };
    let actors = actors.clone();
    let claims_owned = claims.clone();
    let reader_owned = reader.clone();
    let applied: Vec<Applied> = tokio::task::spawn_blocking(move || {
        let claims = claims_owned;
        let Some(role) = Role::parse(&claims.role) else {
            return items
                .into_iter()
                .map(|(h, ..)| reject(&h.id, RejectCode::Forbidden, "unknown role"))
                .collect();
        };
        let author = Author {
            user_id: &claims.sub,
            role,
            device_id: &claims.dev,
        };
        items
            .into_iter()
            .map(|(h, m, s)| apply_one(h, m, s, &actors, limits, author, &reader_owned))
            .collect()
    })
    .await
    .map_err(Fatal::internal)?;

    let mut replies: Vec<Option<Reply>> = Vec::with_capacity(applied.len());
    let mut writes = Vec::new();
    let mut pending = Vec::new();
    for a in applied {
        match a {
            Applied::Unchanged {
                doc,
                message,
                heads,
            } => replies.push(Some(Reply::Synced {
                doc,
                message,
                heads,
                seq: None,
            })),
            Applied::Rejected { doc, rejection } => {
                replies.push(Some(Reply::Rejected { doc, rejection }))
            }
            Applied::Write { write, message } => {
                let (id, heads) = (write.header.id.clone(), write.heads.clone());
                pending.push((replies.len(), id, message, heads));
                replies.push(None);
                writes.push(*write);
            }
        }
    }
    let outcomes = app.commits.commit(&claims.com, writes).await?;
    for ((slot, doc, message, heads), outcome) in pending.into_iter().zip(outcomes) {
        replies[slot] = Some(match outcome {
            Outcome::Stored { seq } => Reply::Synced {
                doc,
                message,
                heads,
                seq: Some(seq),
            },
            Outcome::Rejected(rejection) => Reply::Rejected { doc, rejection },
            Outcome::Conflict => Reply::Rejected {
                doc,
                rejection: Rejection {
                    code: RejectCode::Conflict,
                    message: "the document changed concurrently; sync it again".into(),
                },
            },
        });
    }
    Ok(replies
        .into_iter()
        .map(|r| {
            let r = r.expect("every message has a reply");
            if let Reply::Rejected { doc, rejection } = &r {
                tracing::info!(doc = %doc, device = %claims.dev, code = ?rejection.code, "rejected change set");
                crate::metrics::count(&crate::metrics::METRICS.rejections, rejection.code);
            }
            r
        })
        .collect())
}
