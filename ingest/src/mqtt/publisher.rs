//! A second, publish-only connection for what the engine itself announces (alert transitions
//! on `ioc/alerts`). Kept apart from the subscriber so that a burst of outgoing messages never
//! sits in front of the acknowledgements of incoming ones.

use super::config::MqttConfig;
use super::transport::{Backoff, Endpoint, Session, describe};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::future::Future;
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
    let options =
        Endpoint::of(&config).client_options(&format!("{}-pub", config.client_id), Session::Clean);
    let (client, mut event_loop) = AsyncClient::new(options, PUBLISH_QUEUE);
    let poller = tokio::spawn(async move {
        let mut backoff = Backoff::new();
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => backoff.reset(),
                Ok(_) => {}
                Err(error) => {
                    let error = describe(&error);
                    tracing::debug!(%error, "alert publisher connection failed; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
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
