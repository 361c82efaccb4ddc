//! Who may view a photo: the one place that decides.

use fieldsync_proto::model::Role;
use fieldsync_proto::model::scope::Reader;

use crate::store::{BlobRow, DocRow};

/// Whether `reader`, of community `community`, may view blob `blob`, which
/// the stored documents `linked` reference.
///
/// Never across communities. Within the community: the uploader; the office
/// and auditors (they read everything); and whoever may read one of the
/// records the photo belongs to, by the same read scopes that decide what
/// their devices receive. A photo no record references yet is the
/// uploader's alone (and the office's).
pub fn may_read_blob(community: &str, reader: &Reader, blob: &BlobRow, linked: &[DocRow]) -> bool {
    if community != blob.community_id {
        return false;
    }
    blob.uploaded_by == reader.user_id
        || matches!(reader.role, Role::Office | Role::Auditor)
        || linked
            .iter()
            .any(|row| crate::scope::may_read_row(reader, row))
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::model::scope::DocScope;

    use super::*;

    fn reader(user: &str, role: Role, team: &str, grid: &str) -> Reader {
        Reader {
            user_id: user.into(),
            role,
            team: Some(team.into()),
            team_grid: Some(grid.into()),
            grids: if role == Role::GridWorker {
                vec![grid.into()]
            } else {
                Vec::new()
            },
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

    fn hazard_in(grid: &str) -> DocRow {
        DocRow {
            id: "hazard-1".into(),
            doc_type: "hazard".into(),
            schema_version: 1,
            seq: 1,
            heads: Vec::new(),
            stored_bytes: 0,
            chunk_count: 1,
            scope: Some(
                serde_json::to_string(&DocScope {
                    grid: Some(grid.into()),
                    owner: Some("user-tang".into()),
                    ..Default::default()
                })
                .unwrap(),
            ),
        }
    }

    const ROLES: [Role; 6] = [
        Role::Volunteer,
        Role::Guard,
        Role::GridWorker,
        Role::Leader,
        Role::Office,
        Role::Auditor,
    ];

    #[test]
    fn an_unlinked_photo_is_its_uploaders_and_the_offices() {
        let b = blob();
        for role in ROLES {
            assert!(
                may_read_blob("willow", &reader("user-tang", role, "t1", "g1"), &b, &[]),
                "the uploader as {role:?}"
            );
            let office_like = matches!(role, Role::Office | Role::Auditor);
            assert_eq!(
                may_read_blob("willow", &reader("user-x", role, "t1", "g1"), &b, &[]),
                office_like,
                "{role:?}"
            );
        }
    }

    #[test]
    fn a_linked_photo_follows_its_records_read_scope() {
        let b = blob();
        let linked = [hazard_in("g1")];
        // A hazard in grid g1 is read by everyone whose team or grids cover
        // g1, and by nobody else but the office and auditors.
        for role in ROLES {
            assert!(
                may_read_blob("willow", &reader("user-x", role, "t1", "g1"), &b, &linked),
                "{role:?} in g1"
            );
            let office_like = matches!(role, Role::Office | Role::Auditor);
            assert_eq!(
                may_read_blob("willow", &reader("user-x", role, "t2", "g2"), &b, &linked),
                office_like,
                "{role:?} in g2"
            );
        }
    }

    #[test]
    fn never_across_communities() {
        let b = blob();
        let linked = [hazard_in("g1")];
        for role in ROLES {
            assert!(
                !may_read_blob("oak", &reader("user-tang", role, "t1", "g1"), &b, &linked),
                "{role:?}"
            );
        }
    }
}
