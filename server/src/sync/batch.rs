//! One batch of client sync messages: load the documents, apply and check the
//! messages off the reactor, commit every accepted change in one transaction,
//! then build the replies.

use std::collections::HashSet;

use automerge::{ActorId, Automerge};
use fieldsync_proto::model::scope::Reader;
use fieldsync_proto::model::validate::{self, Author};
use fieldsync_proto::model::{Role, migrate};
use fieldsync_proto::session::{DocLimits, Rejection, apply_client_sync};
use fieldsync_proto::wire::to_wire_heads;
use fieldsync_proto::{DocHeader, DocId, RejectCode, ServerMsg};

use super::Fatal;
use crate::auth::Claims;
use crate::clock::now_ms;
use crate::state::AppState;
use crate::store::{DocWrite, StoredDoc, WriteOutcome, encode_heads};

/// Chunks a document may accumulate before it is compacted into one snapshot.
const COMPACT_AFTER_CHUNKS: i64 = 32;

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
        write: Box<DocWrite>,
        message: Option<Vec<u8>>,
        heads: Vec<automerge::ChangeHash>,
        snapshot: Option<Vec<u8>>,
        /// Check-ins the change adds, still to be checked against the tag keys.
        checkins: Vec<fieldsync_proto::model::patrol::CheckIn>,
        /// What the document's read scope is made of, grids still to look up.
        scope: Option<Box<crate::scope::Seed>>,
        /// A route, whose posts are still to be checked against the community's.
        route: Option<Box<validate::Checked>>,
        projection: Option<Box<crate::projection::Projection>>,
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
    // A stored document that only gained schema migration steps: nobody's
    // edit, so no author rules apply (an auditor's phone may upgrade too).
    let steps_only = applied.only_steps && stored.is_some();
    let checked = if applied.new_changes > 0 && !steps_only {
        match validate::check_change(header.doc_type, &prior, &doc, author) {
            Ok(c) => c,
            Err(rejection) => return Applied::Rejected { doc: id, rejection },
        }
    } else {
        validate::Checked::Other
    };
    let heads = doc.get_heads();
    let message = applied.reply.map(|m| m.encode());
    if applied.new_changes == 0 {
        if stored.is_none() {
            // Nothing to store and nothing stored: the device asked for a
            // document that does not exist (yet). Answer with empty heads.
            return Applied::Unchanged {
                doc: id,
                message,
                heads: Vec::new(),
            };
        }
        return Applied::Unchanged {
            doc: id,
            message,
            heads,
        };
    }
    let snapshot = (chunk_count + 1 > COMPACT_AFTER_CHUNKS).then(|| doc.save());
    let checkins = match &checked {
        validate::Checked::Patrol { new_checkins, .. } => new_checkins.clone(),
        _ => Vec::new(),
    };
    let scope = crate::scope::seed(&checked).map(Box::new);
    let route = matches!(checked, validate::Checked::Route(_)).then(|| Box::new(checked.clone()));
    let projection = crate::projection::of_checked(&id, checked).map(Box::new);
    let header = DocHeader {
        schema_version: migrate::version_of(header.doc_type, &doc),
        ..header
    };
    Applied::Write {
        write: Box::new(DocWrite {
            header,
            expected_seq,
            chunk: applied.incremental,
            heads: encode_heads(&heads),
            device_id: author.device_id.to_owned(),
            scope: None,
            projection: None,
        }),
        message,
        heads,
        snapshot,
        checkins,
        scope,
        route,
        projection,
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

    // What only the database can tell: the community's posts (check-ins,
    // geofence) and tag keys, read once per batch and only for patrols.
    let mut applied = applied;
    let patrols = applied.iter().any(|a| {
        matches!(a, Applied::Write { projection: Some(p), .. }
            if matches!(**p, crate::projection::Projection::Patrol { .. }))
    });
    let scoped = applied
        .iter()
        .any(|a| matches!(a, Applied::Write { scope: Some(_), .. }));
    let posts = if patrols || scoped {
        app.store.posts(&claims.com, None).await?
    } else {
        Vec::new()
    };
    let keys = if patrols {
        app.store.tag_keys(&claims.com).await?
    } else {
        Vec::new()
    };
    let grids = if scoped {
        crate::scope::Grids::new(&posts, &app.store.teams(&claims.com).await?)
    } else {
        crate::scope::Grids::default()
    };
    let now = now_ms();
    for a in &mut applied {
        let Applied::Write {
            write,
            checkins,
            projection,
            scope,
            route,
            ..
        } = a
        else {
            continue;
        };
        write.scope = scope.as_ref().map(|s| grids.resolve(s));
        let facts = route
            .as_deref()
            .map_or(Ok(()), |r| crate::documents::check_facts(r, &posts));
        if let Err(rejection) =
            facts.and_then(|()| crate::tags::check_checkins(&claims.com, &posts, &keys, checkins))
        {
            *a = Applied::Rejected {
                doc: write.header.id.clone(),
                rejection,
            };
            continue;
        }
        if let Some(p) = projection {
            write.projection = Some(crate::projection::rows_of(p, &posts, now));
        }
    }

    let writes: Vec<DocWrite> = applied
        .iter()
        .filter_map(|a| match a {
            Applied::Write { write, .. } => Some((**write).clone()),
            _ => None,
        })
        .collect();
    let mut outcomes = app
        .store
        .commit(&claims.com, &writes, now)
        .await?
        .into_iter();

    let wakes_compliance = writes.iter().any(|w| {
        matches!(
            w.header.doc_type,
            fieldsync_proto::DocType::Patrol
                | fieldsync_proto::DocType::Route
                | fieldsync_proto::DocType::Roster
        )
    });
    let mut replies = Vec::with_capacity(applied.len());
    let mut max_seq = None;
    for a in applied {
        replies.push(match a {
            Applied::Unchanged { doc, message, heads } => Reply::Synced { doc, message, heads, seq: None },
            Applied::Rejected { doc, rejection } => {
                tracing::info!(doc = %doc, device = %claims.dev, code = ?rejection.code, "rejected change set");
                Reply::Rejected { doc, rejection }
            }
            Applied::Write { write, message, heads, snapshot, .. } => {
                match outcomes.next().expect("one outcome per write") {
                    WriteOutcome::Stored { seq, chunk_count } => {
                        max_seq = max_seq.max(Some(seq));
                        if let Some(snapshot) = snapshot.filter(|_| chunk_count > COMPACT_AFTER_CHUNKS) {
                            app.store.compact(&claims.com, &write.header.id, seq, &snapshot).await?;
                        }
                        Reply::Synced { doc: write.header.id, message, heads, seq: Some(seq) }
                    }
                    WriteOutcome::Conflict => Reply::Rejected {
                        doc: write.header.id,
                        rejection: Rejection {
                            code: RejectCode::Conflict,
                            message: "the document changed concurrently; sync it again".into(),
                        },
                    },
                }
            }
        });
    }
    if let Some(seq) = max_seq {
        app.feeds.publish(&claims.com, seq);
        if wakes_compliance {
            app.compliance.notify_one();
        }
    }
    Ok(replies)
}
