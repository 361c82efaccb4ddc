//! Several `fieldsync serve` processes over one PostgreSQL database (and one
//! S3 bucket): what they tell each other, and which of them runs the
//! compliance engine.
//!
//! Notices travel through PostgreSQL's own LISTEN/NOTIFY on the channel
//! [`notice::CHANNEL`]: the database every replica already shares, with no broker to
//! run. A commit's notice is sent inside its transaction, so PostgreSQL
//! delivers it if and only if the commit happened, after it did. A replica
//! hearing a commit moves that community's feed (`crate::feed`), which reads
//! the new documents once for all its connections. Revocations and read-scope
//! changes reach every replica's live connections the same way.
//!
//! NOTIFY is not durable: a replica whose listening connection dropped
//! catches up when it is back (`resync`): each feed rereads the community's
//! sequence, and devices revoked meanwhile are revoked here too.
//!
//! The compliance engine (alerts, escalations, issued reports) runs on one
//! replica at a time: the one holding the session advisory lock
//! [`COMPLIANCE_LEASE`] (`Store::lease`). When it dies, its database
//! connection closes, the lock is free, and another replica takes it at its
//! next tick. The embedded SQLite store serves one process, which always
//! holds the lease.

use std::time::Duration;

use crate::clock::now_ms;
use crate::state::AppState;

/// The advisory lock of the compliance engine.
pub const COMPLIANCE_LEASE: i64 = 0x0066_6965_6c64_7301;

pub mod notice;

pub use notice::Notice;

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
            let mut listener = match pg.listener(notice::CHANNEL).await {
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
