//! The shared document model: document identity, types and schema versions.
//!
//! Every entity people edit offline is one automerge document. Its
//! [`DocHeader`] travels with every sync message so the server can check the
//! type and schema before it stores anything.

use serde::{Deserialize, Serialize};

pub mod alert;
pub mod breadcrumbs;
pub mod duty;
pub mod hazard;
pub mod incident;
pub mod migrate;
pub mod patrol;
pub mod photo;
pub mod places;
mod role;
pub mod scope;
pub mod tag;
pub mod validate;

pub use role::Role;

/// How an append-only list was broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// An entry that was there before is changed or gone.
    Rewritten(String),
    /// Two entries share an id.
    Duplicate(String),
}

/// The entries `after` adds to `before`, provided every entry of `before` is
/// still in `after` unchanged and no id appears twice.
pub fn appended<'a, T: PartialEq>(
    before: &[T],
    after: &'a [T],
    id: impl Fn(&T) -> &str,
) -> Result<Vec<&'a T>, AppendError> {
    let mut seen = std::collections::BTreeSet::new();
    for e in after {
        if !seen.insert(id(e)) {
            return Err(AppendError::Duplicate(id(e).to_owned()));
        }
    }
    for old in before {
        if after.iter().find(|e| id(e) == id(old)) != Some(old) {
            return Err(AppendError::Rewritten(id(old).to_owned()));
        }
    }
    Ok(after
        .iter()
        .filter(|e| !before.iter().any(|b| id(b) == id(e)))
        .collect())
}

/// Longest accepted document id, in bytes.
pub const MAX_DOC_ID_LEN: usize = 64;

/// A document id: 1–64 characters of `[A-Za-z0-9_.:-]`, unique within a community.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocId(String);

/// A document id that is empty, too long, or has characters outside `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid document id {0:?}: use 1-64 characters of A-Z a-z 0-9 _ . : -")]
pub struct InvalidDocId(pub String);

impl DocId {
    /// Validates and wraps a document id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidDocId> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= MAX_DOC_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if ok {
            Ok(DocId(id))
        } else {
            Err(InvalidDocId(id))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule of [`DocId::new`], for the server's spec.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for DocId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        crate::openapi::string_schema(
            "A document id: 1-64 characters of A-Z a-z 0-9 _ . : -",
            None,
            Some(format!("^[A-Za-z0-9_.:-]{{1,{MAX_DOC_ID_LEN}}}$")),
            None,
        )
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for DocId {}

impl TryFrom<String> for DocId {
    type Error = InvalidDocId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DocId::new(s)
    }
}

impl From<DocId> for String {
    fn from(d: DocId) -> String {
        d.0
    }
}

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of documents fieldsync syncs (docs/documents.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    /// Community places and posts (server-authored).
    Places,
    /// A patrol route: posts, interval, active hours.
    Route,
    /// A team's duty roster for one week.
    Roster,
    /// One patrol: members, check-ins, breadcrumbs, notes.
    Patrol,
    /// One hazard and its append-only event history.
    Hazard,
    /// One incident report.
    Incident,
    /// A server-raised alert (missed check-in, overdue hazard, escalation).
    Alert,
    /// A free-form note, e.g. a shift handover note.
    Note,
}

impl DocType {
    /// Every document type.
    pub const ALL: [DocType; 8] = [
        DocType::Places,
        DocType::Route,
        DocType::Roster,
        DocType::Patrol,
        DocType::Hazard,
        DocType::Incident,
        DocType::Alert,
        DocType::Note,
    ];

    /// The stable name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Places => "places",
            DocType::Route => "route",
            DocType::Roster => "roster",
            DocType::Patrol => "patrol",
            DocType::Hazard => "hazard",
            DocType::Incident => "incident",
            DocType::Alert => "alert",
            DocType::Note => "note",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<DocType> {
        DocType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The schema version this build writes for the type (see [`migrate`]).
    pub fn current_schema(self) -> u32 {
        migrate::current_version(self)
    }

    /// Whether this build can read and validate documents of `schema_version`.
    pub fn supports_schema(self, schema_version: u32) -> bool {
        (1..=self.current_schema()).contains(&schema_version)
    }
}

/// The envelope every document carries: id, type and schema version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DocHeader {
    pub id: DocId,
    pub doc_type: DocType,
    pub schema_version: u32,
}

impl DocHeader {
    /// A header for a new document of `doc_type` at the current schema version.
    pub fn new(id: DocId, doc_type: DocType) -> Self {
        DocHeader {
            id,
            doc_type,
            schema_version: doc_type.current_schema(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_are_validated() {
        assert!(DocId::new("hazard:3f2a-01").is_ok());
        assert!(DocId::new("").is_err());
        assert!(DocId::new("a/b").is_err());
        assert!(DocId::new("x".repeat(65)).is_err());
    }

    #[test]
    fn doc_type_names_round_trip() {
        for t in DocType::ALL {
            assert_eq!(DocType::parse(t.as_str()), Some(t));
        }
        assert_eq!(DocType::parse("nope"), None);
    }
}
