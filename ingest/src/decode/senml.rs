//! SenML (RFC 8428) packs: a JSON array of records whose base fields (`bn bt bu bv bs bver`)
//! carry over to the records that follow, and whose records (`n u v vs vb s t`) each hold one
//! reading. Readings of the same source at the same time become one draft, so a pack with two
//! fields of one station is one event, as native JSON would have sent it.
//!
//! The record name's last segment after `:` or `/` is the native field name; what comes before
//! it is the source (`urn:dev:ow:hn-aq-0042:pm25` → source `urn:dev:ow:hn-aq-0042`, field
//! `pm25`). A field named `lat` or `lon` gives the draft's position instead of a value, so that
//! a SenML sensor can publish on a `_` area topic. Units are not converted: the sender uses the
//! native units (docs/events.md), and the validator refuses what is out of range.

use super::{Draft, optional_f64, optional_str};
use crate::event::field_name;
use crate::reject::{Reason, Rejection};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Highest SenML version this decoder understands (RFC 8428 is version 10).
const MAX_VERSION: i64 = 10;

/// Resolved times below 2^28 seconds are relative to now (RFC 8428 §4.5.3).
const RELATIVE_LIMIT_S: f64 = 268_435_456.0;

/// Decodes a SenML pack into one draft per (source, time), in order of first appearance.
pub(super) fn decode(pack: &Value, now_ms: i64) -> Result<Vec<Draft>, Rejection> {
    let records = match pack {
        Value::Array(records) if !records.is_empty() => records,
        Value::Array(_) => return Err(invalid("the pack is an empty array")),
        _ => return Err(invalid("a SenML pack must be a JSON array of records")),
    };
    let mut base = Base::default();
    let mut groups = Groups::default();
    for (index, record) in records.iter().enumerate() {
        let record = record
            .as_object()
            .ok_or_else(|| invalid(format!("record {index} is not a JSON object")))?;
        let reading = base
            .read(record, now_ms)
            .map_err(|error| in_record(index, error))?;
        groups
            .add(reading)
            .map_err(|error| in_record(index, error))?;
    }
    Ok(groups.drafts)
}

/// Base fields in force: each record may replace them for itself and the records after it.
#[derive(Debug, Default)]
struct Base {
    /// Base name, prefixed to every record name.
    name: String,
    /// Base time in seconds, added to every record time.
    time: f64,
    /// Base value, added to every `v`.
    value: Option<Number>,
    /// Base sum, added to every `s`.
    sum: Option<Number>,
}

/// One record resolved against the base fields.
#[derive(Debug, PartialEq)]
struct Reading {
    /// The resolved name without its field segment; `None` lets the topic's source apply.
    source: Option<String>,
    /// The native field name (last segment of the resolved name).
    field: String,
    /// Resolved absolute time in epoch milliseconds.
    ts_ms: i64,
    /// The record's value.
    value: Value,
}

impl Base {
    /// Applies the record's base fields, then resolves its name, time and value.
    fn read(&mut self, record: &Map<String, Value>, now_ms: i64) -> Result<Reading, Rejection> {
        check_labels(record)?;
        self.update(record)?;
        let name = format!(
            "{}{}",
            self.name,
            optional_str(record, "n")?.unwrap_or_default()
        );
        check_name(&name)?;
        let (source, field) = split_name(&name)?;
        let seconds = self.time + optional_f64(record, "t")?.unwrap_or(0.0);
        let ts_ms = resolve_time(seconds, now_ms)?;
        let value = self.value_of(record)?;
        Ok(Reading {
            source,
            field,
            ts_ms,
            value,
        })
    }

    /// Replaces the base fields this record sets; `bu` is only type-checked (no unit conversion).
    fn update(&mut self, record: &Map<String, Value>) -> Result<(), Rejection> {
        check_version(record)?;
        optional_str(record, "bu")?;
        if let Some(name) = optional_str(record, "bn")? {
            self.name = name;
        }
        if let Some(time) = optional_f64(record, "bt")? {
            self.time = time;
        }
        if let Some(value) = optional_number(record, "bv")? {
            self.value = Some(value.clone());
        }
        if let Some(sum) = optional_number(record, "bs")? {
            self.sum = Some(sum.clone());
        }
        Ok(())
    }

    /// The record's one value: `v` (+ `bv`), `vs` or `vb`; a record with only a sum `s`
    /// (+ `bs`) gives the sum. Data values (`vd`) fit no field and are refused.
    fn value_of(&self, record: &Map<String, Value>) -> Result<Value, Rejection> {
        optional_str(record, "u")?;
        let present = ["v", "vs", "vb", "vd"]
            .into_iter()
            .filter(|key| record.get(*key).is_some_and(|value| !value.is_null()))
            .count();
        if present > 1 {
            return Err(invalid(
                "a record holds more than one of `v`, `vs`, `vb`, `vd`",
            ));
        }
        if record.get("vd").is_some_and(|value| !value.is_null()) {
            return Err(Rejection::new(
                Reason::WrongType,
                "data values (`vd`) fit no field",
            ));
        }
        let sum = optional_number(record, "s")?;
        if let Some(v) = optional_number(record, "v")? {
            return add(v, self.value.as_ref(), "v").map(Value::Number);
        }
        if let Some(text) = optional_str(record, "vs")? {
            return Ok(Value::String(text));
        }
        if let Some(flag) = optional_bool(record, "vb")? {
            return Ok(Value::Bool(flag));
        }
        match sum {
            Some(s) => add(s, self.sum.as_ref(), "s").map(Value::Number),
            None => Err(invalid("a record holds no value (`v`, `vs`, `vb` or `s`)")),
        }
    }
}

/// Readings grouped into drafts by (source, time), keeping the order of first appearance.
#[derive(Debug, Default)]
struct Groups {
    /// The drafts built so far.
    drafts: Vec<Draft>,
    /// Where each (source, time) sits in `drafts`.
    index: HashMap<(Option<String>, i64), usize>,
}

impl Groups {
    /// Puts a reading into its draft: `lat`/`lon` as the position, anything else as a value
    /// (a repeated field at the same source and time keeps the later value).
    fn add(&mut self, reading: Reading) -> Result<(), Rejection> {
        let Reading {
            source,
            field,
            ts_ms,
            value,
        } = reading;
        let drafts = &mut self.drafts;
        let slot = *self
            .index
            .entry((source.clone(), ts_ms))
            .or_insert_with(|| {
                drafts.push(Draft {
                    source,
                    ts_ms: Some(ts_ms),
                    ..Draft::default()
                });
                drafts.len() - 1
            });
        let draft = &mut drafts[slot];
        match field.as_str() {
            "lat" => draft.lat = Some(coordinate(&value, "lat")?),
            "lon" => draft.lon = Some(coordinate(&value, "lon")?),
            _ => {
                draft.values.insert(field_name(&field), value);
            }
        }
        Ok(())
    }
}

/// Refuses labels ending in `_`: RFC 8428 §4.4 makes them must-understand, and we understand none.
fn check_labels(record: &Map<String, Value>) -> Result<(), Rejection> {
    match record.keys().find(|label| label.ends_with('_')) {
        Some(label) => Err(invalid(format!(
            "must-understand label `{label}` is not supported"
        ))),
        None => Ok(()),
    }
}

/// Refuses a `bver` that is not a positive integer or is newer than version 10.
fn check_version(record: &Map<String, Value>) -> Result<(), Rejection> {
    let Some(version) = optional_number(record, "bver")? else {
        return Ok(());
    };
    match version.as_i64() {
        Some(v) if (1..=MAX_VERSION).contains(&v) => Ok(()),
        Some(v) if v > MAX_VERSION => Err(invalid(format!(
            "`bver` {v} is above {MAX_VERSION}, the version understood"
        ))),
        _ => Err(invalid(format!(
            "`bver` {version} is not a positive integer"
        ))),
    }
}

/// Checks a resolved name against RFC 8428 §4.5.1: non-empty, `A-Za-z0-9-:._/` only,
/// starting with a letter or digit.
fn check_name(name: &str) -> Result<(), Rejection> {
    let Some(first) = name.chars().next() else {
        return Err(invalid("a record has no name (neither `bn` nor `n`)"));
    };
    if !first.is_ascii_alphanumeric() {
        return Err(invalid(format!(
            "name {name:?} must start with a letter or digit"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '_' | '/');
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(invalid(format!(
            "name {name:?} holds {bad:?}, outside RFC 8428's set"
        )));
    }
    Ok(())
}

/// Splits a resolved name at its last `:` or `/` into (source, field).
fn split_name(name: &str) -> Result<(Option<String>, String), Rejection> {
    let (source, field) = match name.rfind([':', '/']) {
        Some(at) => (&name[..at], &name[at + 1..]),
        None => ("", name),
    };
    if field.is_empty() {
        return Err(invalid(format!(
            "name {name:?} ends with a separator: no field segment"
        )));
    }
    let source = (!source.is_empty()).then(|| source.to_string());
    Ok((source, field.to_string()))
}

/// Turns a resolved time in seconds into epoch milliseconds; below 2^28 it is relative to now.
fn resolve_time(seconds: f64, now_ms: i64) -> Result<i64, Rejection> {
    if !seconds.is_finite() {
        return Err(Rejection::new(
            Reason::NonFinite,
            "`bt` + `t` is not a finite time",
        ));
    }
    // `as` saturates out-of-range floats; the validator then refuses the absurd time.
    let ms = (seconds * 1000.0).round() as i64;
    if seconds < RELATIVE_LIMIT_S {
        Ok(now_ms.saturating_add(ms))
    } else {
        Ok(ms)
    }
}

/// Adds a base to a number, keeping integers integral so that integer fields stay integers.
fn add(value: &Number, base: Option<&Number>, label: &str) -> Result<Number, Rejection> {
    let Some(base) = base else {
        return Ok(value.clone());
    };
    if let (Some(a), Some(b)) = (value.as_i64(), base.as_i64())
        && let Some(sum) = a.checked_add(b)
    {
        return Ok(Number::from(sum));
    }
    let sum = value.as_f64().unwrap_or(f64::NAN) + base.as_f64().unwrap_or(f64::NAN);
    Number::from_f64(sum).ok_or_else(|| {
        Rejection::new(
            Reason::NonFinite,
            format!("`{label}` plus its base is not finite"),
        )
    })
}

/// A `lat`/`lon` record's value as a coordinate.
fn coordinate(value: &Value, field: &str) -> Result<f64, Rejection> {
    value.as_f64().ok_or_else(|| {
        Rejection::new(
            Reason::WrongType,
            format!("`{field}` must be a number (`v`)"),
        )
    })
}

/// Reads an optional number keeping its JSON form (integer or float), refusing other types.
fn optional_number<'a>(
    map: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Number>, Rejection> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n)),
        Some(_) => Err(Rejection::new(
            Reason::WrongType,
            format!("`{key}` must be a number"),
        )),
    }
}

/// Reads an optional boolean, refusing other types.
fn optional_bool(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, Rejection> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(Rejection::new(
            Reason::WrongType,
            format!("`{key}` must be true or false"),
        )),
    }
}

/// An `invalid_senml` rejection.
fn invalid(detail: impl Into<String>) -> Rejection {
    Rejection::new(Reason::InvalidSenml, detail)
}

/// Names the record a rejection came from, for the operator reading the dead-letter.
fn in_record(index: usize, error: Rejection) -> Rejection {
    Rejection::new(
        error.reason,
        format!("SenML record {index}: {}", error.detail),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-11-22T09:00:00Z.
    const NOW_MS: i64 = 1_795_338_000_000;

    /// The reason a pack is refused.
    fn reason(pack: Value) -> Reason {
        match decode(&pack, NOW_MS) {
            Ok(drafts) => panic!("expected a rejection, got {drafts:?}"),
            Err(error) => error.reason,
        }
    }

    #[test]
    fn names_split_into_source_and_field() {
        assert_eq!(
            split_name("urn:dev:ow:hn-aq-0042:pm25"),
            Ok((Some("urn:dev:ow:hn-aq-0042".into()), "pm25".into()))
        );
        assert_eq!(
            split_name("gauge/7/level_cm"),
            Ok((Some("gauge/7".into()), "level_cm".into()))
        );
        assert_eq!(split_name("pm25"), Ok((None, "pm25".into())));
        assert_eq!(
            split_name("dev:").map_err(|e| e.reason),
            Err(Reason::InvalidSenml)
        );
    }

    #[test]
    fn base_fields_carry_over_and_are_replaced() {
        let pack = json!([
            {"bn": "a:", "bt": 1_795_337_000, "bv": 10, "n": "x", "v": 1},
            {"n": "y", "v": 2.5},
            {"bn": "b:", "bv": 0.5, "n": "x", "v": 1, "t": 60}
        ]);
        let drafts = decode(&pack, NOW_MS).expect("valid pack");
        assert_eq!(drafts.len(), 2);
        assert_eq!(drafts[0].source.as_deref(), Some("a"));
        assert_eq!(drafts[0].ts_ms, Some(1_795_337_000_000));
        assert_eq!(drafts[0].values.get("x"), Some(&json!(11)));
        assert_eq!(drafts[0].values.get("y"), Some(&json!(12.5)));
        assert_eq!(drafts[1].source.as_deref(), Some("b"));
        assert_eq!(drafts[1].ts_ms, Some(1_795_337_060_000));
        assert_eq!(drafts[1].values.get("x"), Some(&json!(1.5)));
    }

    #[test]
    fn integers_stay_integers_and_texts_and_bools_pass() {
        let pack = json!([
            {"n": "level", "v": 3},
            {"n": "service", "vs": "cấp phép"},
            {"n": "on_time", "vb": true}
        ]);
        let drafts = decode(&pack, NOW_MS).expect("valid pack");
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].ts_ms, Some(NOW_MS));
        assert_eq!(drafts[0].source, None);
        assert_eq!(
            drafts[0].values.get("level").and_then(Value::as_i64),
            Some(3)
        );
        assert_eq!(drafts[0].values.get("service"), Some(&json!("cấp phép")));
        assert_eq!(drafts[0].values.get("on_time"), Some(&json!(true)));
    }

    #[test]
    fn sums_alone_are_values_and_lat_lon_give_the_position() {
        let pack = json!([
            {"bn": "hn-tf-9:", "bs": 100, "n": "intensity", "s": 20},
            {"n": "lat", "v": 21.029},
            {"n": "lon", "v": 105.853}
        ]);
        let drafts = decode(&pack, NOW_MS).expect("valid pack");
        assert_eq!(drafts[0].values.get("intensity"), Some(&json!(120)));
        assert_eq!(
            (drafts[0].lat, drafts[0].lon),
            (Some(21.029), Some(105.853))
        );
        assert!(!drafts[0].values.contains_key("lat"));
    }

    #[test]
    fn relative_and_fractional_times_resolve_against_now() {
        let drafts = decode(&json!([{"n": "laeq", "v": 60, "t": -1.5}]), NOW_MS).expect("ok");
        assert_eq!(drafts[0].ts_ms, Some(NOW_MS - 1_500));
        let drafts = decode(
            &json!([{"bt": 1_795_337_999.25, "n": "laeq", "v": 60}]),
            NOW_MS,
        )
        .expect("ok");
        assert_eq!(drafts[0].ts_ms, Some(1_795_337_999_250));
    }

    #[test]
    fn rfc_violations_are_invalid_senml() {
        assert_eq!(reason(json!([])), Reason::InvalidSenml);
        assert_eq!(reason(json!([1])), Reason::InvalidSenml);
        assert_eq!(
            reason(json!([{"bver": 11, "n": "x", "v": 1}])),
            Reason::InvalidSenml
        );
        assert_eq!(
            reason(json!([{"bver": 0, "n": "x", "v": 1}])),
            Reason::InvalidSenml
        );
        assert_eq!(
            reason(json!([{"n": "x", "v": 1, "foo_": 1}])),
            Reason::InvalidSenml
        );
        assert_eq!(reason(json!([{"v": 1}])), Reason::InvalidSenml);
        assert_eq!(reason(json!([{"n": "x"}])), Reason::InvalidSenml);
        assert_eq!(
            reason(json!([{"n": "x", "v": 1, "vs": "a"}])),
            Reason::InvalidSenml
        );
        assert_eq!(reason(json!([{"n": "x y", "v": 1}])), Reason::InvalidSenml);
        assert_eq!(reason(json!([{"n": "-x", "v": 1}])), Reason::InvalidSenml);
        assert_eq!(reason(json!([{"n": "x#", "v": 1}])), Reason::InvalidSenml);
    }

    #[test]
    fn wrong_types_are_wrong_type() {
        assert_eq!(reason(json!([{"n": "x", "v": "12"}])), Reason::WrongType);
        assert_eq!(reason(json!([{"n": "x", "vb": 1}])), Reason::WrongType);
        assert_eq!(reason(json!([{"n": "x", "vd": "AAE="}])), Reason::WrongType);
        assert_eq!(reason(json!([{"n": 5, "v": 1}])), Reason::WrongType);
        assert_eq!(
            reason(json!([{"bver": "10", "n": "x", "v": 1}])),
            Reason::WrongType
        );
        assert_eq!(reason(json!([{"n": "lat", "vs": "21"}])), Reason::WrongType);
    }

    #[test]
    fn unknown_labels_are_ignored() {
        let drafts = decode(&json!([{"n": "x", "v": 1, "ut": 5, "extra": "ok"}]), NOW_MS);
        assert_eq!(drafts.map(|d| d.len()), Ok(1));
    }
}
