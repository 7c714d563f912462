//! How an event is stored as bytes, shared by every backend so that an event means the same
//! thing in SQLite and in PostgreSQL, and how the SQLite journal packs the events of one commit
//! into a block ([`encode_block`], [`BLOCK_V1`]).
//!
//! Two event formats are read:
//! - **JSON** (a body starting with `{`): the first journal format, written by earlier
//!   releases. Data directories from those releases open as they are.
//! - **Binary v1** (a body starting with [`BINARY_V1`]): what is written now. Compact (about a
//!   quarter of the JSON) and decoded without building a JSON tree:
//!
//! ```text
//! 0x01 | flags u8 | source: str | area: str | kind u8 | ts_ms: zigzag varint
//!      | id: str (full id, or only the part after "{source}:{ts_ms}:" when flags say so)
//!      | [lat: number] [lon: number] | field count: varint | fields…
//! field  = name | value
//! name   = u8 index into KNOWN_NAMES (1-based), or 0 then str
//! value  = tag u8, then: nothing (null/false/true) · 8 bytes f64 LE · zigzag varint mantissa
//!          of a decimal (tags DECIMAL..DECIMAL+6 carry the scale) · zigzag varint i64 ·
//!          varint u64 · str · str of JSON (arrays, objects)
//! str    = varint byte length | UTF-8 bytes
//! ```
//!
//! Every value comes back exactly: a decimal is used only when dividing its mantissa by the
//! power of ten gives the very same `f64` bits, otherwise the eight bytes are stored. The
//! field-name table (`KNOWN_NAMES` in `event/values.rs`) and the tags are part of the format: append to them, never reorder.

use super::JournalError;
use crate::event::{Event, KNOWN_NAMES, Kind, Values, field_name, known_place};
use serde_json::{Number, Value};

/// First byte of a binary v1 body.
pub const BINARY_V1: u8 = 1;

const FLAG_ID_SUFFIX: u8 = 1;
const FLAG_LAT: u8 = 2;
const FLAG_LON: u8 = 4;

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_F64: u8 = 3;
const TAG_I64: u8 = 4;
const TAG_U64: u8 = 5;
const TAG_STRING: u8 = 6;
const TAG_JSON: u8 = 7;
/// Decimal with scale 0 (an integer-valued float); scales 1..=6 follow.
const TAG_DECIMAL: u8 = 8;
const MAX_SCALE: u8 = 6;

const POWERS_OF_TEN: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

/// Appends the stored form of `event` to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) -> Result<(), JournalError> {
    let prefix_len = id_prefix_len(event);
    let mut flags = 0;
    if prefix_len.is_some() {
        flags |= FLAG_ID_SUFFIX;
    }
    if event.lat.is_some() {
        flags |= FLAG_LAT;
    }
    if event.lon.is_some() {
        flags |= FLAG_LON;
    }
    out.push(BINARY_V1);
    out.push(flags);
    put_str(out, &event.source);
    put_str(out, &event.area);
    out.push(kind_code(event.kind));
    put_varint(out, zigzag(event.ts_ms));
    put_str(out, &event.id[prefix_len.unwrap_or(0)..]);
    for coordinate in [event.lat, event.lon].into_iter().flatten() {
        put_float(out, coordinate);
    }
    put_varint(out, event.values.len() as u64);
    for (name, value) in &event.values {
        match known_place(name) {
            Some(index) => out.push(index as u8 + 1),
            None => {
                out.push(0);
                put_str(out, name);
            }
        }
        put_value(out, value)?;
    }
    Ok(())
}

/// Reads an event back from its stored form (binary v1 or the JSON of earlier releases);
/// `seq` names the row in the error.
pub fn decode_event(seq: i64, body: &[u8]) -> Result<Event, JournalError> {
    match body.first() {
        Some(&BINARY_V1) => Reader { body, at: 1 }
            .event()
            .ok_or_else(|| corrupt(seq, "truncated or invalid binary event")),
        _ => serde_json::from_slice(body).map_err(|error| corrupt(seq, &error.to_string())),
    }
}

fn corrupt(seq: i64, message: &str) -> JournalError {
    JournalError::Corrupt {
        seq,
        message: message.to_string(),
    }
}

/// The length of `"{source}:{ts_ms}:"` when the id starts with it (derived ids and the
/// simulator's ids do): only the rest is stored.
fn id_prefix_len(event: &Event) -> Option<usize> {
    let rest = event.id.strip_prefix(event.source.as_str())?;
    let rest = rest.strip_prefix(':')?;
    let ts = event.ts_ms.to_string();
    let rest = rest.strip_prefix(ts.as_str())?;
    rest.strip_prefix(':')?;
    Some(event.source.len() + ts.len() + 2)
}

fn kind_code(kind: Kind) -> u8 {
    match kind {
        Kind::Traffic => 0,
        Kind::AirQuality => 1,
        Kind::WaterLevel => 2,
        Kind::Noise => 3,
        Kind::Report => 4,
        Kind::ReportUpdate => 5,
        Kind::Dossier => 6,
        Kind::Alert => 7,
    }
}

fn kind_of(code: u8) -> Option<Kind> {
    Some(match code {
        0 => Kind::Traffic,
        1 => Kind::AirQuality,
        2 => Kind::WaterLevel,
        3 => Kind::Noise,
        4 => Kind::Report,
        5 => Kind::ReportUpdate,
        6 => Kind::Dossier,
        7 => Kind::Alert,
        _ => return None,
    })
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// A float as the shortest exact decimal (mantissa and scale) or its eight bytes.
fn put_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        for scale in 0..=MAX_SCALE {
            let power = POWERS_OF_TEN[usize::from(scale)];
            let mantissa = (value * power).round();
            if mantissa.abs() < 9.0e15 && (mantissa / power).to_bits() == value.to_bits() {
                out.push(TAG_DECIMAL + scale);
                put_varint(out, zigzag(mantissa as i64));
                return;
            }
        }
    }
    out.push(TAG_F64);
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &Value) -> Result<(), JournalError> {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Number(number) => {
            if let Some(n) = number.as_i64() {
                out.push(TAG_I64);
                put_varint(out, zigzag(n));
            } else if let Some(n) = number.as_u64() {
                out.push(TAG_U64);
                put_varint(out, n);
            } else {
                put_float(out, number.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(text) => {
            out.push(TAG_STRING);
            put_str(out, text);
        }
        Value::Array(_) | Value::Object(_) => {
            let json =
                serde_json::to_string(value).map_err(|error| corrupt(0, &error.to_string()))?;
            out.push(TAG_JSON);
            put_str(out, &json);
        }
    }
    Ok(())
}

/// A cursor over a binary body; every read returns `None` past the end.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.body.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0_u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let slice = self.body.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(slice)
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.varint()?).ok()?;
        std::str::from_utf8(self.bytes(len)?).ok()
    }

    fn float_after(&mut self, tag: u8) -> Option<f64> {
        if tag == TAG_F64 {
            let bytes: [u8; 8] = self.bytes(8)?.try_into().ok()?;
            return Some(f64::from_le_bytes(bytes));
        }
        let scale = tag.checked_sub(TAG_DECIMAL).filter(|s| *s <= MAX_SCALE)?;
        let mantissa = unzigzag(self.varint()?) as f64;
        Some(mantissa / POWERS_OF_TEN[usize::from(scale)])
    }

    fn float(&mut self) -> Option<f64> {
        let tag = self.byte()?;
        self.float_after(tag)
    }

    fn value(&mut self) -> Option<Value> {
        let tag = self.byte()?;
        Some(match tag {
            TAG_NULL => Value::Null,
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_I64 => Value::from(unzigzag(self.varint()?)),
            TAG_U64 => Value::from(self.varint()?),
            TAG_STRING => Value::String(self.str()?.to_string()),
            TAG_JSON => serde_json::from_str(self.str()?).ok()?,
            _ => Value::Number(Number::from_f64(self.float_after(tag)?)?),
        })
    }

    fn event(mut self) -> Option<Event> {
        let flags = self.byte()?;
        let source = self.str()?.to_string();
        let area = self.str()?.to_string();
        let kind = kind_of(self.byte()?)?;
        let ts_ms = unzigzag(self.varint()?);
        let id_part = self.str()?;
        let id = if flags & FLAG_ID_SUFFIX != 0 {
            format!("{source}:{ts_ms}:{id_part}")
        } else {
            id_part.to_string()
        };
        let lat = if flags & FLAG_LAT != 0 {
            Some(self.float()?)
        } else {
            None
        };
        let lon = if flags & FLAG_LON != 0 {
            Some(self.float()?)
        } else {
            None
        };
        let fields = usize::try_from(self.varint()?).ok()?;
        // A field count beyond the body's length is damage, not a reason to reserve memory.
        let mut values = Values::with_capacity(fields.min(self.body.len().saturating_sub(self.at)));
        // Known names seen so far, one bit each: a known name met for the first time, before
        // any name spelled out, cannot be in `values` yet, and is appended without a search.
        let mut known_seen = 0_u64;
        let mut spelled_out = false;
        for _ in 0..fields {
            let code = self.byte()?;
            let name = match code {
                0 => field_name(self.str()?),
                index => std::borrow::Cow::Borrowed(*KNOWN_NAMES.get(usize::from(index) - 1)?),
            };
            let value = self.value()?;
            let bit = 1_u64.checked_shl(u32::from(code)).unwrap_or(0);
            if code != 0 && bit != 0 && known_seen & bit == 0 && !spelled_out {
                known_seen |= bit;
                values.push_absent(name, value);
            } else {
                spelled_out |= code == 0;
                values.insert(name, value);
            }
        }
        (self.at == self.body.len()).then_some(Event {
            id,
            source,
            kind,
            area,
            ts_ms,
            lat,
            lon,
            values,
        })
    }
}

/// First byte of a block: the events of one commit, stored in one journal row (the SQLite
/// journal's `event_blocks`).
///
/// ```text
/// 0x02 | raw length: varint | zstd frame of:
///      count: varint | count × (seq step: varint | length: varint | event in binary v1)
/// ```
///
/// The first seq step is counted from the block's number (the seq of its first event when it
/// was written), each following one from the previous event's seq; steps are 0 or more for the
/// first and 1 or more after, so compaction can take events out of a block and keep the rest
/// under their seqs.
pub const BLOCK_V1: u8 = 2;

/// zstd level for blocks: the fastest level already shrinks a block to about a third (area,
/// source and field names repeat from event to event), at a few percent of a core.
const BLOCK_ZSTD_LEVEL: i32 = 1;

/// Largest raw block a reader accepts: a commit holds at most a few thousand events of at most
/// the payload limit each; a bigger claim means a damaged row, not a real block.
const MAX_RAW_BLOCK: u64 = 1 << 31;

thread_local! {
    /// One zstd context per thread, made on first use: creating one per block took a third of
    /// the compression time at low rates (B11's profile), where blocks are small and many.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    /// The same for reading blocks back (replay, compaction, history).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Stores `events` (seq, event; seqs increasing, the first at or above `block`) as one block.
pub fn encode_block(block: i64, events: &[(i64, &Event)]) -> Result<Vec<u8>, JournalError> {
    let mut raw = Vec::with_capacity(events.len() * 96 + 8);
    put_varint(&mut raw, events.len() as u64);
    let mut event_bytes = Vec::with_capacity(256);
    let mut previous = block;
    for (index, (seq, event)) in events.iter().enumerate() {
        let step = seq - previous;
        if step < 0 || (index > 0 && step == 0) {
            return Err(corrupt(*seq, "block seqs must increase"));
        }
        put_varint(&mut raw, step as u64);
        previous = *seq;
        event_bytes.clear();
        encode_event(event, &mut event_bytes)?;
        put_varint(&mut raw, event_bytes.len() as u64);
        raw.extend_from_slice(&event_bytes);
    }
    let packed = COMPRESSOR
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            let compressor = match slot.as_mut() {
                Some(compressor) => compressor,
                None => slot.insert(zstd::bulk::Compressor::new(BLOCK_ZSTD_LEVEL)?),
            };
            compressor.compress(&raw)
        })
        .map_err(|error| corrupt(block, &format!("compressing a block: {error}")))?;
    let mut body = Vec::with_capacity(packed.len() + 10);
    body.push(BLOCK_V1);
    put_varint(&mut body, raw.len() as u64);
    body.extend_from_slice(&packed);
    Ok(body)
}

/// Reads a block back: each event with its seq, in seq order. `block` is the row's number,
/// used for the seqs and to name the row in errors.
pub fn decode_block(block: i64, body: &[u8]) -> Result<Vec<(i64, Event)>, JournalError> {
    let mut header = Reader { body, at: 0 };
    if header.byte() != Some(BLOCK_V1) {
        return Err(corrupt(block, "not a journal block"));
    }
    let raw_len = header
        .varint()
        .filter(|len| *len <= MAX_RAW_BLOCK)
        .ok_or_else(|| corrupt(block, "invalid block length"))?;
    let raw = DECOMPRESSOR
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            let decompressor = match slot.as_mut() {
                Some(decompressor) => decompressor,
                None => slot.insert(zstd::bulk::Decompressor::new()?),
            };
            decompressor.decompress(&body[header.at..], raw_len as usize)
        })
        .map_err(|error| corrupt(block, &format!("decompressing a block: {error}")))?;
    let mut reader = Reader { body: &raw, at: 0 };
    let count = reader
        .varint()
        .ok_or_else(|| corrupt(block, "truncated block"))?;
    let mut events = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 16));
    let mut seq = block;
    for _ in 0..count {
        let step = reader
            .varint()
            .and_then(|step| i64::try_from(step).ok())
            .ok_or_else(|| corrupt(seq, "truncated block"))?;
        seq = seq
            .checked_add(step)
            .ok_or_else(|| corrupt(block, "seq overflow in block"))?;
        let len = reader
            .varint()
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| corrupt(seq, "truncated block"))?;
        let bytes = reader
            .bytes(len)
            .ok_or_else(|| corrupt(seq, "truncated block"))?;
        events.push((seq, decode_event(seq, bytes)?));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn roundtrip(event: &Event) -> Event {
        let mut body = Vec::new();
        encode_event(event, &mut body).expect("encode");
        decode_event(1, &body).expect("decode")
    }

    fn reading() -> Event {
        Event {
            id: "hn-aq-0042:1764400000000:17".into(),
            source: "hn-aq-0042".into(),
            kind: Kind::AirQuality,
            area: "hoan-kiem".into(),
            ts_ms: 1_764_400_000_000,
            lat: Some(21.029),
            lon: Some(105.853),
            values: json!({"pm25": 48.2, "pm10": 71.0, "co": 812.0, "humidity": 0.71,
                           "temperature": -3.5, "odd": 0.1 + 0.2, "neg_zero": -0.0})
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into(),
        }
    }

    #[test]
    fn a_reading_comes_back_exactly_and_small() {
        let event = reading();
        assert_eq!(roundtrip(&event), event);
        let mut body = Vec::new();
        encode_event(&event, &mut body).expect("encode");
        let json = serde_json::to_vec(&event).expect("json");
        assert!(
            body.len() * 2 < json.len(),
            "{} vs {}",
            body.len(),
            json.len()
        );
    }

    #[test]
    fn reports_alerts_and_foreign_ids_come_back_exactly() {
        let event = Event {
            id: "app-7/Xyz".into(),
            source: "app-7".into(),
            kind: Kind::Alert,
            area: "ba-dinh".into(),
            ts_ms: -5,
            lat: None,
            lon: Some(105.0),
            values: json!({"description": "Ngập sâu 30 cm", "nested": {"a": [1, 2.5, null]},
                           "big": u64::MAX, "neg": -7, "on_time": true, "nothing": null})
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into(),
        };
        assert_eq!(roundtrip(&event), event);
    }

    #[test]
    fn json_bodies_of_earlier_releases_still_read() {
        let event = reading();
        let json = serde_json::to_vec(&event).expect("json");
        assert_eq!(decode_event(3, &json).expect("decode"), event);
    }

    #[test]
    fn truncated_and_trailing_bodies_are_refused() {
        let mut body = Vec::new();
        encode_event(&reading(), &mut body).expect("encode");
        for cut in 1..body.len() {
            assert!(decode_event(9, &body[..cut]).is_err(), "cut at {cut}");
        }
        body.push(0);
        assert!(matches!(
            decode_event(9, &body),
            Err(JournalError::Corrupt { seq: 9, .. })
        ));
    }

    proptest! {
        #[test]
        fn any_number_survives(value in any::<f64>().prop_filter("finite", |v| v.is_finite()),
                               ts in any::<i64>(), int in any::<i64>()) {
            let mut event = reading();
            event.ts_ms = ts;
            event.id = format!("{}:{ts}:x", event.source);
            event.lat = Some(value);
            event.values = json!({"v": value, "i": int}).as_object().cloned().unwrap_or_default().into();
            prop_assert_eq!(roundtrip(&event), event);
        }
    }

    #[test]
    fn a_block_keeps_every_event_under_its_seq_and_refuses_damage() {
        let first = reading();
        let mut second = reading();
        second.id = "citizen-report-7".into();
        second.kind = Kind::Report;
        second.lat = None;
        let events = [(40, &first), (41, &second), (45, &first)];
        let body = encode_block(40, &events).expect("encode");
        let back = decode_block(40, &body).expect("decode");
        assert_eq!(
            back,
            vec![
                (40, first.clone()),
                (41, second.clone()),
                (45, first.clone())
            ]
        );
        // A block whose first event sits above its number (the first was compacted away).
        let body = encode_block(40, &[(43, &second)]).expect("encode");
        assert_eq!(
            decode_block(40, &body).expect("decode"),
            vec![(43, second.clone())]
        );
        // Seqs that do not increase, a cut body and a foreign byte are errors, not panics.
        assert!(encode_block(40, &[(41, &first), (41, &first)]).is_err());
        assert!(encode_block(40, &[(39, &first)]).is_err());
        let body = encode_block(40, &events).expect("encode");
        assert!(decode_block(40, &body[..body.len() - 3]).is_err());
        assert!(decode_block(40, &body[1..]).is_err());
        assert!(decode_block(40, &[]).is_err());
    }
}
