//! Signing in to the dashboard: one browser session is one device of its
//! user, named by a random token in an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` over https) and stored as its sha256 only. Every request checks
//! the session, its device and its user again, so revoking the device or
//! disabling the user ends it at once, and every form carries the session's
//! CSRF token.
//!
//! # Invariants
//! - Only office, leader and auditor users get a session.
//! - A state-changing request without the session's CSRF token changes
//!   nothing.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use fieldsync_proto::model::Role;

use super::WebError;
use crate::admin::Actor;
use crate::auth::{new_actor_id, new_refresh_token, token_hash};
use crate::clock::now_ms;
use crate::i18n::{self, Lang, Tr};
use crate::state::AppState;
use crate::store::{DeviceRow, UserRow, WebSessionRow};

/// The cookie that names the session.
pub const COOKIE: &str = "fs_session";
/// The cookie of the sign-in form's CSRF token (there is no session yet).
pub const SIGN_IN_COOKIE: &str = "fs_sign_in";
/// How long a session lasts: one night shift and the morning after.
pub const TTL_MS: i64 = 14 * 3_600_000;

/// Whether the dashboard is for `role`.
pub fn is_for(role: Role) -> bool {
    match role {
        Role::Office | Role::Leader | Role::Auditor => true,
        Role::Volunteer | Role::Guard | Role::GridWorker => false,
    }
}

/// Who is looking at the dashboard: a signed-in user through one browser
/// session, which is a device of theirs.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user_id: String,
    pub display_name: String,
    pub role: Role,
    pub community: String,
    /// The browser session's device: what the user's writes are attributed to.
    pub device_id: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    pub tr: Tr,
    token_hash: String,
}

impl Viewer {
    /// Refuses a form or action that does not carry this session's token.
    pub fn check_csrf(&self, presented: &str) -> Result<(), WebError> {
        if constant_time_eq(presented.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    /// Whether the viewer may change things (auditors read only).
    pub fn may_act(&self) -> bool {
        matches!(self.role, Role::Office | Role::Leader)
    }

    /// The office alone administers users, devices, places and keys.
    pub fn is_office(&self) -> bool {
        self.role == Role::Office
    }

    /// The office and auditors read the audit log and the admin pages.
    pub fn reads_everything(&self) -> bool {
        matches!(self.role, Role::Office | Role::Auditor)
    }

    /// The viewer as the actor of an admin write: the user, through this
    /// browser session's device.
    pub fn actor(&self) -> Actor {
        Actor {
            community: self.community.clone(),
            user_id: self.user_id.clone(),
            device_id: self.device_id.clone(),
            role: self.role,
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The language the browser chose (its cookie), zh-CN when none.
pub fn lang_of(jar: &CookieJar) -> Lang {
    jar.get(i18n::COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or_default()
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, WebError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let tr = Tr {
            lang: lang_of(&jar),
        };
        let Some(token) = jar.get(COOKIE).map(|c| c.value().to_owned()) else {
            return Err(WebError::SignIn);
        };
        let hash = token_hash(&token);
        let Some(row) = app.store.web_session(&hash).await? else {
            return Err(WebError::SignIn);
        };
        let role = Role::parse(&row.role);
        let live = row.expires_at > now_ms()
            && row.disabled == 0
            && row.revoked_at.is_none()
            && !app.revocations.is_revoked(&row.device_id)
            && role.is_some_and(is_for);
        let Some(role) = role.filter(|_| live) else {
            app.store.delete_web_session(&hash, now_ms()).await?;
            return Err(WebError::SignIn);
        };
        Ok(Viewer {
            user_id: row.user_id,
            display_name: row.display_name,
            role,
            community: row.community_id,
            device_id: row.device_id,
            csrf: row.csrf,
            tr,
            token_hash: hash,
        })
    }
}

/// A new session for `user`: a device of theirs for this browser (with an
/// automerge actor, like a phone's login), and the cookie that names it.
pub async fn start(
    app: &AppState,
    user: &UserRow,
    user_agent: &str,
    secure: bool,
) -> Result<Cookie<'static>, WebError> {
    let now = now_ms();
    let token = new_refresh_token();
    let device = DeviceRow {
        id: format!("web-{}", &token_hash(&token)[..20]),
        user_id: user.id.clone(),
        community_id: user.community_id.clone(),
        name: browser_name(user_agent),
        revoked_at: None,
        token_generation: 0,
    };
    app.store
        .register_login(&device, &new_actor_id(), now)
        .await?;
    app.store
        .insert_web_session(&WebSessionRow {
            token_hash: token_hash(&token),
            community_id: user.community_id.clone(),
            user_id: user.id.clone(),
            device_id: device.id.clone(),
            csrf: new_refresh_token(),
            created_at: now,
            expires_at: now + TTL_MS,
            role: user.role.clone(),
            display_name: user.display_name.clone(),
            disabled: 0,
            revoked_at: None,
        })
        .await?;
    tracing::info!(user = %user.username, device = %device.id, "dashboard sign-in");
    Ok(cookie(COOKIE, token, TTL_MS / 1000, secure))
}

/// Ends the viewer's session: the row goes and the browser's device is
/// revoked, so neither can be used again.
pub async fn end(app: &AppState, viewer: &Viewer) -> Result<(), WebError> {
    app.store
        .delete_web_session(&viewer.token_hash, now_ms())
        .await?;
    app.store.revoke_device(&viewer.device_id, now_ms()).await?;
    let device = viewer.device_id.clone();
    crate::replicas::tell(app, crate::replicas::Notice::Revoked { device }).await;
    Ok(())
}

/// The name the office sees for a browser session in the device list.
fn browser_name(user_agent: &str) -> String {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| user_agent.contains(*b))
        .map_or("browser", |b| b.trim_end_matches('/'));
    format!("Dashboard ({browser})")
}

/// A cookie for the whole site that scripts cannot read and other sites
/// never send.
pub fn cookie(
    name: &'static str,
    value: String,
    max_age_secs: i64,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
}

/// Whether the request came over https (directly, or through a proxy that
/// says so), so cookies get `Secure`.
pub fn is_https(parts_headers: &axum::http::HeaderMap, config_https: bool) -> bool {
    config_https
        || parts_headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_is_for_the_office_leaders_and_auditors() {
        use Role::*;
        for (role, allowed) in [
            (Office, true),
            (Leader, true),
            (Auditor, true),
            (Volunteer, false),
            (Guard, false),
            (GridWorker, false),
        ] {
            assert_eq!(is_for(role), allowed, "{role}");
        }
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let c = cookie(COOKIE, "t".into(), 60, true).to_string();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(
            !cookie(COOKIE, "t".into(), 60, false)
                .to_string()
                .contains("Secure")
        );
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn browsers_are_named_for_the_device_list() {
        assert_eq!(
            browser_name(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36"
            ),
            "Dashboard (Chrome)"
        );
        assert_eq!(browser_name("curl/8"), "Dashboard (browser)");
    }
}
