//! The `alerts` view and the alert list of `GET /api/alerts`.

use super::request::ViewRequest;
use crate::alerts::{Alert, AlertBook, AlertState, Severity};
use crate::state::Alerts;
use serde::Serialize;

/// Most alerts in one answer.
pub const MAX_ALERTS: usize = 500;

/// Which alerts a list holds, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFilter {
    /// Active or acknowledged (the default: what still needs someone).
    #[default]
    Open,
    /// Every alert kept.
    All,
    /// One state.
    State(AlertState),
}

impl AlertFilter {
    /// Parses `open`, `all` or a state name.
    pub fn parse(text: &str) -> Option<AlertFilter> {
        match text {
            "open" => Some(AlertFilter::Open),
            "all" => Some(AlertFilter::All),
            other => AlertState::parse(other).map(AlertFilter::State),
        }
    }

    /// Parses like [`AlertFilter::parse`], explaining a refusal (`what` names the parameter).
    pub fn parse_or_explain(text: &str, what: &str) -> Result<AlertFilter, String> {
        AlertFilter::parse(text).ok_or_else(|| {
            format!("{what} {text:?} is not open, all, active, acknowledged or resolved")
        })
    }

    fn admits(self, alert: &Alert) -> bool {
        match self {
            AlertFilter::Open => alert.is_open(),
            AlertFilter::All => true,
            AlertFilter::State(state) => alert.state == state,
        }
    }
}

/// A filter over the alert book.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Which states.
    pub filter: AlertFilter,
    /// One area only.
    pub area: Option<String>,
    /// The caller's area scope: alerts elsewhere are left out.
    pub scope: Option<Vec<String>>,
    /// One rule only.
    pub rule: Option<String>,
    /// At most this many (capped at [`MAX_ALERTS`]).
    pub limit: Option<usize>,
}

impl AlertQuery {
    /// The matching alerts, newest first.
    pub fn run(&self, book: &AlertBook) -> Vec<Alert> {
        book.all()
            .filter(|alert| self.filter.admits(alert))
            .filter(|alert| self.area.as_ref().is_none_or(|area| &alert.area == area))
            .filter(|alert| {
                self.scope
                    .as_ref()
                    .is_none_or(|areas| areas.iter().any(|a| a == &alert.area))
            })
            .filter(|alert| self.rule.as_ref().is_none_or(|rule| &alert.rule == rule))
            .take(self.limit.unwrap_or(MAX_ALERTS).min(MAX_ALERTS))
            .cloned()
            .collect()
    }
}

/// The `alerts` view (docs/views.md): the matching alerts and the open ones counted.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsView {
    /// Matching alerts, newest first, at most [`MAX_ALERTS`].
    pub items: Vec<Alert>,
    /// Open alerts matching the area filter.
    pub open: usize,
    /// Open alerts matching the area filter, by severity.
    pub open_by_severity: SeverityCounts,
}

/// Open alerts counted per severity, most severe first.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SeverityCounts {
    /// Critical alerts.
    pub critical: usize,
    /// Major alerts.
    pub major: usize,
    /// Minor alerts.
    pub minor: usize,
    /// Warnings.
    pub warning: usize,
}

/// The alerts view's data: `items` (open alerts by default; `status` picks others), and the
/// open count by severity.
pub fn alerts_view(alerts: &Alerts, request: &ViewRequest) -> AlertsView {
    let query = AlertQuery {
        filter: request
            .status
            .as_deref()
            .and_then(AlertFilter::parse)
            .unwrap_or_default(),
        area: request.area.clone(),
        scope: request.scope.clone(),
        rule: None,
        limit: None,
    };
    let items = query.run(&alerts.book);
    let open = AlertQuery {
        filter: AlertFilter::Open,
        ..query.clone()
    }
    .run(&alerts.book);
    let by_severity = |severity: Severity| {
        open.iter()
            .filter(|alert| alert.severity == severity)
            .count()
    };
    AlertsView {
        open: open.len(),
        open_by_severity: SeverityCounts {
            critical: by_severity(Severity::Critical),
            major: by_severity(Severity::Major),
            minor: by_severity(Severity::Minor),
            warning: by_severity(Severity::Warning),
        },
        items,
    }
}

/// Open alerts of one area, for its view.
pub(crate) fn open_alerts_of(alerts: &Alerts, area: &str) -> Vec<Alert> {
    AlertQuery {
        area: Some(area.to_string()),
        ..AlertQuery::default()
    }
    .run(&alerts.book)
}
