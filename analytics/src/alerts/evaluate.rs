//! The evaluator: feeds every journaled event to the trackers of every rule (live and in
//! replay alike), and, live only, turns the difference between "what holds" and "what the book
//! says" into transitions to journal.
//!
//! Keeping the decision in one reconcile step means nothing is raised twice: a condition that
//! holds with an open alert (or one on its way to the journal) raises nothing, and a restart that
//! replays the journal reaches the same trackers and the same book as the live run did.

use super::alert::{Alert, AlertState, Transition, alert_id, stamp};
use super::book::AlertBook;
use super::conditions::Condition;
use super::message::render;
use super::metric::Metric;
use super::rules::{Rule, RuleSet};
use super::trackers::Firing;
use crate::snapshot::SnapshotError;
use ioc_ingest::{Areas, Event, Kind};
use std::collections::{HashMap, HashSet};

/// How long a transition sent to the journal blocks another for the same rule × subject before
/// it is assumed lost (the journal refused it) and may be sent again.
const IN_FLIGHT_MS: i64 = 30_000;

/// What reconciling one subject asks for, in order; the alerts are made once the rule's
/// holdings are no longer borrowed.
enum Step {
    /// A new alert; `over` when its episode already ended (raised and resolved together).
    Raise {
        subject: String,
        firing: Firing,
        over: bool,
    },
    /// The end of an open alert.
    Resolve(String),
}

/// Evaluates the rules.
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<Rule>,
    /// The condition of each rule, in the order of `rules`.
    conditions: Vec<Box<dyn Condition>>,
    /// For each kind (by its declaration order), the places in `conditions` of the rules that
    /// watch it, in rule order: an event goes to the three or four rules its kind concerns,
    /// not through every rule to be turned away.
    watching: Vec<Vec<usize>>,
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
        let mut evaluator = Self {
            rules: Vec::new(),
            conditions: Vec::new(),
            watching: Vec::new(),
            in_flight: HashMap::new(),
        };
        for rule in rules.rules {
            // A parsed rule set is checked already; one built by hand may not be.
            match rule.spec.condition() {
                Ok(condition) => {
                    evaluator.rules.push(rule);
                    evaluator.conditions.push(condition);
                }
                Err(message) => tracing::error!(rule = %rule.id, %message, "alert rule left out"),
            }
        }
        evaluator.watching = vec![Vec::new(); Kind::EVERY.len()];
        for kind in Kind::EVERY {
            if let Some(watchers) = evaluator.watching.get_mut(kind as usize) {
                watchers.extend(
                    evaluator
                        .conditions
                        .iter()
                        .enumerate()
                        .filter(|(_, condition)| condition.watches(kind))
                        .map(|(at, _)| at),
                );
            }
        }
        evaluator
    }

    /// The rules evaluated.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Each rule's id with its trackers encoded, for a snapshot of the analytics state.
    pub fn save_trackers(&self) -> Result<Vec<(String, Vec<u8>)>, SnapshotError> {
        self.rules
            .iter()
            .zip(&self.conditions)
            .map(|(rule, condition)| Ok((rule.id.clone(), condition.save_trackers()?)))
            .collect()
    }

    /// Takes back the trackers of [`Evaluator::save_trackers`]; the rules must be the same,
    /// in the same order (a snapshot's fingerprint checks that first).
    pub fn load_trackers(&mut self, saved: Vec<(String, Vec<u8>)>) -> Result<(), SnapshotError> {
        if saved.len() != self.rules.len() {
            return Err(SnapshotError::Mismatch(format!(
                "it holds the trackers of {} rules, {} are in force",
                saved.len(),
                self.rules.len()
            )));
        }
        for ((rule, condition), (id, bytes)) in
            self.rules.iter().zip(&mut self.conditions).zip(saved)
        {
            if rule.id != id {
                return Err(SnapshotError::Mismatch(format!(
                    "it holds rule {id:?} where {:?} is in force",
                    rule.id
                )));
            }
            condition.load_trackers(&bytes)?;
        }
        Ok(())
    }

    /// The metrics anomaly rules watch, each once, with the weeks of history the longest
    /// baseline among them may use.
    pub fn anomaly_metrics(&self) -> Vec<(Metric, u32)> {
        let mut metrics: Vec<(Metric, u32)> = Vec::new();
        for (metric, weeks) in self.conditions.iter().filter_map(|c| c.baseline()) {
            match metrics.iter_mut().find(|(m, _)| m == metric) {
                Some((_, w)) => *w = (*w).max(weeks),
                None => metrics.push((metric.clone(), weeks)),
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
        for condition in &mut self.conditions {
            if condition
                .baseline()
                .is_some_and(|(watched, _)| watched == metric)
            {
                condition.seed_baseline(area, hour_start_ms, mean, readings);
            }
        }
    }

    /// Feeds one journaled event. `aqi` is the source's hourly VN_AQI after this event (air
    /// quality only); `now_ms` the wall clock, which the stale rule judges silence by.
    pub fn observe(&mut self, event: &Event, aqi: Option<f64>, now_ms: i64) {
        let Some(watchers) = self.watching.get(event.kind as usize) else {
            return;
        };
        for &at in watchers {
            if let Some(condition) = self.conditions.get_mut(at) {
                condition.observe(event, aqi, now_ms);
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
        let Some(condition) = self
            .rules
            .iter()
            .zip(&mut self.conditions)
            .find_map(|(rule, condition)| (rule.id == alert.rule).then_some(condition))
        else {
            return;
        };
        match transition {
            Transition::Raise(alert) => {
                condition.raised(alert);
                // The episode is in the book now.
                if let Some(holding) = condition.holding_mut(&alert.subject) {
                    holding.latched = None;
                }
            }
            Transition::Resolve { by: Some(_), .. } => {
                if let Some(holding) = condition.holding_mut(&alert.subject)
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
        // Rules with an open alert: in any other rule a subject neither firing nor latched has
        // nothing to reconcile, and that is nearly every subject nearly always (this runs up to
        // 100 times a second over every sensor of every rule; B11's profile).
        let rules_with_open: HashSet<&str> = book.open_keys().map(|(rule, _, _)| rule).collect();
        for (rule, condition) in self.rules.iter().zip(&mut self.conditions) {
            condition.check(now_ms);
            let missing_means_clear = condition.missing_means_clear();
            let may_have_open = rules_with_open.contains(rule.id.as_str());
            let mut live = Vec::new();
            let mut steps = Vec::new();
            for (subject, holding) in condition.holdings() {
                if missing_means_clear {
                    live.push(subject.to_string());
                }
                if !may_have_open && holding.firing.is_none() && holding.latched.is_none() {
                    continue;
                }
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
                        steps.push(Step::Raise {
                            subject: subject.to_string(),
                            firing,
                            // Over within one micro-batch: raised and resolved together.
                            over: holding.firing.is_none(),
                        });
                        self.in_flight.insert(key, now_ms);
                    }
                    (_, Some(alert)) if holding.firing.is_none() => {
                        steps.push(Step::Resolve(alert.id.clone()));
                        self.in_flight.insert(key, now_ms);
                    }
                    _ => {}
                }
            }
            for step in steps {
                match step {
                    Step::Raise {
                        subject,
                        firing,
                        over,
                    } => {
                        let raised = raise(rule, &**condition, &subject, &firing, areas, now_ms);
                        let id = raised.alert_id().to_string();
                        transitions.push(raised);
                        if over {
                            transitions.push(resolve(id, now_ms));
                        }
                    }
                    Step::Resolve(id) => transitions.push(resolve(id, now_ms)),
                }
            }
            if missing_means_clear {
                for (rule_id, subject, alert) in book.open_keys() {
                    let key = (rule_id.to_string(), subject.to_string());
                    if rule_id == rule.id
                        && !live.iter().any(|s| s == subject)
                        && !self.in_flight.contains_key(&key)
                    {
                        transitions.push(resolve(alert.id.clone(), now_ms));
                        self.in_flight.insert(key, now_ms);
                    }
                }
            }
        }
        transitions
    }
}

/// The automatic end of an alert: its condition cleared.
fn resolve(id: String, now_ms: i64) -> Transition {
    Transition::Resolve {
        id,
        by: None,
        value: None,
        at_ms: now_ms,
    }
}

/// A new alert for a subject whose condition holds.
fn raise(
    rule: &Rule,
    condition: &dyn Condition,
    subject: &str,
    firing: &Firing,
    areas: &Areas,
    now_ms: i64,
) -> Transition {
    let area_name = areas
        .get(&firing.area)
        .map_or(firing.area.as_str(), |area| area.name.as_str());
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let message = render(
        rule.message.as_deref(),
        &condition.wording(subject),
        firing,
        area_name,
        subject,
    );
    Transition::Raise(Box::new(Alert {
        id: alert_id(&rule.id, subject, now_ms),
        rule: rule.id.clone(),
        rule_type: rule.spec.type_name().to_string(),
        severity: rule.severity,
        state: AlertState::Active,
        subject: subject.to_string(),
        area: firing.area.clone(),
        source: firing.source.clone(),
        metric: condition.alert_metric(subject),
        value: Some(round(firing.value)),
        threshold: Some(round(firing.threshold)),
        message,
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
