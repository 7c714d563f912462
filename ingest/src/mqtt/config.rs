//! Connection settings for the MQTT subscriber.

use std::time::Duration;

/// Largest MQTT packet the client reads. Far above the payload limit so that an oversized
/// message is read, dead-lettered as `too_large` and acknowledged instead of dropping the
/// connection (which would make the broker redeliver it forever).
pub const MAX_PACKET_BYTES: usize = 32 * 1024 * 1024;

/// A broker address parsed from `mqtt://[user[:pass]@]host[:port]` or
/// `mqtts://[user[:pass]@]host[:port]` (TLS). `Display` and `Debug` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or address (also the name the broker's TLS certificate must carry).
    pub host: String,
    /// TCP port (1883 by default, 8883 for `mqtts://`).
    pub port: u16,
    /// User name, when the URL has one.
    pub username: Option<String>,
    /// Password, when the URL has one.
    pub password: Option<String>,
    /// Whether the connection is TLS (`mqtts://`).
    pub tls: bool,
}

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `mqtt://…` or `mqtts://…`.
    #[error("broker URL {0:?} must start with mqtt:// or mqtts://")]
    Scheme(String),
    /// Host or port missing or unreadable.
    #[error("broker URL {0:?} has no usable host:port")]
    Address(String),
}

impl BrokerUrl {
    /// Parses `mqtt://[user[:pass]@]host[:port]` or `mqtts://…`; `%XX` escapes in the user
    /// name and password are decoded (a `%` not followed by two hex digits stays as it is).
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        // Errors name the URL without its credentials.
        let shown = redact_text(url);
        let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtt://") {
            (rest, false)
        } else if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, true)
        } else {
            return Err(UrlError::Scheme(shown));
        };
        let rest = rest.trim_end_matches('/');
        let (credentials, address) = match rest.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, rest),
        };
        let (username, password) = match credentials {
            Some(credentials) => match credentials.split_once(':') {
                Some((user, pass)) => (Some(percent_decode(user)), Some(percent_decode(pass))),
                None => (Some(percent_decode(credentials)), None),
            },
            None => (None, None),
        };
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| UrlError::Address(shown.clone()))?,
            ),
            None => (address, default_port),
        };
        if host.is_empty() {
            return Err(UrlError::Address(shown));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            username,
            password,
            tls,
        })
    }

    /// The URL with the password replaced by `***`: what logs and banners show.
    pub fn redacted(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let credentials = match (&self.username, &self.password) {
            (Some(user), Some(_)) => format!("{user}:***@"),
            (Some(user), None) => format!("{user}@"),
            (None, _) => String::new(),
        };
        format!("{scheme}://{credentials}{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for BrokerUrl {
    /// The redacted URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for BrokerUrl {
    /// Like a derived `Debug`, with the password masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls", &self.tls)
            .finish()
    }
}

/// Replaces the password of any `scheme://user:pass@host` text with `***`, for logging a URL
/// that may not even parse.
pub fn redact_text(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((credentials, address)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{address}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Decodes `%XX` escapes (percent-encoding); a lone `%` stays literal, bytes that are not
/// UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
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
    /// TLS client settings, for `mqtts://` (see [`super::tls::client_config`]).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The slot lease this session consumes for (cluster mode): every batch is committed
    /// with it, and a refused commit ([`crate::journal::JournalError::Fenced`]) ends the
    /// subscriber without acknowledging, so the slot's new owner gets the messages.
    pub fence: Option<crate::journal::Fence>,
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
                password: None,
                tls: false
            })
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://ioc:s3cr%t@broker.local"),
            Ok(BrokerUrl {
                host: "broker.local".into(),
                port: 1883,
                username: Some("ioc".into()),
                password: Some("s3cr%t".into()),
                tls: false
            })
        );
        let tls = BrokerUrl::parse("mqtts://ioc:p%40ss:w@broker.local/").expect("mqtts url");
        assert_eq!(
            (tls.host.as_str(), tls.port, tls.tls),
            ("broker.local", 8883, true)
        );
        assert_eq!(tls.password.as_deref(), Some("p@ss:w"));
        assert_eq!(tls.to_string(), "mqtts://ioc:***@broker.local:8883");
        assert!(!format!("{tls:?}").contains("p@ss"));
        assert!(BrokerUrl::parse("http://x:1").is_err());
        assert!(BrokerUrl::parse("mqtt://x:notaport").is_err());
        let error = BrokerUrl::parse("mqtt://u:hunter2@x:notaport").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert_eq!(redact_text("mqtt://u:hunter2@h:1"), "mqtt://u:***@h:1");
    }
}
