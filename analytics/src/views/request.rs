//! What a client asks for: a view name and its filters, shared by REST and websocket.

use serde::Serialize;

/// The views the engine serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewName {
    /// The city at a glance.
    Overview,
    /// One area in detail.
    Area,
    /// The alert feed.
    Alerts,
    /// The queue of citizen reports.
    Reports,
    /// Report, public-service and ranking KPIs.
    Kpi,
}

impl ViewName {
    /// Parses a view name.
    pub fn parse(name: &str) -> Option<ViewName> {
        match name {
            "overview" => Some(ViewName::Overview),
            "area" => Some(ViewName::Area),
            "alerts" => Some(ViewName::Alerts),
            "reports" => Some(ViewName::Reports),
            "kpi" => Some(ViewName::Kpi),
            _ => None,
        }
    }

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewName::Overview => "overview",
            ViewName::Area => "area",
            ViewName::Alerts => "alerts",
            ViewName::Reports => "reports",
            ViewName::Kpi => "kpi",
        }
    }
}

/// A view with its filters; equal requests share one computation per tick.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewRequest {
    /// Which view.
    pub view: ViewName,
    /// Area filter (required for `area`).
    pub area: Option<String>,
    /// Status filter of the `reports` view.
    pub status: Option<String>,
    /// Category filter of the `reports` view.
    pub service_code: Option<String>,
    /// The caller's area scope (from its token): the `reports` and `kpi` views hold only these
    /// areas. `None` is the whole city.
    pub scope: Option<Vec<String>>,
}

/// Why a view request was refused; the code is the websocket error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// No such view.
    #[error("unknown view {0:?}")]
    UnknownView(String),
    /// The request is malformed or names an unknown area.
    #[error("{0}")]
    BadRequest(String),
    /// The caller may not see this.
    #[error("{0}")]
    Forbidden(String),
    /// The engine failed to build or encode the view (a bug, not the caller's fault): its JSON
    /// could not be made, or the task building it panicked.
    #[error("the view could not be built: {0}")]
    Internal(String),
}

impl From<serde_json::Error> for ViewError {
    fn from(error: serde_json::Error) -> Self {
        ViewError::Internal(format!("JSON encoding failed: {error}"))
    }
}

impl ViewError {
    /// The websocket error code (`unknown_view`, `bad_request`, `forbidden`,
    /// `internal_error`).
    pub fn code(&self) -> &'static str {
        match self {
            ViewError::UnknownView(_) => "unknown_view",
            ViewError::BadRequest(_) => "bad_request",
            ViewError::Forbidden(_) => "forbidden",
            ViewError::Internal(_) => "internal_error",
        }
    }
}

impl ViewRequest {
    /// Builds a request from its parts, checking what can be checked without the state.
    pub fn parse(
        view: &str,
        area: Option<String>,
        status: Option<String>,
        service_code: Option<String>,
    ) -> Result<Self, ViewError> {
        let view = ViewName::parse(view).ok_or_else(|| ViewError::UnknownView(view.to_string()))?;
        if view == ViewName::Area && area.is_none() {
            return Err(ViewError::BadRequest(
                "the area view needs an `area`".into(),
            ));
        }
        if view == ViewName::Alerts {
            if let Some(status) = &status {
                crate::views::AlertFilter::parse_or_explain(status, "status")
                    .map_err(ViewError::BadRequest)?;
            }
        } else if let Some(status) = &status
            && !matches!(status.as_str(), "open" | "closed" | "all")
            && crate::reports::Status::parse(status).is_none()
        {
            return Err(ViewError::BadRequest(format!(
                "status {status:?} is not open, closed, all or a report status"
            )));
        }
        Ok(Self {
            view,
            area,
            status,
            service_code,
            scope: None,
        })
    }
}
