//! The analytics handle: shared state, the worker thread that runs polars off the async
//! runtime, and the journal sink that feeds it.

use crate::alerts::{Alert, AlertChangeError, Evaluator, Rule, RuleSet};
use crate::batch;
use crate::config::AnalyticsConfig;
use crate::reports::{ChangeError, Report, ReportQuery};
use crate::snapshot::{self, SnapshotError};
use crate::state::State;
use crate::views::AlertQuery;
use crate::views::{self, ReportDetail, ViewData, ViewError, ViewRequest};
use crate::worker_queue::{QueueReceiver, QueueSender, event_queue};
use ioc_ingest::deadletter::DeadLetter;
use ioc_ingest::journal::{JournalSink, Recovered};
use ioc_ingest::report::update::Change;
use ioc_ingest::{Areas, Event, Reason};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, watch};

/// Committed events waiting for the worker; when they would pass this, the journal thread
/// waits (and with it the acknowledgements), so memory stays bounded under any input rate.
/// About three seconds of 32,000 events/s: room for a pause of the worker (a snapshot of a large
/// state) without holding back the acknowledgements, which a broker with a short per-client
/// queue would answer by dropping messages (`worker_queue.rs`).
const WORKER_QUEUE_EVENTS: usize = 100_000;

/// A wait of the journal for the worker's queue at least this long is logged: the
/// acknowledgements waited as long.
const LOGGED_QUEUE_WAIT: Duration = Duration::from_millis(250);

/// Why analytics could not process a batch.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// polars refused the micro-batch (a bug, not the sender's fault; the events stay journaled).
    #[error("polars micro-batch failed: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

/// Cloneable access to the analytics state.
#[derive(Clone)]
pub struct Analytics {
    state: Arc<Mutex<State>>,
    applied: Arc<watch::Sender<i64>>,
    /// Every alert transition applied live, for the websocket push and MQTT `ioc/alerts`.
    alert_feed: broadcast::Sender<Arc<Alert>>,
    /// Where the rule evaluator's transitions go to be journaled; `None` until the engine
    /// connects the journal (replay and unit tests evaluate nothing).
    alert_journal: Arc<Mutex<Option<mpsc::UnboundedSender<Event>>>>,
    /// Admitted readings waiting for their polars micro-batch (see [`WINDOW_FLUSH_EVERY`]);
    /// a view request flushes them first, so views never miss an applied event.
    pending_readings: Arc<Mutex<Vec<batch::Reading>>>,
    /// Held while the worker applies a batch (admits it, keeps its readings, marks its seq
    /// applied) and while a snapshot is taken, so a snapshot never sees a batch half applied.
    applying: Arc<Mutex<()>>,
    /// Where snapshots of the state go, once [`Analytics::enable_snapshots`] is called.
    snapshots: Arc<Mutex<Option<SnapshotPlan>>>,
    /// Journal seq held by the newest snapshot restored or written (0: none), for `/metrics`.
    snapshot_seq: Arc<AtomicI64>,
    /// Events the start-up replay read from the journal, for `/metrics`.
    replayed_at_start: Arc<AtomicU64>,
}

/// Where the state's snapshots are written, and how much was applied since the last one.
#[derive(Debug)]
struct SnapshotPlan {
    path: PathBuf,
    /// Events applied since the last snapshot (at start: the ones replayed after it).
    unsaved: u64,
    written_at: Instant,
}

/// A snapshot is written once this many events were applied since the last one, so that a
/// restart after a crash replays at most about this many (a few seconds' work; B8 in
/// BENCHMARKS.md).
const SNAPSHOT_EVERY_EVENTS: u64 = 2_000_000;

/// Events applied since the last snapshot are saved at the latest this long after it, so
/// that at low rates a crash does not leave hours of journal to replay. Writing one costs
/// 0.4–0.7 s of one core for an hour of a 30-area city (BENCHMARKS.md, "Eighth round").
const SNAPSHOT_EVERY: Duration = Duration::from_secs(10 * 60);

/// Alert transitions a slow listener may fall behind by before it misses some (it still sees
/// them in the `alerts` view's next tick).
const ALERT_FEED_CAPACITY: usize = 1024;

/// How often the worker checks clock-driven alert conditions (silent sensors, thinning report
/// clusters) when no batch arrives.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Accepted events ever.
    pub events_total: u64,
    /// Late events ever.
    pub late_total: u64,
    /// Refusals by reason (every reason listed).
    pub rejected: BTreeMap<Reason, u64>,
    /// Events per second over the last ten seconds.
    pub events_per_sec: f64,
    /// Alerts kept, per state name (`active`, `acknowledged`, `resolved`).
    pub alerts: Vec<(&'static str, u64)>,
    /// The newest event time seen (the watermark's base), if any event was seen.
    pub max_ts_ms: Option<i64>,
    /// Events the start-up replay read from the journal: all of them, or only those after
    /// the snapshot the state was restored from.
    pub replayed_at_start: u64,
    /// Journal seq held by the newest snapshot of the state, restored or written (0: none).
    pub snapshot_seq: i64,
}

impl Analytics {
    /// Empty analytics for a deployment's areas.
    pub fn new(areas: Arc<Areas>, config: AnalyticsConfig) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(areas, config))),
            applied: Arc::new(watch::channel(0).0),
            alert_feed: broadcast::channel(ALERT_FEED_CAPACITY).0,
            alert_journal: Arc::new(Mutex::new(None)),
            pending_readings: Arc::new(Mutex::new(Vec::new())),
            applying: Arc::new(Mutex::new(())),
            snapshots: Arc::new(Mutex::new(None)),
            snapshot_seq: Arc::new(AtomicI64::new(0)),
            replayed_at_start: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Replaces the alert rules (call before replay, so the trackers see every event).
    pub fn with_rules(self, rules: RuleSet) -> Self {
        self.lock().alerts.evaluator = Evaluator::new(rules);
        self
    }

    /// Seeds the anomaly rules' hour-of-week baselines from the Parquet archive of `data_dir`
    /// (blocking; call before replay, which adds the hours still in the journal). Returns the
    /// archived hours used.
    pub fn seed_baselines_from_archive(
        &self,
        data_dir: &std::path::Path,
        now_ms: i64,
    ) -> Result<usize, crate::history::HistoryError> {
        let metrics = self.lock().alerts.evaluator.anomaly_metrics();
        let mut used = 0;
        for (metric, weeks) in metrics {
            let since = now_ms - i64::from(weeks) * 7 * 24 * 3_600_000;
            let hours = crate::history::baseline::archived_hours(
                data_dir,
                metric.kind(),
                metric.field(),
                since,
            )?;
            let mut state = self.lock();
            for hour in &hours {
                state.alerts.evaluator.seed_baseline(
                    &metric,
                    &hour.area,
                    hour.hour_start_ms,
                    hour.mean,
                    hour.count,
                );
            }
            used += hours.len();
        }
        Ok(used)
    }

    /// The alert rules in force.
    pub fn rules(&self) -> Vec<Rule> {
        self.lock().alerts.evaluator.rules().to_vec()
    }

    /// Starts live alert evaluation: the rule evaluator's transitions arrive on the returned
    /// receiver, for the caller to journal (they come back through the journal like any event).
    pub fn connect_alert_journal(&self) -> mpsc::UnboundedReceiver<Event> {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self
            .alert_journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(sender);
        receiver
    }

    /// Stops live alert evaluation (cluster mode: this instance is no longer the one that
    /// decides); the receiver of [`Analytics::connect_alert_journal`] then ends.
    pub fn disconnect_alert_journal(&self) {
        *self
            .alert_journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// Records how many engine instances are live and how many stream slots this one holds,
    /// for the overview (cluster mode).
    pub fn set_membership(&self, instances: usize, slots: usize) {
        self.lock().membership = (instances, slots);
    }

    /// Alert transitions as they are applied (live only).
    pub fn alert_feed(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.alert_feed.subscribe()
    }

    /// Evaluates the clock-driven conditions and sends the transitions the rules call for to
    /// the journal (blocking: call off the async runtime). Does nothing until connected.
    pub fn reconcile_alerts(&self, now_ms: i64) {
        let journal = self
            .alert_journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some(journal) = journal else { return };
        let transitions = self.lock().reconcile_alerts(now_ms);
        for (transition, area) in transitions {
            if journal.send(transition.to_event(&area, now_ms)).is_err() {
                tracing::warn!("alert journal closed; transition dropped");
            }
        }
    }

    /// Alerts matching `query`, newest first.
    pub fn alerts(&self, query: &AlertQuery) -> Vec<Alert> {
        query.run(&self.lock().alerts.book)
    }

    /// One alert.
    pub fn alert(&self, id: &str) -> Option<Alert> {
        self.lock().alerts.book.get(id).cloned()
    }

    /// Whether an operator may acknowledge (`resolve == false`) or resolve the alert now.
    pub fn check_alert_change(&self, id: &str, resolve: bool) -> Result<Alert, AlertChangeError> {
        self.lock().alerts.book.check(id, resolve).cloned()
    }

    /// Records that every journal event up to `seq` has been applied (replay sets it once,
    /// the worker after each batch), waking writers waiting to read their own write.
    pub fn mark_applied(&self, seq: i64) {
        self.applied.send_if_modified(|applied| {
            let moved = seq > *applied;
            *applied = (*applied).max(seq);
            moved
        });
    }

    /// The highest journal sequence number applied so far.
    pub fn applied_seq(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Waits until the journal event `seq` has been applied, so that a write acknowledged by
    /// the journal can be read back at once; `false` if `timeout` passed first.
    pub async fn wait_applied(&self, seq: i64, timeout: std::time::Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(timeout, applied.wait_for(|at| *at >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    /// A copy of one report.
    pub fn report(&self, id: &str) -> Option<Report> {
        self.lock().reports.register.get(id).cloned()
    }

    /// A report as the operator API shows it (contact in full only when `full_contact`),
    /// built under the state lock; the caller serializes it after the lock is released.
    pub fn report_detail(&self, id: &str, now_ms: i64, full_contact: bool) -> Option<ReportDetail> {
        self.lock()
            .reports
            .register
            .get(id)
            .map(|report| views::report_detail(report, now_ms, full_contact))
    }

    /// Whether `change` may be made to report `id` now; returns the report's area and its
    /// version (the changes applied so far), which names the change in the journal.
    pub fn check_change(&self, id: &str, change: &Change) -> Result<(String, usize), ChangeError> {
        self.lock()
            .reports
            .register
            .check(id, change)
            .map(|report| (report.area.clone(), report.history.len()))
    }

    /// Copies of the reports matching `query`, newest first.
    pub fn query_reports(&self, query: &ReportQuery) -> Vec<Report> {
        let state = self.lock();
        query
            .run(&state.reports.register)
            .into_iter()
            .cloned()
            .collect()
    }

    /// The SLA of a category in hours, as configured.
    pub fn sla_hours(&self, code: &str) -> f64 {
        self.lock().config.sla_hours(code)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters consistent enough to keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The deployment's areas.
    pub fn areas(&self) -> Arc<Areas> {
        Arc::clone(&self.lock().areas)
    }

    /// Applies a batch of journaled events (blocking: call off the async runtime).
    /// `live_at_ms` is the wall-clock time for the rate meter; `None` during replay.
    pub fn apply(&self, events: &[Event], live_at_ms: Option<i64>) -> Result<(), AnalyticsError> {
        let mut readings = Vec::new();
        self.admit(events, live_at_ms, &mut readings);
        self.merge_readings(&readings)
    }

    /// First half of [`Analytics::apply`]: counts, sources, reports, alert trackers and alert
    /// transitions take the events now; the readings for the windows are added to `readings`,
    /// which may gather several batches' readings for one polars pass
    /// ([`Analytics::merge_readings`]). Appending to the caller's buffer (kept with its
    /// capacity) instead of returning a new vector saves a copy of every reading and the
    /// fresh pages a new buffer costs.
    pub fn admit(
        &self,
        events: &[Event],
        live_at_ms: Option<i64>,
        readings: &mut Vec<batch::Reading>,
    ) {
        let changed = {
            let mut state = self.lock();
            state.admit(events, live_at_ms, readings);
            state.alerts.take_changes()
        };
        for alert in changed {
            // No listener is fine: the views carry the alert too.
            let _ = self.alert_feed.send(Arc::new(alert));
        }
    }

    /// Second half of [`Analytics::apply`]: aggregates readings into bucket partials with
    /// polars (outside the state lock) and merges them into the windows.
    pub fn merge_readings(&self, readings: &[batch::Reading]) -> Result<(), AnalyticsError> {
        if readings.is_empty() {
            return Ok(());
        }
        let partials = batch::aggregate(readings)?;
        self.lock().merge(partials);
        Ok(())
    }

    /// Admits a live batch ([`Analytics::admit`]) and keeps its window readings for the next
    /// window flush; returns how many readings wait now and whether the batch added any.
    fn admit_deferred(&self, events: &[Event], live_at_ms: i64) -> (usize, bool) {
        let mut pending = self.pending_readings();
        let before = pending.len();
        self.admit(events, Some(live_at_ms), &mut pending);
        (pending.len(), pending.len() > before)
    }

    fn pending_readings(&self) -> MutexGuard<'_, Vec<batch::Reading>> {
        self.pending_readings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs every deferred reading through polars into the windows.
    pub fn flush_windows(&self) {
        let mut readings = std::mem::take(&mut *self.pending_readings());
        if let Err(error) = self.merge_readings(&readings) {
            tracing::error!(%error, readings = readings.len(), "analytics window batch failed");
        }
        // The emptied buffer goes back with its capacity, unless readings came meanwhile:
        // a new buffer would cost its growth and the kernel's zeroing of fresh pages again.
        readings.clear();
        let mut pending = self.pending_readings();
        if pending.is_empty() {
            *pending = readings;
        }
    }

    /// Counts refused messages.
    pub fn record_rejected(&self, records: Vec<DeadLetter>) {
        self.lock().record_rejected(records);
    }

    /// Restores refusal counters and records, and the counts of events compacted to the
    /// archive, read from the journal at start (before the replay of its events).
    pub fn restore(&self, recovered: Recovered) {
        let mut state = self.lock();
        state.restore_rejected(recovered.rejected, recovered.dead_letters);
        state.telemetry.restore_compacted(recovered.compacted);
    }

    /// Restores the state from the snapshot file at `path` when it matches this deployment and
    /// the journal (whose newest seq is `journal_last_seq`), else as [`Analytics::restore`]
    /// does; either way the refusals come from `recovered`. Returns the journal seq that replay
    /// continues after: the snapshot's, or 0 for a full replay.
    pub fn restore_with_snapshot(
        &self,
        path: &Path,
        recovered: Recovered,
        journal_last_seq: i64,
    ) -> i64 {
        match self.read_snapshot(path, &recovered, journal_last_seq) {
            Ok(Some(seq)) => {
                self.lock()
                    .restore_rejected(recovered.rejected, recovered.dead_letters);
                return seq;
            }
            Ok(None) => tracing::info!("no snapshot: the journal is replayed in full"),
            Err(error) => {
                tracing::warn!(%error, "snapshot not used: the journal is replayed in full")
            }
        }
        self.restore(recovered);
        0
    }

    /// Puts the snapshot at `path` in place of the state when it matches; the seq it holds.
    fn read_snapshot(
        &self,
        path: &Path,
        recovered: &Recovered,
        journal_last_seq: i64,
    ) -> Result<Option<i64>, SnapshotError> {
        let Some(image) = snapshot::read_file(path)? else {
            return Ok(None);
        };
        let mut state = self.lock();
        let mut fresh = State::new(Arc::clone(&state.areas), state.config.clone());
        fresh.alerts.evaluator = Evaluator::new(RuleSet {
            rules: state.alerts.evaluator.rules().to_vec(),
        });
        let (restored, header) = snapshot::read_image(&image, fresh, recovered.compacted_through)?;
        if header.seq > journal_last_seq {
            return Err(SnapshotError::Mismatch(format!(
                "it holds events up to seq {}, the journal ends at {journal_last_seq}",
                header.seq
            )));
        }
        *state = restored;
        self.snapshot_seq.store(header.seq, Ordering::Relaxed);
        tracing::info!(
            seq = header.seq,
            events = header.events_total,
            bytes = image.len(),
            "analytics state restored from its snapshot"
        );
        Ok(Some(header.seq))
    }

    /// Records how many events the start-up replay read, for `/metrics`.
    pub fn note_replayed(&self, events: u64) {
        self.replayed_at_start.store(events, Ordering::Relaxed);
    }

    /// From now on the worker writes snapshots of the state to `path`: after
    /// [`SNAPSHOT_EVERY_EVENTS`] events (the replayed ones count), [`SNAPSHOT_EVERY`] after the
    /// last one if events came since, and when [`Analytics::write_snapshot`] is called at
    /// shutdown. `unsaved` is how many events the state holds beyond the snapshot it started
    /// from (the replayed ones).
    pub fn enable_snapshots(&self, path: PathBuf, unsaved: u64) {
        *self.snapshot_plan() = Some(SnapshotPlan {
            path,
            unsaved,
            written_at: Instant::now(),
        });
    }

    fn snapshot_plan(&self) -> MutexGuard<'_, Option<SnapshotPlan>> {
        self.snapshots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes a snapshot of the state as of the applied seq now, if snapshots are enabled and
    /// events were applied since the last one (blocking). Returns the seq written. After
    /// a failure (a full disk, say) the next try waits for the schedule again, so a failing
    /// disk does not cost an encoding per batch.
    pub fn write_snapshot(&self) -> Result<Option<i64>, SnapshotError> {
        let written = self.try_write_snapshot();
        if written.is_err()
            && let Some(plan) = self.snapshot_plan().as_mut()
        {
            plan.written_at = Instant::now();
            plan.unsaved = plan.unsaved.min(1);
        }
        written
    }

    fn try_write_snapshot(&self) -> Result<Option<i64>, SnapshotError> {
        let Some(path) = self
            .snapshot_plan()
            .as_ref()
            .filter(|plan| plan.unsaved > 0)
            .map(|plan| plan.path.clone())
        else {
            return Ok(None);
        };
        let began = Instant::now();
        let (image, seq) = {
            let _applying = self
                .applying
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.flush_windows();
            let seq = self.applied_seq();
            (snapshot::write_image(&self.lock(), seq)?, seq)
        };
        snapshot::write_file(&path, &image)?;
        if let Some(plan) = self.snapshot_plan().as_mut() {
            plan.unsaved = 0;
            plan.written_at = Instant::now();
        }
        self.snapshot_seq.store(seq, Ordering::Relaxed);
        tracing::info!(
            seq,
            bytes = image.len(),
            elapsed_ms = began.elapsed().as_millis() as u64,
            "analytics snapshot written"
        );
        Ok(Some(seq))
    }

    /// Counts `events` more applied for the snapshot schedule; true when one is due.
    fn snapshot_due(&self, events: u64) -> bool {
        self.snapshot_plan().as_mut().is_some_and(|plan| {
            plan.unsaved += events;
            plan.unsaved >= SNAPSHOT_EVERY_EVENTS
                || (plan.unsaved > 0 && plan.written_at.elapsed() >= SNAPSHOT_EVERY)
        })
    }

    /// The current data of a view as JSON (blocking: call off the async runtime).
    ///
    /// The view is built as typed data while the state lock is held and turned into JSON only
    /// after the guard is dropped: serialization and its allocations happen outside the state
    /// lock, which the ingest pipeline's analytics worker also needs to apply each batch
    /// (docs/architecture.md, "Views").
    pub fn view(&self, request: &ViewRequest, now_ms: i64) -> Result<Value, ViewError> {
        self.flush_windows();
        let data = {
            let state = self.lock();
            ViewData::build(&state, request, now_ms)?
        };
        data.to_json()
    }

    /// The newest dead-letter records, newest first.
    pub fn dead_letters(&self, limit: usize) -> Vec<DeadLetter> {
        self.lock()
            .dead_letters
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    /// Counters for `/metrics`.
    pub fn metrics(&self, now_ms: i64) -> MetricsSnapshot {
        let state = self.lock();
        MetricsSnapshot {
            events_total: state.telemetry.events_total(),
            late_total: state.telemetry.late_total(),
            rejected: state.rejected_by_reason(),
            events_per_sec: state.telemetry.events_per_sec(now_ms),
            alerts: state
                .alerts
                .book
                .count_by_state()
                .into_iter()
                .map(|(alert_state, count)| (alert_state.as_str(), count))
                .collect(),
            max_ts_ms: state.telemetry.max_ts,
            replayed_at_start: self.replayed_at_start.load(Ordering::Relaxed),
            snapshot_seq: self.snapshot_seq.load(Ordering::Relaxed),
        }
    }

    /// Starts the worker thread and returns the sink to give the journal.
    pub fn start_worker(&self) -> std::io::Result<(AnalyticsSink, std::thread::JoinHandle<()>)> {
        let (batches, queue) = event_queue(WORKER_QUEUE_EVENTS);
        let analytics = self.clone();
        let thread = std::thread::Builder::new()
            .name("ioc-analytics".into())
            .spawn(move || work(analytics, queue))?;
        Ok((AnalyticsSink { batches }, thread))
    }
}

/// What the journal hands to analytics.
enum Committed {
    Events(Vec<Event>, i64),
    Rejected(Vec<DeadLetter>),
}

/// The journal sink: forwards committed batches to the analytics worker.
pub struct AnalyticsSink {
    batches: QueueSender<Committed>,
}

impl AnalyticsSink {
    fn send(&self, committed: Committed, events: usize) {
        let waited = self.batches.send(committed, events);
        if waited >= LOGGED_QUEUE_WAIT {
            tracing::warn!(
                waited_ms = waited.as_millis() as u64,
                "the journal waited for the analytics worker (its queue was full); \
                 acknowledgements waited as long"
            );
        }
    }
}

impl JournalSink for AnalyticsSink {
    fn accepted(&mut self, events: Vec<Event>, last_seq: i64) {
        let count = events.len();
        self.send(Committed::Events(events, last_seq), count);
    }

    fn rejected(&mut self, records: Vec<DeadLetter>) {
        let count = records.len();
        self.send(Committed::Rejected(records), count);
    }
}

/// Most events taken from the queue at once when the worker has fallen behind.
const MAX_COALESCED_EVENTS: usize = 50_000;

/// How long readings may wait for their polars micro-batch: polars has a fixed cost per
/// frame (and wakes its thread pool), so at low rates many small commits share one frame
/// instead of paying it each. Nothing reads the windows without flushing first (views and
/// the NGSI-LD observations do), so this bounds memory and the size of the next flush, not
/// how fresh an answer is. 500 ms took B11 (CPU at 1,000 events/s) from 0.12–0.13 cores to
/// 0.08–0.10 against 50 ms (BENCHMARKS.md).
const WINDOW_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Readings that make a polars micro-batch on their own, however young (the live worker's
/// bound, and the size of the start-up replay's batches).
pub const WINDOW_FLUSH_READINGS: usize = 200_000;

/// Shortest gap between two event-driven alert reconciles: under a stream of small commits
/// one reconcile covers several of them, and an alert still leaves within this much.
const RECONCILE_GAP: Duration = Duration::from_millis(10);

/// Applies committed batches: counts, reports and alert trackers at once (and alert
/// reconciles at most every [`RECONCILE_GAP`]), window readings in polars micro-batches of at
/// most [`WINDOW_FLUSH_EVERY`].
fn work(analytics: Analytics, queue: QueueReceiver<Committed>) {
    let mut waiting = 0;
    let mut first_pending: Option<Instant> = None;
    let mut last_reconcile = Instant::now();
    let mut reconcile_due = false;
    // Events applied in this turn of the loop, for the snapshot schedule.
    let mut applied = 0;
    loop {
        let now = Instant::now();
        let mut wait = RECONCILE_EVERY.saturating_sub(now - last_reconcile);
        if reconcile_due {
            wait = wait.min(RECONCILE_GAP.saturating_sub(now - last_reconcile));
        }
        if let Some(since) = first_pending {
            wait = wait.min(WINDOW_FLUSH_EVERY.saturating_sub(now - since));
        }
        match queue.recv_timeout(wait) {
            Ok(first) => {
                let mut events = Vec::new();
                let mut last_seq = None;
                let mut pending = Some(first);
                while let Some(committed) = pending.take() {
                    match committed {
                        Committed::Events(batch, seq) => {
                            events.extend(batch);
                            last_seq = Some(seq);
                        }
                        // Refusals are counted at once; the events before them keep their order.
                        Committed::Rejected(records) => analytics.record_rejected(records),
                    }
                    if events.len() < MAX_COALESCED_EVENTS {
                        pending = queue.try_recv();
                    }
                }
                let applying = analytics
                    .applying
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if !events.is_empty() {
                    let (now_waiting, added) =
                        analytics.admit_deferred(&events, ioc_ingest::event::now_ms());
                    if added {
                        first_pending.get_or_insert_with(Instant::now);
                    }
                    waiting = now_waiting;
                    reconcile_due = true;
                }
                // Writers wait on this to read their own write (reports, alert changes), which
                // the admission step has applied.
                if let Some(seq) = last_seq {
                    analytics.mark_applied(seq);
                }
                drop(applying);
                applied = events.len() as u64;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                analytics.flush_windows();
                return;
            }
        }
        // Checked on quiet turns too: a long start-up replay is saved within a second, and a
        // stream that stopped within the period once the period is over.
        if analytics.snapshot_due(std::mem::take(&mut applied)) {
            // The snapshot flushes the windows first.
            if let Err(error) = analytics.write_snapshot() {
                tracing::error!(%error, "analytics snapshot not written; will retry");
            }
            first_pending = None;
            waiting = 0;
        }
        if first_pending.is_some_and(|since| since.elapsed() >= WINDOW_FLUSH_EVERY)
            || waiting >= WINDOW_FLUSH_READINGS
        {
            analytics.flush_windows();
            first_pending = None;
            waiting = 0;
        }
        let since_reconcile = last_reconcile.elapsed();
        if (reconcile_due && since_reconcile >= RECONCILE_GAP) || since_reconcile >= RECONCILE_EVERY
        {
            analytics.reconcile_alerts(ioc_ingest::event::now_ms());
            last_reconcile = Instant::now();
            reconcile_due = false;
        }
    }
}
