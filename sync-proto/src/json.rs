//! JSON in and out of automerge documents, the one mapping both ends use:
//! objects are maps, arrays are lists, scalars are automerge scalars.
//!
//! Reading ([`to_value`], [`field`]) is how the checks see a document as
//! typed data; writing ([`fill`], [`merge_patch`], [`append`]) is how the SDK
//! and the server's own writes turn JSON into changes.
//!
//! Updates follow JSON Merge Patch (RFC 7386): a patch object's keys replace
//! the document's, nested objects merge, `null` deletes. Concurrent updates of
//! different keys on two devices both survive the merge; the same key is
//! last-writer-wins. Lists are appended to with [`append`], so two devices
//! appending offline keep both items.

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// Text that cannot be a document's root.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid JSON: {0}")]
    Syntax(String),
    #[error("a document must be a JSON object, not {0}")]
    NotAnObject(&'static str),
}

/// Parses `text` as a JSON object (the only shape a document root can take).
pub fn parse_object(text: &str) -> Result<Map<String, Json>, ObjectError> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(other) => Err(ObjectError::NotAnObject(kind(&other))),
        Err(e) => Err(ObjectError::Syntax(e.to_string())),
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

/// The whole document as JSON.
pub fn to_value(doc: &impl ReadDoc) -> Json {
    value_at(
        doc,
        automerge::Value::Object(ObjType::Map),
        &automerge::ROOT,
    )
}

/// One root field of a document as `T`, without converting the rest;
/// `None` when it is absent or has another shape.
pub fn field<T: for<'de> Deserialize<'de>>(doc: &impl ReadDoc, key: &str) -> Option<T> {
    let (value, id) = doc.get(automerge::ROOT, key).ok()??;
    T::deserialize(value_at(doc, value, &id)).ok()
}

/// An automerge value as JSON: maps and tables as objects, lists as arrays,
/// text as a string, counters and timestamps as numbers, bytes as `null`.
fn value_at(doc: &impl ReadDoc, value: automerge::Value<'_>, id: &ObjId) -> Json {
    match value {
        Value::Object(ObjType::Map | ObjType::Table) => Json::Object(
            doc.map_range(id, ..)
                .map(|item| {
                    let child = value_at(doc, item.value.clone().into(), &item.id());
                    (item.key.to_string(), child)
                })
                .collect(),
        ),
        Value::Object(ObjType::List) => Json::Array(
            doc.list_range(id, ..)
                .map(|item| value_at(doc, item.value.clone().into(), &item.id()))
                .collect(),
        ),
        Value::Object(ObjType::Text) => Json::String(doc.text(id).unwrap_or_default()),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => Json::String(s.to_string()),
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Json::from(*i),
            ScalarValue::Uint(u) => Json::from(*u),
            ScalarValue::F64(f) => Json::from(*f),
            ScalarValue::Counter(c) => Json::from(i64::from(c)),
            ScalarValue::Boolean(b) => Json::Bool(*b),
            _ => Json::Null,
        },
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
) -> Result<(), AutomergeError> {
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

/// Writes every key of `content` into the root (a new document's content).
pub fn fill<T: Transactable>(
    tx: &mut T,
    content: &Map<String, Json>,
) -> Result<(), AutomergeError> {
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
) -> Result<(), AutomergeError> {
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
pub fn append<T: Transactable>(tx: &mut T, key: &str, item: &Json) -> Result<(), AutomergeError> {
    let list = match tx.get(automerge::ROOT, key)? {
        Some((Value::Object(ObjType::List), id)) => id,
        None => tx.put_object(automerge::ROOT, key, ObjType::List)?,
        Some(_) => return Err(AutomergeError::InvalidOp(ObjType::List)),
    };
    let end = tx.length(&list);
    write(tx, &list, Prop::Seq(end), true, item)
}

/// Whether root key `key` is absent or a list (so [`append`] can succeed).
pub fn is_list_or_absent(doc: &impl ReadDoc, key: &str) -> Result<bool, AutomergeError> {
    Ok(match doc.get(automerge::ROOT, key)? {
        None | Some((Value::Object(ObjType::List), _)) => true,
        Some(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;

    #[test]
    fn objects_round_trip_through_a_document() {
        let content = parse_object(
            r#"{"title":"blocked exit","floor":5,"ratio":0.5,"ok":true,"gone":null,
                "tags":["fire",{"k":1}],"place":{"building":"3","stairwell":2}}"#,
        )
        .unwrap();
        let mut doc = AutoCommit::new();
        fill(&mut doc, &content).unwrap();
        assert_eq!(to_value(&doc), Json::Object(content));
        assert_eq!(field::<i64>(&doc, "floor"), Some(5));
        assert_eq!(field::<i64>(&doc, "title"), None);
        assert_eq!(field::<i64>(&doc, "absent"), None);
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
            to_value(&doc),
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
        let log = to_value(&a)["log"].as_array().unwrap().clone();
        assert_eq!(log.len(), 3);
        assert!(log.contains(&serde_json::json!({"n": 1})));
        assert!(log.contains(&serde_json::json!({"n": 2})));
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        for (bad, expected) in [
            ("[1,2]", Some("an array")),
            ("3", Some("a number")),
            ("\"s\"", Some("a string")),
            ("{", None),
            ("", None),
        ] {
            match (parse_object(bad), expected) {
                (Err(ObjectError::NotAnObject(k)), Some(e)) => assert_eq!(k, e, "{bad:?}"),
                (Err(ObjectError::Syntax(_)), None) => {}
                (other, _) => panic!("{bad:?}: {other:?}"),
            }
        }
        let mut doc = AutoCommit::new();
        fill(&mut doc, &parse_object(r#"{"log":"text"}"#).unwrap()).unwrap();
        assert!(!is_list_or_absent(&doc, "log").unwrap());
        assert!(is_list_or_absent(&doc, "other").unwrap());
        assert!(append(&mut doc, "log", &Json::Null).is_err());
    }
}
