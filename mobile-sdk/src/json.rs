//! JSON in and out of automerge documents, for apps that edit documents as
//! plain data (the FFI surface): objects become maps, arrays become lists,
//! scalars become automerge scalars.
//!
//! Updates follow JSON Merge Patch (RFC 7386): a patch object's keys replace
//! the document's, nested objects merge, `null` deletes. Concurrent updates of
//! different keys on two devices both survive the merge; the same key is
//! last-writer-wins. Lists are appended to with [`append`], so two devices
//! appending offline keep both items.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value};
use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};

/// Parses `text` as a JSON object (the only shape a document root can take).
pub fn parse_object(text: &str) -> Result<Map<String, Json>> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(other) => Err(Error::InvalidInput(format!(
            "a document must be a JSON object, not {}",
            kind(&other)
        ))),
        Err(e) => Err(Error::InvalidInput(format!("invalid JSON: {e}"))),
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn scalar(v: &Json) -> Option<ScalarValue> {
    Some(match v {
        Json::Null => ScalarValue::Null,
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                ScalarValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                ScalarValue::Uint(u)
            } else {
                ScalarValue::F64(n.as_f64().unwrap_or_default())
            }
        }
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

/// Writes `value` at `prop` of `obj` (a map key or a list index to insert at).
fn write<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    prop: Prop,
    insert: bool,
    value: &Json,
) -> Result<(), automerge::AutomergeError> {
    let nested = match value {
        Json::Object(_) => ObjType::Map,
        Json::Array(_) => ObjType::List,
        _ => {
            let s = scalar(value).expect("scalars map to scalars");
            return match (prop, insert) {
                (Prop::Seq(i), true) => tx.insert(obj, i, s),
                (p, _) => tx.put(obj, p, s),
            };
        }
    };
    let child = match (prop, insert) {
        (Prop::Seq(i), true) => tx.insert_object(obj, i, nested)?,
        (p, _) => tx.put_object(obj, p, nested)?,
    };
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                write(tx, &child, Prop::Map(k.clone()), false, v)?;
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                write(tx, &child, Prop::Seq(i), true, v)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Fills the root of a new document from `content`.
pub fn fill<T: Transactable>(
    tx: &mut T,
    content: &Map<String, Json>,
) -> Result<(), automerge::AutomergeError> {
    for (k, v) in content {
        write(tx, &automerge::ROOT, Prop::Map(k.clone()), false, v)?;
    }
    Ok(())
}

/// Applies a JSON Merge Patch to the map `obj`.
pub fn merge_patch<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    patch: &Map<String, Json>,
) -> Result<(), automerge::AutomergeError> {
    for (k, v) in patch {
        match v {
            Json::Null => {
                if tx.get(obj, k.as_str())?.is_some() {
                    tx.delete(obj, k.as_str())?;
                }
            }
            Json::Object(inner) => match tx.get(obj, k.as_str())? {
                Some((Value::Object(ObjType::Map), child)) => merge_patch(tx, &child, inner)?,
                _ => write(tx, obj, Prop::Map(k.clone()), false, v)?,
            },
            _ => write(tx, obj, Prop::Map(k.clone()), false, v)?,
        }
    }
    Ok(())
}

/// Appends `item` to the list at root key `key`, creating the list if absent.
/// Fails if `key` holds something other than a list.
pub fn append<T: Transactable>(
    tx: &mut T,
    key: &str,
    item: &Json,
) -> Result<(), automerge::AutomergeError> {
    let list = match tx.get(automerge::ROOT, key)? {
        Some((Value::Object(ObjType::List), id)) => id,
        None => tx.put_object(automerge::ROOT, key, ObjType::List)?,
        Some(_) => {
            return Err(automerge::AutomergeError::InvalidOp(ObjType::List));
        }
    };
    let end = tx.length(&list);
    write(tx, &list, Prop::Seq(end), true, item)
}

/// Whether root key `key` is absent or a list (so [`append`] can succeed).
pub fn is_list_or_absent(doc: &impl ReadDoc, key: &str) -> Result<bool> {
    Ok(match doc.get(automerge::ROOT, key)? {
        None => true,
        Some((Value::Object(ObjType::List), _)) => true,
        Some(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{AutoCommit, AutoSerde};

    fn to_json(doc: &AutoCommit) -> Json {
        serde_json::to_value(AutoSerde::from(doc)).unwrap()
    }

    #[test]
    fn objects_round_trip_through_a_document() {
        let content = parse_object(
            r#"{"title":"blocked exit","floor":5,"ratio":0.5,"ok":true,"gone":null,
                "tags":["fire",{"k":1}],"place":{"building":"3","stairwell":2}}"#,
        )
        .unwrap();
        let mut doc = AutoCommit::new();
        fill(&mut doc, &content).unwrap();
        assert_eq!(to_json(&doc), Json::Object(content));
    }

    #[test]
    fn merge_patch_replaces_merges_and_deletes() {
        let mut doc = AutoCommit::new();
        fill(
            &mut doc,
            &parse_object(r#"{"a":1,"b":{"x":1,"y":2},"c":"keep","d":[1]}"#).unwrap(),
        )
        .unwrap();
        let patch = parse_object(r#"{"a":2,"b":{"y":null,"z":3},"d":null,"e":"new"}"#).unwrap();
        merge_patch(&mut doc, &automerge::ROOT, &patch).unwrap();
        assert_eq!(
            to_json(&doc),
            serde_json::json!({"a":2,"b":{"x":1,"z":3},"c":"keep","e":"new"})
        );
    }

    #[test]
    fn concurrent_appends_both_survive() {
        let mut a = AutoCommit::new();
        append(&mut a, "log", &serde_json::json!({"n": 0})).unwrap();
        let mut b = a.fork();
        append(&mut a, "log", &serde_json::json!({"n": 1})).unwrap();
        append(&mut b, "log", &serde_json::json!({"n": 2})).unwrap();
        a.merge(&mut b).unwrap();
        let log = to_json(&a)["log"].as_array().unwrap().clone();
        assert_eq!(log.len(), 3);
        assert!(log.contains(&serde_json::json!({"n": 1})));
        assert!(log.contains(&serde_json::json!({"n": 2})));
    }

    #[test]
    fn non_objects_and_garbage_are_invalid_input() {
        for bad in ["[1,2]", "3", "\"s\"", "{", ""] {
            assert!(
                matches!(parse_object(bad), Err(Error::InvalidInput(_))),
                "{bad:?}"
            );
        }
        let mut doc = AutoCommit::new();
        fill(&mut doc, &parse_object(r#"{"log":"text"}"#).unwrap()).unwrap();
        assert!(!is_list_or_absent(&doc, "log").unwrap());
        assert!(append(&mut doc, "log", &Json::Null).is_err());
    }
}
