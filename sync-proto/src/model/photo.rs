//! Photos as documents reference them: by the sha256 of the bytes the phone
//! took, in lowercase hex. The bytes travel apart from the documents (tus
//! uploads), so a reference is all a document holds.

/// Whether `s` is a photo reference: a sha256 in lowercase hex.
pub fn is_photo_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lowercase_sha256_hex_is_a_photo_hash() {
        assert!(is_photo_hash(&"ab".repeat(32)));
        assert!(!is_photo_hash(&"AB".repeat(32)));
        assert!(!is_photo_hash(&"ab".repeat(31)));
        assert!(!is_photo_hash(&format!("{}g", "a".repeat(63))));
        assert!(!is_photo_hash("photo.jpg"));
    }
}
