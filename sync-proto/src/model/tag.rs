//! Check-in tags (docs/places.md): the payload of the QR code or NFC sticker at a
//! post, proving that a phone was there.
//!
//! `fs1.<post id>.<key id>.<mac>`, where `mac` is the first 16 bytes of
//! HMAC-SHA256(key, "fieldsync-tag-v1" ‖ community ‖ post ‖ key id), base64url.
//! A phone checks the shape, that the post is in its places document and that
//! the key id is not revoked — all offline; the server, which alone holds the
//! keys, re-verifies the MAC. Rotating a key (the office prints new tags)
//! retires every photographed copy of the old ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "fs1";
const MAC_LEN: usize = 16;

/// A parsed tag payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub post_id: String,
    pub key_id: String,
    mac: [u8; MAC_LEN],
}

/// Why a scanned payload is not a valid tag. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("not a fieldsync tag")]
    NotATag,
    #[error("the tag's signature does not match (forged or damaged)")]
    BadSignature,
}

impl TagError {
    pub fn code(&self) -> &'static str {
        match self {
            TagError::NotATag => "not_a_tag",
            TagError::BadSignature => "bad_tag_signature",
        }
    }
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
}

fn mac(key: &[u8], community: &str, post_id: &str, key_id: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in ["fieldsync-tag-v1", community, post_id, key_id] {
        // Length-prefixed, so no two inputs concatenate to the same bytes.
        m.update(&(part.len() as u32).to_be_bytes());
        m.update(part.as_bytes());
    }
    m
}

impl Tag {
    /// Signs a tag for `post_id` of `community` with key `key_id`.
    pub fn sign(key: &[u8], community: &str, post_id: &str, key_id: &str) -> Result<Tag, TagError> {
        if !valid_part(post_id) || !valid_part(key_id) {
            return Err(TagError::NotATag);
        }
        let full = mac(key, community, post_id, key_id).finalize().into_bytes();
        let mut short = [0u8; MAC_LEN];
        short.copy_from_slice(&full[..MAC_LEN]);
        Ok(Tag {
            post_id: post_id.to_owned(),
            key_id: key_id.to_owned(),
            mac: short,
        })
    }

    /// The text to print in the QR code.
    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            self.post_id,
            self.key_id,
            URL_SAFE_NO_PAD.encode(self.mac)
        )
    }

    /// Parses a scanned payload (shape only; see [`Tag::verify`]).
    pub fn parse(payload: &str) -> Result<Tag, TagError> {
        let mut parts = payload.trim().split('.');
        let (Some(PREFIX), Some(post_id), Some(key_id), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TagError::NotATag);
        };
        if !valid_part(post_id) || !valid_part(key_id) {
            return Err(TagError::NotATag);
        }
        let bytes = URL_SAFE_NO_PAD.decode(mac).map_err(|_| TagError::NotATag)?;
        let mac: [u8; MAC_LEN] = bytes.try_into().map_err(|_| TagError::NotATag)?;
        Ok(Tag {
            post_id: post_id.to_owned(),
            key_id: key_id.to_owned(),
            mac,
        })
    }

    /// Checks the signature with the key named by `key_id` (server side), in
    /// constant time.
    pub fn verify(&self, key: &[u8], community: &str) -> Result<(), TagError> {
        mac(key, community, &self.post_id, &self.key_id)
            .verify_truncated_left(&self.mac)
            .map_err(|_| TagError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"demo tag key 2026-11, not a real secret";

    #[test]
    fn a_signed_tag_round_trips_and_verifies() {
        let tag = Tag::sign(KEY, "demo", "post-b3-u2-f9", "k1").unwrap();
        let text = tag.encode();
        assert!(text.starts_with("fs1.post-b3-u2-f9.k1."), "{text}");
        assert!(text.len() < 60, "fits a small QR code: {text}");
        let back = Tag::parse(&text).unwrap();
        assert_eq!(back, tag);
        assert_eq!(back.verify(KEY, "demo"), Ok(()));
    }

    #[test]
    fn forged_moved_or_foreign_tags_fail() {
        let tag = Tag::sign(KEY, "demo", "post-b3-u2-f9", "k1").unwrap();
        // Another key (a forger's guess, or a rotated key).
        assert_eq!(
            tag.verify(b"other key", "demo"),
            Err(TagError::BadSignature)
        );
        // The same tag presented in another community.
        assert_eq!(tag.verify(KEY, "elsewhere"), Err(TagError::BadSignature));
        // The post id edited to another post.
        let moved = tag.encode().replace("f9", "f5");
        assert_eq!(
            Tag::parse(&moved).unwrap().verify(KEY, "demo"),
            Err(TagError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_not_a_tag() {
        for bad in [
            "",
            "hello",
            "fs1.post.k1",
            "fs2.post.k1.AAAAAAAAAAAAAAAAAAAAAA",
            "fs1.po st.k1.AAAAAAAAAAAAAAAAAAAAAA",
            "fs1.post.k1.AAAA",
            "fs1.post.k1.!!!!",
            "fs1.post.k1.AAAAAAAAAAAAAAAAAAAAAA.extra",
        ] {
            assert_eq!(Tag::parse(bad), Err(TagError::NotATag), "{bad:?}");
        }
    }
}
