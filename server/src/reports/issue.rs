//! Issuing: once a period is over the server issues its report for the whole
//! community and keeps it as issued — the JSON, its sha256 and the time. A
//! later look at the period is the live report read against that issue:
//! what arrived after it (a phone that was offline for two days) is marked
//! late, and the issued version stays as it was.
//!
//! # Invariants
//! - A period is issued once (`issued_reports` refuses a second row) and
//!   only after every shift that started in it has ended and the compliance
//!   engine has evaluated those shifts since.
//! - The body read back must hash to the kept sha256, else it is refused.

use std::collections::BTreeSet;

use fieldsync_proto::model::Role;
use fieldsync_proto::model::duty::DEFAULT_TIME_ZONE;
use fieldsync_proto::model::scope::Reader;
use sha2::{Digest, Sha256};

use super::content::{self, Audience, Issued, Report};
use super::period::{self, Kind, Period};
use crate::store::{IssuedReport, Store, StoreError};

/// How long after a period (and its last shift) ends its report is issued:
/// the last window's grace, and a margin for the engine's tick.
pub const ISSUE_AFTER_MS: i64 = 30 * 60_000;
/// Shifts that ended longer ago than this are not issued any more (the
/// compliance engine's own horizon).
const DAILY_WITHIN_MS: i64 = 8 * 24 * 3_600_000;

/// The whole community, as the server reads it when issuing.
pub fn community_audience(community: &str) -> Audience {
    Audience {
        community: community.to_owned(),
        team: None,
        reader: Reader {
            user_id: String::new(),
            role: Role::Office,
            team: None,
            team_grid: None,
            grids: Vec::new(),
        },
    }
}

/// sha256 of `body`, hex.
pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Issues the reports of `community` that are due at `now`; `evaluated`
/// are the shifts the compliance engine has just brought up to date. The
/// number issued.
pub async fn issue_due(
    store: &Store,
    community: &str,
    evaluated: &BTreeSet<String>,
    now: i64,
) -> Result<usize, StoreError> {
    let tz = crate::format::time_zone();
    let mut due: Vec<Period> = store
        .shifts_between(community, now - DAILY_WITHIN_MS, now - ISSUE_AFTER_MS)
        .await?
        .iter()
        .filter(|s| s.ends_at + ISSUE_AFTER_MS <= now && evaluated.contains(&s.shift_key))
        .map(period::shift)
        .collect();
    due.extend(
        period::weeks_back(&period::last_week(now, &tz), 2)
            .iter()
            .filter_map(|w| period::week(w, &tz).ok()),
    );
    due.extend(period::month(&period::last_month(now, &tz), &tz).ok());
    let mut issued = 0;
    for p in due {
        if store
            .issued_report(community, p.kind.as_str(), &p.key)
            .await?
            .is_some()
        {
            continue;
        }
        // Every shift that started in the period has ended, and was evaluated since.
        let shifts = store
            .report_shifts(community, p.from_ms, p.to_ms, None)
            .await?;
        let last_end = shifts.iter().map(|s| s.ends_at).max().unwrap_or(p.to_ms);
        if last_end.max(p.to_ms) + ISSUE_AFTER_MS > now
            || shifts
                .iter()
                .any(|s| s.ends_at > now - DAILY_WITHIN_MS && !evaluated.contains(&s.shift_key))
        {
            continue;
        }
        if issue(store, community, &p, now).await? {
            issued += 1;
        }
    }
    Ok(issued)
}

/// Issues the report of `period` now; false when it was issued already.
pub async fn issue(
    store: &Store,
    community: &str,
    period: &Period,
    now: i64,
) -> Result<bool, StoreError> {
    let report = content::build(
        store,
        &community_audience(community),
        period,
        DEFAULT_TIME_ZONE,
        now,
        None,
    )
    .await?;
    let body = serde_json::to_string(&report).expect("reports serialize to JSON");
    let row = IssuedReport {
        kind: period.kind.as_str().to_owned(),
        period: period.key.clone(),
        issued_at: now,
        sha256: sha256_hex(body.as_bytes()),
        body,
    };
    let fresh = store.insert_issued_report(community, &row).await?;
    if fresh {
        tracing::info!(%community, kind = %row.kind, period = %row.period, sha256 = %row.sha256, "report issued");
    }
    Ok(fresh)
}

/// Why an issued report could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum IssuedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the issued {kind} report of {period} does not match its sha256 {sha256}")]
    Altered {
        kind: String,
        period: String,
        sha256: String,
    },
    #[error("the issued report does not parse: {0}")]
    Unreadable(String),
}

/// The issue of a period, if there is one: when, and its hash.
pub async fn issued_meta(
    store: &Store,
    community: &str,
    kind: Kind,
    key: &str,
) -> Result<Option<Issued>, StoreError> {
    Ok(store
        .issued_report(community, kind.as_str(), key)
        .await?
        .map(|r| Issued {
            issued_at_ms: r.issued_at,
            sha256: r.sha256,
        }))
}

/// The report of a period exactly as it was issued, checked against its
/// hash.
pub async fn issued_report(
    store: &Store,
    community: &str,
    kind: Kind,
    key: &str,
) -> Result<Option<(IssuedReport, Report)>, IssuedError> {
    let Some(row) = store.issued_report(community, kind.as_str(), key).await? else {
        return Ok(None);
    };
    if sha256_hex(row.body.as_bytes()) != row.sha256 {
        return Err(IssuedError::Altered {
            kind: row.kind,
            period: row.period,
            sha256: row.sha256,
        });
    }
    let report: Report =
        serde_json::from_str(&row.body).map_err(|e| IssuedError::Unreadable(e.to_string()))?;
    Ok(Some((row, report)))
}
