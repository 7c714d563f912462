//! Payload decoders. The three accepted formats share the same topics and are told apart by
//! shape (docs/events.md "Payload formats"): a JSON array is SenML, an object with `type` naming a Smart
//! Data Model entity is NGSI, any other object is native JSON.
//!
//! Decoders only read the format; [`crate::validate`] then checks kinds, areas, times and ranges
//! the same way for all of them.

mod native;
mod native_scan;
mod ngsi;
mod senml;
mod time;

pub use time::{DEFAULT_DEVICE_ZONE, Observed, parse_observed, parse_ts};

use crate::event::Values;
use crate::reject::{Reason, Rejection};
use crate::topic::TopicInfo;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// An event as a decoder read it, before validation: area, source and time may still be missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    /// Idempotency key, when the payload carried one.
    pub id: Option<String>,
    /// Source id from the payload or the topic.
    pub source: Option<String>,
    /// Kind name from the payload or the topic (validated later).
    pub kind: Option<Cow<'static, str>>,
    /// Area id from the topic or the payload.
    pub area: Option<String>,
    /// Event time in epoch milliseconds.
    pub ts_ms: Option<i64>,
    /// Latitude, when present.
    pub lat: Option<f64>,
    /// Longitude, when present.
    pub lon: Option<f64>,
    /// The fields, with native names.
    pub values: Values,
}

/// The payload format a message came in, told apart by shape; counted per format so operators
/// see which device families feed the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The engine's own JSON object.
    Native,
    /// A SenML (RFC 8428) pack.
    Senml,
    /// An NGSI-LD / NGSI-v2 entity (Smart Data Models).
    Ngsi,
}

impl Format {
    /// Every format, in metric order.
    pub const ALL: [Format; 3] = [Format::Native, Format::Senml, Format::Ngsi];

    /// The name used in metrics (`format="ngsi"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Senml => "senml",
            Format::Ngsi => "ngsi",
        }
    }
}

/// Decodes one message body into drafts (a SenML pack may hold several events), reading
/// zone-less device times in [`DEFAULT_DEVICE_ZONE`].
///
/// `now_ms` resolves SenML relative times.
pub fn decode(payload: &[u8], topic: &TopicInfo<'_>, now_ms: i64) -> Result<Vec<Draft>, Rejection> {
    let mut drafts = Vec::with_capacity(1);
    decode_each(payload, topic, now_ms, DEFAULT_DEVICE_ZONE, |draft| {
        drafts.push(draft);
        Ok(())
    })?;
    Ok(drafts)
}

/// What [`decode_each`] says of a message besides its drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoding {
    /// The format the payload came in.
    pub format: Format,
    /// Drafts whose time carried no zone and was read in the device zone.
    pub zoneless: usize,
}

/// Decodes one message body, reading zone-less device times in `zone`, and hands each draft
/// to `each` as soon as it is whole. An error of `each` stops the decoding and is returned.
/// `now_ms` resolves SenML relative times.
///
/// The intake validates each draft in `each`: a draft is moved once, from the reader to the
/// validator (collecting it first, then taking it out again, cost about 3 % of B2's time in
/// copies of the draft). A SenML pack is read whole, with the topic applied to every record,
/// before its first draft is handed on, so a pack is refused for the same reason either way.
pub fn decode_each(
    payload: &[u8],
    topic: &TopicInfo<'_>,
    now_ms: i64,
    zone: chrono_tz::Tz,
    mut each: impl FnMut(Draft) -> Result<(), Rejection>,
) -> Result<Decoding, Rejection> {
    let text = utf8(payload)?;
    // Most messages are native objects: read those without a JSON tree in between, the usual
    // flat shape by hand (it gives up at once at anything else: an NGSI entity's `type` key,
    // say) and the rest with serde. An object without a `values` key cannot be native (NGSI
    // entities, bad input): it skips serde's typed reader instead of being parsed twice.
    if text.trim_start().starts_with('{')
        && let Some(draft) = native_scan::scan(text).or_else(|| {
            text.contains("\"values\"")
                .then(|| native::decode_typed(text))
                .flatten()
        })
    {
        let mut draft = draft?;
        apply_topic(&mut draft, topic)?;
        each(draft)?;
        return Ok(Decoding {
            format: Format::Native,
            zoneless: 0,
        });
    }
    let value = parse_json(text)?;
    match &value {
        Value::Array(_) => {
            let mut drafts = senml::decode(&value, now_ms)?;
            for draft in &mut drafts {
                apply_topic(draft, topic)?;
            }
            for draft in drafts {
                each(draft)?;
            }
            Ok(Decoding {
                format: Format::Senml,
                zoneless: 0,
            })
        }
        Value::Object(map) if ngsi::is_entity(map) => {
            let (mut draft, zoneless) = ngsi::decode(map, zone)?;
            apply_topic(&mut draft, topic)?;
            each(draft)?;
            Ok(Decoding {
                format: Format::Ngsi,
                zoneless: usize::from(zoneless),
            })
        }
        Value::Object(map) => {
            let mut draft = native::decode(map)?;
            apply_topic(&mut draft, topic)?;
            each(draft)?;
            Ok(Decoding {
                format: Format::Native,
                zoneless: 0,
            })
        }
        _ => Err(Rejection::new(
            Reason::MalformedJson,
            "payload is JSON but neither an object (native, NGSI) nor an array (SenML)",
        )),
    }
}

/// Reads a payload as UTF-8 JSON of any shape (the report topic reads its own fields).
pub fn decode_object(payload: &[u8]) -> Result<Value, Rejection> {
    parse_json(utf8(payload)?)
}

/// The payload as text, refused when it is not UTF-8.
///
/// Checked with SIMD instructions (`simdutf8`): the standard library's check was about 280
/// instructions of every message in B2's profile. Only a refusal is checked again by the
/// standard library, whose error says where the bad byte is.
fn utf8(payload: &[u8]) -> Result<&str, Rejection> {
    simdutf8::basic::from_utf8(payload).or_else(|_| {
        std::str::from_utf8(payload).map_err(|error| {
            Rejection::new(
                Reason::InvalidUtf8,
                format!("payload is not UTF-8: {error}"),
            )
        })
    })
}

/// The topic fills what the payload left out; a payload kind that contradicts the topic's is
/// refused, so that an entity posted on the wrong topic is not counted under the wrong kind.
fn apply_topic(draft: &mut Draft, topic: &TopicInfo<'_>) -> Result<(), Rejection> {
    // A known kind's name is the kind's own static text, so its address usually settles it.
    if let Some(kind) = &draft.kind
        && !std::ptr::eq(kind.as_ref(), topic.kind.as_str())
        && kind != topic.kind.as_str()
    {
        return Err(Rejection::new(
            Reason::UnknownKind,
            format!(
                "payload kind {kind:?} contradicts the topic's kind {:?}",
                topic.kind.as_str()
            ),
        ));
    }
    // The usual payload names the topic's area too: then its string is kept as it is.
    if let Some(area) = topic.area
        && draft.area.as_deref() != Some(area)
    {
        draft.area = Some(area.to_string());
    }
    if draft.kind.is_none() {
        draft.kind = Some(Cow::Borrowed(topic.kind.as_str()));
    }
    if draft.source.is_none() {
        draft.source = topic.source.map(str::to_string);
    }
    Ok(())
}

/// A payload's kind name: a known kind's own static name (nothing allocated), any other text
/// as it was written (refused later, with the name in the message).
pub(crate) fn kind_name(text: &str) -> Cow<'static, str> {
    match crate::Kind::parse(text) {
        Some(kind) => Cow::Borrowed(kind.as_str()),
        None => Cow::Owned(text.to_string()),
    }
}

/// Parses JSON, telling non-finite numbers (`NaN`, `Infinity`, `1e999`) apart from other
/// malformed text so that the dead-letter names the real problem.
fn parse_json(text: &str) -> Result<Value, Rejection> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Ok(value),
        Err(error) => {
            let message = error.to_string();
            let reason = if message.contains("number out of range") || has_non_finite_literal(text)
            {
                Reason::NonFinite
            } else {
                Reason::MalformedJson
            };
            Err(Rejection::new(
                reason,
                format!("payload is not valid JSON: {message}"),
            ))
        }
    }
}

/// Whether the text would parse once its bare `NaN`/`Infinity` literals became `null`
/// (what some JSON writers emit for non-finite floats).
fn has_non_finite_literal(text: &str) -> bool {
    if !(text.contains("NaN") || text.contains("Infinity")) {
        return false;
    }
    let replaced = text
        .replace("-Infinity", "null")
        .replace("Infinity", "null")
        .replace("NaN", "null");
    serde_json::from_str::<Value>(&replaced).is_ok()
}

/// Reads an optional string field, refusing other types.
pub(crate) fn optional_str(
    map: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, Rejection> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Rejection::new(
            Reason::WrongType,
            format!("`{key}` must be a string"),
        )),
    }
}

/// Reads an optional number field, refusing other types.
pub(crate) fn optional_f64(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, Rejection> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| {
            Rejection::new(Reason::NonFinite, format!("`{key}` is not a finite number"))
        }),
        Some(_) => Err(Rejection::new(
            Reason::WrongType,
            format!("`{key}` must be a number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD check accepts exactly what the standard library accepts, with the same text,
    /// and refuses the rest with the standard library's message: every byte value at every
    /// place of texts that cross the 16, 32 and 64-byte blocks, among ASCII and among
    /// multi-byte characters.
    #[test]
    fn payload_text_is_what_the_standard_check_gives() {
        let ascii = "a".repeat(70);
        let accented = "Hoàn Kiếm ".repeat(8);
        for base in [ascii.as_bytes(), accented.as_bytes()] {
            for len in [1, 15, 16, 17, 31, 32, 33, 63, 64, 65] {
                let base = &base[..len.min(base.len())];
                for place in 0..base.len() {
                    for byte in 0..=255_u8 {
                        let mut payload = base.to_vec();
                        payload[place] = byte;
                        let expected = std::str::from_utf8(&payload).map_err(|error| {
                            Rejection::new(
                                Reason::InvalidUtf8,
                                format!("payload is not UTF-8: {error}"),
                            )
                        });
                        assert_eq!(utf8(&payload), expected, "{payload:?}");
                    }
                }
            }
        }
    }
}
