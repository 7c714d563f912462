//! MQTT ingest: connect to the broker with a persistent session, receive QoS 1 messages,
//! journal them and only then acknowledge them (docs/guarantees.md).
//!
//! Broker settings that matter: MQTT requires PUBACKs in arrival order, and the broker keeps at
//! most a window of unacknowledged QoS 1 messages per client. Acknowledged throughput is about
//! `window / commit latency`. Over MQTT 5 (the default) the engine announces a Receive Maximum
//! of 16384 (`v5.rs`), which Mosquitto honours; over MQTT 3.1.1 Mosquitto's `max_inflight_messages`
//! (default 20) is the window. Mosquitto drops QoS 1 messages beyond `max_queued_messages`
//! (default 1000) while the engine is down or behind: size it for the outages to absorb. Set the
//! broker's `message_size_limit` at or below [`config::MAX_PACKET_BYTES`].
//!
//! Every connection (the 3.1.1 and 5 subscribers, the alert publisher, and the simulator's
//! publisher) reaches the broker, logs in and backs off through [`transport`].
//!
//! Security: credentials come from the URL (`mqtt://user:pass@host`) or the config; `mqtts://`
//! connects over TLS with the settings [`tls::client_config`] builds from PEM files. A refused
//! login or a failed handshake is logged in plain words and retried with back-off.

pub mod config;
pub mod publisher;
mod status;
mod subscriber;
pub mod tls;
pub mod transport;
mod v4;
mod v5;

pub use config::{BrokerUrl, MqttConfig, Protocol, UrlError};
pub use status::{MqttStatus, SessionTotals};
pub use subscriber::run;
pub use tls::{TlsError, TlsFiles};
pub use transport::{Backoff, Endpoint, Session};
