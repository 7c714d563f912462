//! The subscriber: a connection task that only polls the broker ([`super::v4`] or
//! [`super::v5`]), and a pipeline task that journals messages in arrival order and acknowledges
//! them after the commit.

use super::config::{MqttConfig, Protocol};
use super::status::MqttStatus;
use super::{v4, v5};
use crate::event::now_ms;
use crate::intake::Intake;
use crate::journal::{Entry, Fence, JournalError, JournalHandle};
use crate::topic::DEADLETTER_TOPIC;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting between the connection task and the pipeline.
pub(super) const PIPELINE_DEPTH: usize = 4096;

/// Most messages journaled in one commit.
const MAX_BATCH: usize = 2048;

/// Client request queue (acks, dead-letter publishes); larger than the pipeline so that the
/// pipeline's acks never wait on a connection task that waits on the pipeline.
pub(super) const REQUEST_CAPACITY: usize = 4 * PIPELINE_DEPTH + MAX_BATCH;

/// Back-off bounds for reconnecting and for retrying a failed journal write.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One received message, whichever protocol version carried it.
pub(super) enum Inbound {
    /// MQTT 3.1.1.
    V4(rumqttc::Publish),
    /// MQTT 5.
    V5(rumqttc::v5::mqttbytes::v5::Publish),
}

impl Inbound {
    fn topic(&self) -> Cow<'_, str> {
        match self {
            Inbound::V4(publish) => Cow::Borrowed(publish.topic.as_str()),
            Inbound::V5(publish) => String::from_utf8_lossy(&publish.topic),
        }
    }

    fn payload(&self) -> &[u8] {
        match self {
            Inbound::V4(publish) => &publish.payload,
            Inbound::V5(publish) => &publish.payload,
        }
    }
}

/// The client half of the connection: what the pipeline needs to acknowledge and to publish
/// dead-letter records.
#[derive(Clone)]
pub(super) enum Client {
    /// MQTT 3.1.1.
    V4(rumqttc::AsyncClient),
    /// MQTT 5.
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    /// Queues the PUBACK of a QoS 1 message (QoS 0 needs none).
    fn ack(&self, inbound: &Inbound) {
        let result = match (self, inbound) {
            (Client::V4(client), Inbound::V4(publish))
                if publish.qos != rumqttc::QoS::AtMostOnce =>
            {
                client.try_ack(publish).map_err(|e| e.to_string())
            }
            (Client::V5(client), Inbound::V5(publish))
                if publish.qos != rumqttc::v5::mqttbytes::QoS::AtMostOnce =>
            {
                client.try_ack(publish).map_err(|e| e.to_string())
            }
            _ => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "cannot queue ack; the broker will redeliver");
        }
    }

    /// Publishes a dead-letter record at QoS 0 (best effort: the journal holds it anyway).
    fn publish_dead_letter(&self, body: Vec<u8>) {
        let _ = match self {
            Client::V4(client) => client
                .try_publish(DEADLETTER_TOPIC, rumqttc::QoS::AtMostOnce, false, body)
                .map_err(|e| e.to_string()),
            Client::V5(client) => client
                .try_publish(
                    DEADLETTER_TOPIC,
                    rumqttc::v5::mqttbytes::QoS::AtMostOnce,
                    false,
                    body,
                )
                .map_err(|e| e.to_string()),
        };
    }

    fn disconnect(&self) {
        let _ = match self {
            Client::V4(client) => client.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(client) => client.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

/// What one poll of a connection produced, whichever protocol version it speaks.
pub(super) enum Polled {
    /// CONNACK received.
    Connected {
        /// Whether the broker kept the session (and so the subscription).
        session_present: bool,
    },
    /// SUBACK received.
    Subscribed,
    /// A message to journal.
    Message(Inbound),
    /// Anything else (pings, acks of our own publishes).
    Other,
    /// The connection failed; the event loop reconnects on the next poll.
    Failed(String),
}

/// Polls a connection forever: subscribes on every CONNACK (idempotent, and it also covers a
/// session the broker kept with other filters), forwards messages to the pipeline, backs off
/// on errors. Ends when the pipeline is gone.
pub(super) async fn drive(
    mut poll: impl AsyncFnMut() -> Polled,
    subscribe: impl Fn() -> Result<(), String>,
    messages: mpsc::Sender<Inbound>,
    status: Arc<MqttStatus>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match poll().await {
            Polled::Connected { session_present } => {
                status.on_connected(session_present);
                backoff = MIN_BACKOFF;
                if let Err(error) = subscribe() {
                    tracing::error!(%error, "cannot queue subscription");
                }
            }
            Polled::Subscribed => status.subscribed.store(true, Ordering::Relaxed),
            Polled::Message(inbound) => {
                status.received.fetch_add(1, Ordering::Relaxed);
                if messages.send(inbound).await.is_err() {
                    return;
                }
            }
            Polled::Other => {}
            Polled::Failed(error) => {
                status.on_error(&error, backoff);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
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
    let (messages, inbox) = mpsc::channel(PIPELINE_DEPTH);
    let (stopping, stop_seen) = tokio::sync::watch::channel(false);
    let fence = config.fence;
    let (client, poller) = match config.protocol {
        Protocol::V4 => v4::connect(&config, messages, Arc::clone(&status)),
        Protocol::V5 => v5::connect(&config, messages, Arc::clone(&status)),
    };
    let pipeline = tokio::spawn(journal_and_ack(
        inbox,
        intake,
        journal,
        fence,
        client.clone(),
        Arc::clone(&status),
        stop_seen,
    ));
    shutdown.await;
    tracing::info!("mqtt subscriber stopping");
    let _ = stopping.send(true);
    // Stop the poller first: the pipeline then drains what it holds and ends.
    poller.abort();
    let _ = pipeline.await;
    client.disconnect();
    status.connected.store(false, Ordering::Relaxed);
}

/// Takes every message waiting, journals the batch in one commit (retrying until the journal
/// can write, or until shutdown: an unwritten batch is never acknowledged, so the broker
/// redelivers it), then acknowledges the batch in arrival order.
async fn journal_and_ack(
    mut inbox: mpsc::Receiver<Inbound>,
    intake: Intake,
    journal: JournalHandle,
    fence: Option<Fence>,
    client: Client,
    status: Arc<MqttStatus>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
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
            .flat_map(|inbound| intake.classify(&inbound.topic(), inbound.payload(), now))
            .collect();
        let dead_letters: Vec<Vec<u8>> = entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::Rejected(record) => serde_json::to_vec(record).ok(),
                Entry::Event(_) => None,
            })
            .collect();
        let mut backoff = MIN_BACKOFF;
        while let Err(error) = journal.append_fenced(entries.clone(), fence).await {
            if matches!(error, JournalError::Closed) {
                return;
            }
            if matches!(error, JournalError::Fenced { .. }) {
                tracing::warn!(%error, messages = batch.len(), "slot lost: batch not acknowledged, its new owner receives it");
                return;
            }
            tracing::error!(%error, retry_in_ms = backoff.as_millis() as u64, "journal write failed; holding acknowledgements");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stopping.wait_for(|stop| *stop) => {
                    tracing::warn!(messages = batch.len(), "stopping with a batch the journal could not write; not acknowledged, the broker redelivers it");
                    return;
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        for inbound in &batch {
            client.ack(inbound);
        }
        status
            .acknowledged
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for body in dead_letters {
            client.publish_dead_letter(body);
        }
    }
}
