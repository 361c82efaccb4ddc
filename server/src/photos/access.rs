//! Who may view a photo: the one place that decides.

use crate::auth::Claims;
use crate::store::BlobRow;

/// Roles that see every photo of their community (they follow up hazards
/// across the whole community).
const COMMUNITY_WIDE_ROLES: [&str; 4] = ["leader", "office", "auditor", "grid_worker"];

/// Whether the holder of `claims` may view blob `blob`, which the documents
/// `links` reference.
///
/// Never across communities. Within the community: the uploader, the roles
/// that follow hazards community-wide, and anyone once a document references
/// the photo (documents are readable community-wide until read scopes narrow
/// them; this function is where that narrowing belongs).
pub fn may_read_blob(claims: &Claims, blob: &BlobRow, links: &[String]) -> bool {
    if claims.com != blob.community_id {
        return false;
    }
    blob.uploaded_by == claims.sub
        || COMMUNITY_WIDE_ROLES.contains(&claims.role.as_str())
        || !links.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(user: &str, community: &str, role: &str) -> Claims {
        Claims {
            sub: user.into(),
            dev: "dev-1".into(),
            com: community.into(),
            role: role.into(),
            generation: 0,
            iat: 0,
            exp: 0,
        }
    }

    fn blob() -> BlobRow {
        BlobRow {
            community_id: "willow".into(),
            hash: "ab".repeat(32),
            size: 1,
            width: 1,
            height: 1,
            mime: "image/jpeg".into(),
            uploaded_by: "user-tang".into(),
            device_id: "dev-1".into(),
            created_at: 0,
        }
    }

    #[test]
    fn uploader_and_community_wide_roles_read_unlinked_photos() {
        let b = blob();
        assert!(may_read_blob(
            &claims("user-tang", "willow", "volunteer"),
            &b,
            &[]
        ));
        for role in COMMUNITY_WIDE_ROLES {
            assert!(
                may_read_blob(&claims("user-x", "willow", role), &b, &[]),
                "{role}"
            );
        }
        for role in ["volunteer", "guard", "nobody"] {
            assert!(
                !may_read_blob(&claims("user-x", "willow", role), &b, &[]),
                "{role}"
            );
        }
    }

    #[test]
    fn a_linked_photo_is_readable_in_its_community_only() {
        let b = blob();
        let links = vec!["hazard-1".to_owned()];
        assert!(may_read_blob(
            &claims("user-x", "willow", "guard"),
            &b,
            &links
        ));
        for role in COMMUNITY_WIDE_ROLES.iter().chain(&["volunteer"]) {
            assert!(
                !may_read_blob(&claims("user-tang", "oak", role), &b, &links),
                "{role}"
            );
        }
    }
}
