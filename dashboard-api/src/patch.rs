//! RFC 7386 JSON Merge Patch: the diff the server sends, the apply a client runs, and the
//! normal form that makes the two exact inverses.
//!
//! A merge patch cannot set an object member to `null` (null means "remove"), so view data is
//! kept in [`normalize`]d form: object members whose value is `null` are left out. Arrays are
//! replaced whole by a patch, so their elements keep their nulls.

use serde_json::{Map, Value};

/// Removes `null` members from objects (recursively through objects, not inside arrays).
pub fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, normalize(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The merge patch that turns `old` into `new` (both normalized), `None` when they are equal.
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for key in old.keys().filter(|key| !new.contains_key(*key)) {
                patch.insert(key.clone(), Value::Null);
            }
            for (key, value) in new {
                match old.get(key) {
                    Some(previous) => {
                        if let Some(inner) = diff(previous, value) {
                            patch.insert(key.clone(), inner);
                        }
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            Some(Value::Object(patch))
        }
        _ => Some(new.clone()),
    }
}

/// Applies a merge patch to a document in place (RFC 7386 §2).
pub fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in members {
            if value.is_null() {
                map.remove(key);
            } else {
                apply(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_appendix_a_examples_apply() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            apply(&mut target, &patch);
            assert_eq!(target, expected);
        }
    }

    #[test]
    fn diff_then_apply_reproduces_the_new_document() {
        let old =
            normalize(json!({"a": 1, "b": {"c": 2, "d": [1, null]}, "gone": true, "n": null}));
        let new = normalize(json!({"a": 1, "b": {"c": 3, "d": [1, 2]}, "x": {"y": "z"}, "n": 5}));
        let patch = diff(&old, &new).unwrap_or_default();
        assert_eq!(
            patch,
            json!({"gone": null, "b": {"c": 3, "d": [1, 2]}, "x": {"y": "z"}, "n": 5})
        );
        let mut client = old.clone();
        apply(&mut client, &patch);
        assert_eq!(client, new);
        assert_eq!(diff(&new, &new), None);
    }

    #[test]
    fn normalize_keeps_nulls_inside_arrays_only() {
        assert_eq!(
            normalize(json!({"a": null, "b": [null, {"c": null}], "d": {"e": null}})),
            json!({"b": [null, {"c": null}], "d": {}})
        );
    }
}
