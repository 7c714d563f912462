//! The engine's alerts: the book of every alert, the rule evaluator with its per-subject
//! trackers, and the alert changes waiting to be pushed.

use crate::alerts::{Alert, AlertBook, Applied, Evaluator, Transition};
use ioc_ingest::{Areas, Event};

/// The alerts part of the state. [`crate::state::State::admit`] writes it: journaled alert
/// records move the book (and the trackers that follow it), every city event feeds the
/// evaluator's trackers. Snapshots keep the book; the evaluator's rules come from the
/// deployment and its trackers are saved apart ([`Evaluator::save_trackers`]); the pending
/// changes are live only.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Alerts {
    /// Every alert, as the journal's alert events left it.
    pub(crate) book: AlertBook,
    /// The alert rules and their per-subject trackers.
    #[serde(skip)]
    pub(crate) evaluator: Evaluator,
    /// Alerts changed by live events since the engine last took them, for the push to
    /// websocket clients and MQTT (replay fills nothing here).
    #[serde(skip)]
    pub(crate) changes: Vec<Alert>,
}

impl Alerts {
    /// Applies a journaled alert transition to the book and the trackers; a `live` change is
    /// also kept for the push.
    pub(crate) fn apply_journaled(&mut self, event: &Event, live: bool) {
        let Some(transition) = Transition::from_event(event) else {
            tracing::warn!(id = %event.id, "unreadable alert event ignored");
            return;
        };
        if let Applied::Changed(alert) = self.book.apply(&transition)
            && live
        {
            self.changes.push(*alert);
        }
        self.evaluator.applied(&transition, &self.book);
    }

    /// Feeds one city event to the rule trackers, with the station's hourly VN_AQI after it
    /// (`aqi`, from the telemetry) and the wall-clock time `now_ms`.
    pub(crate) fn observe(&mut self, event: &Event, aqi: Option<f64>, now_ms: i64) {
        self.evaluator.observe(event, aqi, now_ms);
    }

    /// The transitions that bring the book in line with the rules now (live only), each with
    /// the area of its alert.
    pub(crate) fn reconcile(&mut self, areas: &Areas, now_ms: i64) -> Vec<(Transition, String)> {
        let transitions = self.evaluator.reconcile(&self.book, areas, now_ms);
        for transition in &transitions {
            tracing::debug!(?transition, "alert transition decided");
        }
        transitions
            .into_iter()
            .map(|transition| {
                let area = match &transition {
                    Transition::Raise(alert) => alert.area.clone(),
                    other => self
                        .book
                        .get(other.alert_id())
                        .map(|alert| alert.area.clone())
                        .unwrap_or_default(),
                };
                (transition, area)
            })
            .collect()
    }

    /// The alerts changed by live events since the last call, taken out.
    pub(crate) fn take_changes(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.changes)
    }
}
