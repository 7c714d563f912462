//! Lifetime dossier counters, updated one event at a time so views never rescan events.

use crate::slots::StrKeyed;
use ioc_ingest::{Event, Kind};
use serde_json::Value;
use std::collections::BTreeMap;

/// The counts one area (or the city) has accumulated; every KPI is a ratio of two of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DossierTally {
    /// Dossiers received (`stage = received`).
    pub received: u64,
    /// Of those, received through the online channel.
    pub received_online: u64,
    /// Of those, for a level-4 (fully online) service.
    pub received_level4: u64,
    /// Dossiers resolved (`stage = resolved`).
    pub resolved: u64,
    /// Of those, resolved with `on_time = true`.
    pub resolved_on_time: u64,
}

impl DossierTally {
    /// Counts one dossier event; anything that is not a received/resolved stage is ignored.
    pub fn add(&mut self, event: &Event) {
        match event.text("stage") {
            Some("received") => {
                self.received += 1;
                if event.text("channel") == Some("online") {
                    self.received_online += 1;
                }
                if event.values.get("level").and_then(Value::as_f64) == Some(4.0) {
                    self.received_level4 += 1;
                }
            }
            Some("resolved") => {
                self.resolved += 1;
                if event.values.get("on_time").and_then(Value::as_bool) == Some(true) {
                    self.resolved_on_time += 1;
                }
            }
            _ => {}
        }
    }

    /// Adds another tally's counts (an area's hours into its day, areas into the city).
    pub fn merge(&mut self, other: &DossierTally) {
        self.received += other.received;
        self.received_online += other.received_online;
        self.received_level4 += other.received_level4;
        self.resolved += other.resolved;
        self.resolved_on_time += other.resolved_on_time;
    }
}

/// Dossier tallies per area id and for the city, fed in journal order so a replay rebuilds
/// the same figures; late events count too, since these are lifetime figures, not windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DossierBook {
    by_area: BTreeMap<String, DossierTally>,
    city: DossierTally,
}

impl DossierBook {
    /// Applies one event; events of other kinds are ignored.
    pub fn apply(&mut self, event: &Event) {
        if event.kind != Kind::Dossier {
            return;
        }
        self.by_area
            .with_value(&event.area, |tally| tally.add(event));
        self.city.add(event);
    }

    /// The tally of one area (zeros when it has no dossiers).
    pub fn area(&self, area: &str) -> DossierTally {
        self.by_area.get(area).copied().unwrap_or_default()
    }

    /// The city's tally.
    pub fn city(&self) -> DossierTally {
        self.city
    }
}
