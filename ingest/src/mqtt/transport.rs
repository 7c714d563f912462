//! What every MQTT connection shares, whichever protocol version it speaks and whoever opens
//! it (the engine's subscriber, its alert publisher, the simulator): where the broker is and
//! as whom to log in ([`Endpoint`]), the byte stream to it (TCP or TLS), the rumqttc client
//! options built from the same endpoint, the reconnect back-off ([`Backoff`]) and connection
//! errors in words an operator can act on.
//!
//! The versions differ only where MQTT does. MQTT 3.1.1 connections (the subscriber on the
//! embedded broker, the alert publisher, the simulator) run rumqttc's client on
//! [`Endpoint::client_options`]; the MQTT 5 subscriber speaks the protocol itself over
//! [`Endpoint::open`] (`v5.rs` says why). Both log in, reach TLS and back off the same way.

use super::config::{MAX_PACKET_BYTES, MqttConfig};
use super::tls::ClientConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A broker and how to log in to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name or address (also the name the broker's TLS certificate must carry).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name for CONNECT, when the broker wants one.
    pub username: Option<String>,
    /// Password for CONNECT (sent only with a user name; empty when none is given).
    pub password: Option<String>,
    /// TLS client settings (`mqtts://`), or `None` for plain TCP.
    pub tls: Option<Arc<ClientConfig>>,
    /// Keep-alive interval announced in CONNECT.
    pub keep_alive: Duration,
}

/// Whether the broker keeps the session (subscriptions, queued QoS 1 messages) across
/// connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Kept: the engine's subscriber, so nothing published while it is away is lost.
    Persistent,
    /// Started afresh on every connection: publish-only clients.
    Clean,
}

/// A byte stream to the broker: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Endpoint {
    /// The endpoint of the engine's configured broker.
    pub fn of(config: &MqttConfig) -> Self {
        Self {
            host: config.broker.host.clone(),
            port: config.broker.port,
            username: config.broker.username.clone(),
            password: config.broker.password.clone(),
            tls: config.tls.clone(),
            keep_alive: config.keep_alive,
        }
    }

    /// The user name and password for CONNECT, when a user name is set.
    pub fn login(&self) -> Option<(String, String)> {
        self.username
            .as_ref()
            .map(|user| (user.clone(), self.password.clone().unwrap_or_default()))
    }

    /// rumqttc client options (MQTT 3.1.1) for this endpoint: credentials, TLS, keep-alive and
    /// the packet size limit every connection of the engine uses.
    pub fn client_options(&self, client_id: &str, session: Session) -> rumqttc::MqttOptions {
        let mut options = rumqttc::MqttOptions::new(client_id, &self.host, self.port);
        options
            .set_clean_session(session == Session::Clean)
            .set_keep_alive(self.keep_alive)
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
            .set_transport(match &self.tls {
                Some(tls) => rumqttc::Transport::tls_with_config(
                    rumqttc::TlsConfiguration::Rustls(Arc::clone(tls)),
                ),
                None => rumqttc::Transport::tcp(),
            });
        if let Some((user, password)) = self.login() {
            options.set_credentials(user, password);
        }
        options
    }

    /// Opens the byte stream to the broker (TCP with Nagle off, then TLS when configured).
    /// The error says what to check.
    pub async fn open(&self) -> Result<Box<dyn Stream>, String> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|error| format!("cannot reach the broker: {error}"))?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|error| format!("TLS with the broker failed: bad host name: {error}"))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
            .connect(name, tcp)
            .await
            .map_err(|error| tls_failure(&error))?;
        Ok(Box::new(stream))
    }
}

/// Reconnect (and retry) delays: doubling from [`Backoff::FIRST`] up to [`Backoff::LONGEST`],
/// back to the first after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// First delay: short, so a broker restart costs a fraction of a second.
    pub const FIRST: Duration = Duration::from_millis(100);
    /// Longest delay: a broker that stays away is still retried every few seconds.
    pub const LONGEST: Duration = Duration::from_secs(5);

    /// A back-off at its first delay.
    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// The delay to wait now; the one after it is twice as long, up to the longest.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::LONGEST);
        delay
    }
}

/// A rumqttc connection error in words an operator can act on (refused credentials, a TLS
/// failure); other errors as rumqttc words them.
pub fn describe(error: &rumqttc::ConnectionError) -> String {
    match error {
        rumqttc::ConnectionError::ConnectionRefused(code) => refused(&format!("{code:?}"), true),
        rumqttc::ConnectionError::Tls(error) => tls_failure(error),
        other => other.to_string(),
    }
}

/// A refused CONNECT: `code` as the broker gave it; `credentials` when the code is about the
/// user name, the password or the permission to connect.
pub fn refused(code: &str, credentials: bool) -> String {
    if credentials {
        format!("broker refused the connection ({code}): check the MQTT user name and password")
    } else {
        format!("broker refused the connection ({code})")
    }
}

fn tls_failure(error: &dyn std::fmt::Display) -> String {
    format!(
        "TLS with the broker failed: {error} (check mqtt_ca_file, the broker's certificate and its host name)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_longest_and_resets() {
        let mut backoff = Backoff::new();
        let delays: Vec<u64> = (0..9)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn options_carry_the_endpoint_and_the_session_kind() {
        let endpoint = Endpoint {
            host: "broker.example".into(),
            port: 8883,
            username: Some("ioc".into()),
            password: None,
            tls: None,
            keep_alive: Duration::from_secs(45),
        };
        let options = endpoint.client_options("engine-1", Session::Persistent);
        assert_eq!(
            options.broker_address(),
            ("broker.example".to_string(), 8883)
        );
        assert_eq!(options.client_id(), "engine-1");
        assert!(!options.clean_session());
        assert_eq!(options.keep_alive(), Duration::from_secs(45));
        let login = options.credentials().expect("credentials");
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("ioc", "")
        );
        assert_eq!(options.max_packet_size(), MAX_PACKET_BYTES);
        let clean = endpoint.client_options("pub", Session::Clean);
        assert!(clean.clean_session());
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_named_in_plain_words() {
        // A port nothing listens on: bind one, note it, close it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            tls: None,
            keep_alive: Duration::from_secs(30),
        };
        let error = endpoint.open().await.err().expect("nothing listens there");
        assert!(error.starts_with("cannot reach the broker: "), "{error}");
    }
}
