//! Backup and restore of the embedded store (docs/storage.md#backup-and-restore):
//! `fieldsync backup FILE` takes a consistent snapshot of the SQLite database
//! while the server runs and devices sync (`VACUUM INTO`, one read
//! transaction), adds every photo blob, and writes one zip that proves
//! itself (each file's sha256, `manifest.json`, `SHA256SUMS`).
//! `fieldsync restore FILE` unpacks it into a fresh data dir, checking every
//! file against its sha256 first. PostgreSQL is backed up with its own tools
//! (`pg_dump`), as documented.
//!
//! Blobs are named by their content and never change, so a blob written
//! after the snapshot is harmless in the backup, and every blob the snapshot
//! references was on disk before it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::reports::pack::{self, PackFile};

/// The manifest's format name.
const FORMAT: &str = "fieldsync-backup-1";
const DATABASE: &str = "fieldsync.db";
const BLOBS: &str = "blobs";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    server_version: String,
    created_at_ms: i64,
    files: Vec<PackFile>,
}

/// What a backup or a restore handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
}

/// Writes a backup of the embedded store in `data_dir` to `out`.
pub async fn backup(data_dir: &Path, out: &Path) -> anyhow::Result<Summary> {
    let db = data_dir.join(DATABASE);
    if !db.is_file() {
        bail!(
            "no embedded database at {} (a PostgreSQL deployment is backed up with pg_dump: docs/storage.md)",
            db.display()
        );
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile::tempdir_in(parent)
        .with_context(|| format!("cannot write next to {}", out.display()))?;
    let snapshot = work.path().join(DATABASE);
    // One read transaction: a consistent copy, while the server writes.
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .busy_timeout(std::time::Duration::from_secs(30)),
    )
    .await
    .with_context(|| format!("cannot open {}", db.display()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(snapshot.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .context("cannot snapshot the database")?;
    conn.close().await?;

    let blobs = data_dir.join(BLOBS);
    let out = out.to_owned();
    tokio::task::spawn_blocking(move || write_zip(&snapshot, &blobs, &out, work.path()))
        .await
        .context("the backup task failed")?
}

fn write_zip(snapshot: &Path, blobs: &Path, out: &Path, work: &Path) -> anyhow::Result<Summary> {
    let partial = work.join("backup.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&partial)?);
    let mut files = vec![add_file(&mut zip, DATABASE, snapshot)?];
    let mut blob_files = Vec::new();
    if blobs.is_dir() {
        walk(blobs, &mut blob_files)?;
    }
    blob_files.sort();
    for path in blob_files {
        let rel = path
            .strip_prefix(blobs)?
            .to_string_lossy()
            .replace('\\', "/");
        files.push(add_file(&mut zip, &format!("{BLOBS}/{rel}"), &path)?);
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        created_at_ms: crate::clock::now_ms(),
        files: files.clone(),
    };
    pack::finish(zip, &files, &serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Summary {
        files: files.len(),
        bytes: files.iter().map(|f| f.bytes).sum(),
    })
}

fn add_file(zip: &mut pack::Zip, name: &str, path: &Path) -> anyhow::Result<PackFile> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    pack::add(zip, name, |w| {
        std::io::copy(&mut f, w)?;
        Ok(())
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Unpacks the backup `file` into `data_dir`, which must not hold a
/// database yet; every file is checked against its sha256 before it is put
/// in place. The server applies newer migrations when it starts on it.
pub async fn restore(file: &Path, data_dir: &Path) -> anyhow::Result<Summary> {
    if data_dir.join(DATABASE).exists() {
        bail!(
            "{} already holds a database: restore into a fresh data dir",
            data_dir.display()
        );
    }
    let file = file.to_owned();
    let dir = data_dir.to_owned();
    let summary = tokio::task::spawn_blocking(move || unpack(&file, &dir))
        .await
        .context("the restore task failed")??;
    // The restored database opens (and is migrated to this release).
    let store = crate::store::Store::open(None, data_dir).await?;
    store.close().await;
    Ok(summary)
}

fn unpack(file: &Path, data_dir: &Path) -> anyhow::Result<Summary> {
    let mut zip = zip::ZipArchive::new(
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    )
    .context("not a fieldsync backup (not a zip)")?;
    let manifest: Manifest = {
        let mut m = zip
            .by_name("manifest.json")
            .context("not a fieldsync backup (no manifest.json)")?;
        let mut bytes = Vec::new();
        m.read_to_end(&mut bytes)?;
        serde_json::from_slice(&bytes).context("the backup's manifest.json does not parse")?
    };
    if manifest.format != FORMAT {
        bail!("unknown backup format {:?}", manifest.format);
    }
    if !manifest.files.iter().any(|f| f.path == DATABASE) {
        bail!("the backup holds no {DATABASE}");
    }
    let staging = tempfile::tempdir_in({
        std::fs::create_dir_all(data_dir)?;
        data_dir
    })?;
    for f in &manifest.files {
        let safe = f.path == DATABASE
            || (f.path.starts_with("blobs/")
                && Path::new(&f.path)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_))));
        if !safe {
            bail!("the backup names a file outside the data dir: {}", f.path);
        }
        let mut entry = zip
            .by_name(&f.path)
            .with_context(|| format!("the backup lacks {}", f.path))?;
        let target = staging.path().join(&f.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&target)?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        out.sync_all()?;
        if hex::encode(hash.finalize()) != f.sha256 {
            bail!(
                "{} does not match its sha256: the backup is damaged",
                f.path
            );
        }
    }
    // Everything checked: move it into place.
    for name in [DATABASE, BLOBS] {
        let from = staging.path().join(name);
        if from.exists() {
            std::fs::rename(&from, data_dir.join(name))?;
        }
    }
    Ok(Summary {
        files: manifest.files.len(),
        bytes: manifest.files.iter().map(|f| f.bytes).sum(),
    })
}
