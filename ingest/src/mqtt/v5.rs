//! MQTT 5 connection (rumqttc::v5), the default for external brokers. The engine announces a
//! large Receive Maximum so the broker may keep many QoS 1 messages in flight to it; with
//! MQTT 3.1.1 Mosquitto's `max_inflight_messages` (20) would cap acknowledged throughput.

use super::config::{MAX_PACKET_BYTES, MqttConfig};
use super::status::MqttStatus;
use super::subscriber::{Client, Inbound, Polled, REQUEST_CAPACITY, drive};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many unacknowledged QoS 1 messages the broker may send (MQTT 5 Receive Maximum).
/// The pipeline commits whatever arrives in one batch, so a wide window means big commits.
const RECEIVE_MAXIMUM: u16 = 4096;

/// Connects with a persistent session and starts the task that polls the connection.
pub(super) fn connect(
    config: &MqttConfig,
    messages: mpsc::Sender<Inbound>,
    status: Arc<MqttStatus>,
) -> (Client, JoinHandle<()>) {
    let mut options = MqttOptions::new(&config.client_id, &config.broker.host, config.broker.port);
    let max_packet = u32::try_from(MAX_PACKET_BYTES).unwrap_or(u32::MAX);
    options
        .set_clean_start(false)
        .set_session_expiry_interval(Some(config.session_expiry_secs))
        .set_receive_maximum(Some(RECEIVE_MAXIMUM))
        .set_manual_acks(true)
        .set_keep_alive(config.keep_alive)
        .set_max_packet_size(Some(max_packet));
    options.set_transport(super::tls::transport(config.tls.as_ref()));
    if let Some(user) = &config.broker.username {
        options.set_credentials(user, config.broker.password.clone().unwrap_or_default());
    }
    let (client, mut event_loop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let filter = config.filter.clone();
    let subscriber = client.clone();
    let poll = async move || match event_loop.poll().await {
        Ok(Event::Incoming(Packet::ConnAck(ack))) => Polled::Connected {
            session_present: ack.session_present,
        },
        Ok(Event::Incoming(Packet::SubAck(_))) => Polled::Subscribed,
        Ok(Event::Incoming(Packet::Publish(publish))) => Polled::Message(Inbound::V5(publish)),
        Ok(_) => Polled::Other,
        Err(error) => Polled::Failed(describe(&error)),
    };
    let subscribe = move || {
        subscriber
            .try_subscribe(filter.clone(), QoS::AtLeastOnce)
            .map_err(|e| e.to_string())
    };
    let poller = tokio::spawn(drive(poll, subscribe, messages, status));
    (Client::V5(client), poller)
}

/// A connection error in words an operator can act on (refused credentials, a TLS failure).
fn describe(error: &rumqttc::v5::ConnectionError) -> String {
    match error {
        rumqttc::v5::ConnectionError::ConnectionRefused(code) => format!(
            "broker refused the connection ({code:?}): check the MQTT user name and password"
        ),
        rumqttc::v5::ConnectionError::Tls(error) => format!(
            "TLS with the broker failed: {error} (check mqtt_ca_file, the broker's certificate and its host name)"
        ),
        other => other.to_string(),
    }
}
