//! The auditors' evidence pack: one zip per month with the reports issued
//! for it (exactly as issued), the month's summary as it reads now (CSV and
//! JSON, later arrivals marked), the month's exports as CSV, a manifest
//! (`manifest.json`: every file's sha256 and size, every issued report's
//! recorded hash, every photo referenced by its sha256) and `SHA256SUMS`, so
//! `sha256sum -c SHA256SUMS` checks the files with standard tools and
//! `fieldsync verify-evidence` checks the issued reports too.
//!
//! The pack is written on a blocking thread into a temporary file, each
//! export a page at a time, then streamed; it never sits in memory whole.

use std::io::Read;

use fieldsync_proto::model::Role;
use serde::{Deserialize, Serialize};

use super::content::Audience;
use super::exports::{self, Filter, What};
use super::issue::{self, sha256_hex};
use super::pack::{self, PackFile, add, safe};
use super::period::{self, Kind};
use super::render::{self, Format};
use super::{ReportError, Version};
use crate::i18n::{Lang, Tr};
use crate::state::AppState;

/// A report issued for the month, and the hash the server kept for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackIssue {
    pub kind: String,
    pub period: String,
    pub issued_at_ms: i64,
    pub sha256: String,
    /// Where its body is in the pack.
    pub path: String,
}

/// A photo a record of the month references: its sha256 is its address in
/// the photo store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackPhoto {
    pub sha256: String,
    pub referenced_by: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub community: String,
    pub month: String,
    pub generated_at_ms: i64,
    pub files: Vec<PackFile>,
    pub issued: Vec<PackIssue>,
    pub photos: Vec<PackPhoto>,
}

/// The evidence pack of `month` (`YYYY-MM`): a temporary zip file. For the
/// office and auditors.
pub async fn pack_month(
    app: &AppState,
    audience: &Audience,
    month: &str,
    now: i64,
) -> Result<tempfile::NamedTempFile, ReportError> {
    if audience.team.is_some() || !matches!(audience.reader.role, Role::Office | Role::Auditor) {
        return Err(ReportError::Forbidden);
    }
    let store = &app.store;
    let community = audience.community.clone();
    let tz = crate::format::time_zone();
    let p = period::month(month, &tz)?;

    // The reports issued for the month, exactly as kept.
    let shifts: std::collections::HashSet<String> = store
        .report_shifts(&community, p.from_ms, p.to_ms, None)
        .await?
        .into_iter()
        .map(|s| s.shift_key)
        .collect();
    let mut issued = Vec::new();
    for kind in Kind::ALL {
        let since = p.from_ms - 40 * 24 * 3_600_000;
        for (key, _) in store
            .issued_periods(&community, kind.as_str(), since)
            .await?
        {
            let ours = match kind {
                Kind::Daily => shifts.contains(&key),
                Kind::Weekly => key.starts_with(month),
                Kind::Monthly => key == month,
            };
            if ours
                && let Some((row, _)) = issue::issued_report(store, &community, kind, &key).await?
            {
                issued.push(row);
            }
        }
    }

    // The summary as it reads now, against its issue.
    let t = Tr { lang: Lang::ZhCn };
    let summary = super::view(store, audience, &p, Version::Live, now).await?;
    let csv = render::render(store, &app.photos, &summary, Format::Csv, t, None, now).await?;
    let json = render::render(store, &app.photos, &summary, Format::Json, t, None, now).await?;

    let last_day = jiff::Timestamp::from_millisecond(p.to_ms - 1)
        .map(|t| t.to_zoned(tz.clone()).date().to_string())
        .unwrap_or_default();
    let first_day = format!("{month}-01");
    let mut sources = Vec::new();
    for what in [
        What::Checkins,
        What::Compliance,
        What::Incidents,
        What::Hazards,
    ] {
        let filter = Filter {
            from: Some(first_day.clone()),
            to: Some(last_day.clone()),
            ..Filter::default()
        };
        sources.push((
            what,
            exports::source(store, audience, what, filter, t, now)
                .await?
                .0,
        ));
    }
    let photos: Vec<PackPhoto> = store
        .report_photos(&community, p.from_ms, p.to_ms)
        .await?
        .into_iter()
        .map(|(doc, hash)| PackPhoto {
            sha256: hash,
            referenced_by: doc,
        })
        .collect();

    let handle = tokio::runtime::Handle::current();
    let month = month.to_owned();
    let file = tokio::task::spawn_blocking(move || -> anyhow::Result<tempfile::NamedTempFile> {
        let (out, mut zip) = pack::create()?;
        let mut files = Vec::new();
        let mut issues = Vec::new();
        for row in &issued {
            let path = format!("issued/{}-{}.json", row.kind, safe(&row.period));
            files.push(add(&mut zip, &path, |w| {
                Ok(w.write_all(row.body.as_bytes())?)
            })?);
            issues.push(PackIssue {
                kind: row.kind.clone(),
                period: row.period.clone(),
                issued_at_ms: row.issued_at,
                sha256: row.sha256.clone(),
                path,
            });
        }
        files.push(add(
            &mut zip,
            &format!("reports/monthly-{month}.csv"),
            |w| Ok(w.write_all(&csv.body)?),
        )?);
        files.push(add(
            &mut zip,
            &format!("reports/monthly-{month}.json"),
            |w| Ok(w.write_all(&json.body)?),
        )?);
        for (what, mut source) in sources {
            files.push(add(
                &mut zip,
                &format!("exports/{}.csv", what.as_str()),
                |w| exports::write_csv(&mut source, &handle, w),
            )?);
        }
        let manifest = Manifest {
            community,
            month,
            generated_at_ms: now,
            files,
            issued: issues,
            photos,
        };
        pack::finish(zip, &manifest.files, &serde_json::to_vec_pretty(&manifest)?)?;
        Ok(out)
    })
    .await
    .map_err(|e| ReportError::Pack(e.to_string()))?
    .map_err(|e| ReportError::Pack(format!("{e:#}")))?;
    Ok(file)
}

/// What checking a pack found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub files: usize,
    pub issued: usize,
    pub photos: usize,
    /// Every mismatch, in words; empty when the pack is intact.
    pub problems: Vec<String>,
}

/// Checks a pack: every file against `SHA256SUMS` and the manifest, every
/// issued report's body against the hash the server kept when it issued it.
pub fn verify(path: &std::path::Path) -> anyhow::Result<Verified> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut read = |name: &str| -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        zip.by_name(name)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?
            .read_to_end(&mut out)?;
        Ok(out)
    };
    let manifest: Manifest = serde_json::from_slice(&read("manifest.json")?)?;
    let sums = String::from_utf8(read("SHA256SUMS")?)?;
    let mut v = Verified::default();
    let mut listed = std::collections::HashMap::new();
    for line in sums.lines() {
        let Some((hash, name)) = line.split_once("  ") else {
            v.problems
                .push(format!("SHA256SUMS: unreadable line {line:?}"));
            continue;
        };
        listed.insert(name.to_owned(), hash.to_owned());
        let body = read(name)?;
        if sha256_hex(&body) != hash {
            v.problems.push(format!("{name}: its sha256 is not {hash}"));
        }
        v.files += 1;
    }
    for f in &manifest.files {
        if listed.get(&f.path) != Some(&f.sha256) {
            v.problems
                .push(format!("{}: the manifest and SHA256SUMS disagree", f.path));
        }
    }
    for i in &manifest.issued {
        let body = read(&i.path)?;
        if sha256_hex(&body) != i.sha256 {
            v.problems.push(format!(
                "{}: not the {} report of {} as issued (sha256 {})",
                i.path, i.kind, i.period, i.sha256
            ));
        }
        v.issued += 1;
    }
    v.photos = manifest.photos.len();
    Ok(v)
}

/// The pack of `month` as a download.
pub async fn download(
    app: &AppState,
    audience: &Audience,
    month: &str,
    now: i64,
) -> Result<axum::response::Response, ReportError> {
    let file = pack_month(app, audience, month, now).await?;
    let name = format!(
        "fieldsync-evidence-{}-{}.zip",
        safe(&audience.community),
        safe(month)
    );
    pack::download(file, &name).await
}
