//! Authentication: argon2 password hashes, short-lived JWT access tokens, and
//! rotating refresh tokens bound to one device.
//!
//! # Invariants
//! - A refresh token is usable once. Presenting a used one revokes every token
//!   of its device (the token was stolen or replayed).
//! - An access token is valid only while its `gen` equals the device's
//!   `token_generation`; revoking bumps the generation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Roles (docs/roles.md).
pub const ROLES: [&str; 6] = [
    "volunteer",
    "guard",
    "grid_worker",
    "leader",
    "office",
    "auditor",
];

/// Claims inside an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Device id the token is bound to.
    pub dev: String,
    /// Community id.
    pub com: String,
    pub role: String,
    /// Device token generation at issue time.
    #[serde(rename = "gen")]
    pub generation: i64,
    pub iat: i64,
    pub exp: i64,
}

/// Why an access token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Expired,
    Invalid,
}

/// The HMAC keys for access tokens.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs claims into a token.
    pub fn issue(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of serialisable claims cannot fail")
    }

    /// Verifies a token's signature and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random refresh token (URL-safe base64 of 32 bytes).
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Refresh tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random automerge actor id for a device login.
pub fn new_actor_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new random secret for signing tokens.
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Failed logins per username: after [`LoginThrottle::MAX_FAILURES`] within
/// [`LoginThrottle::WINDOW_MS`] the account refuses logins (even correct ones)
/// until the window has passed, so passwords cannot be guessed at speed.
#[derive(Clone, Default)]
pub struct LoginThrottle {
    failures: Arc<Mutex<HashMap<String, (u32, i64)>>>,
}

impl LoginThrottle {
    pub const MAX_FAILURES: u32 = 5;
    pub const WINDOW_MS: i64 = 15 * 60 * 1000;
    /// Entries kept before expired ones are swept.
    const SWEEP_AT: usize = 10_000;

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Some(seconds to wait)` when the account is locked at `now`.
    pub fn locked(&self, username: &str, now: i64) -> Option<i64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (count, since) = *map.get(&Self::key(username))?;
        let until = since + Self::WINDOW_MS;
        (count >= Self::MAX_FAILURES && now < until).then(|| (until - now + 999) / 1000)
    }

    pub fn failed(&self, username: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::SWEEP_AT {
            map.retain(|_, (_, since)| now - *since < Self::WINDOW_MS);
        }
        let entry = map.entry(Self::key(username)).or_insert((0, now));
        if now - entry.1 >= Self::WINDOW_MS {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Self::key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u".into(),
            dev: "d".into(),
            com: "c".into(),
            role: "volunteer".into(),
            generation: 0,
            iat: 0,
            exp,
        }
    }

    #[test]
    fn tokens_verify_and_expire() {
        let keys = JwtKeys::new(b"k");
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let t = keys.issue(&claims(now + 60));
        assert_eq!(keys.verify(&t).unwrap().dev, "d");
        assert_eq!(
            keys.verify(&keys.issue(&claims(now - 600))).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(
            JwtKeys::new(b"other").verify(&t).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(keys.verify("").unwrap_err(), TokenError::Missing);
        assert_eq!(keys.verify("a.b.c").unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("fieldsync-demo");
        assert!(verify_password("fieldsync-demo", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn logins_lock_after_repeated_failures_then_reopen() {
        let t = LoginThrottle::default();
        let now = 1_000_000;
        for i in 0..LoginThrottle::MAX_FAILURES {
            assert_eq!(t.locked("Demo-Volunteer", now), None, "after {i} failures");
            t.failed("demo-volunteer", now);
        }
        assert_eq!(t.locked("demo-volunteer ", now), Some(900));
        assert_eq!(
            t.locked("demo-leader", now),
            None,
            "other accounts are not affected"
        );
        assert_eq!(
            t.locked("demo-volunteer", now + LoginThrottle::WINDOW_MS),
            None
        );
        t.failed("demo-leader", now);
        t.succeeded("demo-leader");
        assert_eq!(t.locked("demo-leader", now), None);
    }
}

/// Why a token did not authenticate a device.
#[derive(Debug)]
pub enum AuthFailure {
    Token(TokenError),
    /// The device is revoked.
    Revoked,
    /// The token predates a revocation of the device's tokens.
    Superseded,
    Store(crate::store::StoreError),
}
