//! Native JSON, what the simulator sends:
//! `{"id","source","kind","area","ts","lat","lon","values":{…}}`.
//!
//! Read two ways. [`decode_typed`] reads the text straight into the draft's fields, without a
//! JSON tree in between: most messages are native, and the tree (a map of eight keys, then a
//! deep copy of `values`) was half of the decoding time. Whatever it does not take — another
//! type in a field, a key written twice, text that is not JSON — goes the general way,
//! [`decode`] over the parsed tree, which names the exact problem. For what both take they
//! give the same draft (a property test below holds them to it).

use super::time::{parse_ts_number, parse_ts_text};
use super::{Draft, kind_name, optional_f64, optional_str, parse_ts};
use crate::event::Values;
use crate::reject::{Reason, Rejection};
use serde::Deserialize;
use serde::de::{Deserializer, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::marker::PhantomData;

/// A native object as its fields; unknown fields are ignored, as [`decode`] ignores them.
#[derive(Deserialize)]
struct Typed<'a> {
    id: Option<String>,
    source: Option<String>,
    /// Borrowed from the text when it has no escapes: the draft keeps a known kind's static
    /// name, so the usual message allocates nothing for it.
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    area: Option<String>,
    /// Borrowed too: the time is read from the text where it lies, not copied first.
    #[serde(borrow)]
    ts: Option<TimeField<'a>>,
    lat: Option<f64>,
    lon: Option<f64>,
    values: Values,
}

/// A native `ts` as written: RFC 3339 text or epoch milliseconds. Any other JSON type fails
/// the typed reading (and the hand reader's), and the general way refuses it with its reason.
pub(super) enum TimeField<'a> {
    Text(Cow<'a, str>),
    Number(Number),
}

impl TimeField<'_> {
    /// The time in epoch milliseconds, refused as [`parse_ts`] refuses the same value.
    pub(super) fn epoch_ms(&self) -> Result<i64, Rejection> {
        match self {
            TimeField::Text(text) => parse_ts_text(text, "ts"),
            TimeField::Number(n) => parse_ts_number(n, "ts"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TimeField<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeFieldVisitor(PhantomData))
    }
}

struct TimeFieldVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TimeFieldVisitor<'a> {
    type Value = TimeField<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an RFC 3339 string or epoch milliseconds")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(TimeField::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(TimeField::Text(Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(TimeField::Text(Cow::Owned(text)))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(TimeField::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(TimeField::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Number::from_f64(n)
            .map(TimeField::Number)
            .ok_or_else(|| E::custom("a time that is not a finite number"))
    }
}

/// Reads a native object straight from its text; `None` when the text is not one the typed
/// reader takes (the caller then goes the general way).
pub(super) fn decode_typed(text: &str) -> Option<Result<Draft, Rejection>> {
    let typed: Typed<'_> = serde_json::from_str(text).ok()?;
    let ts_ms = match typed.ts.as_ref().map(TimeField::epoch_ms).transpose() {
        Ok(ts_ms) => ts_ms,
        Err(rejection) => return Some(Err(rejection)),
    };
    Some(Ok(Draft {
        id: typed.id,
        source: typed.source,
        kind: typed.kind.as_deref().map(kind_name),
        area: typed.area,
        ts_ms,
        lat: typed.lat,
        lon: typed.lon,
        values: typed.values,
    }))
}

/// Decodes a native JSON object.
pub(super) fn decode(map: &Map<String, Value>) -> Result<Draft, Rejection> {
    let values = match map.get("values") {
        Some(Value::Object(values)) => Values::from(values.clone()),
        Some(_) => {
            return Err(Rejection::new(
                Reason::WrongType,
                "`values` must be an object",
            ));
        }
        None => return Err(Rejection::new(Reason::MissingField, "`values` is missing")),
    };
    let ts_ms = match map.get("ts") {
        Some(Value::Null) | None => None,
        Some(ts) => Some(parse_ts(ts, "ts")?),
    };
    Ok(Draft {
        id: optional_str(map, "id")?,
        source: optional_str(map, "source")?,
        kind: optional_str(map, "kind")?.as_deref().map(kind_name),
        area: optional_str(map, "area")?,
        ts_ms,
        lat: optional_f64(map, "lat")?,
        lon: optional_f64(map, "lon")?,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The general way: the whole text as a tree, then [`decode`].
    fn general(text: &str) -> Result<Draft, Rejection> {
        match super::super::parse_json(text)? {
            Value::Object(map) => decode(&map),
            _ => Err(Rejection::new(Reason::MalformedJson, "not an object")),
        }
    }

    /// A field's text: right and wrong types, nulls, odd numbers, times as text.
    fn field_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("\"s-1\"".to_string()),
            Just("\"2026-11-22T09:00:00+07:00\"".to_string()),
            Just("\"yesterday\"".to_string()),
            Just("\"esc\\u00e1ped\\n\"".to_string()),
            Just("17".to_string()),
            Just("-0.0".to_string()),
            Just("1e300".to_string()),
            Just("1.5e15".to_string()),
            Just("18446744073709551615".to_string()),
            Just("true".to_string()),
            Just("[1,2]".to_string()),
            Just("{\"pm25\":35.5,\"congested\":false}".to_string()),
            Just("{\"pm25\":1,\"pm25\":2}".to_string()),
            Just("{ \"laeq\" : -0 , \"x\":null,\"s\":\"a b\",\"b\":true }".to_string()),
            Just("{\"level_cm\":1.5E+2,\"alert_cm\":-12,\"n\":12345678901234567890}".to_string()),
            Just("{\"pm25\":0.30000000000000004,\"no2\":1e-7,\"o3\":2.50}".to_string()),
            Just("{}".to_string()),
            Just(" -12.25e1 ".to_string()),
            Just("01".to_string()),
            Just("\"2026-11-22T09:00:00.5+07:00\"".to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
        ]
    }

    /// Objects of the native fields (and a stranger), in any order, some twice.
    fn object() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("id"),
            Just("source"),
            Just("kind"),
            Just("area"),
            Just("ts"),
            Just("lat"),
            Just("lon"),
            Just("values"),
            Just("values"),
            Just("type"),
        ];
        prop::collection::vec((key, field_value()), 0..9).prop_map(|fields| {
            let body: Vec<String> = fields
                .iter()
                .map(|(key, value)| format!("\"{key}\":{value}"))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    /// Flat native objects as devices write them: known keys once each in any order, strings
    /// without escapes, decimals of a few digits, and spaces here and there.
    fn usual_object() -> impl Strategy<Value = String> {
        let decimal = (-1_000_000_i64..1_000_000, 0_usize..4)
            .prop_map(|(n, places)| format!("{:.*}", places, n as f64 / 100.0));
        let scalar = prop_oneof![
            decimal.clone(),
            any::<i32>().prop_map(|n| n.to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            "[a-z ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        ];
        let values = prop::collection::vec(
            (
                prop::sample::select(vec!["pm25", "speed", "laeq", "stage", "x"]),
                scalar,
            ),
            0..6,
        )
        .prop_map(|fields| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{ {} }}", body.join(" ,"))
        });
        let ts = prop_oneof![
            Just("\"2026-11-22T09:00:00Z\"".to_string()),
            Just("\"2026-11-22T16:00:00.125+07:00\"".to_string()),
            (1_700_000_000_000_i64..1_800_000_000_000).prop_map(|n| n.to_string()),
            Just("null".to_string()),
        ];
        (
            "[a-z0-9:-]{1,12}",
            decimal.clone(),
            decimal,
            ts,
            values,
            prop::sample::subsequence(vec![0, 1, 2, 3, 4, 5], 0..=6),
        )
            .prop_map(|(id, lat, lon, ts, values, order)| {
                let optional = [
                    format!("\"id\":\"{id}\""),
                    "\"kind\":\"noise\"".to_string(),
                    "\"area\":\"hoan-kiem\"".to_string(),
                    format!("\"ts\": {ts}"),
                    format!("\"lat\":{lat}"),
                    format!("\"lon\" :{lon}"),
                ];
                let mut fields: Vec<String> = order.iter().map(|&i| optional[i].clone()).collect();
                fields.insert(fields.len() / 2, format!("\"values\":{values}"));
                format!("{{{}}}\n", fields.join(", "))
            })
    }

    proptest! {
        #[test]
        fn the_hand_reader_takes_the_usual_object_as_the_general_one_reads_it(text in usual_object()) {
            let scanned = super::super::native_scan::scan(&text);
            prop_assert!(scanned.is_some(), "not taken: {}", text);
            prop_assert_eq!(scanned.unwrap_or_else(|| general(&text)), general(&text), "{}", text);
        }

        #[test]
        fn the_typed_reader_agrees_with_the_general_one(text in object()) {
            if let Some(typed) = decode_typed(&text) {
                prop_assert_eq!(typed, general(&text), "{}", text);
            }
            if let Some(scanned) = super::super::native_scan::scan(&text) {
                prop_assert_eq!(scanned, general(&text), "{}", text);
            }
        }
    }

    #[test]
    fn the_usual_message_takes_the_typed_way() {
        let text = r#"{"id":"e-1","source":"s-1","ts":1795338000000,"lat":21.03,"lon":105.85,"values":{"pm25":35.5}}"#;
        let draft = decode_typed(text).expect("typed").expect("draft");
        assert_eq!(Ok(draft), general(text));
        assert!(decode_typed(r#"{"values":{},"values":{}}"#).is_none());
        assert!(decode_typed(r#"{"id":5,"values":{}}"#).is_none());
    }
}
