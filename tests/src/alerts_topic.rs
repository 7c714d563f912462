//! A subscriber to the engine's `ioc/alerts` topic, shared by the alert tests of one engine
//! and of a cluster.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::time::Duration;

/// Collects what the engine publishes on `ioc/alerts`.
pub async fn listen_alerts_topic(
    host: &str,
    port: u16,
) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let mut options = MqttOptions::new(crate::unique_root("alerts-sub"), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut event_loop) = AsyncClient::new(options, 100);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    client
        .subscribe("ioc/alerts", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    tokio::spawn(async move {
        let _client = client;
        let mut subscribed_tx = Some(subscribed_tx);
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if let Ok(value) = serde_json::from_slice(&publish.payload) {
                        let _ = tx.send(value);
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed)
        .await
        .expect("SUBACK in time")
        .expect("subscriber alive");
    rx
}
