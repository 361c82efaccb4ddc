//! Post tags: the keys that sign them, printable payloads, and the check of
//! the tag a check-in carries when it reaches the server.

use fieldsync_proto::model::patrol::{CheckIn, Proof};
use fieldsync_proto::model::tag::Tag;
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

/// Why a check-in's proof does not verify it, `code: explanation`, or
/// `None` when it does or claims nothing (a manual check-in). Only the server
/// can tell: the phone cannot check a signature offline. A check-in that
/// fails here is still evidence: it is stored and shown as flagged with this
/// reason, and never counts as verified (docs/patrols.md).
///
/// A key revoked after `received_at` (when the server took the check-in)
/// still verified it then, so rebuilding the rows later gives the same answer.
pub fn flag(
    community: &str,
    posts: &[PostRow],
    keys: &[TagKeyRow],
    c: &CheckIn,
    received_at: i64,
) -> Option<String> {
    let reason = |code: &str, message: String| Some(format!("{code}: {message}"));
    if !posts.iter().any(|p| p.id == c.post_id) {
        return reason(
            "unknown_post",
            format!("post {} is not a post of this community", c.post_id),
        );
    }
    let Proof::Tag { payload } = &c.proof else {
        return None;
    };
    let tag = match Tag::parse(payload) {
        Ok(tag) => tag,
        Err(e) => return reason(e.code(), e.to_string()),
    };
    if tag.post_id != c.post_id {
        return reason(
            "tag_post_mismatch",
            format!("the tag belongs to {}, not {}", tag.post_id, c.post_id),
        );
    }
    let Some(key) = keys.iter().find(|k| k.id == tag.key_id) else {
        return reason(
            "unknown_tag_key",
            format!("no tag key {} in this community", tag.key_id),
        );
    };
    if key.revoked_at.is_some_and(|at| at <= received_at) {
        return reason(
            "tag_key_revoked",
            format!("tag key {} was revoked; the office prints new tags", key.id),
        );
    }
    tag.verify(&key.secret, community)
        .err()
        .and_then(|e| reason(e.code(), e.to_string()))
}

/// The codes of a check-in's flag reason (as [`flag`] and the geofence write
/// it: `code: explanation`, several joined by `; `).
pub fn flag_codes(reason: &str) -> impl Iterator<Item = &str> {
    reason
        .split("; ")
        .filter_map(|r| r.split(':').next())
        .filter(|c| !c.is_empty())
}

/// What a flag code says, in Chinese and in English, for alert titles.
pub fn flag_title(code: &str) -> (&'static str, &'static str) {
    match code {
        "unknown_post" => ("点位不存在", "not a post of this community"),
        "not_a_tag" => ("不是巡查标签", "not a patrol tag"),
        "bad_tag_signature" => ("标签签名不符", "tag signature does not match"),
        "tag_post_mismatch" => ("标签属于其他点位", "another post's tag"),
        "unknown_tag_key" => ("标签密钥未知", "unknown tag key"),
        "tag_key_revoked" => ("标签密钥已作废", "tag key revoked"),
        "far_from_post" => ("定位远离点位", "away from the post"),
        _ => ("未通过核验", "not verified"),
    }
}
