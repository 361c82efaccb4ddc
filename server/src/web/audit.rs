//! `/audit`: the record of every admin write — who, when, from which
//! device, what and to what — newest first, filtered by person, action and
//! date, a page at a time. For the office and auditors.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::admin::{local_datetime, require_reader};
use super::session::Viewer;
use super::{Frame, WebError, render};
use crate::i18n::tr_key;
use crate::state::AppState;
use crate::store::AuditFilter;

/// Entries per page.
const PAGE: i64 = 50;

/// Every recorded action and the catalogue key of its name.
pub const ACTIONS: [(&str, &str); 14] = [
    ("user.create", tr_key("audit.action.user_create")),
    ("user.update", tr_key("audit.action.user_update")),
    ("user.password", tr_key("audit.action.user_password")),
    ("team.create", tr_key("audit.action.team_create")),
    ("team.update", tr_key("audit.action.team_update")),
    ("stairwell.create", tr_key("audit.action.stairwell_create")),
    ("post.create", tr_key("audit.action.post_create")),
    ("post.update", tr_key("audit.action.post_update")),
    ("post.delete", tr_key("audit.action.post_delete")),
    ("route.put", tr_key("audit.action.route_put")),
    ("roster.put", tr_key("audit.action.roster_put")),
    ("device.revoke", tr_key("audit.action.device_revoke")),
    ("tag_key.rotate", tr_key("audit.action.tag_key_rotate")),
    ("tag_key.revoke", tr_key("audit.action.tag_key_revoke")),
];

/// The filter form's fields, as the query string carries them.
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    /// First day, `YYYY-MM-DD`, local.
    #[serde(default)]
    from: String,
    /// Last day, inclusive.
    #[serde(default)]
    to: String,
    /// Entries older than this id (the next page).
    #[serde(default)]
    before: Option<i64>,
}

/// One entry as the page shows it.
pub struct AuditItem {
    pub at: String,
    pub who: String,
    pub device: String,
    pub device_id: String,
    pub action: String,
    /// Catalogue key of the action's name, when it is one we know.
    pub action_key: Option<&'static str>,
    pub subject: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "web/audit.html")]
struct AuditPage {
    frame: Frame,
    q: AuditQuery,
    people: Vec<(String, String)>,
    actions: [(&'static str, &'static str); 14],
    items: Vec<AuditItem>,
    /// The query string of the next (older) page, when there is one.
    older: Option<String>,
    /// Whether this is a later page (offer the newest).
    paged: bool,
}

/// Milliseconds at the local midnight starting `day` (`YYYY-MM-DD`), or
/// `None` when it is not a date; `next_day` moves to the midnight after it.
fn day_start(day: &str, next_day: bool) -> Option<i64> {
    let tz = crate::format::time_zone();
    let mut date: jiff::civil::Date = day.trim().parse().ok()?;
    if next_day {
        date = date.tomorrow().ok()?;
    }
    let zoned = date.to_zoned(tz).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

fn some(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, WebError> {
        let date = |day: &str, next| match some(day) {
            None => Ok(None),
            Some(d) => day_start(&d, next)
                .map(Some)
                .ok_or_else(|| WebError::Refused(format!("not a date (YYYY-MM-DD): {d}"))),
        };
        Ok(AuditFilter {
            user_id: some(&self.user),
            action: some(&self.action),
            from_ms: date(&self.from, false)?,
            until_ms: date(&self.to, true)?,
        })
    }

    /// The query string of the page before entry `id`, with this filter.
    fn older_than(&self, id: i64) -> String {
        let mut q = form_urlencoded(&[
            ("user", &self.user),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ]);
        q.push_str(&format!("&before={id}"));
        q
    }
}

/// `k=v&…`, percent-encoded.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /audit?user=&action=&from=&to=&before=`.
pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    require_reader(&viewer)?;
    let filter = q.filter()?;
    let mut rows = app
        .store
        .audit_search(
            &viewer.community,
            &filter,
            q.before.unwrap_or(i64::MAX),
            PAGE + 1,
        )
        .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let older = if more {
        rows.last().map(|r| q.older_than(r.id))
    } else {
        None
    };
    let people = app
        .store
        .admin_users(&viewer.community)
        .await?
        .into_iter()
        .map(|u| (u.id, format!("{} ({})", u.display_name, u.username)))
        .collect();
    let items = rows
        .into_iter()
        .map(|r| AuditItem {
            at: local_datetime(r.at),
            who: r.display_name.unwrap_or_else(|| r.user_id.clone()),
            device: r.device_name.unwrap_or_else(|| r.device_id.clone()),
            device_id: r.device_id,
            action_key: ACTIONS
                .iter()
                .find(|(a, _)| *a == r.action)
                .map(|(_, k)| *k),
            action: r.action,
            subject: r.subject,
            detail: if r.detail == "{}" {
                String::new()
            } else {
                r.detail
            },
        })
        .collect();
    render(&AuditPage {
        paged: q.before.is_some(),
        frame: Frame::new(viewer, tr_key("nav.audit"), "/audit"),
        q,
        people,
        actions: ACTIONS,
        items,
        older,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local_midnights() {
        // 2025-03-01 00:00 in Shanghai is 2025-02-28 16:00 UTC.
        assert_eq!(day_start("2025-03-01", false), Some(1_740_758_400_000));
        assert_eq!(
            day_start("2025-03-01", true),
            Some(1_740_758_400_000 + 86_400_000)
        );
        assert_eq!(day_start("yesterday", false), None);
    }

    #[test]
    fn the_next_page_keeps_the_filter() {
        let q = AuditQuery {
            user: "user-demo-office".into(),
            action: "user.create".into(),
            from: "2025-03-01".into(),
            ..AuditQuery::default()
        };
        assert_eq!(
            q.older_than(42),
            "user=user-demo-office&action=user.create&from=2025-03-01&to=&before=42"
        );
        assert_eq!(form_urlencoded(&[("a", "b c&")]), "a=b%20c%26");
    }
}
