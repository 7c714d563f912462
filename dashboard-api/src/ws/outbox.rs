//! A session's bounded queue of frames to send. The writer assigns `seq` when a frame leaves
//! the queue, so frames dropped on overflow never leave a gap.

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::Notify;

/// A frame waiting to be written.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// Full data of a subscription.
    Snapshot {
        /// Subscription id.
        id: String,
        /// View name.
        view: &'static str,
        /// The data.
        data: Arc<Value>,
    },
    /// A merge patch of a subscription's data.
    Update {
        /// Subscription id.
        id: String,
        /// RFC 7386 patch as JSON text, shared by every session that gets the same patch in
        /// this tick ([`crate::hub::TickFrame::patch_from`]).
        patch: Arc<str>,
    },
    /// An alert transition for an `alerts` subscription, sent at once (not on the tick).
    Alert {
        /// Subscription id.
        id: String,
        /// The alert as it is now.
        alert: Arc<Value>,
    },
    /// A frame outside any subscription's sequence (pong, errors).
    Plain(Value),
    /// The subscription ended: its sequence restarts if the id is used again.
    Forget(String),
}

/// Bounded FIFO shared by the session (producer) and its writer (consumer).
pub struct Outbox {
    queue: Mutex<VecDeque<Outgoing>>,
    ready: Notify,
    capacity: usize,
}

impl Outbox {
    /// A queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Outgoing>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a frame; `false` when the queue is full (nothing queued).
    pub fn push(&self, frame: Outgoing) -> bool {
        {
            let mut queue = self.lock();
            if queue.len() >= self.capacity {
                return false;
            }
            queue.push_back(frame);
        }
        self.ready.notify_one();
        true
    }

    /// Drops every pending view frame and queues fresh snapshots in their place (the slow
    /// reader's reset). Plain and forget frames stay.
    pub fn reset_with(&self, snapshots: Vec<Outgoing>) {
        {
            let mut queue = self.lock();
            queue.retain(|frame| matches!(frame, Outgoing::Plain(_) | Outgoing::Forget(_)));
            queue.extend(snapshots);
        }
        self.ready.notify_one();
    }

    /// Takes the next frame, waiting for one.
    pub async fn pop(&self) -> Outgoing {
        loop {
            let notified = self.ready.notified();
            if let Some(frame) = self.lock().pop_front() {
                return frame;
            }
            notified.await;
        }
    }
}
