//! Publish-to-websocket latency: publishes probe readings over MQTT and times each one until
//! the `area` view frame that shows it arrives on the websocket. Run it while the simulator
//! loads the engine; see BENCHMARKS.md.
//!
//! `cargo run -p ioc-tests --release --example ws_latency -- <http base> <token> <mqtt host:port>
//!  <topic root> <probes>`

use futures_util::{SinkExt, StreamExt};
use ioc_tests::ws::merge_patch;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const AREA: &str = "hoan-kiem";
const SOURCE: &str = "latency-probe";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, http, token, broker, root, probes] = args.as_slice() else {
        return Err(
            "usage: ws_latency <http base> <token> <mqtt host:port> <topic root> <probes>".into(),
        );
    };
    let probes: usize = probes.parse()?;
    let (host, port) = broker.rsplit_once(':').ok_or("broker is host:port")?;
    let ws_url = format!("{}/ws?access_token={token}", http.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await?;
    let subscribe = json!({"op": "subscribe", "id": "lat", "view": "area", "area": AREA});
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await?;

    let mut options = MqttOptions::new(
        format!("latency-{}", std::process::id()),
        host,
        port.parse()?,
    );
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut event_loop) = AsyncClient::new(options, 100);
    tokio::spawn(async move { while event_loop.poll().await.is_ok() {} });

    let mut data = Value::Null;
    let mut samples = Vec::with_capacity(probes);
    for probe in 0..probes {
        // Values 40.0, 40.5, … identify the probe in the source's last values.
        let value = 40.0 + (probe % 100) as f64 * 0.5;
        let body = json!({"source": SOURCE, "ts": chrono::Utc::now().timestamp_millis(), "values": {"laeq": value}});
        let sent = Instant::now();
        client
            .publish(
                format!("{root}/{AREA}/noise/{SOURCE}"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .await?;
        loop {
            let Some(Ok(Message::Text(text))) =
                tokio::time::timeout(Duration::from_secs(10), socket.next()).await?
            else {
                return Err("websocket closed".into());
            };
            let frame: Value = serde_json::from_str(text.as_str())?;
            match frame["type"].as_str() {
                Some("snapshot") => data = frame["data"].clone(),
                Some("update") => merge_patch(&mut data, &frame["patch"]),
                _ => continue,
            }
            let shown = data["sources"].as_array().and_then(|sources| {
                sources
                    .iter()
                    .find(|s| s["id"] == SOURCE)
                    .and_then(|s| s["values"]["laeq"].as_f64())
            });
            if shown == Some(value) {
                samples.push(sent.elapsed());
                break;
            }
        }
        // Spread probes over the tick's phases (a fixed pause would lock onto one phase).
        tokio::time::sleep(Duration::from_millis(100 + (probe as u64 * 211) % 500)).await;
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "probes={} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms",
        samples.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.9).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        pick(1.0).as_secs_f64() * 1e3
    );
    Ok(())
}
