//! What citizens' reports and the public-service portals' dossiers build: the report register
//! and the dossier book.

use crate::dossiers::DossierBook;
use crate::reports::Register;
use crate::reports::register::SlaLookup;
use ioc_ingest::{Event, Kind};

/// The reports part of the state: the register of citizen reports (with their lifecycle and
/// SLA clocks) and the book of dossier tallies per area. Only
/// [`crate::state::State::admit`] writes it, with journaled `report`, `report_update` and
/// `dossier` events; snapshots keep all of it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Reports {
    /// Every citizen report and its lifecycle.
    pub(crate) register: Register,
    /// Lifetime dossier tallies per area and for the city (late dossiers count too).
    pub(crate) dossiers: DossierBook,
}

impl Reports {
    /// Takes one city event: a report or report update goes to the register (with each
    /// category's SLA from `sla_ms`), a dossier to the book; other kinds change nothing.
    pub(crate) fn apply(&mut self, event: &Event, sla_ms: SlaLookup<'_>) {
        if is_citizen_report(event.kind) {
            self.register.apply(event, sla_ms);
        } else {
            self.dossiers.apply(event);
        }
    }
}

/// Whether events of `kind` are citizen reports or their updates: people, not sensors, so
/// they go to the register and never to the telemetry's sources.
pub(crate) fn is_citizen_report(kind: Kind) -> bool {
    matches!(kind, Kind::Report | Kind::ReportUpdate)
}
