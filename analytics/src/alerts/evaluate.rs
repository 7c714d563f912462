//! The evaluator: feeds every journaled event to the trackers of every rule (live and in
//! replay alike), and, live only, turns the difference between "what holds" and "what the book
//! says" into transitions to journal.
//!
//! Keeping the decision in one reconcile step means nothing is raised twice: a condition that
//! holds with an open alert (or one on its way to the journal) raises nothing, and a restart that
//! replays the journal reaches the same trackers and the same book as the live run did.

use super::alert::{Alert, AlertState, Transition, alert_id, stamp};
use super::book::AlertBook;
use super::message::render;
use super::rules::{Condition, Limit, Metric, Rule, RuleSet};
use super::trackers::{
    AnomalyShape, AnomalyTracker, BurstShape, BurstTracker, Firing, Holding, Observation,
    RateTracker, StaleTracker, ThresholdTracker,
};
use ioc_ingest::{Areas, Event, Kind};
use serde_json::Value;
use std::collections::HashMap;

/// How long a transition sent to the journal blocks another for the same rule × subject before
/// it is assumed lost (the journal refused it) and may be sent again.
const IN_FLIGHT_MS: i64 = 30_000;

/// The tracker of one subject, made on its first reading; finding an existing one allocates
/// nothing (this runs for every event and every rule). Always `Some`.
fn tracker<'m, T>(
    map: &'m mut HashMap<String, T>,
    subject: &str,
    new: impl FnOnce() -> T,
) -> Option<&'m mut T> {
    if !map.contains_key(subject) {
        map.insert(subject.to_string(), new());
    }
    map.get_mut(subject)
}

/// The trackers of one rule, by subject.
#[derive(Debug)]
enum Trackers {
    Threshold(HashMap<String, ThresholdTracker>),
    Rate(HashMap<String, RateTracker>),
    Stale(HashMap<String, StaleTracker>),
    Burst(BurstTracker),
    Anomaly(HashMap<String, AnomalyTracker>),
}

impl Trackers {
    fn for_rule(rule: &Rule) -> Trackers {
        match rule.condition {
            Condition::Threshold { .. } => Trackers::Threshold(HashMap::new()),
            Condition::RateOfChange { .. } => Trackers::Rate(HashMap::new()),
            Condition::Stale { .. } => Trackers::Stale(HashMap::new()),
            Condition::ReportBurst { .. } => Trackers::Burst(BurstTracker::default()),
            Condition::Anomaly { .. } => Trackers::Anomaly(HashMap::new()),
        }
    }

    /// Every subject's condition.
    fn holdings(&mut self) -> Vec<(&str, &mut Holding)> {
        match self {
            Trackers::Threshold(map) => map
                .iter_mut()
                .map(|(s, t)| (s.as_str(), &mut t.holding))
                .collect(),
            Trackers::Rate(map) => map
                .iter_mut()
                .map(|(s, t)| (s.as_str(), &mut t.holding))
                .collect(),
            Trackers::Stale(map) => map
                .iter_mut()
                .map(|(s, t)| (s.as_str(), &mut t.holding))
                .collect(),
            Trackers::Burst(burst) => burst
                .clusters
                .iter_mut()
                .map(|(s, c)| (s.as_str(), &mut c.holding))
                .collect(),
            Trackers::Anomaly(map) => map
                .iter_mut()
                .map(|(s, t)| (s.as_str(), &mut t.holding))
                .collect(),
        }
    }

    fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding> {
        match self {
            Trackers::Threshold(map) => map.get_mut(subject).map(|t| &mut t.holding),
            Trackers::Rate(map) => map.get_mut(subject).map(|t| &mut t.holding),
            Trackers::Stale(map) => map.get_mut(subject).map(|t| &mut t.holding),
            Trackers::Burst(burst) => burst.clusters.get_mut(subject).map(|c| &mut c.holding),
            Trackers::Anomaly(map) => map.get_mut(subject).map(|t| &mut t.holding),
        }
    }

    /// Whether an open alert whose subject has no tracker should be resolved: only a burst's
    /// cluster disappears when its condition clears; other trackers are rebuilt by replay.
    fn missing_means_clear(&self) -> bool {
        matches!(self, Trackers::Burst(_))
    }
}

/// Evaluates the rules.
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<Rule>,
    trackers: Vec<Trackers>,
    in_flight: HashMap<(String, String), i64>,
}

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator::new(RuleSet::defaults())
    }
}

impl Evaluator {
    /// An evaluator of these rules.
    pub fn new(rules: RuleSet) -> Self {
        let trackers = rules.rules.iter().map(Trackers::for_rule).collect();
        Self {
            rules: rules.rules,
            trackers,
            in_flight: HashMap::new(),
        }
    }

    /// The rules evaluated.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The metrics anomaly rules watch, each once, with the weeks of history the longest
    /// baseline among them may use (`min_weeks` × 4, at least 8 weeks).
    pub fn anomaly_metrics(&self) -> Vec<(Metric, u32)> {
        let mut metrics: Vec<(Metric, u32)> = Vec::new();
        for rule in &self.rules {
            if let Condition::Anomaly {
                metric, min_weeks, ..
            } = &rule.condition
            {
                let weeks = (min_weeks * 4).max(8);
                match metrics.iter_mut().find(|(m, _)| m == metric) {
                    Some((_, w)) => *w = (*w).max(weeks),
                    None => metrics.push((metric.clone(), weeks)),
                }
            }
        }
        metrics
    }

    /// Seeds the baselines of the anomaly rules watching `metric` with an archived hour of an
    /// area (start-up, before replay).
    pub fn seed_baseline(
        &mut self,
        metric: &Metric,
        area: &str,
        hour_start_ms: i64,
        mean: f64,
        readings: u32,
    ) {
        for (rule, trackers) in self.rules.iter().zip(&mut self.trackers) {
            if let (
                Condition::Anomaly {
                    metric: watched, ..
                },
                Trackers::Anomaly(map),
            ) = (&rule.condition, trackers)
                && watched == metric
            {
                map.entry(area.to_string())
                    .or_default()
                    .seed_hour(hour_start_ms, mean, readings);
            }
        }
    }

    /// Feeds one journaled event. `aqi` is the source's hourly VN_AQI after this event (air
    /// quality only); `now_ms` the wall clock, which the stale rule judges silence by.
    pub fn observe(&mut self, event: &Event, aqi: Option<f64>, now_ms: i64) {
        for (rule, trackers) in self.rules.iter().zip(&mut self.trackers) {
            match (&rule.condition, trackers) {
                (
                    Condition::Threshold {
                        metric,
                        above,
                        limit,
                        clear_margin,
                        for_ms,
                    },
                    Trackers::Threshold(map),
                ) => {
                    let Some(reading) = reading(event, metric, aqi) else {
                        continue;
                    };
                    let limit = match limit {
                        Limit::Fixed(value) => *value,
                        Limit::Field(field) => {
                            match event.values.get(field).and_then(Value::as_f64) {
                                Some(value) => value,
                                None => continue,
                            }
                        }
                    };
                    if let Some(tracker) = tracker(map, &event.source, Default::default) {
                        tracker.observe(&reading, limit, *above, *clear_margin, *for_ms);
                    }
                }
                (
                    Condition::RateOfChange {
                        metric,
                        rise,
                        within_ms,
                        clear_rise,
                    },
                    Trackers::Rate(map),
                ) => {
                    if let Some(reading) = reading(event, metric, aqi)
                        && let Some(tracker) = tracker(map, &event.source, Default::default)
                    {
                        tracker.observe(&reading, *rise, *clear_rise, *within_ms);
                    }
                }
                (
                    Condition::Stale {
                        kinds,
                        recover_readings,
                        ..
                    },
                    Trackers::Stale(map),
                ) if kinds.contains(&event.kind) => {
                    if let Some(tracker) = tracker(map, &event.source, || {
                        StaleTracker::new(&event.area, now_ms)
                    }) {
                        tracker.observe(&event.area, now_ms, *recover_readings);
                    }
                }
                (
                    Condition::ReportBurst {
                        count,
                        radius_m,
                        within_ms,
                        categories,
                        clear_count,
                    },
                    Trackers::Burst(burst),
                ) => {
                    if event.kind != Kind::Report {
                        continue;
                    }
                    let (Some(lat), Some(lon), Some(category)) =
                        (event.lat, event.lon, event.text("service_code"))
                    else {
                        continue;
                    };
                    if categories.is_empty() || categories.iter().any(|c| c == category) {
                        let shape = BurstShape {
                            count: *count,
                            radius_m: *radius_m,
                            within_ms: *within_ms,
                            clear_count: *clear_count,
                        };
                        burst.observe(category, &event.area, event.ts_ms, lat, lon, shape);
                    }
                }
                (
                    Condition::Anomaly {
                        metric,
                        direction,
                        z,
                        clear_z,
                        window_ms,
                        min_weeks,
                        min_spread,
                    },
                    Trackers::Anomaly(map),
                ) => {
                    if let Some(reading) = reading(event, metric, aqi) {
                        let shape = AnomalyShape {
                            direction: *direction,
                            z: *z,
                            clear_z: *clear_z,
                            window_ms: *window_ms,
                            min_weeks: *min_weeks,
                            min_spread: *min_spread,
                        };
                        if let Some(tracker) = tracker(map, &event.area, Default::default) {
                            tracker.observe(&event.area, event.ts_ms, reading.value, shape);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Keeps the trackers in step with a journaled transition (live and in replay): a raise of
    /// a stale alert marks its sensor silent, an operator's resolve suppresses the condition
    /// until it clears, and either ends the transition's time in flight.
    pub fn applied(&mut self, transition: &Transition, book: &AlertBook) {
        let alert = match transition {
            Transition::Raise(alert) => Some((**alert).clone()),
            Transition::Resolve { id, .. } | Transition::Acknowledge { id, .. } => {
                book.get(id).cloned()
            }
        };
        let Some(alert) = alert else { return };
        self.in_flight
            .remove(&(alert.rule.clone(), alert.subject.clone()));
        let Some(index) = self.rules.iter().position(|rule| rule.id == alert.rule) else {
            return;
        };
        match transition {
            Transition::Raise(alert) => {
                if let (Condition::Stale { after_ms, .. }, Trackers::Stale(map)) =
                    (&self.rules[index].condition, &mut self.trackers[index])
                {
                    let silent_ms = alert.value.map_or(*after_ms, |s| (s * 1000.0) as i64);
                    map.entry(alert.subject.clone())
                        .or_insert_with(|| StaleTracker::new(&alert.area, i64::MIN / 2))
                        .mark_silent(&alert.subject, silent_ms, *after_ms, false);
                }
                // The episode is in the book now.
                if let Some(holding) = self.trackers[index].holding_mut(&alert.subject) {
                    holding.latched = None;
                }
            }
            Transition::Resolve { by: Some(_), .. } => {
                if let Some(holding) = self.trackers[index].holding_mut(&alert.subject)
                    && holding.firing.is_some()
                {
                    holding.suppressed = true;
                }
            }
            _ => {}
        }
    }

    /// Live only: checks the clock-driven conditions and returns the transitions that bring
    /// the book in line with what holds now.
    pub fn reconcile(&mut self, book: &AlertBook, areas: &Areas, now_ms: i64) -> Vec<Transition> {
        self.in_flight
            .retain(|_, sent_ms| now_ms - *sent_ms < IN_FLIGHT_MS);
        let mut transitions = Vec::new();
        for (rule, trackers) in self.rules.iter().zip(&mut self.trackers) {
            match (&rule.condition, &mut *trackers) {
                (Condition::Stale { after_ms, .. }, Trackers::Stale(map)) => {
                    for (source, tracker) in map.iter_mut() {
                        tracker.check(source, now_ms, *after_ms);
                    }
                }
                (
                    Condition::ReportBurst {
                        count,
                        radius_m,
                        within_ms,
                        clear_count,
                        ..
                    },
                    Trackers::Burst(burst),
                ) => burst.check(
                    now_ms,
                    BurstShape {
                        count: *count,
                        radius_m: *radius_m,
                        within_ms: *within_ms,
                        clear_count: *clear_count,
                    },
                ),
                _ => {}
            }
            let missing_means_clear = trackers.missing_means_clear();
            let mut live = Vec::new();
            for (subject, holding) in trackers.holdings() {
                live.push(subject.to_string());
                let key = (rule.id.clone(), subject.to_string());
                if self.in_flight.contains_key(&key) {
                    continue;
                }
                let open = book.open_for(&rule.id, subject);
                if open.is_some() {
                    // The open alert covers any episode that started meanwhile.
                    holding.latched = None;
                }
                let episode = holding.latched.take().or_else(|| {
                    holding
                        .firing
                        .clone()
                        .filter(|_| open.is_none() && !holding.suppressed)
                });
                match (episode, open) {
                    (Some(firing), None) => {
                        let raised = raise(rule, subject, &firing, areas, now_ms);
                        let id = raised.alert_id().to_string();
                        transitions.push(raised);
                        if holding.firing.is_none() {
                            // Over within one micro-batch: raised and resolved together.
                            transitions.push(Transition::Resolve {
                                id,
                                by: None,
                                value: None,
                                at_ms: now_ms,
                            });
                        }
                        self.in_flight.insert(key, now_ms);
                    }
                    (_, Some(alert)) if holding.firing.is_none() => {
                        transitions.push(Transition::Resolve {
                            id: alert.id.clone(),
                            by: None,
                            value: None,
                            at_ms: now_ms,
                        });
                        self.in_flight.insert(key, now_ms);
                    }
                    _ => {}
                }
            }
            if missing_means_clear {
                for (rule_id, subject, alert) in book.open_keys() {
                    let key = (rule_id.to_string(), subject.to_string());
                    if rule_id == rule.id
                        && !live.iter().any(|s| s == subject)
                        && !self.in_flight.contains_key(&key)
                    {
                        transitions.push(Transition::Resolve {
                            id: alert.id.clone(),
                            by: None,
                            value: None,
                            at_ms: now_ms,
                        });
                        self.in_flight.insert(key, now_ms);
                    }
                }
            }
        }
        transitions
    }
}

/// The metric's value in an event, if the event carries it.
fn reading<'a>(event: &'a Event, metric: &Metric, aqi: Option<f64>) -> Option<Observation<'a>> {
    if event.kind != metric.kind() {
        return None;
    }
    let value = match metric {
        Metric::Aqi => aqi?,
        Metric::Field { field, .. } => event.values.get(field).and_then(Value::as_f64)?,
    };
    Some(Observation {
        source: &event.source,
        area: &event.area,
        ts: event.ts_ms,
        value,
        lat: event.lat,
        lon: event.lon,
    })
}

/// A new alert for a subject whose condition holds.
fn raise(rule: &Rule, subject: &str, firing: &Firing, areas: &Areas, now_ms: i64) -> Transition {
    let area_name = areas
        .get(&firing.area)
        .map_or(firing.area.as_str(), |area| area.name.as_str());
    let metric = match &rule.condition {
        Condition::Threshold { metric, .. }
        | Condition::RateOfChange { metric, .. }
        | Condition::Anomaly { metric, .. } => metric.to_string(),
        Condition::Stale { .. } => "last_reading".into(),
        Condition::ReportBurst { .. } => subject.split('@').next().unwrap_or(subject).to_string(),
    };
    let round = |v: f64| (v * 100.0).round() / 100.0;
    Transition::Raise(Box::new(Alert {
        id: alert_id(&rule.id, subject, now_ms),
        rule: rule.id.clone(),
        rule_type: rule.condition.type_name().to_string(),
        severity: rule.severity,
        state: AlertState::Active,
        subject: subject.to_string(),
        area: firing.area.clone(),
        source: firing.source.clone(),
        metric,
        value: Some(round(firing.value)),
        threshold: Some(round(firing.threshold)),
        message: render(rule, firing, area_name, subject),
        lat: firing.lat,
        long: firing.lon,
        raised_at: stamp(now_ms),
        acked_by: None,
        acked_at: None,
        resolved_at: None,
        resolved_by: None,
        resolved_value: None,
    }))
}
