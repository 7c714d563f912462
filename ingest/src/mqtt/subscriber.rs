//! The subscriber: an event-loop task that only polls the connection, and a pipeline task that
//! journals messages in arrival order and acknowledges them after the commit.

use super::config::{MAX_PACKET_BYTES, MqttConfig};
use crate::event::now_ms;
use crate::intake::Intake;
use crate::journal::{Entry, JournalHandle};
use crate::topic::DEADLETTER_TOPIC;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting between the event loop and the pipeline.
const PIPELINE_DEPTH: usize = 4096;

/// Most messages journaled in one commit.
const MAX_BATCH: usize = 2048;

/// Client request queue (acks, dead-letter publishes); larger than the pipeline so that the
/// pipeline's acks never wait on an event loop that waits on the pipeline.
const REQUEST_CAPACITY: usize = 4 * PIPELINE_DEPTH + MAX_BATCH;

/// Back-off bounds for reconnecting and for retrying a failed journal write.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Live state of the MQTT connection, read by readiness and metrics.
#[derive(Debug, Default)]
pub struct MqttStatus {
    connected: AtomicBool,
    subscribed: AtomicBool,
    received: AtomicU64,
    acknowledged: AtomicU64,
    reconnects: AtomicU64,
}

impl MqttStatus {
    /// Whether the broker connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Whether the broker holds the engine's subscription (acknowledged, or kept in the
    /// persistent session): messages published from now on reach the engine.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// Messages received since start.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Messages acknowledged (journaled) since start.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Connection attempts that failed since start.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }
}

/// Runs the subscriber until `shutdown` resolves; then stops taking messages, finishes the
/// batch in hand and disconnects.
pub async fn run(
    config: MqttConfig,
    intake: Intake,
    journal: JournalHandle,
    status: Arc<MqttStatus>,
    shutdown: impl Future<Output = ()>,
) {
    let mut options = MqttOptions::new(&config.client_id, &config.broker.host, config.broker.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(config.keep_alive)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    if let (Some(user), password) = (&config.broker.username, &config.broker.password) {
        options.set_credentials(user, password.clone().unwrap_or_default());
    }
    let (client, event_loop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let (messages, inbox) = mpsc::channel(PIPELINE_DEPTH);
    let poller = tokio::spawn(poll_connection(
        event_loop,
        client.clone(),
        config.filter.clone(),
        messages,
        Arc::clone(&status),
    ));
    let pipeline = tokio::spawn(journal_and_ack(
        inbox,
        intake,
        journal,
        client.clone(),
        Arc::clone(&status),
    ));
    shutdown.await;
    tracing::info!("mqtt subscriber stopping");
    // Stop the poller first: the pipeline then drains what it holds and ends.
    poller.abort();
    let _ = pipeline.await;
    let _ = client.try_disconnect();
    status.connected.store(false, Ordering::Relaxed);
}

/// Polls the connection forever: subscribes whenever the broker has no session for us,
/// forwards publishes to the pipeline, backs off on errors.
async fn poll_connection(
    mut event_loop: EventLoop,
    client: AsyncClient,
    filter: String,
    messages: mpsc::Sender<Publish>,
    status: Arc<MqttStatus>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match event_loop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                status.connected.store(true, Ordering::Relaxed);
                backoff = MIN_BACKOFF;
                tracing::info!(
                    session_present = ack.session_present,
                    "connected to mqtt broker"
                );
                status
                    .subscribed
                    .store(ack.session_present, Ordering::Relaxed);
                // Subscribing again is idempotent; doing it on every connection also covers a
                // session that the broker kept but with other filters.
                if let Err(error) = client.try_subscribe(&filter, QoS::AtLeastOnce) {
                    tracing::error!(%error, "cannot queue subscription");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                status.subscribed.store(true, Ordering::Relaxed);
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                status.received.fetch_add(1, Ordering::Relaxed);
                if messages.send(publish).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                status.connected.store(false, Ordering::Relaxed);
                status.subscribed.store(false, Ordering::Relaxed);
                status.reconnects.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "mqtt connection error");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Takes every message waiting, journals the batch in one commit (retrying until the journal
/// can write), then acknowledges the batch in arrival order.
async fn journal_and_ack(
    mut inbox: mpsc::Receiver<Publish>,
    intake: Intake,
    journal: JournalHandle,
    client: AsyncClient,
    status: Arc<MqttStatus>,
) {
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let now = now_ms();
        let entries: Vec<Entry> = batch
            .iter()
            .flat_map(|publish| intake.classify(&publish.topic, &publish.payload, now))
            .collect();
        let dead_letters: Vec<Vec<u8>> = entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::Rejected(record) => serde_json::to_vec(record).ok(),
                Entry::Event(_) => None,
            })
            .collect();
        let mut backoff = MIN_BACKOFF;
        while let Err(error) = journal.append(entries.clone()).await {
            if matches!(error, crate::journal::JournalError::Closed) {
                return;
            }
            tracing::error!(%error, retry_in_ms = backoff.as_millis() as u64, "journal write failed; holding acknowledgements");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        for publish in &batch {
            if publish.qos != QoS::AtMostOnce
                && let Err(error) = client.try_ack(publish)
            {
                tracing::warn!(%error, "cannot queue ack; the broker will redeliver");
            }
        }
        status
            .acknowledged
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for body in dead_letters {
            let _ = client.try_publish(DEADLETTER_TOPIC, QoS::AtMostOnce, false, body);
        }
    }
}
