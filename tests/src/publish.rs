//! Publishing raw MQTT messages from tests, waiting for every PUBACK.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;

/// A publisher connected to a broker, with its event loop polled in the background.
pub struct Publisher {
    client: AsyncClient,
    acks: tokio::sync::watch::Receiver<u64>,
    sent_qos1: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    /// Connects to `host:port`.
    pub async fn connect(host: &str, port: u16) -> Publisher {
        let id = format!("test-pub-{}", crate::unique_root("p"));
        Self::connect_with(MqttOptions::new(id, host, port))
    }

    /// Connects with a persistent session (`clean_session = false`): across a broker outage
    /// the client keeps what it could not send and resends what was not acknowledged.
    pub async fn connect_persistent(host: &str, port: u16, client_id: &str) -> Publisher {
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_clean_session(false);
        Self::connect_with(options)
    }

    /// How many QoS 1 messages the broker acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        *self.acks.borrow()
    }

    fn connect_with(mut options: MqttOptions) -> Publisher {
        options.set_max_packet_size(32 * 1024 * 1024, 32 * 1024 * 1024);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut event_loop) = AsyncClient::new(options, 10_000);
        let (count, acks) = tokio::sync::watch::channel(0_u64);
        let task = tokio::spawn(async move {
            let mut n = 0;
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        n += 1;
                        let _ = count.send(n);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Publisher {
            client,
            acks,
            sent_qos1: 0,
            task,
        }
    }

    /// Publishes one message at QoS 1.
    pub async fn publish(&mut self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await
            .expect("publish");
        self.sent_qos1 += 1;
    }

    /// Waits until the broker acknowledged every message published so far.
    pub async fn wait_acked(&mut self) {
        self.wait_acked_within(Duration::from_secs(60)).await;
    }

    /// [`Publisher::wait_acked`] with a deadline of `limit`.
    pub async fn wait_acked_within(&mut self, limit: Duration) {
        let target = self.sent_qos1;
        let wait = self.acks.wait_for(|n| *n >= target);
        tokio::time::timeout(limit, wait)
            .await
            .expect("broker acknowledged in time")
            .expect("publisher alive");
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
