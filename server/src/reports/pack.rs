//! A zip of files that proves itself: each file's sha256 as it was written,
//! a `manifest.json`, and `SHA256SUMS` (for `sha256sum -c`). Written into a
//! temporary file on a blocking thread and streamed from it; the evidence
//! pack and the export of one person's data are such zips.

use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ReportError;

/// One file of a pack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Counts and hashes what passes through.
struct Hashing<'a, W: Write> {
    inner: &'a mut W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub type Zip = zip::ZipWriter<std::fs::File>;

/// A new pack in a temporary file.
pub fn create() -> anyhow::Result<(tempfile::NamedTempFile, Zip)> {
    let out = tempfile::NamedTempFile::new()?;
    let zip = zip::ZipWriter::new(out.reopen()?);
    Ok((out, zip))
}

/// Adds `path`, written by `fill`; its hash and size.
pub fn add(
    zip: &mut Zip,
    path: &str,
    fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<PackFile> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(path, options)?;
    let mut w = Hashing {
        inner: zip,
        hash: Sha256::new(),
        bytes: 0,
    };
    fill(&mut w)?;
    Ok(PackFile {
        path: path.to_owned(),
        sha256: hex::encode(w.hash.finalize()),
        bytes: w.bytes,
    })
}

/// Ends the pack: `manifest.json`, then `SHA256SUMS` of `files` and the
/// manifest.
pub fn finish(mut zip: Zip, files: &[PackFile], manifest: &[u8]) -> anyhow::Result<()> {
    let manifest_file = add(&mut zip, "manifest.json", |w| Ok(w.write_all(manifest)?))?;
    let sums: String = files
        .iter()
        .chain(std::iter::once(&manifest_file))
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    add(
        &mut zip,
        "SHA256SUMS",
        |w| Ok(w.write_all(sums.as_bytes())?),
    )?;
    zip.finish()?;
    Ok(())
}

/// A name safe in a zip path or a file name.
pub fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A finished pack as a download named `name`.
pub async fn download(
    file: tempfile::NamedTempFile,
    name: &str,
) -> Result<axum::response::Response, ReportError> {
    let opened = tokio::fs::File::open(file.path())
        .await
        .map_err(|e| ReportError::Pack(e.to_string()))?;
    // The open file outlives its name: the bytes are read after it is
    // unlinked.
    drop(file);
    Ok(axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/zip")
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(axum::body::Body::from_stream(
            tokio_util::io::ReaderStream::new(opened),
        ))
        .expect("a valid response"))
}
