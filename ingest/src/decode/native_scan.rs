//! The usual native message read by hand: one pass over the text, no serde machinery.
//!
//! Nearly every message a city sends is a flat native object — eight known keys, strings
//! without escapes, short decimal numbers, a `values` object of numbers, booleans and short
//! strings — and serde's generic reader spent about 0.6 µs on each (B2's profile in
//! BENCHMARKS.md, "Tenth round"). [`scan`] reads exactly that shape and gives up (`None`) at
//! anything else: an escape, a key it does not know or that comes twice, a nested value, a
//! number it cannot turn into the same `f64` serde_json gives. The caller then reads the
//! message the serde way, so a message's meaning never depends on which reader took it (a
//! property test in `native.rs` holds the two to the same drafts).

use super::native::TimeField;
use super::{Draft, kind_name};
use crate::bytewise;
use crate::event::{KnownSet, Values};
use crate::reject::Rejection;
use serde_json::{Number, Value};

/// Powers of ten that an `f64` holds exactly: a significand below 2^53 multiplied or divided by
/// one of them is rounded once, so the result is the correctly rounded value of the decimal.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Most digits a decimal's significand may have here: 10^15 < 2^53, so it converts exactly.
const MAX_EXACT_DIGITS: usize = 15;

/// Most digits an integer may have here: 10^18 < 2^63, so it fits `u64` and `i64` alike.
const MAX_INTEGER_DIGITS: usize = 18;

/// Most digits a decimal exponent may have here: 10^9 < 2^31, so it fits `i32` (any exponent
/// beyond ±22 is left to serde's reader anyway).
const MAX_EXPONENT_DIGITS: usize = 9;

/// Reads a flat native object; `None` when the text is not one this reader takes.
pub(super) fn scan(text: &str) -> Option<Result<Draft, Rejection>> {
    let mut cursor = Cursor {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut fields = Fields::default();
    cursor.require(b'{')?;
    if !cursor.eat(b'}') {
        loop {
            let key = cursor.key()?;
            cursor.require(b':')?;
            fields.read(key, &mut cursor)?;
            if cursor.eat(b'}') {
                break;
            }
            cursor.require(b',')?;
        }
    }
    cursor.skip_space();
    if cursor.at != cursor.bytes.len() {
        return None;
    }
    fields.into_draft()
}

/// The top-level fields read so far; a key read twice gives up (serde's reader refuses it).
#[derive(Default)]
struct Fields<'a> {
    id: Option<Option<&'a str>>,
    source: Option<Option<&'a str>>,
    kind: Option<Option<&'a str>>,
    area: Option<Option<&'a str>>,
    ts: Option<Option<TimeField<'a>>>,
    lat: Option<Option<f64>>,
    lon: Option<Option<f64>>,
    values: Option<Values>,
}

/// A key of the native object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Source,
    Kind,
    Area,
    Ts,
    Lat,
    Lon,
    Values,
}

impl Key {
    /// Every key with its text as written between the quotes, closing quote included.
    const QUOTED: [(Key, &'static [u8]); 8] = [
        (Key::Id, b"id\""),
        (Key::Source, b"source\""),
        (Key::Kind, b"kind\""),
        (Key::Area, b"area\""),
        (Key::Ts, b"ts\""),
        (Key::Lat, b"lat\""),
        (Key::Lon, b"lon\""),
        (Key::Values, b"values\""),
    ];

    /// Each of [`Key::QUOTED`] as the word its bytes make (read as [`bytewise::word_at`]
    /// reads text) and the mask of those bytes: a key is then one comparison, not a call to
    /// `memcmp` (a hundredth of B2's time in its profile).
    const WORDS: [(u64, u64); 8] = {
        let mut words = [(0, 0); 8];
        let mut at = 0;
        while at < words.len() {
            let quoted = Key::QUOTED[at].1;
            assert!(quoted.len() <= bytewise::WORD, "a key fits a word");
            let mut byte = 0;
            while byte < quoted.len() {
                words[at].0 |= (quoted[byte] as u64) << (8 * byte);
                words[at].1 |= 0xff << (8 * byte);
                byte += 1;
            }
            at += 1;
        }
        words
    };
}

impl<'a> Fields<'a> {
    /// Reads the value of `key`.
    fn read(&mut self, key: Key, cursor: &mut Cursor<'a>) -> Option<()> {
        match key {
            Key::Id => once(&mut self.id, cursor.optional_string()?),
            Key::Source => once(&mut self.source, cursor.optional_string()?),
            Key::Kind => once(&mut self.kind, cursor.optional_string()?),
            Key::Area => once(&mut self.area, cursor.optional_string()?),
            Key::Ts => once(&mut self.ts, cursor.optional_time()?),
            Key::Lat => once(&mut self.lat, cursor.optional_number()?),
            Key::Lon => once(&mut self.lon, cursor.optional_number()?),
            Key::Values => once(&mut self.values, cursor.values()?),
        }
    }

    /// The draft, as serde's reader of the same text makes it.
    fn into_draft(self) -> Option<Result<Draft, Rejection>> {
        let values = self.values?;
        let ts_ms = match self
            .ts
            .flatten()
            .as_ref()
            .map(TimeField::epoch_ms)
            .transpose()
        {
            Ok(ts_ms) => ts_ms,
            Err(rejection) => return Some(Err(rejection)),
        };
        Some(Ok(Draft {
            id: self.id.flatten().map(str::to_string),
            source: self.source.flatten().map(str::to_string),
            kind: self.kind.flatten().map(kind_name),
            area: self.area.flatten().map(str::to_string),
            ts_ms,
            lat: self.lat.flatten(),
            lon: self.lon.flatten(),
            values,
        }))
    }
}

/// Sets a field read for the first time; `None` when it was read before.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// A JSON value that is neither an object nor an array, strings borrowed from the text.
enum Scalar<'a> {
    Text(&'a str),
    Number(Number),
    Bool(bool),
}

/// A position in the text.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after any space, not taken.
    fn peek(&mut self) -> Option<u8> {
        // Devices send compact JSON: the next byte is rarely a space, and one comparison
        // says so (every space and control byte is at or below it).
        let next = *self.bytes.get(self.at)?;
        if next > b' ' {
            return Some(next);
        }
        self.skip_space();
        self.bytes.get(self.at).copied()
    }

    /// Takes `byte` if it comes next (after any space).
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// Takes `byte`, which must come next (after any space).
    fn require(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Takes `word` (`true`, `false`, `null`) if it comes next.
    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end) == Some(word)).then(|| self.at = end)
    }

    /// A key of the native object, matched in place: its first byte names the one key it can
    /// be, and the rest of that key and its closing quote must follow. Nothing is searched or
    /// sliced (reading each key as a string and matching it was about 100 instructions a key,
    /// eight keys an event, in B2's profile). Any other key, or an escape in one, gives up.
    fn key(&mut self) -> Option<Key> {
        self.require(b'"')?;
        let rest = self.bytes.get(self.at..)?;
        let candidate = match rest.first()? {
            b'i' => 0,
            b's' => 1,
            b'k' => 2,
            b'a' => 3,
            b't' => 4,
            b'l' if rest.get(1) == Some(&b'a') => 5,
            b'l' => 6,
            b'v' => 7,
            _ => return None,
        };
        let (key, quoted) = Key::QUOTED.get(candidate)?;
        let (word, mask) = Key::WORDS.get(candidate)?;
        let matched = match bytewise::word_at(rest, 0) {
            Some(next) => next & mask == *word,
            // Fewer than eight bytes left: the object ends there, byte by byte.
            None => rest.starts_with(quoted),
        };
        if !matched {
            return None;
        }
        self.at += quoted.len();
        Some(*key)
    }

    /// A string without escapes or control characters, borrowed from the text.
    fn string(&mut self) -> Option<&'a str> {
        self.require(b'"')?;
        let start = self.at;
        self.at += plain_len(self.bytes.get(start..)?);
        if *self.bytes.get(self.at)? != b'"' {
            // An escape or a control character: serde's reader decides.
            return None;
        }
        // Both ends are ASCII quotes, so the slice falls on character boundaries.
        let text = self.text.get(start..self.at)?;
        self.at += 1;
        Some(text)
    }

    /// A scalar value (`null` is `None`); an object or array gives up.
    ///
    /// Inlined into each reader of a field, where the value's type is then matched at once:
    /// as a call, building and returning the nested option cost about 60 instructions a value
    /// in B2's profile.
    #[inline(always)]
    fn scalar(&mut self) -> Option<Option<Scalar<'a>>> {
        match self.peek()? {
            b'"' => self.string().map(|text| Some(Scalar::Text(text))),
            b'n' => self.word(b"null").map(|()| None),
            b't' => self.word(b"true").map(|()| Some(Scalar::Bool(true))),
            b'f' => self.word(b"false").map(|()| Some(Scalar::Bool(false))),
            b'-' | b'0'..=b'9' => self.number().map(|n| Some(Scalar::Number(n))),
            _ => None,
        }
    }

    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        match self.scalar()? {
            None => Some(None),
            Some(Scalar::Text(text)) => Some(Some(text)),
            Some(_) => None,
        }
    }

    fn optional_time(&mut self) -> Option<Option<TimeField<'a>>> {
        match self.scalar()? {
            None => Some(None),
            Some(Scalar::Text(text)) => Some(Some(TimeField::Text(text.into()))),
            Some(Scalar::Number(n)) => Some(Some(TimeField::Number(n))),
            Some(Scalar::Bool(_)) => None,
        }
    }

    fn optional_number(&mut self) -> Option<Option<f64>> {
        match self.scalar()? {
            None => Some(None),
            Some(Scalar::Number(n)) => n.as_f64().map(Some),
            Some(_) => None,
        }
    }

    /// The `values` object; a repeated name keeps its last value in its first place, as
    /// [`Values`]' own reader does.
    fn values(&mut self) -> Option<Values> {
        self.require(b'{')?;
        let mut values = Values::with_capacity(8);
        if self.eat(b'}') {
            return Some(values);
        }
        let mut read = KnownSet::default();
        loop {
            let name = self.string()?;
            self.require(b':')?;
            let value = match self.scalar()? {
                None => Value::Null,
                Some(Scalar::Text(text)) => Value::String(text.to_string()),
                Some(Scalar::Number(n)) => Value::Number(n),
                Some(Scalar::Bool(b)) => Value::Bool(b),
            };
            values.insert_read(&mut read, name, value);
            if self.eat(b'}') {
                return Some(values);
            }
            self.require(b',')?;
        }
    }

    /// A JSON number as serde_json reads it: an integer without fraction or exponent is a
    /// `u64` (an `i64` when negative, `-0` the float −0.0), anything else an `f64`. Gives up on
    /// what it cannot convert exactly: more than 18 integer digits, more than 15 significant
    /// digits in a decimal, or a decimal exponent beyond ±22.
    fn number(&mut self) -> Option<Number> {
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let leading_zero = self.bytes.get(self.at) == Some(&b'0');
        let mut significand = 0_u64;
        let int_digits = self.digits(&mut significand);
        // JSON needs a digit and allows no leading zero before others.
        if int_digits == 0 || (leading_zero && int_digits > 1) {
            return None;
        }
        let mut exponent: i32 = 0;
        let mut significant_digits = int_digits;
        let mut decimal = false;
        if self.bytes.get(self.at) == Some(&b'.') {
            decimal = true;
            self.at += 1;
            let frac_digits = self.digits(&mut significand);
            if frac_digits == 0 {
                return None;
            }
            significant_digits += frac_digits;
            exponent -= i32::try_from(frac_digits).ok()?;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            decimal = true;
            self.at += 1;
            let exp_negative = match self.bytes.get(self.at) {
                Some(b'-') => {
                    self.at += 1;
                    true
                }
                Some(b'+') => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let mut written = 0_u64;
            let exp_digits = self.digits(&mut written);
            if exp_digits == 0 || exp_digits > MAX_EXPONENT_DIGITS {
                return None;
            }
            let written = i32::try_from(written).ok()?;
            exponent = exponent.checked_add(if exp_negative { -written } else { written })?;
        }
        if !decimal {
            if int_digits > MAX_INTEGER_DIGITS {
                return None;
            }
            return match (negative, significand) {
                (false, n) => Some(Number::from(n)),
                (true, 0) => Number::from_f64(-0.0),
                (true, n) => i64::try_from(n).ok().map(|n| Number::from(-n)),
            };
        }
        if significant_digits > MAX_EXACT_DIGITS {
            return None;
        }
        let power = *EXACT_POWERS_OF_TEN.get(exponent.unsigned_abs() as usize)?;
        // Both operands are exact, so this one operation rounds once: the correctly rounded
        // value, which is what serde_json gives for the same text.
        let magnitude = if exponent >= 0 {
            significand as f64 * power
        } else {
            significand as f64 / power
        };
        Number::from_f64(if negative { -magnitude } else { magnitude })
    }

    /// Takes ASCII digits, appending them to `value`; returns how many there were. Past 19
    /// digits `value` wraps around, unchecked (a check per digit showed in B2's profile):
    /// every caller gives up on more digits than it can use before it reads `value`
    /// ([`MAX_INTEGER_DIGITS`], [`MAX_EXACT_DIGITS`], [`MAX_EXPONENT_DIGITS`]).
    fn digits(&mut self, value: &mut u64) -> usize {
        let start = self.at;
        while let Some(&digit @ b'0'..=b'9') = self.bytes.get(self.at) {
            *value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
            self.at += 1;
        }
        self.at - start
    }
}

/// How many bytes of `bytes` come before the first quote, backslash or control character (all
/// of them when there is none).
///
/// Looks at eight bytes at a time ([`crate::bytewise`]): every id, source and time the scanner
/// reads is a string, and a byte-by-byte search was a sixth of the scanner in B2's profile. The
/// word holding the stop gives its place at once; only the last few bytes of the text, fewer
/// than a word, go one by one.
fn plain_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(word) = bytewise::word_at(bytes, at) {
        let stops = bytewise::equal_to(word, b'"')
            | bytewise::equal_to(word, b'\\')
            | bytewise::below(word, 0x20);
        if stops != 0 {
            return at + bytewise::first_flagged(stops);
        }
        at += bytewise::WORD;
    }
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Option<Number> {
        let mut cursor = Cursor {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let n = cursor.number()?;
        (cursor.at == text.len()).then_some(n)
    }

    #[test]
    fn numbers_are_those_serde_json_reads() {
        for text in [
            "0",
            "17",
            "-17",
            "-0",
            "0.5",
            "-0.0",
            "35.50",
            "1e2",
            "1E+2",
            "2.5e-3",
            "123456789012345678",
            "-123456789012345678",
            "0.1",
            "21.0285",
            "105.8542",
            "999999999999999e22",
            "1e-22",
            "1e000000001",
            "25E-000000002",
        ] {
            let expected: Number = serde_json::from_str(text).expect(text);
            assert_eq!(number(text), Some(expected.clone()), "{text}");
            assert_eq!(
                number(text).and_then(|n| n.as_f64()).map(f64::to_bits),
                expected.as_f64().map(f64::to_bits),
                "{text}"
            );
        }
        for text in [
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1234567890123456789",
            "1e23",
            "0.1234567890123456",
            "1e1000",
            "0.30000000000000004",
            // Past what a `u64` holds, where the digits' value wraps around: given up first.
            "18446744073709551616",
            "-99999999999999999999999",
            "0.00000000000000000000000001",
            "1e0000000001",
            "1e18446744073709551617",
        ] {
            assert_eq!(number(text), None, "{text}");
        }
    }

    #[test]
    fn the_plain_length_is_that_of_a_byte_by_byte_search() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(bytes.len())
        };
        // Each stop byte, and bytes next to the tests' edges (0x1f/0x20, 0x21/0x23, 0x5b/0x5d,
        // 0x7f, 0x80, 0xff), at every place of words of up to three chunks.
        let others = [b'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa0, 0xff];
        for stop in [b'"', b'\\', 0x00, 0x01, 0x1f, b'a'] {
            for filler in others {
                for len in 0..24 {
                    for place in 0..=len {
                        let mut bytes = vec![filler; len];
                        if place < len {
                            bytes[place] = stop;
                        }
                        assert_eq!(plain_len(&bytes), naive(&bytes), "{bytes:?}");
                    }
                }
            }
        }
        let text = "Hoàn Kiếm, phường Hàng Bạc \"x\"".as_bytes();
        assert_eq!(plain_len(text), naive(text));
    }

    #[test]
    fn the_simulators_message_is_read_here() {
        let text = r#"{"id":"aq-7:1795338000000:air_quality","source":"aq-7","kind":"air_quality","area":"hoan-kiem","ts":"2026-11-22T09:00:00.000Z","lat":21.0285,"lon":105.8542,"values":{"pm25":35.5,"pm10":51,"humidity":0.62}}"#;
        let draft = scan(text).expect("taken").expect("draft");
        assert_eq!(draft.id.as_deref(), Some("aq-7:1795338000000:air_quality"));
        assert_eq!(draft.kind.as_deref(), Some("air_quality"));
        assert_eq!(draft.ts_ms, Some(1_795_338_000_000));
        assert_eq!((draft.lat, draft.lon), (Some(21.0285), Some(105.8542)));
        assert_eq!(
            draft.values.keys().collect::<Vec<_>>(),
            ["pm25", "pm10", "humidity"]
        );
    }

    /// Each key is read as itself, and a key that differs from a known one in any byte, or is
    /// a prefix or an extension of one, is not taken: at the end of the text (compared byte by
    /// byte) and with the rest of an object after it (compared as a word).
    #[test]
    fn keys_are_matched_whole() {
        let read = |text: &str| {
            let mut cursor = Cursor {
                text,
                bytes: text.as_bytes(),
                at: 0,
            };
            cursor.key().map(|key| (key, cursor.at))
        };
        for (key, quoted) in Key::QUOTED {
            let text = format!("\"{}", String::from_utf8_lossy(quoted));
            assert_eq!(read(&text), Some((key, text.len())), "{text}");
            let followed = format!("{text}:12345678}}");
            assert_eq!(read(&followed), Some((key, text.len())), "{followed}");
            let name = &quoted[..quoted.len() - 1];
            let mut others = vec![
                format!("\"{}\"", String::from_utf8_lossy(&name[..name.len() - 1])),
                format!("\"{}s\"", String::from_utf8_lossy(name)),
                format!("\"{}", String::from_utf8_lossy(name)),
            ];
            for place in 0..name.len() {
                let mut changed = name.to_vec();
                changed[place] ^= 0x20;
                others.push(format!("\"{}\"", String::from_utf8_lossy(&changed)));
            }
            for other in others {
                assert_eq!(read(&other), None, "{other}");
                let followed = format!("{other}:12345678}}");
                assert_eq!(read(&followed), None, "{followed}");
            }
        }
        assert!(scan(r#"{"i\u0064":"a","values":{}}"#).is_none());
    }

    #[test]
    fn other_shapes_are_left_to_serde() {
        for text in [
            r#"{"id":"a\"b","values":{}}"#,
            r#"{"id":"a","id":"b","values":{}}"#,
            r#"{"type":"AirQualityObserved","values":{}}"#,
            r#"{"values":{"pm25":[1]}}"#,
            r#"{"values":{}} x"#,
            r#"{"lat":"21","values":{}}"#,
            r#"{"ts":true,"values":{}}"#,
            r#"{"id":"a"}"#,
        ] {
            assert!(scan(text).is_none(), "{text}");
        }
    }
}
