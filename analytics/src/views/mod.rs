//! Live views (docs/views.md): what the operators' screens show, built from the state as JSON.

mod alerts;
mod area;
pub(crate) mod metrics;
mod ordered_map;
mod overview;
mod ranking;
mod reports;
mod request;

pub use alerts::{AlertFilter, AlertQuery, alerts_view};
pub use area::area_view;
pub use ordered_map::OrderedMap;
pub use overview::{area_summary, overview_view};
pub use reports::{kpi_view, report_detail, report_item, reports_view};
pub use request::{ViewError, ViewName, ViewRequest};

/// Rounds a display value to two decimals, keeping patches small and numbers readable.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
