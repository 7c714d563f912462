//! The engine's configuration, layered: compiled-in defaults → config file (TOML) → `IOC_*`
//! environment → command-line flags. Unknown keys in the file are errors, listed together.

use crate::cli::ServeArgs;
use anyhow::Context;
use ioc_analytics::AnalyticsConfig;
use ioc_ingest::mqtt::Protocol;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Everything `ioc serve` needs, after layering.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// `embedded` or a broker URL (`mqtt://user:pass@host:port`, `mqtts://host:8883`).
    pub mqtt: String,
    /// Broker user name when the URL has none (`IOC_MQTT_USERNAME`).
    pub mqtt_username: Option<String>,
    /// Broker password when the URL has none (`IOC_MQTT_PASSWORD`); never logged.
    pub mqtt_password: Option<crate::secret::Secret>,
    /// PEM CA certificate(s) for `mqtts://`; default the system's roots (`IOC_MQTT_CA_FILE`).
    pub mqtt_ca_file: Option<PathBuf>,
    /// PEM client certificate for brokers that require one (`IOC_MQTT_CLIENT_CERT`).
    pub mqtt_client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate (`IOC_MQTT_CLIENT_KEY`).
    pub mqtt_client_key: Option<PathBuf>,
    /// HTTP listen address.
    pub listen: String,
    /// Data directory: the SQLite journal and the generated JWT secret live here.
    pub data_dir: PathBuf,
    /// PostgreSQL journal URL (not yet supported: the SQLite journal is used).
    pub database_url: Option<String>,
    /// Areas file replacing the compiled-in Hanoi areas.
    pub areas: Option<PathBuf>,
    /// Alert rules file.
    pub rules: Option<PathBuf>,
    /// First topic level of ingested topics.
    pub topic_root: String,
    /// MQTT client id; default `ioc-<hash of the data dir>` so a restart resumes its session.
    pub mqtt_client_id: Option<String>,
    /// Shared-subscription group (`$share/<group>/<root>/#`), for several engines on one stream.
    pub mqtt_share_group: Option<String>,
    /// MQTT protocol to an external broker: `v5` (default, wide inflight window) or `v4`.
    #[serde(deserialize_with = "protocol")]
    pub mqtt_protocol: Protocol,
    /// MQTT 5 session expiry (seconds): how long the broker keeps the engine's session and
    /// queued messages while it is away (default a week).
    pub mqtt_session_expiry_secs: u32,
    /// Port of the embedded broker; `None` = 1883, or a free port if 1883 is taken.
    pub embedded_mqtt_port: Option<u16>,
    /// JWT HS256 secret; default a random secret kept in `<data_dir>/jwt.secret`. Never
    /// printed: its `Debug` is redacted.
    pub jwt_secret: Option<crate::secret::Secret>,
    /// Largest MQTT payload accepted (bytes); larger ones are dead-lettered as `too_large`.
    pub max_payload_bytes: usize,
    /// View tick in milliseconds: how often live views are recomputed and patches sent.
    pub tick_ms: u64,
    /// Frames a websocket client may have queued before it is reset to a snapshot.
    pub ws_client_queue_frames: usize,
    /// Milliseconds a client may take to send a request head or body before it is cut off.
    pub http_read_timeout_ms: u64,
    /// Largest HTTP request body accepted (bytes); larger ones are refused with 413.
    pub http_max_body_bytes: usize,
    /// Analytics settings.
    pub analytics: AnalyticsConfig,
    /// Open311 settings.
    pub open311: Open311Config,
    /// History: compaction horizon and period.
    pub history: crate::history::HistoryConfig,
    /// Open data: suppression threshold, per-address budget, client cache time.
    pub open_data: ioc_dashboard_api::OpenDataConfig,
}

/// Open311 settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Open311Config {
    /// API keys of the citizen apps allowed to post reports.
    pub api_keys: Vec<String>,
    /// Report POSTs per minute per API key (also the burst), default 6000.
    pub rate_per_key_per_min: u32,
    /// Report POSTs per minute per client IP address (also the burst), default 600.
    pub rate_per_ip_per_min: u32,
}

impl Default for Open311Config {
    fn default() -> Self {
        let limits = ioc_dashboard_api::Open311Limits::default();
        Self {
            api_keys: Vec::new(),
            rate_per_key_per_min: limits.per_key_per_min,
            rate_per_ip_per_min: limits.per_ip_per_min,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            mqtt: "embedded".into(),
            mqtt_username: None,
            mqtt_password: None,
            mqtt_ca_file: None,
            mqtt_client_cert: None,
            mqtt_client_key: None,
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./ioc-data"),
            database_url: None,
            areas: None,
            rules: None,
            topic_root: "city".into(),
            mqtt_client_id: None,
            mqtt_share_group: None,
            embedded_mqtt_port: None,
            mqtt_protocol: Protocol::V5,
            mqtt_session_expiry_secs: ioc_ingest::mqtt::config::DEFAULT_SESSION_EXPIRY_SECS,
            jwt_secret: None,
            max_payload_bytes: ioc_ingest::intake::DEFAULT_MAX_PAYLOAD_BYTES,
            tick_ms: 500,
            ws_client_queue_frames: 64,
            http_read_timeout_ms: 10_000,
            http_max_body_bytes: 64 * 1024,
            analytics: AnalyticsConfig::default(),
            open311: Open311Config::default(),
            history: crate::history::HistoryConfig::default(),
            open_data: ioc_dashboard_api::OpenDataConfig::default(),
        }
    }
}

/// Reads `mqtt_protocol = "v5"` from the config file.
fn protocol<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Protocol, D::Error> {
    let text = String::deserialize(deserializer)?;
    Protocol::parse(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("mqtt_protocol {text:?} is not v4 or v5")))
}

/// Reads a config file (or the defaults when there is none).
pub fn read_file(path: Option<&Path>) -> anyhow::Result<EngineConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            toml::from_str(&text)
                .map_err(|error| anyhow::anyhow!("config file {}: {error}", path.display()))
        }
        None => Ok(EngineConfig::default()),
    }
}

/// Layers file, environment and flags (clap has already merged environment into the flags).
pub fn load(args: &ServeArgs) -> anyhow::Result<EngineConfig> {
    let mut config = read_file(args.config.as_deref())?;
    let set = |target: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            target.clone_from(value);
        }
    };
    set(&mut config.mqtt, &args.mqtt);
    set(&mut config.listen, &args.listen);
    set(&mut config.topic_root, &args.topic_root);
    if let Some(dir) = &args.data_dir {
        config.data_dir.clone_from(dir);
    }
    config.database_url = args.database_url.clone().or(config.database_url);
    config.areas = args.areas.clone().or(config.areas);
    config.rules = args.rules.clone().or(config.rules);
    config.mqtt_client_id = args.mqtt_client_id.clone().or(config.mqtt_client_id);
    config.mqtt_share_group = args.mqtt_share_group.clone().or(config.mqtt_share_group);
    config.embedded_mqtt_port = args.embedded_mqtt_port.or(config.embedded_mqtt_port);
    crate::mqtt_security::layer(&mut config, args);
    if let Some(protocol) = &args.mqtt_protocol {
        config.mqtt_protocol = Protocol::parse(protocol)
            .ok_or_else(|| anyhow::anyhow!("--mqtt-protocol {protocol:?} is not v4 or v5"))?;
    }
    config.http_read_timeout_ms = args
        .http_read_timeout_ms
        .unwrap_or(config.http_read_timeout_ms);
    config.http_max_body_bytes = args
        .http_max_body_bytes
        .unwrap_or(config.http_max_body_bytes);
    if let Ok(secret) = std::env::var("IOC_JWT_SECRET") {
        config.jwt_secret = Some(crate::secret::Secret::new(secret));
    }
    if let Ok(keys) = std::env::var("IOC_OPEN311_API_KEYS") {
        config.open311.api_keys = keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(String::from)
            .collect();
    }
    config.history.apply_env();
    validate(&config)?;
    Ok(config)
}

/// Checks what the types cannot, listing every problem at once.
fn validate(config: &EngineConfig) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let root = &config.topic_root;
    if root.is_empty() || root.contains(['/', '+', '#']) || root == "ioc" || root.starts_with('$') {
        problems.push(format!(
            "topic_root {root:?} must be one topic level other than `ioc`"
        ));
    }
    if config.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!("listen {:?} is not address:port", config.listen));
    }
    if config.mqtt != "embedded"
        && let Err(error) = ioc_ingest::mqtt::BrokerUrl::parse(&config.mqtt)
    {
        problems.push(error.to_string());
    }
    if config.http_read_timeout_ms < 100 {
        problems.push("http_read_timeout_ms must be at least 100".into());
    }
    if config.http_max_body_bytes < 1024 {
        problems.push("http_max_body_bytes must be at least 1024".into());
    }
    if config.tick_ms < 50 {
        problems.push("tick_ms must be at least 50".into());
    }
    if config.max_payload_bytes == 0
        || config.max_payload_bytes > ioc_ingest::mqtt::config::MAX_PACKET_BYTES / 2
    {
        problems.push("max_payload_bytes must be between 1 and 16 MiB".into());
    }
    if let Err(error) = config
        .history
        .settings(config.analytics.allowed_lateness_ms)
    {
        problems.push(error.to_string());
    }
    if let Err(error) = config.history.every() {
        problems.push(error.to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
    }
}

/// The default MQTT client id: stable for one data directory and subscription filter, so a
/// restart resumes its persistent session and a changed topic root starts a fresh one.
pub fn default_client_id(data_dir: &Path, filter: &str) -> String {
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let key = format!("{}\n{filter}", canonical.to_string_lossy());
    // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("ioc-{hash:016x}")
}
