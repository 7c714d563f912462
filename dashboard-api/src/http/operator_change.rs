//! The steps an operator's change shares, whether it acknowledges an alert or assigns a
//! report: find the journal, take the one-change-at-a-time turn, journal the change and wait
//! until it shows, and turn a change that lost a race into 409.

use super::ApiError;
use crate::{ApiState, ReportIntake};
use axum::http::StatusCode;
use ioc_ingest::journal::Outcome;

/// The journal operators' changes go to; 503 when the engine runs without one.
pub(super) fn intake(state: &ApiState) -> Result<ReportIntake, ApiError> {
    state.reports.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the journal is not connected",
        )
    })
}

/// Journals a checked change and waits until analytics shows it. The change's id is one per
/// thing and version (or action): a duplicate means the same change was made at the same time
/// elsewhere (another engine instance, or the engine itself), and the caller gets 409 naming
/// `what` was changed.
pub(super) async fn journal(
    state: &ApiState,
    intake: &ReportIntake,
    event: ioc_ingest::Event,
    what: &str,
) -> Result<(), ApiError> {
    let outcome = intake
        .journal_visible(&state.analytics, event)
        .await
        .map_err(|error| {
            tracing::error!(%error, what, "operator change not journaled");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the change could not be stored; try again",
            )
        })?;
    if outcome == Outcome::Duplicate {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{what} was changed at the same time by someone else; reload it"),
        ));
    }
    Ok(())
}
