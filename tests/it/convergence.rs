//! Convergence under crashes, as a property over random schedules: three
//! phones (two volunteers and their leader, each with its own data dir) and
//! a real server as a child process. Each case runs a random schedule of
//! offline work — check-ins at shared posts with valid, forged and revoked
//! tags and manual ones, patrol notes, hazards moved through their states
//! by different roles, incidents, a rewritten check-in the server must
//! refuse — interleaved with syncs, app restarts, and `kill -9` of the
//! server at random points, mid-push included.
//!
//! At the end every phone and the server hold identical documents, every
//! check-in, note and hazard or incident event a phone made is on the
//! server, each refused change set is in its author's quarantine with its
//! code, and each scan whose tag does not verify is stored flagged.
//!
//! Bounded for CI: `FIELDSYNC_CONVERGENCE_CASES` cases (default 2) per
//! backend; `FIELDSYNC_CONVERGENCE_SEED` replays one. A long run, outside
//! nextest's three-minute limit:
//! `FIELDSYNC_CONVERGENCE_CASES=1000 cargo test -p fieldsync-e2e --test it -- convergence --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fieldsync_proto::model::validate;
use fieldsync_sdk::{DocId, HazardAction, HazardPlace, NewHazard, NewIncident, Severity};
use fieldsync_server::store::Store;

use crate::support::{Backend, ChildServer, Device, TestStorage, edit_first_entry, get_json_as};

const USERS: [&str; 3] = ["demo-volunteer", "demo-volunteer-2", "demo-leader"];
const POSTS: [&str; 4] = [
    "post-b3-u2-f5",
    "post-b3-u2-f9",
    "post-b3-u1-f5",
    "post-b3-u1-f9",
];

/// A small deterministic generator, so a failing case replays from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn knob(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// What the phones made and what must therefore be on the server.
#[derive(Default)]
struct Made {
    /// Patrol id → check-in ids.
    checkins: BTreeMap<DocId, BTreeSet<String>>,
    /// Patrol id → note ids.
    notes: BTreeMap<DocId, BTreeSet<String>>,
    /// Check-ins whose tag must come out flagged.
    flagged: BTreeSet<String>,
    hazards: BTreeSet<DocId>,
    incidents: BTreeSet<DocId>,
    /// Per phone: change sets the server must refuse.
    refusals: [usize; 3],
    /// What the schedule did, for the log.
    kills: usize,
    mid_push_kills: usize,
    restarts: usize,
    failed_syncs: usize,
}

struct Phones {
    devices: Vec<Device>,
    url: String,
}

impl Phones {
    async fn sync(&self, i: usize) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(30), self.devices[i].client.sync_now()).await,
            Ok(Ok(_))
        )
    }
}

struct World {
    storage: TestStorage,
    listen: String,
    server: Option<ChildServer>,
}

impl World {
    fn start(&mut self) {
        if self.server.is_none() {
            self.server = Some(ChildServer::spawn(
                &self.storage.dir.path().join("server"),
                self.storage.database_url().as_deref(),
                &self.listen,
            ));
        }
    }

    fn kill(&mut self) {
        if let Some(s) = self.server.take() {
            s.kill9();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn run_case(backend: Backend, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut world = World {
        storage: TestStorage::new(backend).await,
        listen: format!("127.0.0.1:{}", free_port()),
        server: None,
    };
    world.start();
    let url = world.server.as_ref().unwrap().url.clone();
    let mut devices = Vec::new();
    for u in USERS {
        devices.push(Device::login(&url, u).await);
    }
    let mut phones = Phones { devices, url };

    // Valid and revoked stickers, printed by the office before the night.
    let tags = |printed: &serde_json::Value| -> BTreeMap<String, String> {
        printed
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["post_id"].as_str().unwrap().to_owned(),
                    t["payload"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let old = tags(&get_json_as(&phones.url, "demo-office", "/api/v1/posts/tags?building=3").await);
    let office =
        crate::support::login_json(&phones.url, "demo-office", "dev-convergence-office").await;
    let token = office["access_token"].as_str().unwrap();
    for path in ["/api/v1/tag-keys", "/api/v1/tag-keys/k1/revoke"] {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", phones.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
    }
    let good =
        tags(&get_json_as(&phones.url, "demo-office", "/api/v1/posts/tags?building=3").await);

    let mut made = Made::default();
    let patrol = phones.devices[0]
        .client
        .start_patrol("team-1", "route-stairwells")
        .unwrap();
    made.checkins.entry(patrol.clone()).or_default();
    for i in 0..3 {
        assert!(phones.sync(i).await, "first sync");
    }

    let steps = 20 + rng.below(20);
    for _ in 0..steps {
        let i = rng.below(3) as usize;
        let client = &phones.devices[i].client;
        match rng.below(100) {
            // A check-in at a shared post: good, forged, revoked or manual.
            0..=29 => {
                let post = POSTS[rng.below(4) as usize];
                let (tag, flagged) = match rng.below(4) {
                    0 => (Some(good[post].clone()), false),
                    1 => {
                        let (prefix, _) = good[post].rsplit_once('.').unwrap();
                        (Some(format!("{prefix}.AAAAAAAAAAAAAAAAAAAAAA")), true)
                    }
                    2 => (Some(old[post].clone()), true),
                    _ => (None, false),
                };
                let id = client
                    .check_in(&patrol, post, tag.as_deref(), "sticker torn", None, "")
                    .unwrap();
                made.checkins
                    .entry(patrol.clone())
                    .or_default()
                    .insert(id.clone());
                if flagged {
                    made.flagged.insert(id);
                }
            }
            30..=39 => {
                let id = client
                    .add_patrol_note(&patrol, &format!("note {}", rng.below(1000)))
                    .unwrap();
                made.notes.entry(patrol.clone()).or_default().insert(id);
            }
            40..=49 => {
                if i < 2 {
                    let id = client
                        .report_hazard(NewHazard {
                            category: "exit_blocked".into(),
                            severity: if rng.chance(50) {
                                Severity::Major
                            } else {
                                Severity::General
                            },
                            immediate: false,
                            description: "bicycles in the stairwell".into(),
                            place: HazardPlace {
                                post_id: Some(POSTS[rng.below(4) as usize].into()),
                                ..HazardPlace::default()
                            },
                            photos: Vec::new(),
                        })
                        .unwrap();
                    made.hazards.insert(id);
                } else {
                    let id = client
                        .file_incident(NewIncident {
                            occurred_at_ms: fieldsync_sdk::now_ms(),
                            place: HazardPlace {
                                post_id: Some(POSTS[0].into()),
                                ..HazardPlace::default()
                            },
                            persons: "two residents".into(),
                            cause: "dispute over parking".into(),
                            handling: "talked them down".into(),
                            outcome: "settled".into(),
                            photos: Vec::new(),
                        })
                        .unwrap();
                    made.incidents.insert(id);
                }
            }
            // A hazard transition by whoever holds it, as the rules allow.
            50..=59 => {
                let hazards = client.open_hazards().unwrap();
                if let Some(h) = hazards.get(rng.below(hazards.len().max(1) as u64) as usize) {
                    let action = match rng.below(5) {
                        0 => HazardAction::Assign {
                            unit: "Property management".into(),
                            person: "user-demo-grid".into(),
                            deadline_ms: fieldsync_sdk::now_ms() + 86_400_000,
                        },
                        1 => HazardAction::Verify,
                        2 => HazardAction::Reopen,
                        _ => HazardAction::Comment,
                    };
                    // Refused on the phone when its rules say no: nothing made.
                    let _ = client.transition_hazard(&h.id, action, "checked", Vec::new());
                }
            }
            60..=79 => {
                if !phones.sync(i).await {
                    made.failed_syncs += 1;
                }
            }
            80..=84 => {
                phones.devices[i].reopen();
                made.restarts += 1;
            }
            85..=89 => {
                // kill -9 in the middle of a push.
                if world.server.is_some() {
                    let delay = Duration::from_millis(rng.below(40));
                    let device = &phones.devices[i];
                    let (_, ()) = tokio::join!(
                        tokio::time::timeout(Duration::from_secs(30), device.client.sync_now()),
                        async {
                            tokio::time::sleep(delay).await;
                            world.kill();
                        }
                    );
                    made.mid_push_kills += 1;
                }
            }
            90..=93 => {
                if world.server.is_some() {
                    world.kill();
                    made.kills += 1;
                }
            }
            94..=97 => world.start(),
            // History rewritten on a phone: the server must refuse it, and
            // the change set lands in that phone's quarantine.
            _ => {
                if world.server.is_none() {
                    world.start();
                }
                let own = client.start_patrol("team-1", "route-stairwells").unwrap();
                let id = client
                    .check_in(&own, POSTS[0], None, "first", None, "")
                    .unwrap();
                made.checkins.entry(own.clone()).or_default().insert(id);
                if phones.sync(i).await && client.pending_changes().unwrap() == 0 {
                    edit_first_entry(client, &own, "checkins", "post_id", POSTS[1]);
                    made.refusals[i] += 1;
                }
            }
        }
    }

    // The night ends: the server comes back and every phone syncs until
    // nothing moves.
    world.start();
    for _ in 0..4 {
        for i in 0..3 {
            phones.sync(i).await;
        }
    }
    for (i, d) in phones.devices.iter().enumerate() {
        assert_eq!(
            d.client.pending_changes().unwrap(),
            0,
            "seed {seed}: phone {i} has unacked changes"
        );
        let q = d.client.quarantined().unwrap();
        assert_eq!(
            q.len(),
            made.refusals[i],
            "seed {seed}: phone {i} quarantine {q:?}"
        );
        for entry in &q {
            assert_eq!(entry.code, "schema_violation", "seed {seed}: {entry:?}");
            assert!(
                entry.message.contains("checkin_rewritten"),
                "seed {seed}: {entry:?}"
            );
        }
    }
    world.kill();

    // What the server stored, read behind its back.
    let store = Store::open(
        world.storage.database_url().as_deref(),
        &world.storage.dir.path().join("server"),
    )
    .await
    .unwrap();
    let server_doc = |id: DocId| {
        let store = &store;
        async move {
            let stored = store.load_doc("demo", &id).await.unwrap()?;
            automerge::Automerge::load(&stored.chunks.concat()).ok()
        }
    };
    for (patrol, ids) in &made.checkins {
        let doc = server_doc(patrol.clone())
            .await
            .unwrap_or_else(|| panic!("seed {seed}: patrol {patrol} lost"));
        let p = validate::read_patrol(&doc).unwrap();
        let stored: BTreeSet<String> = p.checkins.iter().map(|c| c.id.clone()).collect();
        assert_eq!(
            stored.len(),
            p.checkins.len(),
            "seed {seed}: a check-in twice"
        );
        assert!(
            ids.is_subset(&stored),
            "seed {seed}: check-ins vanished: {:?}",
            ids.difference(&stored).collect::<Vec<_>>()
        );
        let notes: BTreeSet<String> = p.notes.iter().map(|n| n.id.clone()).collect();
        if let Some(made_notes) = made.notes.get(patrol) {
            assert!(made_notes.is_subset(&notes), "seed {seed}: notes vanished");
        }
    }
    for id in made.hazards.iter().chain(&made.incidents) {
        assert!(
            server_doc(id.clone()).await.is_some(),
            "seed {seed}: {id} lost"
        );
    }
    // Every document a phone holds is the server's, change for change.
    for (i, d) in phones.devices.iter().enumerate() {
        for id in d.client.document_ids(None).unwrap() {
            let Some(doc) = server_doc(id.clone()).await else {
                panic!("seed {seed}: phone {i} holds {id}, the server does not");
            };
            let mut theirs: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
            let mut mine = d.client.document_heads(&id).unwrap();
            theirs.sort();
            mine.sort();
            assert_eq!(
                mine, theirs,
                "seed {seed}: phone {i} and the server differ on {id}"
            );
        }
    }
    let rows = store.checkin_rows("demo").await.unwrap();
    for id in &made.flagged {
        let row = rows
            .iter()
            .find(|r| &r.checkin_id == id)
            .unwrap_or_else(|| panic!("seed {seed}: no row for {id}"));
        assert_eq!(row.status, "flagged", "seed {seed}: {id}");
    }
    let chain = fieldsync_server::audit::verify_stored(&store, "demo")
        .await
        .unwrap();
    assert!(chain.is_ok(), "seed {seed}: audit chain {chain:?}");
    println!(
        "  {steps} steps: {} check-ins ({} flagged), {} notes, {} hazards, {} incidents, \
         {} refusals; {} kills + {} mid-push, {} app restarts, {} failed syncs",
        made.checkins.values().map(BTreeSet::len).sum::<usize>(),
        made.flagged.len(),
        made.notes.values().map(BTreeSet::len).sum::<usize>(),
        made.hazards.len(),
        made.incidents.len(),
        made.refusals.iter().sum::<usize>(),
        made.kills,
        made.mid_push_kills,
        made.restarts,
        made.failed_syncs,
    );
    store.close().await;
    drop(phones);
    world.storage.cleanup().await;
}

async fn converges(backend: Backend) {
    let base = knob("FIELDSYNC_CONVERGENCE_SEED");
    let cases = if base.is_some() {
        1
    } else {
        knob("FIELDSYNC_CONVERGENCE_CASES").unwrap_or(2)
    };
    let base = base.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let started = std::time::Instant::now();
    for n in 0..cases {
        let seed = base.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        println!("case {n}: FIELDSYNC_CONVERGENCE_SEED={seed}");
        run_case(backend, seed).await;
    }
    println!("{cases} cases in {:.1} s", started.elapsed().as_secs_f64());
}
crate::both_backends!(phones_and_server_converge_through_crashes, converges);
