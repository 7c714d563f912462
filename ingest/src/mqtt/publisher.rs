//! A second, publish-only connection for what the engine itself announces (alert transitions
//! on `ioc/alerts`). Kept apart from the subscriber so that a burst of outgoing messages never
//! sits in front of the acknowledgements of incoming ones.

use super::config::MqttConfig;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages the publisher may hold while the broker is away; older ones are then dropped
/// (the journal and the views hold every alert anyway).
const PUBLISH_QUEUE: usize = 1024;

/// Publishes every message from `messages` on `topic` at QoS 1 until `shutdown` resolves.
/// Reconnects with back-off; the client id is the subscriber's with `-pub` appended.
pub async fn publish(
    config: MqttConfig,
    topic: String,
    mut messages: mpsc::Receiver<Vec<u8>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut options = MqttOptions::new(
        format!("{}-pub", config.client_id),
        &config.broker.host,
        config.broker.port,
    );
    options
        .set_clean_session(true)
        .set_keep_alive(config.keep_alive)
        .set_transport(super::tls::transport(config.tls.as_ref()));
    if let Some(user) = &config.broker.username {
        options.set_credentials(user, config.broker.password.clone().unwrap_or_default());
    }
    let (client, mut event_loop) = AsyncClient::new(options, PUBLISH_QUEUE);
    let poller = tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => backoff = Duration::from_millis(100),
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, "alert publisher connection failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(body) => {
                    if let Err(error) = client.try_publish(&topic, QoS::AtLeastOnce, false, body) {
                        tracing::warn!(%error, %topic, "publish queue full; message dropped");
                    }
                }
                None => break,
            },
            () = &mut shutdown => break,
        }
    }
    let _ = client.try_disconnect();
    poller.abort();
}

/// A bounded queue feeding [`publish`].
pub fn queue() -> (mpsc::Sender<Vec<u8>>, mpsc::Receiver<Vec<u8>>) {
    mpsc::channel(PUBLISH_QUEUE)
}
