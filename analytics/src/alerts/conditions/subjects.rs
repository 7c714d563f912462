//! One tracker per subject (a sensor or an area), made on the subject's first reading.

use super::super::trackers::{
    AnomalyTracker, Holding, RateTracker, StaleTracker, ThresholdTracker,
};
use crate::slots::StrKeyed;
use rustc_hash::FxHashMap;

/// A tracker that says where its subject's condition stands.
pub(super) trait Tracked {
    /// The subject's condition.
    fn holding(&mut self) -> &mut Holding;
}

impl Tracked for ThresholdTracker {
    fn holding(&mut self) -> &mut Holding {
        &mut self.holding
    }
}

impl Tracked for RateTracker {
    fn holding(&mut self) -> &mut Holding {
        &mut self.holding
    }
}

impl Tracked for StaleTracker {
    fn holding(&mut self) -> &mut Holding {
        &mut self.holding
    }
}

impl Tracked for AnomalyTracker {
    fn holding(&mut self) -> &mut Holding {
        &mut self.holding
    }
}

/// The trackers of one rule, by subject.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Subjects<T>(FxHashMap<String, T>);

impl<T> Default for Subjects<T> {
    fn default() -> Self {
        Self(FxHashMap::default())
    }
}

impl<T: Tracked> Subjects<T> {
    /// Runs `work` on the tracker of `subject`, made by `new` if it has none. This runs for
    /// every event and every rule, so an existing tracker costs one hash lookup and no
    /// allocation (a `contains_key` then `get_mut` hashed and compared the subject twice: a
    /// tenth of `State::admit` in the B2 profile).
    pub(super) fn with_tracker<R>(
        &mut self,
        subject: &str,
        new: impl FnOnce() -> T,
        work: impl FnOnce(&mut T) -> R,
    ) -> R {
        self.0.with_value_or(subject, new, work)
    }

    /// Every subject with its tracker.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut T)> {
        self.0
            .iter_mut()
            .map(|(subject, tracker)| (subject.as_str(), tracker))
    }

    /// Every subject's condition.
    pub(super) fn holdings(&mut self) -> Vec<(&str, &mut Holding)> {
        self.iter_mut()
            .map(|(subject, tracker)| (subject, tracker.holding()))
            .collect()
    }

    /// One subject's condition, if it has a tracker.
    pub(super) fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding> {
        self.0.get_mut(subject).map(Tracked::holding)
    }
}
