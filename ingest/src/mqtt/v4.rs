//! MQTT 3.1.1 connection (rumqttc): used for the embedded broker. The broker's own inflight
//! setting bounds how many unacknowledged messages it sends.

use super::config::MqttConfig;
use super::status::MqttStatus;
use super::subscriber::{Client, Inbound, Polled, REQUEST_CAPACITY, drive};
use super::transport::{Endpoint, Session, describe};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Connects with a persistent session and starts the task that polls the connection.
pub(super) fn connect(
    config: &MqttConfig,
    messages: mpsc::Sender<Inbound>,
    status: Arc<MqttStatus>,
) -> (Client, JoinHandle<()>) {
    let mut options = Endpoint::of(config).client_options(&config.client_id, Session::Persistent);
    options.set_manual_acks(true);
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
