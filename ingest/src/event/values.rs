//! An event's fields: a small ordered list of names and JSON values.
//!
//! Events carry a handful of fields (three to eight for telemetry), and the engine looks them
//! up, copies and drops millions of them a second during replay. A `serde_json::Map` costs an
//! allocation per name, a hash table per event and a SipHash per lookup; here the names the
//! engine knows are `&'static str` (no allocation), the fields sit in one vector, and a lookup
//! compares a few short strings. In JSON an event's fields are the same object as before.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A field's name: one of [`KNOWN_NAMES`] without an allocation, or any other text owned.
pub type FieldName = Cow<'static, str>;

/// Declares [`KNOWN_NAMES`] and [`known_place`] from one list of `place => name`, so the table
/// and the match that finds a name's place cannot disagree (the places must count up from 0,
/// which the compiler checks).
macro_rules! known_names {
    ($($place:literal => $name:literal,)*) => {
        /// Field names the engine knows: every kind's fields, the report fields and the alert
        /// fields.
        ///
        /// The journal stores a name from this table as its position (one byte), so the table
        /// is part of the journal's binary format: append to it, never reorder or remove.
        pub const KNOWN_NAMES: [&str; [$($place),*].len()] = [$($name),*];

        // Each name sits at its written place.
        const _: () = {
            let places: [usize; KNOWN_NAMES.len()] = [$($place),*];
            let mut at = 0;
            while at < places.len() {
                assert!(places[at] == at, "known names are listed at places 0, 1, 2, …");
                at += 1;
            }
        };

        /// The place of `name` in [`KNOWN_NAMES`], if it is a known name.
        ///
        /// A `match` on the name: the compiler compares its length, then its bytes as a few
        /// words against constants, with no call (every field of every decoded event and of
        /// every journaled one comes through here; a table search called `memcmp` for each
        /// name of the same length, about 2 % of B2's time in its profile).
        pub(crate) fn known_place(name: &str) -> Option<usize> {
            match name {
                $($name => Some($place),)*
                _ => None,
            }
        }
    };
}

known_names! {
    0 => "intensity",
    1 => "speed",
    2 => "occupancy",
    3 => "congested",
    4 => "pm25",
    5 => "pm10",
    6 => "no2",
    7 => "o3",
    8 => "co",
    9 => "so2",
    10 => "temperature",
    11 => "humidity",
    12 => "level_cm",
    13 => "alert_cm",
    14 => "danger_cm",
    15 => "laeq",
    16 => "lamax",
    17 => "service",
    18 => "channel",
    19 => "level",
    20 => "stage",
    21 => "on_time",
    22 => "agency",
    23 => "service_code",
    24 => "description",
    25 => "media_url",
    26 => "address",
    27 => "status",
    28 => "email",
    29 => "phone",
    30 => "first_name",
    31 => "last_name",
    32 => "device_id",
    33 => "account_id",
    34 => "report_id",
    35 => "rating",
    36 => "by",
    37 => "note",
    38 => "rule",
    39 => "alert_id",
}

/// `name` as a [`FieldName`]: borrowed from [`KNOWN_NAMES`] when it is there.
pub fn field_name(name: &str) -> FieldName {
    match known_place(name).and_then(|place| KNOWN_NAMES.get(place)) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(name.to_string()),
    }
}

/// A set of places in [`KNOWN_NAMES`] (one bit each): which known fields a decoder has read,
/// so the next one is appended without searching the fields already there.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KnownSet(u64);

// Every place of `KNOWN_NAMES` has its bit in a `KnownSet`.
const _: () = assert!(KNOWN_NAMES.len() <= u64::BITS as usize);

impl KnownSet {
    /// Adds `place`; false when it was already there.
    pub(crate) fn insert(&mut self, place: usize) -> bool {
        let bit = 1_u64 << (place % u64::BITS as usize);
        let absent = self.0 & bit == 0;
        self.0 |= bit;
        absent
    }
}

/// Whether two field names are the same. Names from [`KNOWN_NAMES`] are the same string in
/// every event, so their addresses usually settle it; otherwise the length and first byte
/// settle most pairs before the rest is compared.
pub fn same_field_name(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b)
        || (a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b)
}

/// The fields of one event, in the order they were added; a name appears at most once.
#[derive(Default)]
pub struct Values {
    fields: Vec<(FieldName, Value)>,
}

impl Clone for Values {
    fn clone(&self) -> Self {
        Self {
            fields: self.fields.clone(),
        }
    }

    /// Reuses this vector's storage: a sensor's latest fields are overwritten by its next
    /// reading without an allocation. A sensor sends the same fields every time, so when the
    /// names are the same only the values are copied, and a number or a boolean is copied
    /// in place (the generic copy of each name and value, and the drop of the old ones, cost
    /// about 550 instructions per event in B2's profile).
    fn clone_from(&mut self, source: &Self) {
        let same_names = self.fields.len() == source.fields.len()
            && self
                .fields
                .iter()
                .zip(&source.fields)
                .all(|((mine, _), (theirs, _))| same_field_name(mine, theirs));
        if !same_names {
            self.fields.clone_from(&source.fields);
            return;
        }
        for ((_, mine), (_, theirs)) in self.fields.iter_mut().zip(&source.fields) {
            match (mine, theirs) {
                (Value::Number(mine), Value::Number(theirs)) => mine.clone_from(theirs),
                (Value::Bool(mine), Value::Bool(theirs)) => *mine = *theirs,
                (mine, theirs) => mine.clone_from(theirs),
            }
        }
    }
}

impl Values {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// No fields, with room for `capacity` of them.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// The value of `name`, if the event has that field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(field, _)| same_field_name(field, name))
            .map(|(_, value)| value)
    }

    /// The value of `name` to change in place, if the event has that field.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.fields
            .iter_mut()
            .find(|(field, _)| same_field_name(field, name))
            .map(|(_, value)| value)
    }

    /// Whether the event has a field `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`; returns the value it replaces (the field keeps its place).
    pub fn insert(&mut self, name: impl Into<FieldName>, value: Value) -> Option<Value> {
        let name = name.into();
        match self.get_mut(&name) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.fields.push((name, value));
                None
            }
        }
    }

    /// Appends `name`, which the caller knows is not among the fields yet (a decoder that
    /// tracks the names it has read): no search.
    pub(crate) fn push_absent(&mut self, name: FieldName, value: Value) {
        debug_assert!(!self.contains_key(&name), "{name} is already a field");
        self.fields.push((name, value));
    }

    /// Sets the field `name` to `value` as [`Values::insert`] does, for a decoder reading one
    /// object: a known name not in `read` yet is appended without a search of the fields
    /// there (the usual case: every name of a device's message is known and comes once).
    pub(crate) fn insert_read(&mut self, read: &mut KnownSet, name: &str, value: Value) {
        let known = known_place(name).and_then(|place| Some((place, *KNOWN_NAMES.get(place)?)));
        match known {
            Some((place, known)) if read.insert(place) => {
                self.push_absent(Cow::Borrowed(known), value)
            }
            Some((_, known)) => {
                self.insert(Cow::Borrowed(known), value);
            }
            None => {
                self.insert(Cow::Owned(name.to_string()), value);
            }
        }
    }

    /// Keeps the fields `rank` gives a place to, ordered by that place; `rank` must give
    /// different fields different places. Sorts in place: nothing is allocated. Devices send
    /// their fields in the same order every time, usually already this one, so the order is
    /// checked before anything is sorted.
    pub(crate) fn retain_ranked(&mut self, rank: impl Fn(&str, &Value) -> Option<usize>) {
        self.fields
            .retain(|(name, value)| rank(name, value).is_some());
        if !self
            .fields
            .is_sorted_by_key(|(name, value)| rank(name, value))
        {
            self.fields
                .sort_unstable_by_key(|(name, value)| rank(name, value));
        }
    }

    /// Takes the field `name` out, keeping the order of the others.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self
            .fields
            .iter()
            .position(|(field, _)| same_field_name(field, name))?;
        Some(self.fields.remove(at).1)
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Names and values in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_ref(), value))
    }

    /// Names in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.fields.iter().map(|(name, _)| name.as_ref())
    }

    /// The fields as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect()
    }
}

impl PartialEq for Values {
    /// Equal when both have the same names with equal values, in any order (as JSON objects).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

/// What indexing by a missing name gives, as with a JSON object.
static NULL: Value = Value::Null;

impl std::ops::Index<&str> for Values {
    type Output = Value;

    /// The value of `name`, or `null` when there is no such field (as `serde_json` does).
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or(&NULL)
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (FieldName, Value)>,
        fn(&'a (FieldName, Value)) -> (&'a str, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_ref(), value))
    }
}

impl IntoIterator for Values {
    type Item = (FieldName, Value);
    type IntoIter = std::vec::IntoIter<(FieldName, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

impl<N: Into<FieldName>> FromIterator<(N, Value)> for Values {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(fields: I) -> Self {
        let mut values = Values::new();
        for (name, value) in fields {
            values.insert(name, value);
        }
        values
    }
}

impl From<Map<String, Value>> for Values {
    fn from(map: Map<String, Value>) -> Self {
        let mut values = Values::with_capacity(map.len());
        for (name, value) in map {
            // A map's names are unique: no need to look for an earlier one.
            values.fields.push((field_name(&name), value));
        }
        values
    }
}

impl From<Values> for Map<String, Value> {
    fn from(values: Values) -> Self {
        values
            .fields
            .into_iter()
            .map(|(name, value)| (name.into_owned(), value))
            .collect()
    }
}

impl From<Values> for Value {
    fn from(values: Values) -> Self {
        Value::Object(values.into())
    }
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ValuesVisitor)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Values;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of field names and values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Values, A::Error> {
        let mut values = Values::with_capacity(access.size_hint().unwrap_or(0));
        while let Some(name) = access.next_key::<Cow<'de, str>>()? {
            let value: Value = access.next_value()?;
            // As with a JSON object, a repeated name keeps its last value.
            values.insert(field_name(&name), value);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every known name is found at its place, and names that differ from one in a byte, in
    /// case or in length are not known.
    #[test]
    fn each_known_name_is_found_at_its_place() {
        for (place, name) in KNOWN_NAMES.iter().enumerate() {
            assert_eq!(known_place(name), Some(place), "{name}");
            assert_eq!(known_place(&name.to_uppercase()), None, "{name}");
            assert_eq!(known_place(&format!("{name}_")), None, "{name}");
            assert_eq!(known_place(&name[..name.len() - 1]), None, "{name}");
        }
        assert_eq!(known_place(""), None);
        assert_eq!(known_place("pm2.5"), None);
    }

    /// A decoder's appending gives the fields `insert` gives: repeated names (known or not)
    /// keep their first place and last value, known names are borrowed.
    #[test]
    fn insert_read_gives_the_fields_insert_gives() {
        let names = [
            "pm25", "x", "pm10", "pm25", "x", "laeq", "pm10", "y", "humidity",
        ];
        for len in 0..=names.len() {
            let mut inserted = Values::new();
            let mut read_in = Values::new();
            let mut read = KnownSet::default();
            for (at, name) in names.iter().take(len).enumerate() {
                inserted.insert(field_name(name), json!(at));
                read_in.insert_read(&mut read, name, json!(at));
            }
            let pairs = |values: &Values| -> Vec<(String, Value)> {
                values
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect()
            };
            assert_eq!(pairs(&read_in), pairs(&inserted), "{len}");
            assert!(
                read_in
                    .fields
                    .iter()
                    .all(|(name, _)| matches!(name, Cow::Borrowed(_))
                        != ["x", "y"].contains(&name.as_ref())),
                "{len}"
            );
        }
    }

    /// Copying a reading over an earlier one gives what a fresh copy gives, whether the names,
    /// their number or the values' types are the same or not.
    #[test]
    fn clone_from_gives_what_clone_gives() {
        let readings = [
            json!({"intensity": 12, "speed": 41.5, "occupancy": 0.3, "congested": false}),
            json!({"intensity": 14, "speed": 38.0, "occupancy": 0.4, "congested": true}),
            json!({"intensity": 14, "speed": 38.0, "occupancy": 0.4}),
            json!({"intensity": "many", "speed": null, "occupancy": [1], "congested": 1}),
            json!({"speed": 38.0, "intensity": 14, "occupancy": 0.4, "congested": true}),
            json!({"odd": 1, "speed": 2}),
            json!({"odd": 3, "speed": 4}),
            json!({}),
        ];
        let values = |reading: &Value| match reading {
            Value::Object(map) => Values::from(map.clone()),
            _ => unreachable!("objects only"),
        };
        for earlier in &readings {
            for later in &readings {
                let mut copied = values(earlier);
                copied.clone_from(&values(later));
                assert_eq!(
                    copied.to_map(),
                    values(later).to_map(),
                    "{earlier} then {later}"
                );
                assert_eq!(
                    copied.keys().collect::<Vec<_>>(),
                    values(later).keys().collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn known_names_are_borrowed_and_others_owned() {
        assert!(matches!(field_name("pm25"), Cow::Borrowed("pm25")));
        for known in KNOWN_NAMES {
            // Found through its length, as the table's string (borrowed, not a copy).
            assert!(
                matches!(field_name(known), Cow::Borrowed(found) if found == known),
                "{known}"
            );
        }
        for other in [
            "",
            "p",
            "pm2",
            "pm255",
            "Speed",
            "service_cod",
            "a_name_longer_than_32_bytes_long",
        ] {
            assert!(matches!(field_name(other), Cow::Owned(ref name) if name == other));
        }
        assert!(matches!(field_name("attributes"), Cow::Owned(ref name) if name == "attributes"));
    }

    #[test]
    fn insert_replaces_in_place_and_remove_keeps_the_order() {
        let mut values = Values::new();
        values.insert("speed", json!(40));
        values.insert("intensity", json!(12));
        values.insert("x", json!("a"));
        assert_eq!(values.insert("speed", json!(41.5)), Some(json!(40)));
        assert_eq!(
            values.keys().collect::<Vec<_>>(),
            ["speed", "intensity", "x"]
        );
        assert_eq!(values.remove("intensity"), Some(json!(12)));
        assert_eq!(values.keys().collect::<Vec<_>>(), ["speed", "x"]);
        assert_eq!(values.get("speed"), Some(&json!(41.5)));
        assert_eq!(values.get("intensity"), None);
    }

    #[test]
    fn json_round_trip_keeps_order_and_last_of_a_repeated_name() {
        let values: Values =
            serde_json::from_str(r#"{"pm25": 35.5, "note": "x", "pm25": 36, "extra": [1]}"#)
                .unwrap_or_default();
        assert_eq!(
            serde_json::to_string(&values).unwrap_or_default(),
            r#"{"pm25":36,"note":"x","extra":[1]}"#
        );
    }

    #[test]
    fn equality_ignores_order_like_json_objects() {
        let a: Values = [("a", json!(1)), ("b", json!(2))].into_iter().collect();
        let b: Values = [("b", json!(2)), ("a", json!(1))].into_iter().collect();
        let c: Values = [("b", json!(2)), ("a", json!(3))].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Map::from(a.clone()),
            json!({"a": 1, "b": 2})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
    }
}
