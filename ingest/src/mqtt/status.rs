//! Live state of the broker connection, shared with readiness and metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live state of the MQTT connection, read by readiness and metrics.
#[derive(Debug, Default)]
pub struct MqttStatus {
    pub(super) connected: AtomicBool,
    pub(super) subscribed: AtomicBool,
    pub(super) received: AtomicU64,
    pub(super) acknowledged: AtomicU64,
    pub(super) reconnects: AtomicU64,
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

impl MqttStatus {
    /// Records a CONNACK: connected, and subscribed already when the broker kept the session.
    pub(super) fn on_connected(&self, session_present: bool) {
        self.connected.store(true, Ordering::Relaxed);
        self.subscribed.store(session_present, Ordering::Relaxed);
        tracing::info!(session_present, "connected to mqtt broker");
    }

    /// Records a connection error before the back-off pause.
    pub(super) fn on_error(&self, error: &str, backoff: std::time::Duration) {
        self.connected.store(false, Ordering::Relaxed);
        self.subscribed.store(false, Ordering::Relaxed);
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "mqtt connection error");
    }
}

/// What `/metrics` reports of the broker sessions: one session for a single engine, the sum
/// of the slot sessions for an instance of a cluster.
pub trait SessionTotals: Send + Sync {
    /// Messages received since start.
    fn received(&self) -> u64;
    /// Messages journaled and acknowledged since start.
    fn acknowledged(&self) -> u64;
    /// Broker connection errors.
    fn connection_errors(&self) -> u64;
    /// Whether every session is connected.
    fn connected(&self) -> bool;
}

impl SessionTotals for MqttStatus {
    fn received(&self) -> u64 {
        MqttStatus::received(self)
    }

    fn acknowledged(&self) -> u64 {
        MqttStatus::acknowledged(self)
    }

    fn connection_errors(&self) -> u64 {
        self.reconnects()
    }

    fn connected(&self) -> bool {
        self.is_connected()
    }
}
