//! Maps keyed by owned strings and looked up by borrowed ones, for the per-event tallies: a
//! known key costs one lookup and no allocation, and only a new key is copied into the map
//! (`entry` would take an owned key, an allocation, for every event).

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// A map from `String` keys whose values can be worked on by `&str` key, made on first use.
pub trait StrKeyed<V> {
    /// Runs `work` on the value of `key`, made by `make` when the key is new.
    fn with_value_or<R>(
        &mut self,
        key: &str,
        make: impl FnOnce() -> V,
        work: impl FnOnce(&mut V) -> R,
    ) -> R;

    /// Runs `work` on the value of `key`, a default one when the key is new.
    fn with_value<R>(&mut self, key: &str, work: impl FnOnce(&mut V) -> R) -> R
    where
        V: Default,
    {
        self.with_value_or(key, V::default, work)
    }
}

/// One implementation for both map types: their `get_mut` and `entry` differ only in type.
macro_rules! str_keyed {
    ($map:ty, $($generics:tt)*) => {
        impl<$($generics)*> StrKeyed<V> for $map {
            fn with_value_or<R>(
                &mut self,
                key: &str,
                make: impl FnOnce() -> V,
                work: impl FnOnce(&mut V) -> R,
            ) -> R {
                match self.get_mut(key) {
                    Some(value) => work(value),
                    None => work(self.entry(key.to_owned()).or_insert_with(make)),
                }
            }
        }
    };
}

str_keyed!(BTreeMap<String, V>, V);
str_keyed!(HashMap<String, V, S>, V, S: BuildHasher);

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashMap;

    #[test]
    fn a_new_key_is_made_once_and_a_known_one_is_found() {
        let mut ordered: BTreeMap<String, u64> = BTreeMap::new();
        let mut hashed: FxHashMap<String, u64> = FxHashMap::default();
        for key in ["a", "b", "a", "a"] {
            ordered.with_value(key, |n| *n += 1);
            hashed.with_value_or(key, || 10, |n| *n += 1);
        }
        assert_eq!(ordered, BTreeMap::from([("a".into(), 3), ("b".into(), 1)]));
        assert_eq!(hashed.get("a"), Some(&13));
        assert_eq!(hashed.get("b"), Some(&11));
        assert_eq!(ordered.with_value("b", |n| *n * 2), 2);
    }
}
