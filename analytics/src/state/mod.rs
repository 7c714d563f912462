//! Everything analytics knows, updated batch by batch, split by owner: the [`Telemetry`] that
//! sensor and portal events build, the [`Reports`] (citizen reports and dossiers), the
//! [`Alerts`]; and, on [`State`] itself, what belongs to the engine as a whole (the
//! deployment's areas and settings, refusals, cluster membership).

mod alerts;
mod reports;
mod tally;
mod telemetry;

pub use alerts::Alerts;
pub use reports::Reports;
pub use telemetry::{LAEQ_ENERGY, SourceState, Telemetry};

use crate::alerts::Transition;
use crate::batch::Reading;
use crate::config::AnalyticsConfig;
use crate::partial::Partial;
use ioc_ingest::deadletter::DeadLetter;
use ioc_ingest::{Areas, Event, Kind, Reason};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The analytics state: its three parts, and what belongs to the engine as a whole. The parts
/// each own what one kind of journal event builds; views read the parts they show, and the
/// steps that touch several parts ([`State::admit`]) live here, the one place that orders
/// them. What stays on `State` does not come from the journal's city events: the areas and
/// settings come from the deployment (and every part reads them), the refusals from the
/// journal's own tables, the membership from the cluster. What the journal's events built is
/// serialized in snapshots ([`crate::snapshot`]); what the deployment or the wall clock gives
/// is skipped.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// The deployment's areas.
    #[serde(skip)]
    pub(crate) areas: Arc<Areas>,
    /// The deployment's analytics settings.
    #[serde(skip)]
    pub(crate) config: AnalyticsConfig,
    /// What sensor and portal events build: counts, lateness, windows, sources, rates.
    pub(crate) telemetry: Telemetry,
    /// The report register and the dossier book.
    pub(crate) reports: Reports,
    /// The alert book, the rule evaluator and the alert changes to push.
    pub(crate) alerts: Alerts,
    /// Refusals per reason. Refusals and their records come from the journal's own tables at
    /// start, not from a snapshot.
    #[serde(skip)]
    pub(crate) rejected: BTreeMap<Reason, u64>,
    /// The newest refused records, oldest first.
    #[serde(skip)]
    pub(crate) dead_letters: VecDeque<DeadLetter>,
    /// Live engine instances and the stream slots this one holds (the overview's
    /// `instances` and `slots`): one and one for a single engine.
    #[serde(skip)]
    pub(crate) membership: (usize, usize),
}

impl State {
    /// An empty state for a deployment's areas.
    pub fn new(areas: Arc<Areas>, config: AnalyticsConfig) -> Self {
        Self {
            areas,
            config,
            telemetry: Telemetry::default(),
            reports: Reports::default(),
            alerts: Alerts::default(),
            rejected: BTreeMap::new(),
            dead_letters: VecDeque::new(),
            membership: (1, 1),
        }
    }

    /// This (empty) state's deployment, areas, settings and rules, with everything else from
    /// `saved`, a state decoded from a snapshot.
    pub(crate) fn adopt(self, saved: State) -> State {
        State {
            areas: self.areas,
            config: self.config,
            alerts: Alerts {
                evaluator: self.alerts.evaluator,
                ..saved.alerts
            },
            membership: self.membership,
            ..saved
        }
    }

    /// First phase of a batch: every part takes the events; the readings for the windows are
    /// added to `readings` (the caller's buffer, which keeps its capacity from batch to batch).
    ///
    /// Events are taken in journal order, and each event goes through the parts in the same
    /// order live and in replay, so replay reaches the same state as the live run: the
    /// order matters for that equality (the alert trackers read the hourly AQI the telemetry
    /// has just computed for the event).
    pub fn admit(
        &mut self,
        events: &[Event],
        live_at_ms: Option<i64>,
        readings: &mut Vec<Reading>,
    ) {
        let wall_ms = live_at_ms.unwrap_or_else(ioc_ingest::event::now_ms);
        let mut tally = tally::BatchTally::default();
        for event in events {
            if event.kind == Kind::Alert {
                // The engine's own record, not a city event: it moves the alerts only.
                self.alerts.apply_journaled(event, live_at_ms.is_some());
                continue;
            }
            let series = tally.count(event);
            let config = &self.config;
            self.reports.apply(event, &|code| config.sla_ms(code));
            let aqi = self
                .telemetry
                .admit(event, config.allowed_lateness_ms, series, readings);
            self.alerts.observe(event, aqi, wall_ms);
        }
        self.telemetry.add_counts(&tally);
        if let Some(now) = live_at_ms {
            self.telemetry.record_rates(now, &tally);
        }
    }

    /// The transitions that bring the alert book in line with the rules now, for the
    /// deployment's areas (live only).
    pub fn reconcile_alerts(&mut self, now_ms: i64) -> Vec<(Transition, String)> {
        self.alerts.reconcile(&self.areas, now_ms)
    }

    /// Second phase: merges the polars partials into the telemetry's windows and drops
    /// buckets no window reaches under the allowed lateness in force.
    pub fn merge(&mut self, partials: Vec<(u32, i64, Partial)>) {
        self.telemetry
            .merge(partials, self.config.allowed_lateness_ms);
    }

    /// Counts refusals and keeps the newest records.
    pub fn record_rejected(&mut self, records: Vec<DeadLetter>) {
        for record in records {
            *self.rejected.entry(record.reason).or_insert(0) += 1;
            self.keep_dead_letter(record);
        }
    }

    /// Restores refusal counts and records from the journal at start.
    pub fn restore_rejected(&mut self, counts: BTreeMap<Reason, u64>, records: Vec<DeadLetter>) {
        self.rejected = counts;
        for record in records {
            self.keep_dead_letter(record);
        }
    }

    fn keep_dead_letter(&mut self, record: DeadLetter) {
        self.dead_letters.push_back(record);
        while self.dead_letters.len() > self.config.dead_letter_capacity {
            self.dead_letters.pop_front();
        }
    }

    /// Total refusals.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Refusals by reason, every reason listed.
    pub fn rejected_by_reason(&self) -> BTreeMap<Reason, u64> {
        Reason::ALL
            .into_iter()
            .map(|reason| (reason, self.rejected.get(&reason).copied().unwrap_or(0)))
            .collect()
    }
}
