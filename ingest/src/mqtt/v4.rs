//! MQTT 3.1.1 connection (rumqttc): used for the embedded broker. The broker's own inflight
//! setting bounds how many unacknowledged messages it sends.

use super::config::{MAX_PACKET_BYTES, MqttConfig};
use super::status::MqttStatus;
use super::subscriber::{Client, Inbound, Polled, REQUEST_CAPACITY, drive};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Connects with a persistent session and starts the task that polls the connection.
pub(super) fn connect(
    config: &MqttConfig,
    messages: mpsc::Sender<Inbound>,
    status: Arc<MqttStatus>,
) -> (Client, JoinHandle<()>) {
    let mut options = MqttOptions::new(&config.client_id, &config.broker.host, config.broker.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(config.keep_alive)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
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
        Ok(Event::Incoming(Packet::Publish(publish))) => Polled::Message(Inbound::V4(publish)),
        Ok(_) => Polled::Other,
        Err(error) => Polled::Failed(describe(&error)),
    };
    let subscribe = move || {
        subscriber
            .try_subscribe(&filter, QoS::AtLeastOnce)
            .map_err(|e| e.to_string())
    };
    let poller = tokio::spawn(drive(poll, subscribe, messages, status));
    (Client::V4(client), poller)
}

/// A connection error in words an operator can act on (refused credentials, a TLS failure).
fn describe(error: &rumqttc::ConnectionError) -> String {
    match error {
        rumqttc::ConnectionError::ConnectionRefused(code) => format!(
            "broker refused the connection ({code:?}): check the MQTT user name and password"
        ),
        rumqttc::ConnectionError::Tls(error) => format!(
            "TLS with the broker failed: {error} (check mqtt_ca_file, the broker's certificate and its host name)"
        ),
        other => other.to_string(),
    }
}
