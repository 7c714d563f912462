//! The subscriber: a connection task that only talks to the broker ([`super::v4`] or
//! [`super::v5`]), and a pipeline of two tasks: one decodes each batch and hands it to the
//! journal, the other waits for the commits in arrival order and acknowledges them. Up to
//! [`COMMITS_IN_FLIGHT`] batches are committing at once, so decoding, committing and
//! acknowledging overlap instead of taking turns.

use super::config::{MqttConfig, Protocol};
use super::status::MqttStatus;
use super::transport::Backoff;
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

/// Below this many messages a second (counted over the current and the previous second) a
/// small batch waits up to [`LINGER`] for more before it goes to the journal. At low rates
/// messages come in small bursts (a gateway's tick); each commit, PUBACK write and analytics
/// hand-off has a fixed cost, so one commit per few bursts costs a fraction of one per burst
/// (BENCHMARKS.md: at 1,000 messages/s, 205 → 41 commits/s, 0.137–0.155 → 0.067–0.086 cores). Above it
/// batches are large anyway and a linger would only add latency, so none is added.
const LINGER_MAX_RATE: u32 = 5_000;

/// A lingering batch stops waiting once it holds this many messages.
const LINGER_BELOW: usize = 256;

/// Longest a small batch waits for more messages: well inside the 50 ms alert latency budget
/// (BENCHMARKS.md, B4), and the operators' views refresh every 500 ms anyway.
const LINGER: Duration = Duration::from_millis(20);

/// Batches handed to the journal and not yet acknowledged. The journal thread commits the ones
/// that queue up while it writes in one transaction; two or three are enough to keep it busy.
const COMMITS_IN_FLIGHT: usize = 3;

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
    let mut backoff = Backoff::new();
    loop {
        match poll().await {
            Polled::Connected { session_present } => {
                status.on_connected(session_present);
                backoff.reset();
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
                let delay = backoff.next_delay();
                status.on_error(&error, delay);
                tokio::time::sleep(delay).await;
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

/// Takes every message waiting (up to [`MAX_BATCH`]; a small batch lingers for more, see
/// [`LINGER`]), decodes the batch and hands it to the journal without waiting for the commit,
/// then takes the next.
async fn decode_and_submit(
    mut inbox: mpsc::Receiver<Inbound>,
    intake: Intake,
    journal: JournalHandle,
    fence: Option<Fence>,
    committing: mpsc::Sender<Submitted>,
) {
    let mut rate = ArrivalRate::new(tokio::time::Instant::now());
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        take_waiting(&mut inbox, &mut batch);
        let now = tokio::time::Instant::now();
        rate.add(batch.len(), now);
        let deadline = now + LINGER;
        while batch.len() < LINGER_BELOW && rate.is_low() {
            match tokio::time::timeout_at(deadline, inbox.recv()).await {
                Ok(Some(next)) => {
                    let before = batch.len();
                    batch.push(next);
                    take_waiting(&mut inbox, &mut batch);
                    rate.add(batch.len() - before, tokio::time::Instant::now());
                }
                // Closed (stopping) or lingered long enough: journal what is in hand.
                Ok(None) | Err(_) => break,
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

/// Messages received in the current second and the one before, to tell a low rate (where small
/// batches linger) from a busy stream (where they never do).
struct ArrivalRate {
    second_began: tokio::time::Instant,
    this_second: u32,
    previous_second: u32,
}

impl ArrivalRate {
    fn new(now: tokio::time::Instant) -> Self {
        Self {
            second_began: now,
            this_second: 0,
            previous_second: 0,
        }
    }

    /// Counts `messages` received at `now`.
    fn add(&mut self, messages: usize, now: tokio::time::Instant) {
        let elapsed = now.saturating_duration_since(self.second_began);
        if elapsed >= Duration::from_secs(1) {
            // A gap of a whole second or more means the previous second was quiet.
            self.previous_second = if elapsed < Duration::from_secs(2) {
                self.this_second
            } else {
                0
            };
            self.this_second = 0;
            self.second_began = now;
        }
        self.this_second = self
            .this_second
            .saturating_add(u32::try_from(messages).unwrap_or(u32::MAX));
    }

    /// Whether the rate is low enough for a small batch to linger.
    fn is_low(&self) -> bool {
        self.this_second.max(self.previous_second) < LINGER_MAX_RATE
    }
}

/// Moves the messages already waiting into `batch`, up to [`MAX_BATCH`].
fn take_waiting(inbox: &mut mpsc::Receiver<Inbound>, batch: &mut Vec<Inbound>) {
    while batch.len() < MAX_BATCH {
        match inbox.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

fn classify(intake: &Intake, batch: &[Inbound]) -> Vec<Entry> {
    let now = now_ms();
    let mut entries = Vec::with_capacity(batch.len());
    for inbound in batch {
        intake.classify_into(&inbound.topic(), inbound.payload(), now, &mut entries);
    }
    entries
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
        let mut backoff = Backoff::new();
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
            let delay = backoff.next_delay();
            tracing::error!(%error, retry_in_ms = delay.as_millis() as u64, "journal write failed; holding acknowledgements");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stopping.wait_for(|stop| *stop) => {
                    tracing::warn!(messages = batch.len(), "stopping with a batch the journal could not write; not acknowledged, the broker redelivers it");
                    return;
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_batches_linger_only_below_the_rate_and_again_after_a_quiet_second() {
        let start = tokio::time::Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let limit = LINGER_MAX_RATE as usize;
        let mut rate = ArrivalRate::new(start);
        assert!(rate.is_low());
        rate.add(limit - 1, at(10));
        assert!(rate.is_low());
        rate.add(1, at(900));
        assert!(!rate.is_low(), "this second reached the limit");
        rate.add(10, at(1_500));
        assert!(!rate.is_low(), "the previous second reached the limit");
        rate.add(10, at(2_500));
        assert!(rate.is_low(), "both seconds counted are quiet");
        rate.add(limit, at(9_000));
        assert!(
            !rate.is_low(),
            "a burst after a long gap stops the linger at once"
        );
        rate.add(1, at(11_000));
        assert!(rate.is_low(), "two seconds later the burst is forgotten");
    }
}
