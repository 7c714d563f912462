//! Broker credentials and TLS for `ioc serve`: the connection settings built from the
//! `mqtt_username`, `mqtt_password`, `mqtt_ca_file`, `mqtt_client_cert` and `mqtt_client_key`
//! settings. The password is never logged: URLs are shown redacted.

use crate::config::EngineConfig;
use anyhow::Context;
use ioc_ingest::mqtt::BrokerUrl;
use ioc_ingest::mqtt::tls::{self, ClientConfig, TlsFiles};
use std::sync::Arc;

/// The broker to connect to and its TLS settings: credentials from the URL, else from
/// `mqtt_username`/`mqtt_password`; TLS settings for `mqtts://` from the PEM files.
pub fn connection(
    config: &EngineConfig,
    url: &str,
) -> anyhow::Result<(BrokerUrl, Option<Arc<ClientConfig>>)> {
    let mut broker = BrokerUrl::parse(url)?;
    if broker.username.is_none() {
        broker.username.clone_from(&config.mqtt_username);
    }
    if broker.password.is_none() {
        broker.password = config
            .mqtt_password
            .as_ref()
            .map(|secret| crate::secret::expose(secret).to_string());
    }
    let files = TlsFiles {
        ca_file: config.mqtt_ca_file.clone(),
        client_cert: config.mqtt_client_cert.clone(),
        client_key: config.mqtt_client_key.clone(),
    };
    let tls = if broker.tls {
        Some(tls::client_config(&files).context("cannot set up TLS to the broker")?)
    } else {
        if files != TlsFiles::default() {
            tracing::warn!(
                broker = %broker,
                "MQTT TLS files are set but the broker URL is mqtt:// (plain TCP); use mqtts:// for TLS"
            );
        }
        None
    };
    Ok((broker, tls))
}
