//! MQTT 5 connection, the default for external brokers: the engine speaks the protocol on the
//! socket itself, with rumqttc's packet codec (`rumqttc::v5::mqttbytes`) for the bytes.
//!
//! Why not rumqttc's event loop: it writes and flushes one PUBACK per loop turn, shares the
//! turns at random between reading and acknowledging (so under a backlog the acks fall behind
//! and its request queue overflows), and its keep-alive check fails when a PINGRESP waits
//! behind a full pipe, which dropped the session during long drains. Here:
//! - every PUBACK waiting is encoded into one buffer and written with one `write_all`;
//! - the socket is read in large chunks and every complete packet is handed on at once;
//! - keep-alive has its own timer and the reader never waits on the pipeline (the broker may
//!   not send more than [`RECEIVE_MAXIMUM`] unacknowledged messages, and the pipeline's queue
//!   holds that many), so a busy engine keeps its session.
//!
//! The engine announces a large Receive Maximum so the broker may keep many QoS 1 messages in
//! flight to it; with MQTT 3.1.1 Mosquitto's `max_inflight_messages` (20) would cap
//! acknowledged throughput.

use super::config::{MAX_PACKET_BYTES, MqttConfig};
use super::status::MqttStatus;
use super::subscriber::{Client, Inbound};
use super::transport::{Backoff, Endpoint, refused};
use bytes::BytesMut;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnectProperties, ConnectReturnCode, Disconnect, DisconnectReasonCode, Filter, Login,
    Packet, PingReq, PubAck, Publish, Subscribe,
};
use rumqttc::v5::mqttbytes::{self, QoS};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many unacknowledged QoS 1 messages the broker may send (MQTT 5 Receive Maximum).
/// The pipeline commits whatever arrives in one batch, so a wide window means big commits and
/// a journal that never waits for the broker's next messages: draining a queued backlog from
/// Mosquitto reached 0.56 × a bare subscriber with 4096, 0.67 × with 16384, and no more with
/// 65535, which only kept more in memory (BENCHMARKS.md, "Receive Maximum").
pub(super) const RECEIVE_MAXIMUM: u16 = 16384;

/// Packet id of the one SUBSCRIBE each connection sends.
const SUBSCRIBE_PKID: u16 = 1;

/// How long the broker may take to answer CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from the socket at a time (many publishes per read under a backlog).
const READ_CHUNK: usize = 256 * 1024;

/// What the pipeline asks the connection to send.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// PUBACK for these packet ids, in order (one write for all of them).
    Acks(Vec<u16>),
    /// A QoS 0 publish (dead-letter copies).
    Publish {
        /// Topic.
        topic: String,
        /// Payload.
        payload: Vec<u8>,
    },
    /// A clean DISCONNECT, then the task ends.
    Disconnect,
}

/// The pipeline's side of an MQTT 5 connection.
#[derive(Debug, Clone)]
pub(super) struct Handle {
    requests: mpsc::UnboundedSender<Outgoing>,
}

impl Handle {
    /// Queues PUBACKs for the given packet ids; they leave in one write.
    pub(super) fn ack(&self, pkids: Vec<u16>) -> Result<(), String> {
        self.requests
            .send(Outgoing::Acks(pkids))
            .map_err(|_| "mqtt connection task is gone".to_string())
    }

    /// Queues a QoS 0 publish.
    pub(super) fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), String> {
        self.requests
            .send(Outgoing::Publish {
                topic: topic.to_string(),
                payload,
            })
            .map_err(|_| "mqtt connection task is gone".to_string())
    }

    /// Asks for a clean DISCONNECT.
    pub(super) fn disconnect(&self) {
        let _ = self.requests.send(Outgoing::Disconnect);
    }
}

/// Connects with a persistent session and starts the task that keeps the connection.
pub(super) fn connect(
    config: &MqttConfig,
    messages: mpsc::Sender<Inbound>,
    status: Arc<MqttStatus>,
) -> (Client, JoinHandle<()>) {
    let (requests, queue) = mpsc::unbounded_channel();
    let task = tokio::spawn(keep_connected(config.clone(), queue, messages, status));
    (Client::V5(Handle { requests }), task)
}

/// Why one connection ended.
enum Ended {
    /// The pipeline or the handle is gone, or a DISCONNECT was asked for: stop for good.
    Stopped,
}

/// Connects, serves the connection until it fails, backs off and connects again.
async fn keep_connected(
    config: MqttConfig,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    messages: mpsc::Sender<Inbound>,
    status: Arc<MqttStatus>,
) {
    let endpoint = Endpoint::of(&config);
    let mut backoff = Backoff::new();
    loop {
        let mut connected = false;
        match serve(
            &config,
            &endpoint,
            &mut queue,
            &messages,
            &status,
            &mut connected,
        )
        .await
        {
            Ok(Ended::Stopped) => return,
            Err(error) => {
                if connected {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                status.on_error(&error, delay);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn encode(packet: &Packet, out: &mut BytesMut) -> Result<(), String> {
    packet
        .write(out, None)
        .map(|_| ())
        .map_err(|error| format!("cannot encode an MQTT packet: {error:?}"))
}

/// One connection: CONNECT, SUBSCRIBE, then reading, acknowledging and pinging until it fails.
async fn serve(
    config: &MqttConfig,
    endpoint: &Endpoint,
    queue: &mut mpsc::UnboundedReceiver<Outgoing>,
    messages: &mpsc::Sender<Inbound>,
    status: &MqttStatus,
    connected: &mut bool,
) -> Result<Ended, String> {
    let max_packet = u32::try_from(MAX_PACKET_BYTES).unwrap_or(u32::MAX);
    let stream = endpoint.open().await?;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut out = BytesMut::with_capacity(64 * 1024);
    encode(
        &Packet::Connect(
            connect_packet(config, max_packet),
            None,
            endpoint
                .login()
                .map(|(user, password)| Login::new(user, password)),
        ),
        &mut out,
    )?;
    writer.write_all(&out).await.map_err(io_error)?;
    out.clear();

    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let connack = tokio::time::timeout(
        CONNECT_TIMEOUT,
        read_connack(&mut reader, &mut input, max_packet),
    )
    .await
    .map_err(|_| "the broker did not answer CONNECT in time".to_string())??;
    if connack.code != ConnectReturnCode::Success {
        return Err(refusal(connack.code));
    }
    status.on_connected(connack.session_present);
    *connected = true;
    // Subscribing again is harmless when the session was kept, and covers a session that
    // the broker kept with other filters.
    let mut subscribe = Subscribe::new(Filter::new(config.filter.clone(), QoS::AtLeastOnce), None);
    // A SUBSCRIBE needs a non-zero packet id; this connection sends no other packet with one.
    subscribe.pkid = SUBSCRIBE_PKID;
    encode(&Packet::Subscribe(subscribe), &mut out)?;
    writer.write_all(&out).await.map_err(io_error)?;
    out.clear();

    let keep_alive = config.keep_alive.max(Duration::from_secs(1));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
    // When a ping went unanswered: the connection is only declared dead when nothing at all
    // came from the broker for a whole keep-alive period after it. Under a backlog the
    // PINGRESP waits behind thousands of publishes, which prove the broker alive just as well.
    let mut ping_sent: Option<tokio::time::Instant> = None;
    let mut last_read = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = ping.tick() => {
                if let Some(sent) = ping_sent
                    && last_read < sent
                    && sent.elapsed() >= keep_alive
                {
                    return Err(format!(
                        "the broker sent nothing for {keep_alive:?} after a ping"
                    ));
                }
                encode(&Packet::PingReq(PingReq), &mut out)?;
                writer.write_all(&out).await.map_err(io_error)?;
                out.clear();
                // The oldest ping still unanswered with nothing read since it, else this one.
                ping_sent = match ping_sent {
                    Some(sent) if last_read < sent => Some(sent),
                    _ => Some(tokio::time::Instant::now()),
                };
            }
            request = queue.recv() => {
                let Some(request) = request else { return Ok(Ended::Stopped) };
                let mut next = Some(request);
                let mut stop = false;
                // Everything waiting leaves in one write.
                while let Some(request) = next.take() {
                    match request {
                        Outgoing::Acks(pkids) => {
                            for pkid in pkids {
                                encode(&Packet::PubAck(PubAck::new(pkid, None)), &mut out)?;
                            }
                        }
                        Outgoing::Publish { topic, payload } => {
                            let publish = Publish::new(topic, QoS::AtMostOnce, payload, None);
                            encode(&Packet::Publish(publish), &mut out)?;
                        }
                        Outgoing::Disconnect => {
                            encode(
                                &Packet::Disconnect(Disconnect::new(
                                    DisconnectReasonCode::NormalDisconnection,
                                )),
                                &mut out,
                            )?;
                            stop = true;
                            break;
                        }
                    }
                    next = queue.try_recv().ok();
                }
                writer.write_all(&out).await.map_err(io_error)?;
                out.clear();
                if stop {
                    let _ = writer.shutdown().await;
                    return Ok(Ended::Stopped);
                }
            }
            read = reader.read_buf(&mut input) => {
                if read.map_err(io_error)? == 0 {
                    return Err("the broker closed the connection".to_string());
                }
                last_read = tokio::time::Instant::now();
                loop {
                    match Packet::read(&mut input, Some(max_packet)) {
                        Ok(Packet::Publish(publish)) => {
                            status.received.fetch_add(1, Ordering::Relaxed);
                            if messages.send(Inbound::V5(publish)).await.is_err() {
                                return Ok(Ended::Stopped);
                            }
                        }
                        Ok(Packet::PingResp(_)) => ping_sent = None,
                        Ok(Packet::SubAck(_)) => status.subscribed.store(true, Ordering::Relaxed),
                        Ok(Packet::Disconnect(disconnect)) => {
                            return Err(format!("the broker disconnected: {:?}", disconnect.reason_code));
                        }
                        Ok(_) => {}
                        Err(mqttbytes::Error::InsufficientBytes(_)) => break,
                        Err(error) => return Err(format!("unreadable packet from the broker: {error:?}")),
                    }
                }
                if input.capacity() - input.len() < READ_CHUNK / 4 {
                    input.reserve(READ_CHUNK);
                }
            }
        }
    }
}

fn connect_packet(config: &MqttConfig, max_packet: u32) -> rumqttc::v5::mqttbytes::v5::Connect {
    let mut properties = ConnectProperties::new();
    properties.session_expiry_interval = Some(config.session_expiry_secs);
    properties.receive_maximum = Some(RECEIVE_MAXIMUM);
    properties.max_packet_size = Some(max_packet);
    rumqttc::v5::mqttbytes::v5::Connect {
        keep_alive: u16::try_from(config.keep_alive.as_secs()).unwrap_or(u16::MAX),
        client_id: config.client_id.clone(),
        clean_start: false,
        properties: Some(properties),
    }
}

/// Reads until the CONNACK is complete.
async fn read_connack(
    reader: &mut (impl AsyncRead + Unpin),
    input: &mut BytesMut,
    max_packet: u32,
) -> Result<ConnAck, String> {
    loop {
        match Packet::read(input, Some(max_packet)) {
            Ok(Packet::ConnAck(connack)) => return Ok(connack),
            Ok(other) => return Err(format!("expected CONNACK from the broker, got {other:?}")),
            Err(mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(error) => return Err(format!("unreadable CONNACK: {error:?}")),
        }
        if reader.read_buf(input).await.map_err(io_error)? == 0 {
            return Err("the broker closed the connection before CONNACK".to_string());
        }
    }
}

/// A refused CONNECT in words an operator can act on.
fn refusal(code: ConnectReturnCode) -> String {
    let credentials = matches!(
        code,
        ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
    );
    refused(&format!("{code:?}"), credentials)
}

fn io_error(error: std::io::Error) -> String {
    format!("connection to the broker failed: {error}")
}
