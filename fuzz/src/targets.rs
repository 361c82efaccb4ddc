//! The harnesses themselves and their seeds.

use std::collections::{HashMap, HashSet};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ReadDoc, ScalarValue, Value};
use axum::http::{HeaderMap, HeaderValue};
use fieldsync_proto::model::tag::Tag;
use fieldsync_proto::model::validate::{self, Author};
use fieldsync_proto::model::{Role, migrate};
use fieldsync_proto::session::{ClientSession, DocLimits, LocalDocs, SavedSync, apply_client_sync};
use fieldsync_proto::wire::{Announce, to_wire_heads};
use fieldsync_proto::{ClientMsg, DocHeader, DocId, DocType, ErrorCode, RejectCode, ServerMsg};

use crate::input::Input;

const ACTOR: &[u8] = b"fuzz-device-actor";

/// A valid document of `doc_type` with some content, as a phone would hold it.
fn sample(doc_type: DocType) -> Automerge {
    let content = match doc_type {
        DocType::Patrol => serde_json::json!({
            "team": "team-1", "route": "route-stairwells", "started_by": "u1",
            "started_at_ms": 1_800_000_000_000i64,
            "checkins": [{"id": "c1", "post_id": "post-b3-u2-f5", "method": "manual",
                "reason": "tag torn", "at_ms": 1_800_000_100_000i64, "by": "u1", "device": "d1"}],
        }),
        DocType::Hazard => serde_json::json!({
            "category": "exit_blocked", "severity": "major",
            "place": {"post_id": "post-b3-u2-f5"},
            "events": [{"id": "e1", "action": "report", "at_ms": 1_800_000_000_000i64,
                "by": "u1", "role": "volunteer", "device": "d1"}],
        }),
        DocType::Incident => serde_json::json!({
            "occurred_at_ms": 1_800_000_000_000i64, "reporter": "u1", "cause": "dispute",
            "events": [],
        }),
        _ => serde_json::json!({}),
    };
    let mut doc = migrate::new_doc(doc_type);
    let mut tx = doc.transaction();
    if let Some(map) = content.as_object() {
        let _ = fieldsync_proto::json::fill(&mut tx, map);
    }
    tx.commit();
    doc
}

/// A small valid sync exchange: the first message a phone sends for a
/// document holding a check-in.
fn sync_message() -> Vec<u8> {
    let mut doc = sample(DocType::Patrol);
    doc.set_actor(ActorId::from(ACTOR));
    let mut state = sync::State::new();
    doc.generate_sync_message(&mut state)
        .map(|m| m.encode())
        .unwrap_or_default()
}

pub fn client_msg_seeds() -> Vec<Vec<u8>> {
    let header = DocHeader::new(DocId::new("patrol-1").unwrap(), DocType::Patrol);
    vec![
        ClientMsg::Hello {
            protocol_version: 1,
            device_id: "dev-1".into(),
            token: "eyJhbGciOiJIUzI1NiJ9.e30.sig".into(),
            cursor: 42,
        }
        .encode(),
        ClientMsg::Sync {
            header,
            message: sync_message(),
        }
        .encode(),
    ]
}

pub fn server_msg_seeds() -> Vec<Vec<u8>> {
    let header = DocHeader::new(DocId::new("patrol-1").unwrap(), DocType::Patrol);
    let heads = to_wire_heads(&sample(DocType::Patrol).get_heads());
    vec![
        ServerMsg::Welcome {
            protocol_version: 1,
            user_id: "u1".into(),
            community_id: "demo".into(),
            server_cursor: 7,
        }
        .encode(),
        ServerMsg::Changed {
            docs: vec![Announce {
                header: header.clone(),
                heads: heads.clone(),
                seq: 3,
            }],
            upto: 3,
            caught_up: true,
        }
        .encode(),
        ServerMsg::Sync {
            doc: header.id.clone(),
            message: Some(sync_message()),
            durable_heads: heads,
        }
        .encode(),
        ServerMsg::Reject {
            doc: header.id,
            code: RejectCode::SchemaViolation,
            message: "checkin_rewritten".into(),
        }
        .encode(),
        ServerMsg::Error {
            code: ErrorCode::Malformed,
            message: "bad frame".into(),
        }
        .encode(),
    ]
}

/// Decoding a device's frame never panics; what decodes encodes back to
/// the same message.
pub fn client_msg(data: &[u8]) {
    if let Ok(m) = ClientMsg::decode(data) {
        assert_eq!(ClientMsg::decode(&m.encode()).ok(), Some(m), "round trip");
    }
}

/// The same for the server's frames.
pub fn server_msg(data: &[u8]) {
    if let Ok(m) = ServerMsg::decode(data) {
        assert_eq!(ServerMsg::decode(&m.encode()).ok(), Some(m), "round trip");
    }
}

/// Seeds for the structured harnesses: any bytes steer them.
pub fn structured_seeds() -> Vec<Vec<u8>> {
    (0u8..8)
        .map(|i| {
            (0..64)
                .map(|j: u8| j.wrapping_mul(31).wrapping_add(i))
                .collect()
        })
        .collect()
}

/// The phone's documents, in memory.
#[derive(Default)]
struct Docs {
    docs: HashMap<DocId, (DocHeader, Automerge)>,
}

impl LocalDocs for Docs {
    type Error = String;

    fn header(&mut self, id: &DocId) -> Result<Option<DocHeader>, String> {
        Ok(self.docs.get(id).map(|(h, _)| h.clone()))
    }

    fn has_heads(&mut self, id: &DocId, heads: &[ChangeHash]) -> Result<bool, String> {
        Ok(self
            .docs
            .get(id)
            .is_some_and(|(_, d)| heads.iter().all(|h| d.get_change_by_hash(h).is_some())))
    }

    fn saved_sync(&mut self, _id: &DocId) -> Result<SavedSync, String> {
        Ok(SavedSync {
            state: None,
            has_local_changes: true,
        })
    }

    fn generate(
        &mut self,
        id: &DocId,
        state: &mut sync::State,
    ) -> Result<Option<sync::Message>, String> {
        Ok(match self.docs.get(id) {
            Some((_, d)) => d.generate_sync_message(state),
            None => Automerge::new().generate_sync_message(state),
        })
    }

    fn receive(
        &mut self,
        header: &DocHeader,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<(bool, Vec<ChangeHash>), String> {
        let (_, doc) = self
            .docs
            .entry(header.id.clone())
            .or_insert_with(|| (header.clone(), Automerge::new()));
        let before = doc.get_heads();
        doc.receive_sync_message(state, message)
            .map_err(|e| e.to_string())?;
        let after = doc.get_heads();
        Ok((before != after, after))
    }

    fn acked(&mut self, _id: &DocId, _heads: &[ChangeHash]) -> Result<(), String> {
        Ok(())
    }

    fn finished(&mut self, _id: &DocId, _state: &sync::State) -> Result<(), String> {
        Ok(())
    }

    fn rejected(&mut self, _id: &DocId, _code: RejectCode, _message: &str) -> Result<(), String> {
        Ok(())
    }
}

const IDS: &[&str] = &["patrol-1", "hazard-1", "patrol-2"];

fn server_message(input: &mut Input<'_>, server_doc: &Automerge) -> ServerMsg {
    let id = DocId::new(*input.pick(IDS)).unwrap();
    let heads = || to_wire_heads(&server_doc.get_heads());
    match input.u8() % 6 {
        0 => ServerMsg::Welcome {
            protocol_version: if input.u8().is_multiple_of(8) { 2 } else { 1 },
            user_id: "u1".into(),
            community_id: "demo".into(),
            server_cursor: u64::from(input.u32()),
        },
        1 => ServerMsg::Changed {
            docs: (0..input.u8() % 4)
                .map(|_| Announce {
                    header: DocHeader::new(DocId::new(*input.pick(IDS)).unwrap(), DocType::Patrol),
                    heads: heads(),
                    seq: u64::from(input.u8()),
                })
                .collect(),
            upto: u64::from(input.u8()),
            caught_up: input.u8().is_multiple_of(2),
        },
        2 | 3 => {
            let message = match input.u8() % 3 {
                0 => None,
                1 => Some(input.bytes(64).to_vec()),
                _ => {
                    let mut state = sync::State::new();
                    server_doc
                        .generate_sync_message(&mut state)
                        .map(|m| m.encode())
                }
            };
            ServerMsg::Sync {
                doc: id,
                message,
                durable_heads: if input.u8().is_multiple_of(2) {
                    heads()
                } else {
                    Vec::new()
                },
            }
        }
        4 => ServerMsg::Reject {
            doc: id,
            code: *input.pick(&[
                RejectCode::SchemaViolation,
                RejectCode::Forbidden,
                RejectCode::Conflict,
                RejectCode::ForeignActor,
            ]),
            message: "rejected".into(),
        },
        _ => ServerMsg::Error {
            code: ErrorCode::ShuttingDown,
            message: "bye".into(),
        },
    }
}

/// The device's session state machine under any order of server messages
/// and local changes: it may refuse (a protocol error), never panic.
pub fn client_session(data: &[u8]) {
    let mut input = Input::new(data);
    let mut docs = Docs::default();
    let header = DocHeader::new(DocId::new("patrol-1").unwrap(), DocType::Patrol);
    docs.docs
        .insert(header.id.clone(), (header.clone(), sample(DocType::Patrol)));
    let server_doc = sample(DocType::Patrol);
    let (mut session, _hello) = ClientSession::start("dev-1", "token", u64::from(input.u8()));
    session = session.with_window(1 + input.u8() as usize % 3);
    for _ in 0..32 {
        if input.is_empty() {
            break;
        }
        let step = if input.u8().is_multiple_of(5) {
            session.local_change(header.clone(), &mut docs)
        } else {
            let msg = server_message(&mut input, &server_doc);
            session.receive(msg, &mut docs)
        };
        if step.is_err() || session.is_closed() {
            break;
        }
    }
    let _ = session.pending();
}

pub fn server_apply_seeds() -> Vec<Vec<u8>> {
    vec![sync_message()]
}

/// The server's per-document step on any sync message bytes.
pub fn server_apply(data: &[u8]) {
    let mut doc = sample(DocType::Patrol);
    let actors: HashSet<ActorId> = [ActorId::from(ACTOR)].into_iter().collect();
    let limits = DocLimits {
        max_message_bytes: 1 << 20,
        max_document_bytes: 4 << 20,
    };
    let _ = apply_client_sync(&mut doc, DocType::Patrol, data, &actors, 0, limits);
}

const KEYS: &[&str] = &[
    "checkins",
    "events",
    "notes",
    "acks",
    "team",
    "route",
    "started_by",
    "started_at_ms",
    "ended_at_ms",
    "breadcrumbs",
    "category",
    "severity",
    "place",
    "photos",
    "members",
    "schema",
    "id",
    "by",
    "device",
    "role",
    "post_id",
    "method",
    "payload",
    "reason",
    "at_ms",
    "prev",
    "action",
    "corrects",
    "text",
    "fix",
    "lat",
    "lon",
];

fn scalar(input: &mut Input<'_>) -> ScalarValue {
    match input.u8() % 6 {
        0 => ScalarValue::Str(
            input
                .string(&["u1", "d1", "c1", "report", "assign", "tag", "manual", ""])
                .into(),
        ),
        1 => ScalarValue::Int(input.i64() - (1 << 31)),
        2 => ScalarValue::Null,
        3 => ScalarValue::Boolean(input.u8().is_multiple_of(2)),
        4 => ScalarValue::F64(f64::from(input.u32()) / 7.0),
        _ => ScalarValue::Str(input.string(KEYS).into()),
    }
}

/// Any edits a crafted client could make, applied to a valid document as
/// its author; the checks the server runs must answer (accept or refuse),
/// never panic.
pub fn validators(data: &[u8]) {
    let mut input = Input::new(data);
    let doc_type = *input.pick(&DocType::ALL);
    let stored = sample(doc_type);
    let prior = validate::prior(doc_type, &stored);
    let mut doc = stored.fork();
    doc.set_actor(ActorId::from(ACTOR));
    {
        let mut tx = doc.transaction();
        for _ in 0..(1 + input.u8() % 12) {
            let key = *input.pick(KEYS);
            match input.u8() % 6 {
                0 => {
                    let _ = tx.put(automerge::ROOT, key, scalar(&mut input));
                }
                1 => {
                    let _ = tx.delete(automerge::ROOT, key);
                }
                kind => {
                    // Into a list at the root: insert a map or a scalar,
                    // edit or delete an element.
                    let list = match tx.get(automerge::ROOT, key) {
                        Ok(Some((Value::Object(ObjType::List), id))) => id,
                        _ => match tx.put_object(automerge::ROOT, key, ObjType::List) {
                            Ok(id) => id,
                            Err(_) => continue,
                        },
                    };
                    let len = tx.length(&list);
                    let at = input.u8() as usize % (len + 1);
                    match kind {
                        2 => {
                            if let Ok(m) = tx.insert_object(&list, at, ObjType::Map) {
                                for _ in 0..input.u8() % 6 {
                                    let k = *input.pick(KEYS);
                                    let _ = tx.put(&m, k, scalar(&mut input));
                                }
                            }
                        }
                        3 => {
                            let _ = tx.insert(&list, at, scalar(&mut input));
                        }
                        4 if len > 0 => {
                            let _ = tx.delete(&list, at.min(len - 1));
                        }
                        _ if len > 0 => {
                            if let Ok(Some((Value::Object(ObjType::Map), m))) =
                                tx.get(&list, at.min(len - 1))
                            {
                                let k = *input.pick(KEYS);
                                let _ = tx.put(&m, k, scalar(&mut input));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        tx.commit();
    }
    let role = *input.pick(&Role::ALL);
    let author = Author {
        user_id: "u1",
        role,
        device_id: "d1",
    };
    let _ = validate::check_change(doc_type, &prior, &doc, author);
    let _ = validate::check_change(doc_type, &validate::Prior::Nothing, &doc, author);
    let _ = validate::read(doc_type, &doc);
    let _ = migrate::check_reserved(doc_type, &doc);
}

pub fn tag_seeds() -> Vec<Vec<u8>> {
    let good = Tag::sign(b"fuzz key", "demo", "post-b3-u2-f5", "k1")
        .unwrap()
        .encode();
    vec![good.into_bytes(), b"fs1.post.k1.".to_vec()]
}

/// Parsing and checking a scanned payload.
pub fn tag(data: &[u8]) {
    let payload = String::from_utf8_lossy(data);
    if let Ok(t) = Tag::parse(&payload) {
        let _ = t.verify(b"fuzz key", "demo");
        assert_eq!(
            Tag::parse(&t.encode()).ok().as_ref(),
            Some(&t),
            "round trip"
        );
    }
}

pub fn tus_seeds() -> Vec<Vec<u8>> {
    let mut seed = Vec::new();
    for part in [
        &b"1024"[..],
        b"0",
        b"sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        b"filename d2FsbC5qcGc=,sha256 YWJj,is_confidential",
    ] {
        seed.push(part.len() as u8);
        seed.extend_from_slice(part);
    }
    vec![seed]
}

/// The tus headers a client sends: lengths, offsets, checksums, metadata.
pub fn tus_headers(data: &[u8]) {
    use fieldsync_server::photos::tus;
    let mut input = Input::new(data);
    let mut headers = HeaderMap::new();
    for name in [tus::UPLOAD_LENGTH, tus::UPLOAD_OFFSET] {
        if let Ok(v) = HeaderValue::from_bytes(input.bytes(32)) {
            headers.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_bytes(input.bytes(96)) {
        headers.insert("upload-checksum", v);
    }
    let _ = tus::header_u64(&headers, &tus::UPLOAD_LENGTH);
    let _ = tus::header_u64(&headers, &tus::UPLOAD_OFFSET);
    let _ = tus::upload_checksum(&headers);
    let raw = String::from_utf8_lossy(input.rest());
    if let Ok(m) = tus::parse_metadata(&raw) {
        let _ = tus::declared_sha256(&m);
    }
}

pub fn image_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for format in [image_png(), image_jpeg()] {
        out.push(format);
    }
    out
}

fn tiny() -> ::image::RgbImage {
    ::image::RgbImage::from_fn(8, 6, |x, y| {
        ::image::Rgb([(x * 30) as u8, (y * 40) as u8, 128])
    })
}

fn image_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = tiny().write_to(&mut out, ::image::ImageFormat::Png);
    out.into_inner()
}

fn image_jpeg() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = tiny().write_to(&mut out, ::image::ImageFormat::Jpeg);
    out.into_inner()
}

/// The image checks and re-encoding an uploaded photo goes through.
pub fn image(data: &[u8]) {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if std::io::Write::write_all(&mut file, data).is_err() {
        return;
    }
    let limits = fieldsync_server::blobs::ImageLimits {
        max_bytes: 1 << 20,
        max_pixels: 4_000_000,
        max_side: 4096,
    };
    let _ = fieldsync_server::blobs::process(file.path(), &limits);
}
