//! Several `fieldsync serve` processes over one PostgreSQL database (and one
//! S3 bucket): what they tell each other, and which of them runs the
//! compliance engine.
//!
//! Notices travel through PostgreSQL's own LISTEN/NOTIFY on the channel
//! [`CHANNEL`]: the database every replica already shares, with no broker to
//! run. A commit's notice is sent inside its transaction, so PostgreSQL
//! delivers it if and only if the commit happened, after it did. A replica
//! hearing a commit moves that community's feed (`crate::feed`), which reads
//! the new documents once for all its connections. Revocations and read-scope
//! changes reach every replica's live connections the same way.
//!
//! NOTIFY is not durable: a replica whose listening connection dropped
//! catches up when it is back ([`resync`]): each feed rereads the community's
//! sequence, and devices revoked meanwhile are revoked here too.
//!
//! The compliance engine (alerts, escalations, issued reports) runs on one
//! replica at a time: the one holding the session advisory lock
//! [`COMPLIANCE_LEASE`] (`Store::lease`). When it dies, its database
//! connection closes, the lock is free, and another replica takes it at its
//! next tick. The embedded SQLite store serves one process, which always
//! holds the lease.

use std::sync::LazyLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::state::AppState;

/// The LISTEN/NOTIFY channel.
pub const CHANNEL: &str = "fieldsync";

/// The advisory lock of the compliance engine.
pub const COMPLIANCE_LEASE: i64 = 0x0066_6965_6c64_7301;

/// This process among the replicas, so it can skip its own notices.
pub static REPLICA: LazyLock<u64> = LazyLock::new(rand::random);

/// What one replica tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Notice {
    /// `community` committed up to `seq`; `wake`: a patrol, route or roster
    /// was among it, so the compliance engine runs now.
    Committed {
        community: String,
        seq: i64,
        wake: bool,
    },
    /// A device was revoked.
    Revoked { device: String },
    /// What these users of `community` may read changed.
    Readers {
        community: String,
        users: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The replica that sent it.
    r: u64,
    #[serde(flatten)]
    notice: Notice,
}

impl Notice {
    /// The NOTIFY payload (JSON; well under PostgreSQL's 8,000 bytes for a
    /// commit or a revocation, and a scope change is split into as many
    /// notices as it needs: [`Notice::split`]).
    pub fn payload(&self) -> String {
        serde_json::to_string(&Envelope {
            r: *REPLICA,
            notice: self.clone(),
        })
        .expect("notices serialize")
    }

    /// A notice of another replica; `None` for this process's own and for a
    /// payload it does not understand (a newer replica's, logged).
    pub fn parse(payload: &str) -> Option<Notice> {
        match serde_json::from_str::<Envelope>(payload) {
            Ok(e) if e.r == *REPLICA => None,
            Ok(e) => Some(e.notice),
            Err(e) => {
                tracing::warn!(payload, error = %e, "ignoring a notice this replica does not understand");
                None
            }
        }
    }

    /// The notices to send for it, each small enough for NOTIFY.
    pub fn split(self) -> Vec<Notice> {
        match self {
            Notice::Readers { community, users } if users.len() > 100 => users
                .chunks(100)
                .map(|u| Notice::Readers {
                    community: community.clone(),
                    users: u.to_vec(),
                })
                .collect(),
            other => vec![other],
        }
    }
}

/// Acts on another replica's notice here.
fn apply(app: &AppState, notice: Notice) {
    match notice {
        Notice::Committed {
            community,
            seq,
            wake,
        } => {
            app.commits.feeds().committed(&community, seq);
            if wake {
                app.commits.wake_compliance();
            }
        }
        Notice::Revoked { device } => app.revocations.revoke(&device),
        Notice::Readers { community, users } => {
            app.commits.feeds().readers_changed(&community, users)
        }
    }
}

/// Whatever a gap in listening may have lost, from the database: every feed
/// of this process rereads its community's sequence, and devices revoked
/// since `since` (ms) are revoked here.
async fn resync(app: &AppState, since: i64) -> Result<(), crate::store::StoreError> {
    for community in app.commits.feeds().communities() {
        let seq = app.store.community_seq(&community).await?;
        app.commits.feeds().committed(&community, seq);
    }
    for device in app.store.devices_revoked_since(since).await? {
        app.revocations.revoke(&device);
    }
    app.commits.wake_compliance();
    Ok(())
}

/// Listens for the other replicas' notices until shutdown (PostgreSQL only).
pub fn spawn_listener(app: &AppState) {
    let crate::store::Store::Postgres(pg) = &app.store else {
        return;
    };
    let pg = pg.clone();
    let app = app.clone();
    let tasks = app.tasks.clone();
    tasks.spawn(async move {
        // Anything older than a minute before the last notice heard has
        // reached the live connections it concerned.
        let mut heard = now_ms();
        loop {
            let mut listener = match pg.listener(CHANNEL).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other replicas; retrying");
                    tokio::select! {
                        _ = app.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            if let Err(e) = resync(&app, heard - 60_000).await {
                tracing::warn!(error = %e, "cannot catch up with other replicas");
            }
            loop {
                let next = tokio::select! {
                    _ = app.shutdown.cancelled() => return,
                    n = listener.try_recv() => n,
                };
                match next {
                    Ok(Some(n)) => {
                        heard = now_ms();
                        if let Some(notice) = Notice::parse(n.payload()) {
                            apply(&app, notice);
                        }
                    }
                    // The connection dropped: the next receive reconnects,
                    // and what was sent meanwhile is read from the database.
                    Ok(None) => {
                        tracing::warn!("lost the connection that listens for other replicas");
                        if let Err(e) = resync(&app, heard - 60_000).await {
                            tracing::warn!(error = %e, "cannot catch up with other replicas");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for other replicas failed; reconnecting");
                        break;
                    }
                }
            }
        }
    });
}

/// Tells this process and the other replicas.
pub async fn tell(app: &AppState, notice: Notice) {
    for n in notice.clone().split() {
        if let Err(e) = app.store.notify(&n).await {
            tracing::warn!(error = %e, "cannot tell the other replicas");
        }
    }
    match notice {
        // The commit path moves its own feed; this is for the others.
        Notice::Committed { .. } => {}
        other => apply(app, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_notices_are_skipped_and_others_read_back() {
        let n = Notice::Readers {
            community: "c1".into(),
            users: vec!["u1".into()],
        };
        assert_eq!(Notice::parse(&n.payload()), None);
        let theirs = n.payload().replacen(&REPLICA.to_string(), "1", 1);
        assert_eq!(Notice::parse(&theirs), Some(n));
        assert_eq!(Notice::parse("{\"r\":1,\"k\":\"later\"}"), None);
    }

    #[test]
    fn a_large_scope_change_is_split_under_the_notify_limit() {
        let n = Notice::Readers {
            community: "c1".into(),
            users: (0..250).map(|i| format!("user-{i:040}")).collect(),
        };
        let parts = n.split();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.payload().len() < 8000));
    }
}
