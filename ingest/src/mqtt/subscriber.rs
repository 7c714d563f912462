//! The subscriber: a connection task that only talks to the broker ([`super::v4`] or
//! [`super::v5`]), and a pipeline of two tasks: one decodes each batch and hands it to the
//! journal, the other waits for the commits in arrival order and acknowledges them. Up to
//! [`COMMITS_IN_FLIGHT`] batches are committing at once, so decoding, committing and
//! acknowledging overlap instead of taking turns.

use super::config::{MqttConfig, Protocol};
use super::status::MqttStatus;
use super::{v4, v5};
use crate::event::now_ms;
use crate::intake::Intake;
use crate::journal::{Entry, Fence, JournalError, JournalHandle, PendingCommit};
use crate::topic::DEADLETTER_TOPIC;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting between the connection task and the pipeline: room for a whole Receive
/// Maximum, so the connection task never stops reading while the broker may send.
pub(super) const PIPELINE_DEPTH: usize = 16384;

/// Most messages journaled in one commit.
const MAX_BATCH: usize = 4096;

/// Client request queue (acks, dead-letter publishes); larger than the pipeline so that the
/// pipeline's acks never wait on a connection task that waits on the pipeline.
pub(super) const REQUEST_CAPACITY: usize = 4 * PIPELINE_DEPTH + MAX_BATCH;

/// Batches handed to the journal and not yet acknowledged. The journal thread commits the ones
/// that queue up while it writes in one transaction; two or three are enough to keep it busy.
const COMMITS_IN_FLIGHT: usize = 3;

/// Shortest back-off for reconnecting and for retrying a failed journal write.
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest back-off.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
    /// MQTT 3.1.1 (rumqttc's client).
    V4(rumqttc::AsyncClient),
    /// MQTT 5 (the engine's own connection task).
    V5(super::v5::Handle),
}

impl Client {
    /// Queues the PUBACKs of a batch's QoS 1 messages (QoS 0 needs none), in arrival order.
    fn ack(&self, batch: &[Inbound]) {
        let result = match self {
            Client::V4(client) => batch.iter().try_for_each(|inbound| match inbound {
                Inbound::V4(publish) if publish.qos != rumqttc::QoS::AtMostOnce => {
                    client.try_ack(publish).map_err(|e| e.to_string())
                }
                _ => Ok(()),
            }),
            Client::V5(handle) => {
                let pkids: Vec<u16> = batch
                    .iter()
                    .filter_map(|inbound| match inbound {
                        Inbound::V5(publish)
                            if publish.qos != rumqttc::v5::mqttbytes::QoS::AtMostOnce =>
                        {
                            Some(publish.pkid)
                        }
                        _ => None,
                    })
                    .collect();
                if pkids.is_empty() {
                    Ok(())
                } else {
                    handle.ack(pkids)
                }
            }
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
            Client::V5(handle) => handle.publish(DEADLETTER_TOPIC, body),
        };
    }

    fn disconnect(&self) {
        match self {
            Client::V4(client) => {
                let _ = client.try_disconnect();
            }
            Client::V5(handle) => handle.disconnect(),
        }
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
/// batches in hand and disconnects.
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
    let (committing, commits) = mpsc::channel(COMMITS_IN_FLIGHT);
    let submitter = tokio::spawn(decode_and_submit(
        inbox,
        intake.clone(),
        journal.clone(),
        fence,
        committing,
    ));
    let acker = tokio::spawn(acknowledge_in_order(
        commits,
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
    // Stop the connection first: the pipeline then drains what it holds and ends.
    poller.abort();
    let _ = submitter.await;
    let _ = acker.await;
    client.disconnect();
    // Give the connection a moment to say DISCONNECT (MQTT 5) before the runtime stops.
    tokio::task::yield_now().await;
    status.connected.store(false, Ordering::Relaxed);
}

/// A batch whose entries are with the journal.
struct Submitted {
    /// The messages, for the acknowledgements (and to decode again if the write fails).
    batch: Vec<Inbound>,
    /// Dead-letter copies to publish once committed.
    dead_letters: Vec<Vec<u8>>,
    /// The journal's answer.
    commit: Result<PendingCommit, JournalError>,
}

/// Takes every message waiting (up to [`MAX_BATCH`]), decodes the batch and hands it to the
/// journal without waiting for the commit, then takes the next.
async fn decode_and_submit(
    mut inbox: mpsc::Receiver<Inbound>,
    intake: Intake,
    journal: JournalHandle,
    fence: Option<Fence>,
    committing: mpsc::Sender<Submitted>,
) {
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let entries = classify(&intake, &batch);
        let dead_letters: Vec<Vec<u8>> = entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::Rejected(record) => serde_json::to_vec(record).ok(),
                Entry::Event(_) => None,
            })
            .collect();
        let commit = journal.submit(entries, fence).await;
        let submitted = Submitted {
            batch,
            dead_letters,
            commit,
        };
        if committing.send(submitted).await.is_err() {
            return;
        }
    }
}

fn classify(intake: &Intake, batch: &[Inbound]) -> Vec<Entry> {
    let now = now_ms();
    batch
        .iter()
        .flat_map(|inbound| intake.classify(&inbound.topic(), inbound.payload(), now))
        .collect()
}

/// Waits for each batch's commit in arrival order (retrying a failed write until the journal
/// can write, or until shutdown: an unwritten batch is never acknowledged, so the broker
/// redelivers it), then acknowledges the batch.
async fn acknowledge_in_order(
    mut commits: mpsc::Receiver<Submitted>,
    intake: Intake,
    journal: JournalHandle,
    fence: Option<Fence>,
    client: Client,
    status: Arc<MqttStatus>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    while let Some(submitted) = commits.recv().await {
        let Submitted {
            batch,
            dead_letters,
            commit,
        } = submitted;
        let mut result = match commit {
            Ok(pending) => pending.await,
            Err(error) => Err(error),
        };
        let mut backoff = MIN_BACKOFF;
        let mut refused = false;
        while let Err(error) = &result {
            match error {
                JournalError::Closed => return,
                JournalError::Fenced { .. } => {
                    // The slot belongs to another instance now: it receives these again.
                    tracing::warn!(%error, messages = batch.len(), "batch refused; not acknowledged");
                    refused = true;
                    break;
                }
                _ => {}
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
            result = journal
                .append_fenced(classify(&intake, &batch), fence)
                .await;
        }
        if refused {
            continue;
        }
        client.ack(&batch);
        status
            .acknowledged
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for body in dead_letters {
            client.publish_dead_letter(body);
        }
    }
}
