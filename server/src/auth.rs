//! Authentication: argon2 password hashes, short-lived JWT access tokens, and
//! rotating refresh tokens bound to one device.
//!
//! # Invariants
//! - A refresh token is usable once. Presenting a used one revokes every token
//!   of its device (the token was stolen or replayed).
//! - An access token is valid only while its `gen` equals the device's
//!   `token_generation`; revoking bumps the generation.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Roles (DESIGN.md §1).
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
}
