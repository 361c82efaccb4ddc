//! Signed, expiring blob links: `/api/v1/blobs/{hash}?variant=…&exp=…&sig=…`,
//! so an `<img src>` can load a photo without a bearer token and nobody can
//! make a link the server did not hand out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Variant;

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link's signature is not valid")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

/// Signs and checks links with the server's `blobs` secret (HMAC-SHA256 over
/// the hash, the variant and the expiry).
#[derive(Clone)]
pub struct LinkSigner {
    mac: Hmac<Sha256>,
}

impl LinkSigner {
    pub fn new(secret: &[u8]) -> LinkSigner {
        LinkSigner {
            mac: Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        }
    }

    fn mac_of(&self, hash: &str, variant: Variant, exp: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(
            format!(
                "fieldsync blob link v1\n{hash}\n{}\n{exp}",
                variant.as_str()
            )
            .as_bytes(),
        );
        mac
    }

    /// The signature for a link to `variant` of `hash` valid until `exp`
    /// (seconds since the Unix epoch).
    pub fn sign(&self, hash: &str, variant: Variant, exp: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_of(hash, variant, exp).finalize().into_bytes())
    }

    /// The server-relative link.
    pub fn path(&self, hash: &str, variant: Variant, exp: i64) -> String {
        format!(
            "/api/v1/blobs/{hash}?variant={}&exp={exp}&sig={}",
            variant.as_str(),
            self.sign(hash, variant, exp)
        )
    }

    /// Checks a link's signature (in constant time), then its expiry.
    pub fn check(
        &self,
        hash: &str,
        variant: Variant,
        exp: i64,
        sig: &str,
        now_s: i64,
    ) -> Result<(), LinkError> {
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| LinkError::Forged)?;
        self.mac_of(hash, variant, exp)
            .verify_slice(&sig)
            .map_err(|_| LinkError::Forged)?;
        if now_s > exp {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_bind_hash_variant_and_expiry() {
        let signer = LinkSigner::new(b"secret");
        let hash = "ab".repeat(32);
        let sig = signer.sign(&hash, Variant::Thumb, 1000);
        assert_eq!(signer.check(&hash, Variant::Thumb, 1000, &sig, 999), Ok(()));
        assert_eq!(
            signer.check(&hash, Variant::Thumb, 1000, &sig, 1001),
            Err(LinkError::Expired)
        );
        assert_eq!(
            signer.check(&hash, Variant::Original, 1000, &sig, 999),
            Err(LinkError::Forged)
        );
        assert_eq!(
            signer.check(&hash, Variant::Thumb, 2000, &sig, 999),
            Err(LinkError::Forged),
            "a later expiry needs a new signature"
        );
        assert_eq!(
            signer.check(&"cd".repeat(32), Variant::Thumb, 1000, &sig, 999),
            Err(LinkError::Forged)
        );
        let other = LinkSigner::new(b"other secret");
        assert_eq!(
            other.check(&hash, Variant::Thumb, 1000, &sig, 999),
            Err(LinkError::Forged)
        );
        assert_eq!(
            signer.check(&hash, Variant::Thumb, 1000, "not base64!", 999),
            Err(LinkError::Forged)
        );
    }
}
