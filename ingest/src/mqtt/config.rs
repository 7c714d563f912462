//! Connection settings for the MQTT subscriber.

use std::time::Duration;

/// Largest MQTT packet the client reads. Far above the payload limit so that an oversized
/// message is read, dead-lettered as `too_large` and acknowledged instead of dropping the
/// connection (which would make the broker redeliver it forever).
pub const MAX_PACKET_BYTES: usize = 32 * 1024 * 1024;

/// A broker address: `mqtt://[user[:pass]@]host[:port][?client_id=…]`, or `mqtts://…` for TLS
/// (`tcp://`, and `ssl://`/`tls://`, are their aliases; a bare `host:port` means `mqtt://`).
/// `Display` and `Debug` never show the password. The engine, the simulator and the tests all
/// read broker URLs through [`BrokerUrl::parse`], so the rules are the same everywhere.
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
    /// The MQTT client id asked for by `?client_id=…`, when the URL has one.
    pub client_id: Option<String>,
}

/// Why a broker URL was refused: the URL (its password masked) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("broker URL {url:?}: {problem}")]
pub struct UrlError {
    /// The URL as given, with any password replaced by `***`.
    pub url: String,
    /// What is wrong with it, in a few words.
    pub problem: String,
}

impl BrokerUrl {
    /// Parses a broker URL (the forms are listed on [`BrokerUrl`]) with the `url` crate;
    /// `%XX` escapes in the user name, password and client id are decoded.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let fail = |problem: &str| UrlError {
            url: redact_text(url),
            problem: problem.to_string(),
        };
        let trimmed = url.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("mqtt://{trimmed}")
        };
        let parsed = url::Url::parse(&with_scheme).map_err(|error| fail(&error.to_string()))?;
        let tls = match parsed.scheme() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" | "tls" => true,
            "ws" | "wss" => {
                return Err(fail(
                    "MQTT over websockets is not supported: use mqtt:// or mqtts://",
                ));
            }
            _ => return Err(fail("unknown scheme: use mqtt:// or mqtts://")),
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_string(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            _ => return Err(fail("no host")),
        };
        let port = parsed.port().unwrap_or(if tls { 8883 } else { 1883 });
        if port == 0 {
            return Err(fail("port 0 is not a broker's port"));
        }
        if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
            return Err(fail("nothing may follow host:port but ?client_id=…"));
        }
        let decode = |text: &str, what: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| fail(&format!("the {what} is not UTF-8 once %-decoded")))
        };
        let username = match parsed.username() {
            "" if parsed.password().is_some() => {
                return Err(fail("a password without a user name"));
            }
            "" => None,
            user => Some(decode(user, "user name")?),
        };
        let password = parsed
            .password()
            .map(|pass| decode(pass, "password"))
            .transpose()?;
        let mut client_id = None;
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "client_id" if !value.is_empty() => client_id = Some(value.into_owned()),
                _ => {
                    return Err(fail(
                        "unknown query parameter (only client_id=… is accepted)",
                    ));
                }
            }
        }
        Ok(Self {
            host,
            port,
            username,
            password,
            tls,
            client_id,
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
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{credentials}{host}:{}", self.port)
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
            .field("client_id", &self.client_id)
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
                tls: false,
                client_id: None,
            })
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://ioc:s3cr%t@broker.local"),
            Ok(BrokerUrl {
                host: "broker.local".into(),
                port: 1883,
                username: Some("ioc".into()),
                password: Some("s3cr%t".into()),
                tls: false,
                client_id: None,
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

    #[test]
    fn short_forms_aliases_ipv6_and_a_client_id() {
        let url = BrokerUrl::parse("mqtt://ioc:s%40cret@broker.example:1884?client_id=sim-1")
            .expect("full url");
        assert_eq!(
            (url.host.as_str(), url.port, url.password.as_deref()),
            ("broker.example", 1884, Some("s@cret"))
        );
        assert_eq!(url.client_id.as_deref(), Some("sim-1"));
        let bare = BrokerUrl::parse("localhost:1999").expect("bare host:port");
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.tls),
            ("localhost", 1999, false)
        );
        let v6 = BrokerUrl::parse("tcp://[::1]:1885/").expect("IPv6");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1885));
        assert_eq!(v6.to_string(), "mqtt://[::1]:1885");
        let user_only = BrokerUrl::parse("mqtt://user@h").expect("user only");
        assert_eq!(
            (user_only.username.as_deref(), user_only.password),
            (Some("user"), None)
        );
        assert!(BrokerUrl::parse("ssl://h").expect("ssl alias").tls);
    }

    #[test]
    fn refusals_name_the_url_and_the_problem() {
        for (url, problem) in [
            ("wss://h:8883", "websockets"),
            ("http://h", "unknown scheme"),
            ("mqtt://h:notaport", "port"),
            ("mqtt://h:0", "port 0"),
            ("mqtt://:1883", "host"),
            ("mqtt://h/topic", "nothing may follow"),
            ("mqtt://u:%ff@h", "not UTF-8"),
            ("mqtt://:p@h", "without a user name"),
            ("mqtt://h?qos=1", "unknown query parameter"),
        ] {
            let error = BrokerUrl::parse(url).expect_err(url);
            assert!(error.problem.contains(problem), "{url}: {error}");
        }
    }
}
