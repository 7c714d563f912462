//! What the latency examples share: a websocket subscribed to one view, an MQTT client for the
//! probes, and the percentile line they print.

use futures_util::{SinkExt, StreamExt};
use rumqttc::{AsyncClient, MqttOptions};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A websocket connection to the engine.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` on `http` with `token` and sends `subscribe`.
pub async fn subscribed_socket(
    http: &str,
    token: &str,
    subscribe: &Value,
) -> Result<Socket, Box<dyn std::error::Error>> {
    let ws_url = format!("{}/ws?access_token={token}", http.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await?;
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await?;
    Ok(socket)
}

/// The next text frame as JSON; an error when none arrives within 10 s or the socket closes.
pub async fn next_frame(socket: &mut Socket) -> Result<Value, Box<dyn std::error::Error>> {
    let Some(Ok(Message::Text(text))) =
        tokio::time::timeout(Duration::from_secs(10), socket.next()).await?
    else {
        return Err("websocket closed".into());
    };
    Ok(serde_json::from_str(text.as_str())?)
}

/// An MQTT client to `host:port` whose event loop runs in the background.
pub fn probe_client(broker: &str, name: &str) -> Result<AsyncClient, Box<dyn std::error::Error>> {
    let (host, port) = broker.rsplit_once(':').ok_or("broker is host:port")?;
    let mut options = MqttOptions::new(
        format!("{name}-{}", std::process::id()),
        host,
        port.parse()?,
    );
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut event_loop) = AsyncClient::new(options, 100);
    tokio::spawn(async move { while event_loop.poll().await.is_ok() {} });
    Ok(client)
}

/// `probes=… p50=… p90=… p99=… max=…` of the samples.
pub fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    if samples.is_empty() {
        return "probes=0".into();
    }
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "probes={} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms",
        samples.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.9).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        pick(1.0).as_secs_f64() * 1e3
    )
}
