//! The office's administration as one path for every caller: the admin API
//! and the dashboard's forms call these functions, which check the request,
//! make the write and record it in `admin_audit`, attributed to the user and
//! device acting. Neither HTTP nor HTML is known here.
//!
//! # Invariants
//! - Only the office writes: every write checks the actor's role first.
//! - A refused request stores nothing; an accepted write has its audit
//!   entry (in the same transaction where the store makes it).

pub mod fields;
pub mod keys;
pub mod places;
pub mod users;

use fieldsync_proto::model::Role;
use serde::Deserialize;

use crate::auth::Claims;
use crate::clock::now_ms;
use crate::store::{AuditEntry, StoreError};

pub use fields::{Id, Text, check_id, check_text};

/// Who makes an admin request: a user through one device (a phone's token or
/// a dashboard session), in their community.
#[derive(Clone, Debug)]
pub struct Actor {
    pub community: String,
    pub user_id: String,
    pub device_id: String,
    pub role: Role,
}

impl Actor {
    /// The actor of an access token. A role the server does not know (it
    /// issued none such) gets no rights: it is taken for a volunteer's.
    pub fn of(claims: &Claims) -> Actor {
        Actor {
            community: claims.com.clone(),
            user_id: claims.sub.clone(),
            device_id: claims.dev.clone(),
            role: Role::parse(&claims.role).unwrap_or(Role::Volunteer),
        }
    }

    /// The audit entry of a write by this actor, now.
    pub fn entry(&self, action: &str, subject: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            at: now_ms(),
            user_id: self.user_id.clone(),
            device_id: self.device_id.clone(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail,
        }
    }

    /// Refuses anyone but the office to `what` (e.g. "revoke devices").
    pub fn require_office(&self, what: &'static str) -> Result<(), AdminError> {
        if self.role == Role::Office {
            Ok(())
        } else {
            Err(AdminError::Forbidden(what))
        }
    }
}

/// Why an admin request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The actor's role may not do this (what it tried, e.g. "print tags").
    #[error("only office users can {0}")]
    Forbidden(&'static str),
    /// A field the rules refuse; `code` is stable (`weak_password`, …).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Well-formed, but it names something that does not exist, or its
    /// fields do not fit together (`unknown_team`, …).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// No such object in the actor's community.
    #[error("{0}")]
    NotFound(&'static str),
    /// It exists already, or is in use (`username_taken`, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure that is nobody's input (a hashing thread, a QR encoder).
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn refused(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> AdminError {
        AdminError::Internal(err.to_string())
    }

    /// The stable code of a refusal (`forbidden`, `not_found`, …).
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Forbidden(_) => "forbidden",
            AdminError::Invalid { code, .. }
            | AdminError::Refused { code, .. }
            | AdminError::Conflict { code, .. } => code,
            AdminError::NotFound(_) => "not_found",
            AdminError::Store(_) | AdminError::Internal(_) => "internal",
        }
    }
}

/// Deserializes a field that may be absent (keep), `null` (clear) or a value.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
