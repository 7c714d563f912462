//! Every alert the engine knows: the open ones, and the most recent resolved ones.

use super::alert::{Alert, AlertState, Transition, stamp};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Resolved alerts kept for the list and the views (the journal keeps all of them).
const RESOLVED_KEPT: usize = 2_000;

/// What applying a transition did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The alert changed; here it is as it is now.
    Changed(Box<Alert>),
    /// Nothing changed (unknown alert, repeated or not allowed transition).
    Unchanged,
}

/// The alerts, keyed by id, with an index of the open one per rule × subject.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AlertBook {
    alerts: BTreeMap<String, Alert>,
    open: HashMap<(String, String), String>,
    resolved: VecDeque<String>,
}

/// Why an operator's change to an alert is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertChangeError {
    /// No alert with that id.
    #[error("no alert {0:?}")]
    NotFound(String),
    /// The alert is already in a state the change does not apply to.
    #[error("alert {id:?} is {state:?}; {action} is not possible")]
    Conflict {
        /// Alert id.
        id: String,
        /// Its state.
        state: AlertState,
        /// What was asked.
        action: &'static str,
    },
}

impl AlertBook {
    /// Applies a journaled transition.
    pub fn apply(&mut self, transition: &Transition) -> Applied {
        match transition {
            Transition::Raise(alert) => {
                let key = (alert.rule.clone(), alert.subject.clone());
                if self.alerts.contains_key(&alert.id) || self.open.contains_key(&key) {
                    return Applied::Unchanged;
                }
                self.open.insert(key, alert.id.clone());
                self.alerts.insert(alert.id.clone(), (**alert).clone());
                Applied::Changed(alert.clone())
            }
            Transition::Acknowledge { id, by, at_ms } => {
                let Some(alert) = self.alerts.get_mut(id) else {
                    return Applied::Unchanged;
                };
                if alert.state != AlertState::Active {
                    return Applied::Unchanged;
                }
                alert.state = AlertState::Acknowledged;
                alert.acked_by = Some(by.clone());
                alert.acked_at = Some(stamp(*at_ms));
                Applied::Changed(Box::new(alert.clone()))
            }
            Transition::Resolve {
                id,
                by,
                value,
                at_ms,
            } => {
                let Some(alert) = self.alerts.get_mut(id) else {
                    return Applied::Unchanged;
                };
                if alert.state == AlertState::Resolved {
                    return Applied::Unchanged;
                }
                alert.state = AlertState::Resolved;
                alert.resolved_at = Some(stamp(*at_ms));
                alert.resolved_by = by.clone();
                alert.resolved_value = *value;
                let changed = alert.clone();
                self.open
                    .remove(&(changed.rule.clone(), changed.subject.clone()));
                self.resolved.push_back(changed.id.clone());
                while self.resolved.len() > RESOLVED_KEPT {
                    if let Some(old) = self.resolved.pop_front() {
                        self.alerts.remove(&old);
                    }
                }
                Applied::Changed(Box::new(changed))
            }
        }
    }

    /// The open alert of a rule for a subject.
    pub fn open_for(&self, rule: &str, subject: &str) -> Option<&Alert> {
        self.open
            .get(&(rule.to_string(), subject.to_string()))
            .and_then(|id| self.alerts.get(id))
    }

    /// One alert.
    pub fn get(&self, id: &str) -> Option<&Alert> {
        self.alerts.get(id)
    }

    /// Whether an operator may acknowledge (`resolve == false`) or resolve the alert now.
    pub fn check(&self, id: &str, resolve: bool) -> Result<&Alert, AlertChangeError> {
        let alert = self
            .alerts
            .get(id)
            .ok_or_else(|| AlertChangeError::NotFound(id.to_string()))?;
        let allowed = if resolve {
            alert.state != AlertState::Resolved
        } else {
            alert.state == AlertState::Active
        };
        if allowed {
            Ok(alert)
        } else {
            Err(AlertChangeError::Conflict {
                id: id.to_string(),
                state: alert.state,
                action: if resolve { "resolve" } else { "acknowledge" },
            })
        }
    }

    /// Every alert kept, newest first.
    pub fn all(&self) -> impl Iterator<Item = &Alert> {
        let mut alerts: Vec<&Alert> = self.alerts.values().collect();
        alerts.sort_by(|a, b| b.raised_at.cmp(&a.raised_at).then(b.id.cmp(&a.id)));
        alerts.into_iter()
    }

    /// Open alerts of one area.
    pub fn open_in(&self, area: &str) -> usize {
        self.open
            .values()
            .filter_map(|id| self.alerts.get(id))
            .filter(|alert| alert.area == area)
            .count()
    }

    /// Alerts kept, per state (every state listed, zeros included).
    pub fn count_by_state(&self) -> Vec<(AlertState, u64)> {
        AlertState::ALL
            .into_iter()
            .map(|state| {
                let count = self.alerts.values().filter(|a| a.state == state).count();
                (state, count as u64)
            })
            .collect()
    }

    /// Open alerts in all.
    pub fn open_total(&self) -> usize {
        self.open.len()
    }

    /// Rule × subject pairs with an open alert.
    pub fn open_keys(&self) -> impl Iterator<Item = (&str, &str, &Alert)> {
        self.open.iter().filter_map(|((rule, subject), id)| {
            self.alerts
                .get(id)
                .map(|alert| (rule.as_str(), subject.as_str(), alert))
        })
    }
}
