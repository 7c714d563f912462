//! Publishing over MQTT: connecting, the event-loop task, pacing to the target rate, and the
//! final wait for every PUBACK.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ioc_ingest::event::{Kind, now_ms};
use ioc_ingest::mqtt::transport::{Backoff, Endpoint, Session, describe};
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, Request,
};
use tokio::sync::Notify;

use crate::city::{City, SimEvent};
use crate::config::{MqttTarget, SimConfig};
use crate::error::SimError;
use crate::manifest::ManifestWriter;
use crate::progress::{Progress, rate};
use crate::summary::SimSummary;
use crate::tracker::{Record, Sink, Tracker};

/// QoS 1 publishes in flight at once (packet ids `1..=INFLIGHT`).
const INFLIGHT: u16 = 512;
/// Capacity of the channel between the sender and the event loop.
const CHANNEL_CAPACITY: usize = 2048;
/// Keep-alive announced to the broker.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Pacing tick: due events are published in a batch every tick.
const TICK: Duration = Duration::from_millis(10);
/// How long the first connection may take, retries included.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// Give up waiting for PUBACKs when none arrived for this long.
const ACK_STALL_LIMIT: Duration = Duration::from_secs(30);
/// How long the event loop may take to flush and disconnect at the end.
const DISCONNECT_LIMIT: Duration = Duration::from_secs(10);

/// State shared by the sender and the event-loop task.
struct Shared {
    qos1: bool,
    tracker: Mutex<Tracker>,
    /// Signalled whenever the event loop writes or the broker acknowledges something.
    progress: Notify,
    /// The run is over: connection errors end the event loop instead of reconnecting.
    stopping: AtomicBool,
    /// The event-loop task has ended.
    loop_done: AtomicBool,
    /// Connections re-established after a loss.
    reconnects: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds one event-loop notification to the tracker; `true` when the loop should end.
    fn observe(&self, event: &Event) -> bool {
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if self.qos1 {
                    self.lock().on_written(*pkid);
                }
                self.progress.notify_one();
            }
            Event::Outgoing(Outgoing::AwaitAck(pkid)) if self.qos1 => {
                self.lock().on_collision(*pkid)
            }
            Event::Incoming(Packet::PubAck(ack)) if self.qos1 => {
                self.lock().on_acked(ack.pkid);
                self.progress.notify_one();
            }
            Event::Outgoing(Outgoing::Disconnect) => return true,
            _ => {}
        }
        false
    }
}

/// The run's shutdown future and whether it has fired.
struct Stop<F> {
    shutdown: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Stop<F> {
    /// Awaits `work`; `false` when the shutdown fired first (it is polled only until it fires).
    async fn wait<W: Future>(&mut self, work: W) -> bool {
        if self.fired {
            work.await;
            return true;
        }
        tokio::select! {
            biased;
            () = self.shutdown.as_mut() => {
                self.fired = true;
                tracing::info!("shutdown requested: no new events");
                false
            }
            _ = work => true,
        }
    }
}

/// Hands events to the MQTT client, with back-pressure from the channel and the inflight window.
struct Sender {
    client: AsyncClient,
    shared: Arc<Shared>,
    qos: QoS,
}

impl Sender {
    /// Puts one publish request into the client channel, or gives the record back when full.
    fn try_hand(&self, record: Record) -> Result<(), Record> {
        let mut tracker = self.shared.lock();
        // Under the lock, so the tracker's queue has the channel's order.
        match self.client.try_publish(
            record.topic.clone(),
            self.qos,
            false,
            record.payload.clone(),
        ) {
            Ok(()) => {
                if self.shared.qos1 {
                    tracker.handed(record);
                } else {
                    tracker.sink.record(record);
                }
                Ok(())
            }
            Err(_) => Err(record),
        }
    }

    /// Hands one record over, waiting while the client is busy. `Ok(Some(record))` gives it back
    /// when the shutdown fired first.
    async fn send<F: Future<Output = ()>>(
        &self,
        mut record: Record,
        stop: &mut Stop<F>,
    ) -> Result<Option<Record>, SimError> {
        loop {
            record = match self.try_hand(record) {
                Ok(()) => return Ok(None),
                Err(record) => record,
            };
            if self.shared.loop_done.load(Ordering::Acquire) {
                return Err(SimError::EventLoopGone);
            }
            let progressed = tokio::time::timeout(TICK, self.shared.progress.notified());
            if !stop.wait(progressed).await {
                return Ok(Some(record));
            }
        }
    }

    /// Publishes again what the client dropped on a connection loss; `false` on shutdown.
    async fn resend<F: Future<Output = ()>>(&self, stop: &mut Stop<F>) -> Result<bool, SimError> {
        loop {
            let Some(record) = self.shared.lock().next_resend() else {
                return Ok(true);
            };
            tracing::debug!(id = %record.id, "publishing again after a connection loss");
            if let Some(record) = self.send(record, stop).await? {
                self.shared.lock().unresend(record);
                return Ok(false);
            }
        }
    }

    fn sent(&self) -> u64 {
        self.shared.lock().sink.sent
    }
}

/// Client options for `target` (the engine's shared transport: credentials, TLS, packet size),
/// with a clean session and the simulator's inflight window.
fn mqtt_options(target: &MqttTarget) -> Result<MqttOptions, SimError> {
    let tls = match &target.tls {
        Some(files) => Some(
            ioc_ingest::mqtt::tls::client_config(files).map_err(|error| {
                crate::config::ConfigError::Value {
                    field: "mqtt TLS",
                    problem: error.to_string(),
                }
            })?,
        ),
        None => None,
    };
    let endpoint = Endpoint {
        host: target.host.clone(),
        port: target.port,
        username: target.username.clone(),
        password: target.password.clone(),
        tls,
        keep_alive: KEEP_ALIVE,
    };
    let mut options = endpoint.client_options(&target.client_id, Session::Clean);
    options.set_inflight(INFLIGHT);
    Ok(options)
}

/// Polls until the broker's CONNACK, retrying with back-off until [`CONNECT_DEADLINE`].
async fn connect(eventloop: &mut EventLoop, address: &str) -> Result<(), SimError> {
    let deadline = tokio::time::Instant::now() + CONNECT_DEADLINE;
    let mut backoff = Backoff::new();
    loop {
        let reason = match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => return Ok(()),
            Ok(Ok(_)) => continue,
            Ok(Err(error @ ConnectionError::ConnectionRefused(_))) => {
                return Err(SimError::Connect {
                    address: address.to_string(),
                    reason: describe(&error),
                });
            }
            Ok(Err(error)) => describe(&error),
            Err(_) => "timed out".to_string(),
        };
        let delay = backoff.next_delay();
        if tokio::time::Instant::now() + delay >= deadline {
            return Err(SimError::Connect {
                address: address.to_string(),
                reason,
            });
        }
        tracing::debug!(%reason, "MQTT connect failed, retrying");
        tokio::time::sleep(delay).await;
    }
}

/// The event-loop task: polls rumqttc, feeds the tracker, reconnects with back-off.
///
/// On a connection loss rumqttc keeps unacknowledged publishes for a resumed session but
/// forgets them on a clean one; they are kept here and replayed after the next CONNACK, and the
/// publishes it had not written yet go back to the sender to be published again in order.
async fn drive(mut eventloop: EventLoop, shared: Arc<Shared>) {
    let mut backoff = Backoff::new();
    let mut replay: Vec<Request> = Vec::new();
    loop {
        match eventloop.poll().await {
            Ok(event) => {
                if matches!(event, Event::Incoming(Packet::ConnAck(_))) {
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(replayed = replay.len(), "reconnected to the MQTT broker");
                    backoff.reset();
                    eventloop.pending.extend(replay.drain(..));
                }
                if shared.observe(&event) {
                    break;
                }
            }
            Err(error) => {
                if shared.stopping.load(Ordering::Acquire) {
                    break;
                }
                // Notifications queued before the failure still describe what was written.
                let buffered: Vec<Event> = eventloop.state.events.drain(..).collect();
                for event in &buffered {
                    shared.observe(event);
                }
                let mut unwritten = 0;
                for request in std::mem::take(&mut eventloop.pending) {
                    match request {
                        Request::Publish(publish) if shared.qos1 && publish.pkid == 0 => {
                            unwritten += 1
                        }
                        other => replay.push(other),
                    }
                }
                if unwritten > 0 {
                    shared.lock().requeue_unwritten(unwritten);
                }
                let delay = backoff.next_delay();
                let error = describe(&error);
                tracing::warn!(%error, retry_in_ms = delay.as_millis(), "MQTT connection lost");
                tokio::time::sleep(delay).await;
            }
        }
    }
    shared.loop_done.store(true, Ordering::Release);
    shared.progress.notify_one();
}

fn record_of(event: SimEvent, with_manifest: bool) -> Record {
    let manifest_line = with_manifest.then(|| event.manifest_line());
    let payload = event.payload_bytes();
    Record {
        id: event.id,
        area_index: event.area_index,
        kind: event.kind,
        ts_ms: event.ts_ms,
        topic: event.topic,
        payload,
        manifest_line,
    }
}

/// Connects, publishes the city's events at the configured pace, waits for the acknowledgements
/// and disconnects.
pub(crate) async fn publish<F: Future<Output = ()>>(
    config: &SimConfig,
    mut city: City,
    manifest: Option<ManifestWriter>,
    shutdown: F,
) -> Result<SimSummary, SimError> {
    let address = format!("{}:{}", config.mqtt.host, config.mqtt.port);
    let (client, mut eventloop) = AsyncClient::new(mqtt_options(&config.mqtt)?, CHANNEL_CAPACITY);
    eventloop.network_options.set_connection_timeout(5);
    connect(&mut eventloop, &address).await?;
    tracing::info!(%address, client_id = %config.mqtt.client_id, "connected to the MQTT broker");

    let qos1 = config.qos == 1;
    let areas = city
        .areas()
        .all()
        .iter()
        .map(|area| area.id.clone())
        .collect::<Vec<_>>();
    let shared = Arc::new(Shared {
        qos1,
        tracker: Mutex::new(Tracker::new(Sink::new(areas.len(), manifest))),
        progress: Notify::new(),
        stopping: AtomicBool::new(false),
        loop_done: AtomicBool::new(false),
        reconnects: AtomicU64::new(0),
    });
    let mut driver = tokio::spawn(drive(eventloop, Arc::clone(&shared)));
    let sender = Sender {
        client,
        shared: Arc::clone(&shared),
        qos: if qos1 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        },
    };
    let mut stop = Stop {
        shutdown: Box::pin(shutdown),
        fired: false,
    };
    let planned = config.planned_events();
    let progress = Progress::new(config.progress, planned);
    let with_manifest = config.manifest.is_some();

    // Simulated time runs `speedup` times faster and ends at about the wall-clock end of the run.
    let duration_ms = config.duration.as_secs_f64() * 1000.0;
    let sim_start_ms = now_ms() as f64 + duration_ms - duration_ms * config.speedup;
    let step_ms = 1000.0 * config.speedup / config.rate;

    let start = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut generated = 0_u64;
    // Past the duration, only a small remainder (a tenth of a second's worth) is still sent.
    let slack = (config.rate * 0.1).max(1.0) as u64;
    let behind = |elapsed: Duration, generated: u64| {
        elapsed >= config.duration && planned.saturating_sub(generated) > slack
    };
    let result: Result<(), SimError> = async {
        'pace: while generated < planned && !stop.fired {
            if !sender.resend(&mut stop).await? {
                break;
            }
            let elapsed = start.elapsed();
            if behind(elapsed, generated) {
                tracing::warn!(
                    generated,
                    planned,
                    "duration over before every event could be sent"
                );
                break;
            }
            // Every event scheduled before the end is sent, even if its tick came a bit late.
            let due = if elapsed >= config.duration {
                planned
            } else {
                ((elapsed.as_secs_f64() * config.rate) as u64)
                    .saturating_add(1)
                    .min(planned)
            };
            while generated < due {
                let scheduled = (sim_start_ms + generated as f64 * step_ms).floor() as i64;
                let event = city.next_event(scheduled.min(now_ms()));
                generated += 1;
                if sender
                    .send(record_of(event, with_manifest), &mut stop)
                    .await?
                    .is_some()
                {
                    break 'pace;
                }
                if generated.is_multiple_of(1024) {
                    progress.update(sender.sent(), start.elapsed());
                    if behind(start.elapsed(), generated) {
                        continue 'pace;
                    }
                }
            }
            progress.update(sender.sent(), start.elapsed());
            if !stop.wait(ticker.tick()).await {
                break;
            }
        }
        if qos1 {
            wait_for_acks(&sender, &mut stop, &progress, start).await?;
        }
        Ok(())
    }
    .await;

    // Disconnect: queued requests are written before the DISCONNECT, so QoS 0 events leave too.
    shared.stopping.store(true, Ordering::Release);
    if !shared.loop_done.load(Ordering::Acquire) {
        let _ = tokio::time::timeout(DISCONNECT_LIMIT, sender.client.disconnect()).await;
    }
    if tokio::time::timeout(DISCONNECT_LIMIT, &mut driver)
        .await
        .is_err()
    {
        tracing::warn!("MQTT event loop did not stop in time; aborting it");
        driver.abort();
    }
    let elapsed = start.elapsed();

    let (sink, unacknowledged, mismatches) = {
        let mut tracker = shared.lock();
        let unacknowledged = tracker.outstanding() as u64;
        let sink = std::mem::replace(&mut tracker.sink, Sink::new(0, None));
        (sink, unacknowledged, tracker.mismatches)
    };
    let Sink {
        sent,
        counts,
        ts_range,
        manifest,
    } = sink;
    progress.finish(sent, elapsed);
    if let Some(manifest) = manifest {
        manifest.finish()?;
    }
    result?;
    if unacknowledged > 0 || mismatches > 0 {
        tracing::warn!(
            unacknowledged,
            mismatches,
            "some events were not acknowledged by the broker"
        );
    }
    let mut by_area_kind = BTreeMap::new();
    for (area, slots) in areas.iter().zip(&counts) {
        for (kind, n) in Kind::ALL.iter().zip(slots) {
            if *n > 0 {
                by_area_kind.insert((area.clone(), *kind), *n);
            }
        }
    }
    let summary = SimSummary {
        sent,
        planned,
        unacknowledged,
        counts: by_area_kind,
        elapsed,
        rate: rate(sent, elapsed),
        reconnects: shared.reconnects.load(Ordering::Relaxed),
        ts_range_ms: ts_range,
        reports: crate::ReportSummary::default(),
    };
    tracing::info!(
        sent,
        planned,
        rate = format!("{:.0}", summary.rate),
        "simulation finished"
    );
    Ok(summary)
}

/// Waits until every handed event is acknowledged, publishing again what a reconnect dropped;
/// gives up after [`ACK_STALL_LIMIT`] without progress or when the shutdown fires now.
async fn wait_for_acks<F: Future<Output = ()>>(
    sender: &Sender,
    stop: &mut Stop<F>,
    progress: &Progress,
    start: Instant,
) -> Result<(), SimError> {
    let already_stopping = stop.fired;
    let mut last_sent = sender.sent();
    let mut last_change = Instant::now();
    loop {
        if !sender.resend(stop).await? && !already_stopping {
            return Ok(());
        }
        let (outstanding, sent) = {
            let tracker = sender.shared.lock();
            (tracker.outstanding(), tracker.sink.sent)
        };
        progress.update(sent, start.elapsed());
        if outstanding == 0 {
            return Ok(());
        }
        if sent != last_sent {
            last_sent = sent;
            last_change = Instant::now();
        } else if last_change.elapsed() >= ACK_STALL_LIMIT {
            tracing::warn!(outstanding, "no PUBACK for {ACK_STALL_LIMIT:?}; giving up");
            return Ok(());
        }
        if sender.shared.loop_done.load(Ordering::Acquire) {
            return Err(SimError::EventLoopGone);
        }
        let progressed = tokio::time::timeout(
            Duration::from_millis(100),
            sender.shared.progress.notified(),
        );
        if !stop.wait(progressed).await && !already_stopping {
            tracing::info!(outstanding, "shutdown while waiting for PUBACKs");
            return Ok(());
        }
    }
}
