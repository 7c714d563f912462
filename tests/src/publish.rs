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

/// The areas [`feed_noise`] spreads its readings over, in turn.
pub const NOISE_AREAS: [&str; 3] = ["ba-dinh", "dong-da", "cau-giay"];

/// Publishes `total` noise readings with ids `{prefix}-{i}`, one area of [`NOISE_AREAS`] after
/// the other, pausing `pause` after every ten (so a run spans an outage a test causes); then
/// waits up to three minutes for the broker's acknowledgements and returns how many came.
pub async fn feed_noise(
    mut publisher: Publisher,
    root: String,
    prefix: String,
    total: u64,
    pause: Duration,
) -> u64 {
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..total {
        let area = NOISE_AREAS[(i % 3) as usize];
        let source = format!("nm-{area}");
        let body = serde_json::json!({"id": format!("{prefix}-{i}"), "source": source,
            "ts": now - 60_000 + i as i64, "values": {"laeq": 58.5}});
        publisher
            .publish(&format!("{root}/{area}/noise/{source}"), body.to_string())
            .await;
        if i % 10 == 9 {
            tokio::time::sleep(pause).await;
        }
    }
    publisher.wait_acked_within(Duration::from_secs(180)).await;
    publisher.acknowledged()
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
