//! Post tags: the keys that sign them, printable payloads, and the check of
//! every tag a check-in carries when it reaches the server.

use fieldsync_proto::RejectCode;
use fieldsync_proto::model::patrol::{CheckIn, Proof};
use fieldsync_proto::model::tag::Tag;
use fieldsync_proto::session::Rejection;
use rand::RngCore;

use crate::store::{PostRow, Store, StoreError, TagKeyRow};

/// Creates a new signing key for a community and returns its id. Tags printed
/// with older keys keep working until those keys are revoked.
pub async fn rotate_key(store: &Store, community: &str, now: i64) -> Result<String, StoreError> {
    let n = store.tag_keys(community).await?.len() + 1;
    let id = format!("k{n}");
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    store.insert_tag_key(community, &id, &secret, now).await?;
    Ok(id)
}

/// The newest unrevoked key: the one new tags are printed with.
pub fn current_key(keys: &[TagKeyRow]) -> Option<&TagKeyRow> {
    keys.iter().rev().find(|k| k.revoked_at.is_none())
}

/// The payload to print for `post` with `key`.
pub fn payload(community: &str, post: &PostRow, key: &TagKeyRow) -> Option<String> {
    Tag::sign(&key.secret, community, &post.id, &key.id)
        .ok()
        .map(|t| t.encode())
}

fn reject(code: RejectCode, rule: &str, message: String) -> Rejection {
    Rejection {
        code,
        message: format!("{rule}: {message}"),
    }
}

/// Checks new check-ins where only the server can: the post exists in this
/// community (`posts`), and a scanned tag was signed by one of the
/// community's `keys` that is not revoked.
pub fn check_checkins(
    community: &str,
    posts: &[PostRow],
    keys: &[TagKeyRow],
    checkins: &[CheckIn],
) -> Result<(), Rejection> {
    for c in checkins {
        if !posts.iter().any(|p| p.id == c.post_id) {
            return Err(reject(
                RejectCode::SchemaViolation,
                "unknown_post",
                format!("post {} is not a post of this community", c.post_id),
            ));
        }
        let Proof::Tag { payload } = &c.proof else {
            continue;
        };
        let tag = Tag::parse(payload)
            .map_err(|e| reject(RejectCode::SchemaViolation, e.code(), e.to_string()))?;
        if tag.post_id != c.post_id {
            return Err(reject(
                RejectCode::SchemaViolation,
                "tag_post_mismatch",
                format!("the tag belongs to {}, not {}", tag.post_id, c.post_id),
            ));
        }
        let Some(key) = keys.iter().find(|k| k.id == tag.key_id) else {
            return Err(reject(
                RejectCode::Forbidden,
                "unknown_tag_key",
                format!("no tag key {} in this community", tag.key_id),
            ));
        };
        if key.revoked_at.is_some() {
            return Err(reject(
                RejectCode::Forbidden,
                "tag_key_revoked",
                format!("tag key {} was revoked; the office prints new tags", key.id),
            ));
        }
        tag.verify(&key.secret, community)
            .map_err(|e| reject(RejectCode::Forbidden, e.code(), e.to_string()))?;
    }
    Ok(())
}
