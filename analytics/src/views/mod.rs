//! Live views (docs/views.md): what the operators' screens show, built from the state as typed
//! data under the state lock and turned into JSON after it (docs/architecture.md, "Views").

mod alerts;
mod area;
pub(crate) mod metrics;
mod ordered_map;
mod overview;
mod ranking;
mod reports;
mod request;

pub use alerts::{AlertFilter, AlertQuery, AlertsView, SeverityCounts, alerts_view};
pub use area::{AreaView, SourceLine, WindowFigures, WindowStats, area_view};
pub use ordered_map::OrderedMap;
pub use overview::{AreaLine, Overview, OverviewKpi, area_summary, overview_view};
pub use reports::{
    AgencyKpi, AreaKpi, CityKpi, KpiView, ReportContact, ReportDetail, ReportItem, ReportsView,
    kpi_view, report_detail, report_item, reports_view,
};
pub use request::{ViewError, ViewName, ViewRequest};

use crate::state::State;
use serde::Serialize;

/// The data of any one view, as built from the state; it serializes as that view's JSON (the
/// large views are boxed so that the small ones do not carry their size).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ViewData {
    /// The `overview` view.
    Overview(Box<Overview>),
    /// The `area` view.
    Area(Box<AreaView>),
    /// The `alerts` view.
    Alerts(AlertsView),
    /// The `reports` view.
    Reports(ReportsView),
    /// The `kpi` view.
    Kpi(Box<KpiView>),
}

impl ViewData {
    /// Builds the view `request` asks for from the state (the caller holds the state lock;
    /// nothing here serializes).
    pub fn build(state: &State, request: &ViewRequest, now_ms: i64) -> Result<ViewData, ViewError> {
        Ok(match request.view {
            ViewName::Overview => ViewData::Overview(Box::new(overview_view(
                state,
                request.scope.as_deref(),
                now_ms,
            ))),
            ViewName::Area => {
                let area = request.area.as_deref().unwrap_or_default();
                let view = area_view(state, area, now_ms)
                    .ok_or_else(|| ViewError::BadRequest(format!("unknown area {area:?}")))?;
                ViewData::Area(Box::new(view))
            }
            ViewName::Alerts => ViewData::Alerts(alerts_view(&state.alerts, request)),
            ViewName::Reports => ViewData::Reports(reports_view(&state.reports, request, now_ms)?),
            ViewName::Kpi => {
                ViewData::Kpi(Box::new(kpi_view(state, request.scope.as_deref(), now_ms)))
            }
        })
    }

    /// The view's JSON.
    pub fn to_json(&self) -> Result<serde_json::Value, ViewError> {
        Ok(serde_json::to_value(self)?)
    }
}

/// Rounds a display value to two decimals, keeping patches small and numbers readable.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
