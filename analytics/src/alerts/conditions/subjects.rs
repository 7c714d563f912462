//! One tracker per subject (a sensor or an area), made on the subject's first reading.

use super::super::trackers::{
    AnomalyTracker, Holding, RateTracker, StaleTracker, ThresholdTracker,
};
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
    /// The tracker of `subject`, made by `new` if it has none; finding an existing one
    /// allocates nothing (this runs for every event and every rule). Always `Some`.
    pub(super) fn tracker(&mut self, subject: &str, new: impl FnOnce() -> T) -> Option<&mut T> {
        if !self.0.contains_key(subject) {
            self.0.insert(subject.to_string(), new());
        }
        self.0.get_mut(subject)
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
