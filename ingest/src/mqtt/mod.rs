//! MQTT ingest: connect to the broker with a persistent session, receive QoS 1 messages,
//! journal them and only then acknowledge them (DESIGN §8).
//!
//! Broker settings that matter: MQTT requires PUBACKs in arrival order and the broker keeps at
//! most its inflight window of unacknowledged QoS 1 messages per client (Mosquitto's
//! `max_inflight_messages`, default 20; MQTT v5 "receive maximum"). Acknowledged throughput is
//! therefore about `window / commit latency`: raise the window (e.g. `max_inflight_messages
//! 1000`) for high rates; the engine's group commit takes whatever the window lets through.
//! Set the broker's `message_size_limit` at or below [`config::MAX_PACKET_BYTES`].

pub mod config;
mod subscriber;

pub use config::{BrokerUrl, MqttConfig, UrlError};
pub use subscriber::{MqttStatus, run};
