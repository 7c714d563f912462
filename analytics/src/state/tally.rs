//! One batch's city events by area and kind, gathered while [`super::State::admit`] takes the
//! batch: what the lifetime counts and the live rate meters add once per batch, and the window
//! series numbers the batch's readings used.

use crate::batch::FieldIds;
use ioc_ingest::{Event, Kind};
use rustc_hash::FxHashMap;

/// One batch's city events by area, then kind, with each area and kind's series cache.
///
/// One hash lookup per event replaces three ordered or nested lookups: a `BTreeMap<&str, _>`
/// entry for the rate meters (about 7 % of `State::admit` in the B2 profile), the lifetime
/// counts' `BTreeMap<String, _>` (about 4 %) and, through [`FieldIds`], the series index's two
/// string-keyed hash lookups per reading. Counts are integers added once per batch and area,
/// and nothing reads them while a batch is admitted, so the totals are those of adding each
/// event on its own.
#[derive(Debug, Default)]
pub(crate) struct BatchTally<'e> {
    areas: FxHashMap<&'e str, Vec<KindTally<'e>>>,
}

/// One area and kind's events in the batch.
#[derive(Debug)]
struct KindTally<'e> {
    kind: Kind,
    events: u64,
    series: FieldIds<'e>,
}

impl<'e> BatchTally<'e> {
    /// Counts `event` under its area and kind; returns the batch's series cache for them.
    pub(crate) fn count(&mut self, event: &'e Event) -> &mut FieldIds<'e> {
        let kinds = self.areas.entry(event.area.as_str()).or_default();
        // A handful of kinds per area: a scan costs less than any map.
        let at = match kinds.iter().position(|tally| tally.kind == event.kind) {
            Some(at) => at,
            None => {
                kinds.push(KindTally {
                    kind: event.kind,
                    events: 0,
                    series: FieldIds::new(&event.area, event.kind),
                });
                kinds.len() - 1
            }
        };
        let tally = &mut kinds[at];
        tally.events += 1;
        &mut tally.series
    }

    /// Each area with its events per kind (every count at least one).
    pub(crate) fn by_area_and_kind(
        &self,
    ) -> impl Iterator<Item = (&'e str, impl Iterator<Item = (Kind, u64)> + '_)> {
        self.areas
            .iter()
            .map(|(area, kinds)| (*area, kinds.iter().map(|tally| (tally.kind, tally.events))))
    }

    /// Each area with its events, all kinds.
    pub(crate) fn by_area(&self) -> impl Iterator<Item = (&'e str, u64)> + '_ {
        self.areas
            .iter()
            .map(|(area, kinds)| (*area, kinds.iter().map(|tally| tally.events).sum()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn event(area: &str, kind: Kind) -> Event {
        Event {
            id: "x".into(),
            source: "s".into(),
            kind,
            area: area.into(),
            ts_ms: 0,
            lat: None,
            lon: None,
            values: ioc_ingest::Values::new(),
        }
    }

    #[test]
    fn totals_are_those_of_counting_event_by_event() {
        let events = [
            event("a", Kind::Traffic),
            event("b", Kind::Noise),
            event("a", Kind::Traffic),
            event("a", Kind::Dossier),
            event("b", Kind::Noise),
            event("a", Kind::Traffic),
        ];
        let mut tally = BatchTally::default();
        let mut one_by_one: BTreeMap<(String, Kind), u64> = BTreeMap::new();
        for event in &events {
            tally.count(event);
            *one_by_one
                .entry((event.area.clone(), event.kind))
                .or_insert(0) += 1;
        }
        let mut batched = BTreeMap::new();
        for (area, kinds) in tally.by_area_and_kind() {
            for (kind, n) in kinds {
                assert!(batched.insert((area.to_string(), kind), n).is_none());
            }
        }
        assert_eq!(batched, one_by_one);
        let by_area: BTreeMap<&str, u64> = tally.by_area().collect();
        assert_eq!(by_area, BTreeMap::from([("a", 4), ("b", 2)]));
    }
}
