//! Cluster mode of `ioc serve` (`--database-url postgres://…`): the wiring of the PostgreSQL
//! journal, the follower, the slot leases and their subscribers, the alert leader, and the
//! readiness and metrics they add. The parts themselves live in `ioc_ingest::cluster`.

use crate::metrics::IngestMetrics;
use ioc_analytics::Analytics;
use ioc_dashboard_api::prometheus::write_metric;
use ioc_dashboard_api::{MetricsSource, Readiness};
use ioc_ingest::cluster::follower::{Follower, OwnCommits, Position};
use ioc_ingest::cluster::slots::{SlotSessions, SlotStatuses, supervise};
use ioc_ingest::cluster::{ClusterSettings, Coordinator, LEADER_SLOT, Membership};
use ioc_ingest::journal::{self, Entry, JournalError, JournalHandle, PostgresJournal};
use ioc_ingest::mqtt::SessionTotals;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The two connections of a cluster instance: the writer (the journal thread's) and the
/// reader, which replays at start and then follows the shared journal.
pub struct Journals {
    /// Commits this instance's batches.
    pub writer: PostgresJournal,
    /// Replays, then follows.
    pub reader: PostgresJournal,
}

impl Journals {
    /// Connects both and runs the migrations (blocking: call off the async runtime).
    pub fn open(url: &str, dead_letter_capacity: usize) -> Result<Self, JournalError> {
        Ok(Self {
            writer: PostgresJournal::open(url, dead_letter_capacity)?,
            reader: PostgresJournal::open(url, dead_letter_capacity)?,
        })
    }
}

/// A running cluster instance's parts that outlive start-up.
pub struct Cluster {
    /// The journal handle producers write through.
    pub journal: JournalHandle,
    coordinator: Option<Coordinator>,
    follower: Arc<Follower>,
    statuses: Arc<SlotStatuses>,
    fenced: Arc<AtomicU64>,
    mine: Arc<Mutex<HashSet<String>>>,
}

impl Cluster {
    /// Starts the journal thread on the writer, the follower on the reader (after `replayed`,
    /// the last event seq the start-up replay applied) and joins the lease loop (blocking:
    /// call off the async runtime).
    pub fn start(
        journals: Journals,
        replayed: i64,
        analytics: &Analytics,
        settings: &ClusterSettings,
    ) -> anyhow::Result<Self> {
        let Journals { writer, reader } = journals;
        let fenced = writer.fenced_counter();
        let (own, wake, mine) = OwnCommits::new();
        let (journal, _journal_thread) = journal::spawn(Box::new(writer), own)?;
        let (sink, _analytics_thread) = analytics.start_worker()?;
        let position = Position {
            event_seq: replayed,
            dead_letter_seq: reader.recovered_dead_letter_seq(),
        };
        let follower = Arc::new(Follower::start(reader, sink, position, wake)?);
        let coordinator = Coordinator::start(settings)?;
        tracing::info!(
            instance = %settings.instance,
            slots = settings.slots,
            "joined the cluster"
        );
        Ok(Self {
            journal,
            coordinator: Some(coordinator),
            follower,
            statuses: Arc::new(SlotStatuses::default()),
            fenced,
            mine,
        })
    }

    /// The membership as the lease loop publishes it.
    pub fn membership(&self) -> watch::Receiver<Membership> {
        self.coordinator
            .as_ref()
            .map(Coordinator::membership)
            .unwrap_or_else(|| watch::channel(Membership::default()).1)
    }

    /// Runs the slot subscribers, the alert leader and the overview's membership figures
    /// until `shutdown` resolves.
    pub fn run(
        &self,
        sessions: SlotSessions,
        analytics: &Analytics,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let running = self
            .coordinator
            .as_ref()
            .map(Coordinator::running)
            .unwrap_or_default();
        tokio::spawn(lead_alerts(
            analytics.clone(),
            self.journal.clone(),
            self.membership(),
        ));
        tokio::spawn(show_membership(analytics.clone(), self.membership()));
        tokio::spawn(supervise(
            sessions,
            self.membership(),
            running,
            Arc::clone(&self.statuses),
            shutdown,
        ))
    }

    /// The alert transitions this instance's journal inserts won, for the MQTT publisher.
    pub fn won_alerts(&self) -> WonAlerts {
        WonAlerts {
            mine: Arc::clone(&self.mine),
        }
    }

    /// Readiness checks of cluster mode.
    pub fn readiness(&self, replayed: Arc<AtomicBool>) -> Arc<dyn Readiness> {
        Arc::new(ClusterReadiness {
            journal: self.journal.clone(),
            follower: Arc::clone(&self.follower),
            leases_healthy: self.lease_health(),
            statuses: Arc::clone(&self.statuses),
            replayed,
        })
    }

    fn lease_health(&self) -> Arc<AtomicBool> {
        self.coordinator
            .as_ref()
            .map(Coordinator::health)
            .unwrap_or_else(|| Arc::new(AtomicBool::new(false)))
    }

    /// This instance's slot sessions, summed, for the ingest figures of `/metrics`.
    pub fn session_totals(&self) -> Arc<dyn SessionTotals> {
        Arc::clone(&self.statuses) as Arc<dyn SessionTotals>
    }

    /// `/metrics` of a cluster instance: the engine's ingest figures and the cluster's own.
    pub fn metrics(&self, ingest: IngestMetrics) -> Arc<dyn MetricsSource> {
        Arc::new(ClusterMetrics {
            ingest,
            fenced: Arc::clone(&self.fenced),
            membership: self.membership(),
        })
    }

    /// Leaves the cluster: releases the slots and the heartbeat (blocking).
    pub fn leave(&mut self) {
        if let Some(coordinator) = self.coordinator.take() {
            coordinator.leave();
        }
    }
}

/// The alert transition event ids this instance journaled (its insert won).
#[derive(Clone)]
pub struct WonAlerts {
    mine: Arc<Mutex<HashSet<String>>>,
}

/// How long an applied transition waits for the journal thread to record it as won: the
/// follower may read the committed row a moment before the journal thread hands it over.
const WON_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

impl WonAlerts {
    /// Whether this instance's insert of `event_id` won (then it alone publishes it on MQTT);
    /// forgets the id once answered.
    pub async fn check(&self, event_id: &str) -> bool {
        if self.take(event_id) {
            return true;
        }
        tokio::time::sleep(WON_GRACE).await;
        self.take(event_id)
    }

    fn take(&self, event_id: &str) -> bool {
        self.mine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(event_id)
    }
}

/// Keeps the overview's `instances` and `slots` up to date.
async fn show_membership(analytics: Analytics, mut membership: watch::Receiver<Membership>) {
    loop {
        let (instances, slots) = {
            let now = membership.borrow_and_update();
            (now.instances, now.owned.len())
        };
        analytics.set_membership(instances, slots);
        if membership.changed().await.is_err() {
            return;
        }
    }
}

/// While this instance holds the leader slot, the rule evaluator's transitions are journaled
/// with that slot's fence; otherwise the evaluator stays disconnected, so exactly one instance
/// decides alert transitions at a time and a deposed leader's late decision is refused.
async fn lead_alerts(
    analytics: Analytics,
    journal: JournalHandle,
    mut membership: watch::Receiver<Membership>,
) {
    loop {
        let fence = membership.borrow_and_update().fence(LEADER_SLOT);
        let Some(fence) = fence else {
            if membership.changed().await.is_err() {
                return;
            }
            continue;
        };
        tracing::info!(
            epoch = fence.epoch,
            "alert leader: deciding alert transitions"
        );
        let mut transitions = analytics.connect_alert_journal();
        loop {
            tokio::select! {
                changed = membership.changed() => {
                    if changed.is_err() {
                        analytics.disconnect_alert_journal();
                        return;
                    }
                    if membership.borrow().fence(LEADER_SLOT) != Some(fence) {
                        break;
                    }
                }
                first = transitions.recv() => {
                    let Some(first) = first else { break };
                    let mut entries = vec![Entry::Event(first)];
                    while let Ok(next) = transitions.try_recv() {
                        entries.push(Entry::Event(next));
                    }
                    match journal.append_fenced(entries, Some(fence)).await {
                        Ok(_) => {}
                        Err(JournalError::Fenced { .. }) => {
                            tracing::warn!("alert leadership lost; transitions left to the new leader");
                        }
                        Err(error) => {
                            tracing::error!(%error, "alert transition not journaled; will retry");
                        }
                    }
                }
            }
        }
        analytics.disconnect_alert_journal();
        tracing::info!("no longer the alert leader");
    }
}

/// What `/readyz` checks in cluster mode.
struct ClusterReadiness {
    journal: JournalHandle,
    follower: Arc<Follower>,
    leases_healthy: Arc<AtomicBool>,
    statuses: Arc<SlotStatuses>,
    replayed: Arc<AtomicBool>,
}

impl Readiness for ClusterReadiness {
    fn checks(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("journal", self.journal.is_healthy()),
            (
                "database",
                self.follower.is_healthy() && self.leases_healthy.load(Ordering::Relaxed),
            ),
            ("broker", self.statuses.all_connected()),
            ("replay", self.replayed.load(Ordering::Relaxed)),
        ]
    }
}

/// `/metrics` of a cluster instance.
struct ClusterMetrics {
    ingest: IngestMetrics,
    fenced: Arc<AtomicU64>,
    membership: watch::Receiver<Membership>,
}

impl MetricsSource for ClusterMetrics {
    fn render(&self) -> String {
        let mut text = self.ingest.render();
        let (instances, owned) = {
            let now = self.membership.borrow();
            (now.instances as u64, now.owned.len() as u64)
        };
        let metrics = [
            (
                "ioc_cluster_instances",
                "gauge",
                "Live instances in the cluster.",
                instances,
            ),
            (
                "ioc_cluster_slots_owned",
                "gauge",
                "Slots this instance holds.",
                owned,
            ),
            (
                "ioc_cluster_fenced_commits_total",
                "counter",
                "Commits refused because the slot's lease had passed to another instance.",
                self.fenced.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in metrics {
            write_metric(&mut text, name, kind, help, value);
        }
        text
    }
}
