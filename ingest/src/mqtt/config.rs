//! Connection settings for the MQTT subscriber.

use std::time::Duration;

/// Largest MQTT packet the client reads. Far above the payload limit so that an oversized
/// message is read, dead-lettered as `too_large` and acknowledged instead of dropping the
/// connection (which would make the broker redeliver it forever).
pub const MAX_PACKET_BYTES: usize = 32 * 1024 * 1024;

/// A broker address parsed from `mqtt://[user[:pass]@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port (1883 by default).
    pub port: u16,
    /// User name, when the URL has one.
    pub username: Option<String>,
    /// Password, when the URL has one.
    pub password: Option<String>,
}

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `mqtt://…`.
    #[error("broker URL {0:?} must start with mqtt:// (mqtts:// is not supported yet)")]
    Scheme(String),
    /// Host or port missing or unreadable.
    #[error("broker URL {0:?} has no usable host:port")]
    Address(String),
}

impl BrokerUrl {
    /// Parses `mqtt://[user[:pass]@]host[:port]`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let rest = url
            .strip_prefix("mqtt://")
            .ok_or_else(|| UrlError::Scheme(url.to_string()))?;
        let rest = rest.trim_end_matches('/');
        let (credentials, address) = match rest.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, rest),
        };
        let (username, password) = match credentials {
            Some(credentials) => match credentials.split_once(':') {
                Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
                None => (Some(credentials.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| UrlError::Address(url.to_string()))?,
            ),
            None => (address, 1883),
        };
        if host.is_empty() {
            return Err(UrlError::Address(url.to_string()));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            username,
            password,
        })
    }
}

/// The MQTT protocol version the subscriber speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// MQTT 3.1.1 (the embedded broker).
    V4,
    /// MQTT 5: a Receive Maximum the broker honours, so a wide window of unacknowledged messages.
    #[default]
    V5,
}

impl Protocol {
    /// Parses `4`, `v4`, `3.1.1`, `5` or `v5`.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.trim().to_ascii_lowercase().as_str() {
            "4" | "v4" | "3.1.1" => Some(Protocol::V4),
            "5" | "v5" => Some(Protocol::V5),
            _ => None,
        }
    }
}

/// Default MQTT 5 session expiry: a week, so the broker keeps the engine's messages through
/// any restart or maintenance window shorter than that.
pub const DEFAULT_SESSION_EXPIRY_SECS: u32 = 7 * 24 * 3600;

/// Everything the subscriber needs to connect and subscribe.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// The broker.
    pub broker: BrokerUrl,
    /// Client id naming the persistent session; keep it stable across restarts so the broker
    /// keeps unacknowledged messages for this engine.
    pub client_id: String,
    /// Topic filter to subscribe (`city/#`, or `$share/ioc/city/#` to split a stream between
    /// instances).
    pub filter: String,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Protocol version.
    pub protocol: Protocol,
    /// MQTT 5 session expiry in seconds: how long the broker keeps the session (and queues
    /// messages) while the engine is away.
    pub session_expiry_secs: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_and_without_credentials() {
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1:1883"),
            Ok(BrokerUrl {
                host: "127.0.0.1".into(),
                port: 1883,
                username: None,
                password: None
            })
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://ioc:s3cr%t@broker.local"),
            Ok(BrokerUrl {
                host: "broker.local".into(),
                port: 1883,
                username: Some("ioc".into()),
                password: Some("s3cr%t".into())
            })
        );
        assert!(BrokerUrl::parse("http://x:1").is_err());
        assert!(BrokerUrl::parse("mqtt://x:notaport").is_err());
    }
}
