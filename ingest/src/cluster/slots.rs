//! The slot supervisor: one MQTT subscriber per slot this instance holds, each a persistent
//! session with the slot's fixed client id on the shared subscription, committing with the
//! slot's fence. A slot that is lost or handed back has its subscriber stopped before the
//! lease is released.

use super::Membership;
use crate::intake::Intake;
use crate::journal::{Fence, JournalHandle};
use crate::mqtt::{self, MqttConfig, MqttStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

/// The fixed client id of a slot's session: the same on every instance, so whoever holds the
/// slot resumes the session (and the messages the broker kept for it).
pub fn slot_client_id(group: &str, topic_root: &str, slot: u32) -> String {
    format!("ioc-{group}-{topic_root}-slot-{slot}")
}

/// The broker side of the slots this instance runs, for readiness and metrics.
#[derive(Debug, Default)]
pub struct SlotStatuses {
    current: Mutex<BTreeMap<u32, Arc<MqttStatus>>>,
    retired_received: AtomicU64,
    retired_acknowledged: AtomicU64,
}

impl SlotStatuses {
    fn current(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Arc<MqttStatus>>> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether every running slot is connected and subscribed (true with none running).
    pub fn all_connected(&self) -> bool {
        self.current()
            .values()
            .all(|status| status.is_connected() && status.is_subscribed())
    }

    /// Messages received by every slot session since start.
    pub fn received(&self) -> u64 {
        self.retired_received.load(Ordering::Relaxed)
            + self.current().values().map(|s| s.received()).sum::<u64>()
    }

    /// Messages journaled and acknowledged by every slot session since start.
    pub fn acknowledged(&self) -> u64 {
        self.retired_acknowledged.load(Ordering::Relaxed)
            + self
                .current()
                .values()
                .map(|s| s.acknowledged())
                .sum::<u64>()
    }

    /// Connection errors of the running slot sessions.
    pub fn reconnects(&self) -> u64 {
        self.current().values().map(|s| s.reconnects()).sum()
    }

    fn retire(&self, slot: u32) {
        if let Some(status) = self.current().remove(&slot) {
            self.retired_received
                .fetch_add(status.received(), Ordering::Relaxed);
            self.retired_acknowledged
                .fetch_add(status.acknowledged(), Ordering::Relaxed);
        }
    }
}

impl mqtt::SessionTotals for SlotStatuses {
    fn received(&self) -> u64 {
        SlotStatuses::received(self)
    }

    fn acknowledged(&self) -> u64 {
        SlotStatuses::acknowledged(self)
    }

    fn connection_errors(&self) -> u64 {
        self.reconnects()
    }

    fn connected(&self) -> bool {
        self.all_connected()
    }
}

/// What the supervisor needs to start a slot's subscriber.
pub struct SlotSessions {
    /// Broker, TLS and protocol settings; client id, filter and fence are set per slot.
    pub base: MqttConfig,
    /// Shared-subscription group.
    pub group: String,
    /// Topic root (part of the slot client ids).
    pub topic_root: String,
    /// The shared-subscription filter, `$share/{group}/{root}/#`.
    pub filter: String,
    /// Decoding and validation.
    pub intake: Intake,
    /// The journal the batches are committed to.
    pub journal: JournalHandle,
}

struct Running {
    epoch: i64,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs a subscriber for every slot in `membership` until `shutdown` resolves; keeps
/// `running` to the set of slots whose subscriber has not finished.
pub async fn supervise(
    sessions: SlotSessions,
    mut membership: watch::Receiver<Membership>,
    running: Arc<Mutex<BTreeSet<u32>>>,
    statuses: Arc<SlotStatuses>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tasks: BTreeMap<u32, Running> = BTreeMap::new();
    loop {
        let wanted = membership.borrow_and_update().owned.clone();
        let stale: Vec<u32> = tasks
            .iter()
            .filter(|(slot, task)| wanted.get(slot) != Some(&task.epoch))
            .map(|(slot, _)| *slot)
            .collect();
        for slot in stale {
            if let Some(task) = tasks.remove(&slot) {
                stop(slot, task, &running, &statuses).await;
            }
        }
        for (&slot, &epoch) in &wanted {
            if tasks.contains_key(&slot) {
                continue;
            }
            let mut config = sessions.base.clone();
            config.client_id = slot_client_id(&sessions.group, &sessions.topic_root, slot);
            config.filter = sessions.filter.clone();
            config.fence = Some(Fence { slot, epoch });
            let status = Arc::new(MqttStatus::default());
            statuses.current().insert(slot, Arc::clone(&status));
            lock(&running).insert(slot);
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            tracing::info!(slot, epoch, client_id = %config.client_id, "slot subscriber starting");
            let task = tokio::spawn(mqtt::run(
                config,
                sessions.intake.clone(),
                sessions.journal.clone(),
                status,
                async move {
                    let _ = stop_rx.await;
                },
            ));
            tasks.insert(
                slot,
                Running {
                    epoch,
                    stop: stop_tx,
                    task,
                },
            );
        }
        tokio::select! {
            changed = membership.changed() => if changed.is_err() { break },
            () = &mut shutdown => break,
        }
    }
    for (slot, task) in std::mem::take(&mut tasks) {
        stop(slot, task, &running, &statuses).await;
    }
}

async fn stop(slot: u32, task: Running, running: &Mutex<BTreeSet<u32>>, statuses: &SlotStatuses) {
    let _ = task.stop.send(());
    let _ = task.task.await;
    statuses.retire(slot);
    lock(running).remove(&slot);
    tracing::info!(slot, epoch = task.epoch, "slot subscriber stopped");
}

fn lock(running: &Mutex<BTreeSet<u32>>) -> std::sync::MutexGuard<'_, BTreeSet<u32>> {
    running
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
