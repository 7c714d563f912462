//! Public-service dossiers (Resolution 17/NQ-CP indicators): lifetime tallies per area and
//! city, kept incrementally in journal order, and the KPIs read from them against targets.

mod kpi;
mod tally;

pub use kpi::{DossierKpi, DossierTargets, IndicatorFlags};
pub use tally::{DossierBook, DossierTally};
