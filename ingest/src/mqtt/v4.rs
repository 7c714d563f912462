//! MQTT 3.1.1 connection (rumqttc): used for the embedded broker. The broker's own inflight
//! setting bounds how many unacknowledged messages it sends.

use super::config::{MAX_PACKET_BYTES, MqttConfig};
use super::status::MqttStatus;
use super::subscriber::{Client, Inbound, MAX_BACKOFF, MIN_BACKOFF, REQUEST_CAPACITY};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::sync::atomic::Ordering;
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
    if let Some(user) = &config.broker.username {
        options.set_credentials(user, config.broker.password.clone().unwrap_or_default());
    }
    let (client, mut event_loop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let filter = config.filter.clone();
    let subscriber = client.clone();
    let poller = tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    status.on_connected(ack.session_present);
                    backoff = MIN_BACKOFF;
                    // Subscribing again is idempotent; doing it on every connection also covers
                    // a session that the broker kept but with other filters.
                    if let Err(error) = subscriber.try_subscribe(&filter, QoS::AtLeastOnce) {
                        tracing::error!(%error, "cannot queue subscription");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    status.subscribed.store(true, Ordering::Relaxed)
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    status.received.fetch_add(1, Ordering::Relaxed);
                    if messages.send(Inbound::V4(publish)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    status.on_error(&error.to_string(), backoff);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
    (Client::V4(client), poller)
}
