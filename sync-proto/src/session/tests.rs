//! Deterministic in-memory tests of the sync session: an in-memory hub speaks
//! the server side with [`apply_client_sync`], devices run [`ClientSession`]
//! over an in-memory [`MemDocs`].

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use proptest::prelude::*;

use super::*;
use crate::model::DocType;
use crate::wire::{Head, to_wire_heads};

const LIMITS: DocLimits = DocLimits {
    max_message_bytes: 1 << 20,
    max_document_bytes: 1 << 20,
};

#[derive(Default)]
struct StoredDoc {
    header: Option<DocHeader>,
    doc: Automerge,
    seq: u64,
    bytes: usize,
}

/// The server side, in memory.
#[derive(Default)]
struct Hub {
    docs: BTreeMap<DocId, StoredDoc>,
    seq: u64,
    actors: HashMap<String, HashSet<ActorId>>,
    /// Bytes the hub received and sent, for reconnect-cost assertions.
    bytes: usize,
}

impl Hub {
    fn register(&mut self, device: &str, actor: ActorId) {
        self.actors.entry(device.into()).or_default().insert(actor);
    }

    fn changed_since(&self, cursor: u64) -> ServerMsg {
        let docs = self
            .docs
            .values()
            .filter(|d| d.seq > cursor)
            .map(|d| Announce {
                header: d.header.clone().unwrap(),
                heads: to_wire_heads(&d.doc.get_heads()),
                seq: d.seq,
            })
            .collect();
        ServerMsg::Changed {
            docs,
            upto: self.seq,
            caught_up: true,
        }
    }

    fn handle(&mut self, device: &str, msg: ClientMsg) -> Vec<ServerMsg> {
        self.bytes += msg.encode().len();
        let out = match msg {
            ClientMsg::Hello { cursor, .. } => vec![
                ServerMsg::Welcome {
                    protocol_version: PROTOCOL_VERSION,
                    user_id: "u".into(),
                    community_id: "c".into(),
                    server_cursor: self.seq,
                },
                self.changed_since(cursor),
            ],
            ClientMsg::Sync { header, message } => {
                let stored = self.docs.entry(header.id.clone()).or_default();
                let mut candidate = stored.doc.clone();
                let actors = self.actors.get(device).cloned().unwrap_or_default();
                match apply_client_sync(
                    &mut candidate,
                    header.doc_type,
                    &message,
                    &actors,
                    stored.bytes,
                    LIMITS,
                ) {
                    Ok(applied) => {
                        if applied.new_changes > 0 {
                            self.seq += 1;
                            stored.seq = self.seq;
                            stored.bytes += applied.incremental.len();
                            stored.header.get_or_insert(header.clone());
                            stored.doc = candidate;
                        }
                        vec![ServerMsg::Sync {
                            doc: header.id,
                            message: applied.reply.map(|m| m.encode()),
                            durable_heads: to_wire_heads(&stored.doc.get_heads()),
                        }]
                    }
                    Err(r) => {
                        if stored.header.is_none() {
                            self.docs.remove(&header.id);
                        }
                        vec![ServerMsg::Reject {
                            doc: header.id,
                            code: r.code,
                            message: r.message,
                        }]
                    }
                }
            }
        };
        self.bytes += out.iter().map(|m| m.encode().len()).sum::<usize>();
        out
    }
}

struct Device {
    name: String,
    actor: ActorId,
    docs: MemDocs,
    cursor: u64,
    rejected: Vec<(DocId, RejectCode)>,
}

impl Device {
    fn new(name: &str, hub: &mut Hub) -> Self {
        let actor = ActorId::random();
        hub.register(name, actor.clone());
        Device {
            name: name.into(),
            actor,
            docs: MemDocs::default(),
            cursor: 0,
            rejected: vec![],
        }
    }

    fn edit(&mut self, id: &str, key: &str, value: &str) {
        let id = DocId::new(id).unwrap();
        let actor = self.actor.clone();
        let d = self.docs.docs.entry(id.clone()).or_insert_with(|| MemDoc {
            header: DocHeader::new(id, DocType::Note),
            doc: Automerge::new(),
            state: None,
            acked: vec![],
        });
        d.doc.set_actor(actor);
        let mut tx = d.doc.transaction();
        tx.put(ROOT, key, value).unwrap();
        tx.commit();
    }

    fn get(&self, id: &str, key: &str) -> Option<String> {
        let d = self.docs.docs.get(&DocId::new(id).unwrap())?;
        d.doc
            .get(ROOT, key)
            .unwrap()
            .map(|(v, _)| v.as_str().unwrap().to_owned())
    }

    /// Connects to the hub and runs the session until idle, delivering
    /// messages in order (the deterministic network).
    fn sync(&mut self, hub: &mut Hub) {
        let (mut session, hello) = ClientSession::start(&self.name, "token", self.cursor);
        let session_ref = &mut session;
        let mut inbox: VecDeque<ServerMsg> = hub.handle(&self.name, hello).into();
        let local: Vec<DocHeader> = self
            .docs
            .docs
            .values()
            .filter(|d| {
                d.state
                    .as_ref()
                    .map(|s| s.shared_heads.clone())
                    .unwrap_or_default()
                    != d.doc.get_heads()
            })
            .map(|d| d.header.clone())
            .collect();
        let mut first = true;
        let mut steps = 0;
        while let Some(msg) = inbox.pop_front() {
            steps += 1;
            assert!(steps < 10_000, "session did not settle");
            let mut events = session_ref.receive(msg, &mut self.docs).unwrap();
            if first {
                first = false;
                for h in &local {
                    events.extend(session_ref.local_change(h.clone(), &mut self.docs).unwrap());
                }
            }
            for ev in events {
                match ev {
                    ClientEvent::Send(m) => inbox.extend(hub.handle(&self.name, m)),
                    ClientEvent::Cursor(c) => self.cursor = c,
                    ClientEvent::Rejected { doc, code, .. } => self.rejected.push((doc, code)),
                    ClientEvent::Failed { code, .. } => panic!("session failed: {code:?}"),
                    _ => {}
                }
            }
        }
        assert!(
            session.is_idle(),
            "session not idle after the network drained"
        );
    }
}

#[test]
fn offline_edits_on_two_devices_converge() {
    let mut hub = Hub::default();
    let mut a = Device::new("a", &mut hub);
    let mut b = Device::new("b", &mut hub);
    a.edit("shared", "title", "gate");
    a.sync(&mut hub);
    b.sync(&mut hub);
    assert_eq!(b.get("shared", "title").as_deref(), Some("gate"));

    // Both offline: concurrent edits of the same doc and of different docs.
    a.edit("shared", "from_a", "1");
    b.edit("shared", "from_b", "2");
    a.edit("only-a", "k", "a");
    b.edit("only-b", "k", "b");
    a.sync(&mut hub);
    b.sync(&mut hub);
    a.sync(&mut hub);

    for d in [&a, &b] {
        assert_eq!(d.get("shared", "from_a").as_deref(), Some("1"));
        assert_eq!(d.get("shared", "from_b").as_deref(), Some("2"));
        assert_eq!(d.get("only-a", "k").as_deref(), Some("a"));
        assert_eq!(d.get("only-b", "k").as_deref(), Some("b"));
    }
    let ida = DocId::new("shared").unwrap();
    assert_eq!(
        a.docs.docs[&ida].doc.get_heads(),
        b.docs.docs[&ida].doc.get_heads()
    );
    assert_eq!(a.cursor, hub.seq);
}

#[test]
fn reconnect_sends_only_the_changed_document() {
    let mut hub = Hub::default();
    let mut a = Device::new("a", &mut hub);
    let mut b = Device::new("b", &mut hub);
    for i in 0..200 {
        a.edit(&format!("doc-{i}"), "v", "x");
    }
    a.sync(&mut hub);
    b.sync(&mut hub);
    assert_eq!(b.docs.docs.len(), 200);

    a.edit("doc-17", "v", "changed");
    a.sync(&mut hub);
    hub.bytes = 0;
    b.sync(&mut hub);
    assert_eq!(b.get("doc-17", "v").as_deref(), Some("changed"));
    assert!(hub.bytes < 2_000, "reconnect moved {} bytes", hub.bytes);
}

#[test]
fn change_from_a_foreign_actor_is_rejected_and_quarantined() {
    let mut hub = Hub::default();
    let mut a = Device::new("a", &mut hub);
    a.edit("n", "k", "ok");
    a.sync(&mut hub);
    let accepted = hub.docs[&DocId::new("n").unwrap()].doc.get_heads();

    // A change made under someone else's actor id.
    a.actor = ActorId::random();
    a.edit("n", "k", "forged");
    a.sync(&mut hub);

    assert_eq!(
        a.rejected,
        vec![(DocId::new("n").unwrap(), RejectCode::ForeignActor)]
    );
    assert_eq!(
        hub.docs[&DocId::new("n").unwrap()].doc.get_heads(),
        accepted
    );
    assert_eq!(
        a.get("n", "k").as_deref(),
        Some("ok"),
        "local doc returned to the accepted state"
    );
    assert_eq!(
        a.docs.quarantine.len(),
        1,
        "the rejected change is kept in quarantine"
    );
}

#[test]
fn cursor_waits_for_announced_documents() {
    let mut hub = Hub::default();
    let mut a = Device::new("a", &mut hub);
    for i in 0..5 {
        a.edit(&format!("d{i}"), "v", "x");
    }
    a.sync(&mut hub);
    let (mut s, _hello) = ClientSession::start("b", "t", 0);
    let mut docs = MemDocs::default();
    s.receive(
        ServerMsg::Welcome {
            protocol_version: PROTOCOL_VERSION,
            user_id: "u".into(),
            community_id: "c".into(),
            server_cursor: hub.seq,
        },
        &mut docs,
    )
    .unwrap();
    let events = s.receive(hub.changed_since(0), &mut docs).unwrap();
    assert!(!events.iter().any(|e| matches!(e, ClientEvent::Cursor(_))));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Send(_)))
            .count(),
        5
    );
}

#[test]
fn unexpected_server_messages_are_protocol_errors() {
    let (mut s, _) = ClientSession::start("d", "t", 0);
    let mut docs = MemDocs::default();
    let err = s
        .receive(
            ServerMsg::Sync {
                doc: DocId::new("x").unwrap(),
                message: None,
                durable_heads: vec![Head([0; 32])],
            },
            &mut docs,
        )
        .unwrap_err();
    assert!(matches!(err, SessionError::Protocol(_)));
}

#[test]
fn oversized_and_garbage_messages_are_rejected() {
    let mut doc = Automerge::new();
    let actors = HashSet::new();
    let big = vec![0u8; 100];
    let small = DocLimits {
        max_message_bytes: 10,
        max_document_bytes: 10,
    };
    assert_eq!(
        apply_client_sync(&mut doc, DocType::Note, &big, &actors, 0, small)
            .unwrap_err()
            .code,
        RejectCode::MessageTooLarge
    );
    assert_eq!(
        apply_client_sync(&mut doc, DocType::Note, &[0x42, 1, 2], &actors, 0, LIMITS)
            .unwrap_err()
            .code,
        RejectCode::InvalidSyncMessage
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any interleaving of offline edits and syncs by three devices converges
    /// once everyone syncs twice.
    #[test]
    fn any_interleaving_converges(ops in prop::collection::vec((0usize..3, 0usize..4, any::<bool>()), 1..40)) {
        let mut hub = Hub::default();
        let mut devices: Vec<Device> = ["a", "b", "c"].iter().map(|n| Device::new(n, &mut hub)).collect();
        for (i, (dev, doc, sync_now)) in ops.iter().enumerate() {
            devices[*dev].edit(&format!("doc-{doc}"), &format!("k{i}"), "v");
            if *sync_now {
                devices[*dev].sync(&mut hub);
            }
        }
        for _ in 0..2 {
            for d in devices.iter_mut() {
                d.sync(&mut hub);
            }
        }
        for id in hub.docs.keys() {
            let heads: Vec<_> = devices.iter().map(|d| d.docs.docs[id].doc.get_heads()).collect();
            prop_assert!(heads.windows(2).all(|w| w[0] == w[1]));
            prop_assert_eq!(&heads[0], &hub.docs[id].doc.get_heads());
        }
    }
}
