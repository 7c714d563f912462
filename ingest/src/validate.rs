//! Validation shared by every payload format: kind, time, place, source and field ranges.

use crate::area::Areas;
use crate::bytewise;
use crate::decode::Draft;
use crate::event::{Event, Kind, Values, same_field_name};
use crate::fields::{self, FieldType};
use crate::reject::{Reason, Rejection};
use serde_json::Value;
use std::sync::Arc;

/// How far in the future an event time may lie before it is refused (docs/events.md).
pub const DEFAULT_MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

/// Event times before this (2000-01-01T00:00:00Z) are a broken clock, not history.
const EARLIEST_TS_MS: i64 = 946_684_800_000;

/// Longest id or source id accepted.
const MAX_ID_LEN: usize = 256;

/// Longest text field value accepted.
const MAX_TEXT_LEN: usize = 200;

/// Turns drafts into events, or says why not.
#[derive(Debug, Clone)]
pub struct Validator {
    areas: Arc<Areas>,
    max_future_ms: i64,
}

impl Validator {
    /// A validator for a deployment's areas with the default 5-minute future skew.
    pub fn new(areas: Arc<Areas>) -> Self {
        Self {
            areas,
            max_future_ms: DEFAULT_MAX_FUTURE_MS,
        }
    }

    /// The areas this validator places events in.
    pub fn areas(&self) -> &Arc<Areas> {
        &self.areas
    }

    /// Checks a telemetry or dossier draft and builds the event.
    pub fn validate(&self, draft: Draft, now_ms: i64) -> Result<Event, Rejection> {
        let kind_name = draft
            .kind
            .as_deref()
            .ok_or_else(|| Rejection::new(Reason::MissingField, "no kind"))?;
        let kind = Kind::parse(kind_name).ok_or_else(|| {
            Rejection::new(Reason::UnknownKind, format!("unknown kind {kind_name:?}"))
        })?;
        if !Kind::TELEMETRY.contains(&kind) {
            return Err(Rejection::new(
                Reason::UnknownKind,
                format!("kind {kind} is not accepted as telemetry on this topic"),
            ));
        }
        let ts_ms = self.check_ts(draft.ts_ms, now_ms)?;
        let area = self.place(draft.area, draft.lat, draft.lon)?;
        // The draft's strings and values move into the event: checked, not copied.
        let source = check_id(draft.source, "source")?;
        let values = check_values(kind, draft.values)?;
        let id = match draft.id {
            Some(id) => check_id(Some(id), "id")?,
            None => Event::derived_id(&source, ts_ms, kind),
        };
        Ok(Event {
            id,
            source,
            kind,
            area,
            ts_ms,
            lat: draft.lat,
            lon: draft.lon,
            values,
        })
    }

    /// Refuses a missing time, one too far in the future, or one before 2000.
    pub(crate) fn check_ts(&self, ts_ms: Option<i64>, now_ms: i64) -> Result<i64, Rejection> {
        let ts_ms = ts_ms.ok_or_else(|| Rejection::new(Reason::MissingField, "no `ts`"))?;
        if ts_ms > now_ms.saturating_add(self.max_future_ms) {
            return Err(Rejection::new(
                Reason::FutureTimestamp,
                format!(
                    "`ts` {} is {} s ahead of the engine's clock (at most {} s allowed)",
                    crate::event::format_ts(ts_ms),
                    (ts_ms - now_ms) / 1000,
                    self.max_future_ms / 1000
                ),
            ));
        }
        if ts_ms < EARLIEST_TS_MS {
            return Err(Rejection::new(
                Reason::OutOfRange,
                "`ts` is before the year 2000",
            ));
        }
        Ok(ts_ms)
    }

    /// The area from the topic or payload, else from the coordinates; coordinates, when
    /// present, must lie inside the city either way.
    fn place(
        &self,
        area: Option<String>,
        lat: Option<f64>,
        lon: Option<f64>,
    ) -> Result<String, Rejection> {
        let point = match (lat, lon) {
            (Some(lat), Some(lon)) => {
                self.areas
                    .check_inside(lat, lon)
                    .map_err(|error| Rejection::new(Reason::OutsideCity, error.to_string()))?;
                Some((lat, lon))
            }
            (None, None) => None,
            _ => {
                return Err(Rejection::new(
                    Reason::MissingField,
                    "`lat` and `lon` come together",
                ));
            }
        };
        match (area, point) {
            // `get` matches ids exactly, so the named id is the area's own spelling.
            (Some(id), _) if self.areas.get(&id).is_some() => Ok(id),
            (Some(id), _) => Err(Rejection::new(
                Reason::UnknownArea,
                format!("unknown area {id:?}"),
            )),
            // Inside the bounds, `locate` always finds an area (the nearest, at worst).
            (None, Some((lat, lon))) => self
                .areas
                .locate(lat, lon)
                .map(|area| area.id.clone())
                .map_err(|error| Rejection::new(Reason::OutsideCity, error.to_string())),
            (None, None) => Err(Rejection::new(
                Reason::MissingField,
                "no area: the topic says `_` and the payload has neither `area` nor `lat`/`lon`",
            )),
        }
    }
}

/// Ids are non-empty, at most [`MAX_ID_LEN`] bytes, without control characters or MQTT
/// wildcards.
fn check_id(id: Option<String>, field: &str) -> Result<String, Rejection> {
    let id = id.ok_or_else(|| Rejection::new(Reason::MissingField, format!("no `{field}`")))?;
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Rejection::new(
            Reason::OutOfRange,
            format!("`{field}` must be 1 to {MAX_ID_LEN} bytes"),
        ));
    }
    if has_control_or_wildcard(&id) {
        return Err(Rejection::new(
            Reason::WrongType,
            format!("`{field}` holds control characters or MQTT wildcards"),
        ));
    }
    Ok(id)
}

/// Whether an id holds a control character (C0, DEL or C1) or an MQTT wildcard. Nearly every
/// id is ASCII, where the controls are exactly the ASCII ones: it is checked eight bytes at a
/// time ([`crate::bytewise`]), its last few bytes one by one; any other id character by
/// character. Every event's id and source come through here.
fn has_control_or_wildcard(id: &str) -> bool {
    if !id.is_ascii() {
        return id.chars().any(|c| c.is_control() || c == '#' || c == '+');
    }
    let bytes = id.as_bytes();
    let mut at = 0;
    while let Some(word) = bytewise::word_at(bytes, at) {
        if bytewise::below(word, 0x20)
            | bytewise::equal_to(word, 0x7f)
            | bytewise::equal_to(word, b'#')
            | bytewise::equal_to(word, b'+')
            != 0
        {
            return true;
        }
        at += bytewise::WORD;
    }
    bytes
        .get(at..)
        .unwrap_or_default()
        .iter()
        .any(|&byte| byte.is_ascii_control() || byte == b'#' || byte == b'+')
}

/// Keeps the kind's known fields, checked; refuses a draft with no known reading or without a
/// required field. Unknown fields are not stored.
///
/// Works in the draft's own vector: unknown fields and nulls leave it, the rest are put in
/// the kind's field order, then checked in that order (so the first problem reported is the
/// same whatever order the payload used). Taking each known field out of the draft into a new
/// vector cost a search and a shift per field and an allocation per event.
fn check_values(kind: Kind, mut values: Values) -> Result<Values, Rejection> {
    let specs = fields::specs(kind);
    if !in_spec_order(&values, specs) {
        values.retain_ranked(|name, value| {
            if value.is_null() {
                return None;
            }
            specs
                .iter()
                .position(|spec| same_field_name(spec.name, name))
        });
    }
    let mut present = values.iter().peekable();
    for spec in specs {
        match present.next_if(|(name, _)| same_field_name(name, spec.name)) {
            Some((_, value)) => check_field(spec.name, spec.ty, value)?,
            None if spec.required => {
                return Err(Rejection::new(
                    Reason::MissingField,
                    format!("{kind} needs `{}`", spec.name),
                ));
            }
            None => {}
        }
    }
    drop(present);
    if values.is_empty() {
        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        return Err(Rejection::new(
            Reason::MissingField,
            format!("{kind} carries none of its fields ({})", names.join(", ")),
        ));
    }
    Ok(values)
}

/// Whether every field is a non-null field of the kind, in the kind's order: what a device
/// usually sends, and then there is nothing to take out or sort. One pass over the specs,
/// where ranking each field searched them again (about a third of validation in B2's
/// profile).
fn in_spec_order(values: &Values, specs: &[fields::FieldSpec]) -> bool {
    let mut later = specs.iter();
    values
        .iter()
        .all(|(name, value)| !value.is_null() && later.any(|spec| same_field_name(spec.name, name)))
}

fn check_field(name: &str, ty: FieldType, value: &Value) -> Result<(), Rejection> {
    let wrong =
        |expected: &str| Rejection::new(Reason::WrongType, format!("`{name}` must be {expected}"));
    match ty {
        FieldType::Number { min, max } => {
            let n = value.as_f64().ok_or_else(|| wrong("a number"))?;
            if !n.is_finite() {
                return Err(Rejection::new(
                    Reason::NonFinite,
                    format!("`{name}` is not finite"),
                ));
            }
            if n < min || n > max {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("`{name}` = {n} is outside {min}..={max}"),
                ));
            }
        }
        FieldType::Choice(allowed) => {
            let n = value.as_i64().ok_or_else(|| wrong("an integer"))?;
            if !allowed.contains(&n) {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("`{name}` = {n} is not one of {allowed:?}"),
                ));
            }
        }
        FieldType::Bool => {
            value.as_bool().ok_or_else(|| wrong("true or false"))?;
        }
        FieldType::Text(allowed) => {
            let text = value.as_str().ok_or_else(|| wrong("a string"))?;
            if text.is_empty() || text.chars().count() > MAX_TEXT_LEN {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("`{name}` must be 1 to {MAX_TEXT_LEN} characters"),
                ));
            }
            if text.chars().any(char::is_control) {
                return Err(Rejection::new(
                    Reason::WrongType,
                    format!("`{name}` holds control characters"),
                ));
            }
            if let Some(allowed) = allowed
                && !allowed.contains(&text)
            {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("`{name}` = {text:?} is not one of {allowed:?}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time check of an ASCII id says what a character-by-character one says,
    /// for every ASCII byte at every place of ids of up to three words and a tail.
    #[test]
    fn ascii_ids_are_checked_as_characters_are() {
        let by_characters = |id: &str| id.chars().any(|c| c.is_control() || c == '#' || c == '+');
        for byte in 0..0x80_u8 {
            for len in 1..28 {
                for place in 0..len {
                    let mut id = vec![b'a'; len];
                    id[place] = byte;
                    let id = String::from_utf8(id).expect("ASCII");
                    assert_eq!(has_control_or_wildcard(&id), by_characters(&id), "{id:?}");
                }
            }
        }
        for id in ["trạm-01", "trạm\u{85}", "a#ạ", "ạ+", "Hoàn Kiếm"] {
            assert_eq!(has_control_or_wildcard(id), by_characters(id), "{id:?}");
        }
    }
}
