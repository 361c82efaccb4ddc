//! Abandoned uploads expire: a background task deletes uploads (and their
//! parts) that received nothing for `upload_expiry_secs`, and the files and
//! parts that no upload owns.

use std::time::{Duration, SystemTime};

use crate::clock::now_ms;
use crate::state::AppState;
use crate::store::StoreError;

/// Starts the sweep on the server's task tracker; it stops on shutdown.
pub fn spawn_expiry(state: &AppState) {
    let app = state.clone();
    let every = Duration::from_secs(app.photos.config().expiry_sweep_secs.max(1));
    state.tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => break,
                _ = tick.tick() => match sweep(&app).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(uploads = n, "deleted expired uploads"),
                    Err(e) => tracing::warn!(error = %e, "cannot sweep expired uploads"),
                },
            }
        }
    });
}

/// Deletes expired uploads and orphaned upload files; returns how many
/// uploads went.
pub async fn sweep(app: &AppState) -> Result<usize, StoreError> {
    let expiry = Duration::from_secs(app.photos.config().upload_expiry_secs);
    let before = now_ms() - expiry.as_millis() as i64;
    let mut deleted = 0;
    loop {
        let ids = app.store.uploads_idle_since(before, 500).await?;
        let mut progressed = false;
        for id in &ids {
            // One being written to is not abandoned.
            let Some(_lock) = app.photos.lock_upload(id) else {
                continue;
            };
            super::ingest::discard(app, id).await;
            deleted += 1;
            progressed = true;
        }
        if ids.len() < 500 || !progressed {
            break;
        }
    }
    let cutoff = SystemTime::now().checked_sub(expiry);
    // A spool a crash left, or a file of an upload that is gone.
    if let Ok(mut dir) = tokio::fs::read_dir(app.photos.uploads_dir()).await {
        while let Ok(Some(entry)) = dir.next_entry().await {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let old = match (entry.metadata().await.and_then(|m| m.modified()), cutoff) {
                (Ok(modified), Some(cutoff)) => modified < cutoff,
                _ => false,
            };
            if old && (name.contains('.') || app.store.upload(&name).await?.is_none()) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }
    // Parts of uploads that are gone (a server stopped between storing a
    // part and deleting it).
    match app.photos.objects().uploads_with_parts_before(before).await {
        Ok(uploads) => {
            for id in uploads {
                if app.store.upload(&id).await?.is_none()
                    && let Err(e) = app.photos.objects().delete_parts(&id).await
                {
                    tracing::warn!(upload = %id, error = %e, "cannot delete orphaned parts");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list upload parts"),
    }
    Ok(deleted)
}
