//! `/admin/…`: the office's administration pages — users and their devices,
//! places and posts with the printable tag sheet, tag keys, routes and
//! rosters. The office acts, auditors read the same pages without forms,
//! everyone else gets 403. Every form is checked for the session's CSRF
//! token and then handed to `crate::admin`, the one path the admin API uses
//! too, which records it in the audit log as the signed-in user and their
//! browser session.

pub mod duty;
pub mod places;
pub mod users;

use serde::Deserialize;

use super::WebError;
use super::session::Viewer;
use crate::admin::AdminError;
use crate::i18n::{Tr, tr_key};

/// The admin pages' own menu: (path, catalogue key).
pub const SECTIONS: [(&str, &str); 4] = [
    ("/admin/users", tr_key("admin.nav.users")),
    ("/admin/places", tr_key("admin.nav.places")),
    ("/admin/tag-keys", tr_key("admin.nav.tag_keys")),
    ("/admin/duty", tr_key("admin.nav.duty")),
];

/// Lets the office and auditors read the admin pages; 403 for anyone else.
pub fn require_reader(viewer: &Viewer) -> Result<(), WebError> {
    if viewer.reads_everything() {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

/// What a refused admin write shows, in the viewer's language where the
/// rule is known.
pub fn refused(t: Tr, e: AdminError) -> WebError {
    let known = match e.code() {
        "username_taken" => Some(tr_key("admin.refused.username_taken")),
        "weak_password" => Some(tr_key("admin.refused.weak_password")),
        "unknown_role" => Some(tr_key("admin.refused.unknown_role")),
        "unknown_team" => Some(tr_key("admin.refused.unknown_team")),
        "invalid_id" => Some(tr_key("admin.refused.invalid_id")),
        "invalid_request" => Some(tr_key("admin.refused.invalid_request")),
        "cannot_disable_self" => Some(tr_key("admin.refused.cannot_disable_self")),
        "no_tag_key" => Some(tr_key("admin.refused.no_tag_key")),
        _ => None,
    };
    match e {
        AdminError::Forbidden(_) => WebError::Forbidden,
        AdminError::NotFound(_) => WebError::NotFound,
        AdminError::Invalid { message, .. }
        | AdminError::Refused { message, .. }
        | AdminError::Conflict { message, .. } => {
            WebError::Refused(known.map_or(message, |k| t.get(k).to_owned()))
        }
        AdminError::Store(e) => e.into(),
        AdminError::Internal(m) => WebError::internal(m),
    }
}

/// A form's CSRF field and nothing else that matters.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `?done=…` after a write: which notice the page shows (only known ones).
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

impl Done {
    /// The catalogue key of the notice, if the write is one we know.
    pub fn notice(&self) -> Option<&'static str> {
        Some(match self.done.as_deref()? {
            "created" => tr_key("admin.done.created"),
            "saved" => tr_key("admin.done.saved"),
            "disabled" => tr_key("admin.done.disabled"),
            "enabled" => tr_key("admin.done.enabled"),
            "password" => tr_key("admin.done.password"),
            "revoked" => tr_key("admin.done.revoked"),
            "rotated" => tr_key("admin.done.rotated"),
            _ => return None,
        })
    }
}

/// Local date and time of `ms` in the community's time zone,
/// `YYYY-MM-DD HH:MM`.
pub fn local_datetime(ms: i64) -> String {
    let tz = crate::format::time_zone();
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
