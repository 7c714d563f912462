//! The embedded MQTT broker (rumqttd, in-process) so the demo needs no server.

use anyhow::Context;

/// Starts rumqttd on 127.0.0.1:`port` (1883 by default; a free port if that one is taken) and
/// returns the port it listens on.
pub fn start_embedded(preferred: Option<u16>, max_payload_bytes: usize) -> anyhow::Result<u16> {
    let wanted = preferred.unwrap_or(1883);
    let port = match std::net::TcpListener::bind(("127.0.0.1", wanted)) {
        Ok(probe) => {
            drop(probe);
            wanted
        }
        Err(_) => {
            let probe = std::net::TcpListener::bind(("127.0.0.1", 0))
                .context("no free port for the embedded broker")?;
            let port = probe.local_addr()?.port();
            drop(probe);
            tracing::warn!(
                taken = wanted,
                using = port,
                "MQTT port taken; the embedded broker uses a free one"
            );
            eprintln!("MQTT port {wanted} is taken; the embedded broker listens on {port} instead");
            port
        }
    };
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = {payload}
max_inflight_count = 1000
dynamic_filters = true
"#,
        payload = max_payload_bytes.max(1024 * 1024),
    );
    let config: rumqttd::Config = toml::from_str(&text).context("embedded broker config")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("ioc-mqtt-broker".into())
        .spawn(move || {
            if let Err(error) = broker.start() {
                tracing::error!(%error, "embedded broker stopped");
            }
        })?;
    Ok(port)
}
