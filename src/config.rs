//! The engine's settings: one typed [`EngineConfig`], parsed once from four layers — the
//! compiled-in defaults, the config file (TOML), `IOC_*` environment variables and the
//! command-line flags — each overriding the one before (figment merges them).
//!
//! Every setting has a dotted key (`history.horizon`); its variable is `IOC_` and the key in
//! capitals with `.` as `_` (`IOC_HISTORY_HORIZON`), its flag (for those `serve` has) is
//! `--` and the key with `.`/`_` as `-` (`--oidc-issuer`). Unknown keys in the file are refused
//! with their line; [`Layers::origins`] says which layer each value came from, for
//! `ioc config print`. See docs/configuration.md.

use crate::cli::ServeArgs;
use crate::secret::Secret;
use anyhow::Context;
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use ioc_analytics::AnalyticsConfig;
use ioc_ingest::mqtt::Protocol;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `ioc serve` needs, after layering.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// `embedded` or a broker URL (`mqtt://user:pass@host:port`, `mqtts://host:8883`).
    pub mqtt: String,
    /// Broker user name when the URL has none.
    pub mqtt_username: Option<String>,
    /// Broker password when the URL has none; never printed.
    #[serde(serialize_with = "crate::secret::redact")]
    pub mqtt_password: Option<Secret>,
    /// PEM CA certificate(s) for `mqtts://`; default the system's roots.
    pub mqtt_ca_file: Option<PathBuf>,
    /// PEM client certificate for brokers that require one.
    pub mqtt_client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub mqtt_client_key: Option<PathBuf>,
    /// HTTP listen address; port 0 picks a free port, written to `<data_dir>/listen.addr`.
    pub listen: String,
    /// Data directory: the SQLite journal and the generated JWT secret live here.
    pub data_dir: PathBuf,
    /// PostgreSQL journal URL (the production and multi-instance setting); printed without
    /// its password.
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
    /// This instance's name in a cluster (default: host name and data directory).
    pub instance: Option<String>,
    /// How many persistent shared-subscription sessions split the stream in a cluster; the
    /// same on every instance.
    pub slots: u32,
    /// MQTT protocol to an external broker: `v5` (wide inflight window) or `v4`.
    pub mqtt_protocol: MqttProtocol,
    /// `mqtt_session_expiry`: how long the broker keeps the engine's MQTT 5 session and
    /// queued messages while it is away (default `7d`). Held in seconds.
    #[serde(
        rename = "mqtt_session_expiry",
        with = "ioc_ingest::duration_setting::seconds"
    )]
    pub mqtt_session_expiry_secs: u32,
    /// `mqtt_keep_alive`: the engine pings the broker this often and reconnects when nothing
    /// comes back for as long after a ping (default `30s`). Held in seconds.
    #[serde(
        rename = "mqtt_keep_alive",
        with = "ioc_ingest::duration_setting::seconds"
    )]
    pub mqtt_keep_alive_secs: u64,
    /// Port of the embedded broker; `None` = 1883, or a free port if 1883 is taken.
    pub embedded_mqtt_port: Option<u16>,
    /// JWT HS256 secret; default a random secret kept in `<data_dir>/jwt.secret`. Never
    /// printed.
    #[serde(serialize_with = "crate::secret::redact")]
    pub jwt_secret: Option<Secret>,
    /// Largest MQTT payload accepted (bytes); larger ones are dead-lettered as `too_large`.
    pub max_payload_bytes: usize,
    /// IANA zone in which device times without a zone are read (`IOC_DEVICE_TIME_ZONE`).
    #[serde(with = "zone_name")]
    pub device_time_zone: chrono_tz::Tz,
    /// `tick`: how often live views are recomputed and patches sent (default `500ms`). Held in
    /// milliseconds.
    #[serde(rename = "tick", with = "ioc_ingest::duration_setting::millis")]
    pub tick_ms: u64,
    /// Frames a websocket client may have queued before it is reset to a snapshot.
    pub ws_client_queue_frames: usize,
    /// Most websocket connections open at once; a further upgrade is refused with 503. Each
    /// costs a few tens of KiB and a share of the tick's fan-out (BENCHMARKS.md, B6).
    pub ws_max_connections: usize,
    /// `http_read_timeout`: how long a client may take to send a request head or body before
    /// it is cut off (default `10s`). Held in milliseconds.
    #[serde(
        rename = "http_read_timeout",
        with = "ioc_ingest::duration_setting::millis"
    )]
    pub http_read_timeout_ms: u64,
    /// Largest HTTP request body accepted (bytes); larger ones are refused with 413.
    pub http_max_body_bytes: usize,
    /// Analytics settings.
    pub analytics: AnalyticsConfig,
    /// Open311 settings.
    pub open311: Open311Config,
    /// History: compaction horizon and period.
    pub history: crate::history::HistoryConfig,
    /// Sign-in through an OpenID Connect identity provider, besides the HS256 tokens.
    pub oidc: OidcConfig,
    /// Open data: suppression threshold, per-address budget, client cache time.
    pub open_data: ioc_dashboard_api::OpenDataConfig,
}

/// The MQTT protocol version spoken to an external broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MqttProtocol {
    /// MQTT 3.1.1.
    #[serde(alias = "3.1.1")]
    V4,
    /// MQTT 5 (a Receive Maximum the broker honours).
    V5,
}

impl From<MqttProtocol> for Protocol {
    fn from(protocol: MqttProtocol) -> Self {
        match protocol {
            MqttProtocol::V4 => Protocol::V4,
            MqttProtocol::V5 => Protocol::V5,
        }
    }
}

/// Open311 settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Open311Config {
    /// API keys of the citizen apps allowed to post reports; printed redacted.
    #[serde(serialize_with = "redact_keys")]
    pub api_keys: Vec<String>,
    /// Report POSTs per minute per API key (also the burst), default 6000.
    pub rate_per_key_per_min: u32,
    /// Report POSTs per minute per client IP address (also the burst), default 600.
    pub rate_per_ip_per_min: u32,
}

/// Serializes API keys as one [`crate::secret::REDACTED`] each.
fn redact_keys<S: serde::Serializer>(keys: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(keys.iter().map(|_| crate::secret::REDACTED))
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

/// `[oidc]`: tokens signed by the city's identity provider (RS256/ES256), checked against its
/// published keys; off while `issuer` is unset.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL, exactly as in the tokens' `iss` (e.g.
    /// `https://sso.city.gov.vn/realms/ioc`).
    pub issuer: Option<String>,
    /// Where the signing keys are: a JWKS URL or a JWKS file (default: the `jwks_uri` of the
    /// issuer's `/.well-known/openid-configuration`).
    pub jwks: Option<String>,
    /// The audience the tokens must name in `aud` (the client id); unset = not checked.
    pub audience: Option<String>,
    /// Dotted path of the claim holding the role (a string or a list; the highest of
    /// `viewer`, `operator`, `admin` wins), e.g. Keycloak's `realm_access.roles`.
    pub role_claim: String,
    /// Dotted path of the claim listing the areas the holder may see; absent = the whole city.
    pub areas_claim: String,
    /// The shortest time between two key refreshes triggered by an unknown `kid`.
    #[serde(with = "humantime_serde")]
    pub refresh_min_interval: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            jwks: None,
            audience: None,
            role_claim: "role".into(),
            areas_claim: "areas".into(),
            refresh_min_interval: Duration::from_secs(10),
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
            instance: None,
            slots: 12,
            embedded_mqtt_port: None,
            mqtt_protocol: MqttProtocol::V5,
            mqtt_session_expiry_secs: ioc_ingest::mqtt::config::DEFAULT_SESSION_EXPIRY_SECS,
            mqtt_keep_alive_secs: 30,
            jwt_secret: None,
            max_payload_bytes: ioc_ingest::intake::DEFAULT_MAX_PAYLOAD_BYTES,
            device_time_zone: ioc_ingest::decode::DEFAULT_DEVICE_ZONE,
            tick_ms: 500,
            ws_client_queue_frames: 64,
            ws_max_connections: 1024,
            http_read_timeout_ms: 10_000,
            http_max_body_bytes: 64 * 1024,
            analytics: AnalyticsConfig::default(),
            open311: Open311Config::default(),
            history: crate::history::HistoryConfig::default(),
            oidc: OidcConfig::default(),
            open_data: ioc_dashboard_api::OpenDataConfig::default(),
        }
    }
}

/// One layer of settings, as a JSON object keyed like the config file.
#[derive(Debug, Clone)]
struct Layer {
    /// What `ioc config print` calls it (`default`, `file ioc.toml`, `env`, `flag`).
    name: String,
    /// The settings it sets.
    values: serde_json::Map<String, Value>,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let kind = self.name.clone();
        // Errors name the setting the way this layer spells it.
        Metadata::named(self.name.clone()).interpolater(move |_profile, keys| {
            let key = keys.join(".");
            match kind.as_str() {
                "environment" => env_name(&key),
                "flags" => flag_name(&key),
                _ => key,
            }
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = figment::value::Value::serialize(&self.values)?
            .into_dict()
            .unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

/// The `IOC_*` variable of a dotted key.
pub fn env_name(key: &str) -> String {
    format!("IOC_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The flag of a dotted key (whether or not `serve` has it).
pub fn flag_name(key: &str) -> String {
    format!("--{}", key.replace(['.', '_'], "-"))
}

/// The four layers of one configuration, kept to report where each value came from.
#[derive(Debug, Clone)]
pub struct Layers {
    layers: Vec<Layer>,
}

/// A configuration and where each of its values came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration.
    pub config: EngineConfig,
    /// The layers it was made of.
    pub layers: Layers,
}

/// Reads the layers: defaults, `config_file`, the process environment and `flags`.
pub fn load_with(args: &ServeArgs) -> anyhow::Result<Loaded> {
    let defaults = match serde_json::to_value(EngineConfig::default())? {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut layers = vec![Layer {
        name: "default".into(),
        values: defaults.clone(),
    }];
    if let Some(path) = &args.config {
        layers.push(Layer {
            name: format!("file {}", path.display()),
            values: read_file_layer(path)?,
        });
    }
    layers.push(Layer {
        name: "environment".into(),
        values: env_layer(&defaults, |name| std::env::var(name).ok()),
    });
    layers.push(Layer {
        name: "flags".into(),
        values: flag_layer(args)?,
    });
    let figment = layers.iter().fold(Figment::new(), |figment, layer| {
        figment.merge(layer.clone())
    });
    let config: EngineConfig = figment
        .extract()
        .map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))?;
    config.validate()?;
    Ok(Loaded {
        config,
        layers: Layers { layers },
    })
}

/// The effective configuration of `ioc serve` with these flags.
pub fn load(args: &ServeArgs) -> anyhow::Result<EngineConfig> {
    Ok(load_with(args)?.config)
}

/// Parses a config file on its own: syntax, unknown keys and types are refused with the line
/// they are on (the TOML parser knows it).
fn read_file_layer(path: &Path) -> anyhow::Result<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    parse_file(&text).map_err(|error| anyhow::anyhow!("config file {}: {error}", path.display()))
}

/// Checks a config file's text against [`EngineConfig`] and returns what it sets.
pub fn parse_file(text: &str) -> Result<serde_json::Map<String, Value>, toml::de::Error> {
    // Typed first, for errors with the line; then untyped, to keep only what the file sets.
    toml::from_str::<EngineConfig>(text)?;
    let table: toml::Table = toml::from_str(text)?;
    Ok(match serde_json::to_value(table) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    })
}

/// The settings given as `IOC_*` variables: one per key of the defaults (nested keys joined by
/// `_`), typed like the default value; list values are comma-separated.
fn env_layer(
    defaults: &serde_json::Map<String, Value>,
    lookup: impl Fn(&str) -> Option<String>,
) -> serde_json::Map<String, Value> {
    let mut layer = serde_json::Map::new();
    for (key, default) in leaves(defaults) {
        let Some(text) = lookup(&env_name(&key)) else {
            continue;
        };
        let value = match default {
            Value::Array(_) => Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_string()))
                    .collect(),
            ),
            Value::Number(_) | Value::Bool(_) => {
                serde_json::from_str(text.trim()).unwrap_or(Value::String(text))
            }
            _ if NUMERIC_OPTIONS.contains(&key.as_str()) => {
                serde_json::from_str(text.trim()).unwrap_or(Value::String(text))
            }
            _ => Value::String(text),
        };
        insert(&mut layer, &key, value);
    }
    layer
}

/// Optional settings whose default is unset but whose value is a number.
const NUMERIC_OPTIONS: &[&str] = &["embedded_mqtt_port"];

/// The settings given as flags of `serve`.
fn flag_layer(args: &ServeArgs) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut layer = serde_json::Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            insert(&mut layer, key, value);
        }
    };
    let text = |value: &Option<String>| value.clone().map(Value::String);
    let path = |value: &Option<PathBuf>| {
        value
            .as_ref()
            .map(|path| Value::String(path.display().to_string()))
    };
    put("mqtt", text(&args.mqtt));
    put("mqtt_username", text(&args.mqtt_username));
    put("mqtt_ca_file", path(&args.tls.mqtt_ca_file));
    put("mqtt_client_cert", path(&args.tls.mqtt_client_cert));
    put("mqtt_client_key", path(&args.tls.mqtt_client_key));
    put("listen", text(&args.listen));
    put("data_dir", path(&args.data_dir));
    put("database_url", text(&args.database_url));
    put("areas", path(&args.areas));
    put("rules", path(&args.rules));
    put("topic_root", text(&args.topic_root));
    put("mqtt_client_id", text(&args.mqtt_client_id));
    put("mqtt_share_group", text(&args.mqtt_share_group));
    put("instance", text(&args.instance));
    put("slots", args.slots.map(Value::from));
    put("mqtt_protocol", text(&args.mqtt_protocol));
    put(
        "embedded_mqtt_port",
        args.embedded_mqtt_port.map(Value::from),
    );
    put("http_read_timeout", text(&args.http_read_timeout));
    put(
        "http_max_body_bytes",
        args.http_max_body_bytes.map(Value::from),
    );
    put(
        "ws_max_connections",
        args.ws_max_connections.map(Value::from),
    );
    put("oidc.issuer", text(&args.oidc_issuer));
    put("oidc.jwks", text(&args.oidc_jwks));
    put("oidc.audience", text(&args.oidc_audience));
    put("oidc.role_claim", text(&args.oidc_role_claim));
    put("oidc.areas_claim", text(&args.oidc_areas_claim));
    Ok(layer)
}

/// Sets a dotted key in a nested JSON object.
fn insert(map: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        Some((head, rest)) => {
            let inner = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(inner) = inner {
                insert(inner, rest, value);
            }
        }
        None => {
            map.insert(key.to_string(), value);
        }
    }
}

/// The value at a dotted key of a nested JSON object.
fn lookup<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    match key.split_once('.') {
        Some((head, rest)) => match map.get(head)? {
            Value::Object(inner) => lookup(inner, rest),
            _ => None,
        },
        None => map.get(key),
    }
}

/// Every leaf of a nested object as `(dotted key, value)`; maps of free-form entries
/// (`analytics.free_flow_kmh`) and lists are leaves.
fn leaves(map: &serde_json::Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, value) in map {
        match value {
            Value::Object(inner) if !inner.is_empty() && !FREE_FORM.contains(&key.as_str()) => {
                out.extend(
                    leaves(inner)
                        .into_iter()
                        .map(|(rest, value)| (format!("{key}.{rest}"), value)),
                );
            }
            _ => out.push((key.clone(), value.clone())),
        }
    }
    out
}

/// Tables whose keys are data (sensor ids, categories), not settings.
const FREE_FORM: &[&str] = &["free_flow_kmh", "report_sla_hours"];

impl Layers {
    /// Each setting of `config` as `(dotted key, value as printed, origin)`: secrets redacted,
    /// the origin the last layer that set it (`default`, `file …`, `env IOC_…`, `flag --…`).
    pub fn origins(&self, config: &EngineConfig) -> Vec<(String, Value, String)> {
        let effective = match serde_json::to_value(config) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        leaves(&effective)
            .into_iter()
            .map(|(key, value)| {
                let origin = self
                    .layers
                    .iter()
                    .rev()
                    .find(|layer| lookup(&layer.values, &key).is_some())
                    .map(|layer| match layer.name.as_str() {
                        "environment" => format!("env {}", env_name(&key)),
                        "flags" => format!("flag {}", flag_name(&key)),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| "default".into());
                let value = if key == "database_url" {
                    value
                        .as_str()
                        .map_or(value.clone(), |url| Value::String(redact_url(url)))
                } else {
                    value
                };
                (key, value, origin)
            })
            .collect()
    }
}

/// A URL with its password replaced, for printing.
pub fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some(crate::secret::REDACTED));
            url.to_string()
        }
        _ => text.to_string(),
    }
}

impl EngineConfig {
    /// The token checker: the HS256 `secret`, and the OIDC issuer when one is configured.
    pub fn authenticator(&self, secret: &[u8]) -> ioc_dashboard_api::Authenticator {
        let auth = ioc_dashboard_api::Authenticator::new(secret);
        match &self.oidc.issuer {
            Some(issuer) => auth.with_oidc(ioc_dashboard_api::oidc::Oidc::new(
                ioc_dashboard_api::oidc::OidcSettings {
                    issuer: issuer.clone(),
                    jwks: self.oidc.jwks.clone(),
                    audience: self.oidc.audience.clone(),
                    role_claim: self.oidc.role_claim.clone(),
                    areas_claim: self.oidc.areas_claim.clone(),
                    refresh_min_interval: self.oidc.refresh_min_interval,
                },
            )),
            None => auth,
        }
    }

    /// Checks what the types cannot, listing every problem at once.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        let root = &self.topic_root;
        if root.is_empty()
            || root.contains(['/', '+', '#'])
            || root == "ioc"
            || root.starts_with('$')
        {
            problems.push(format!(
                "topic_root {root:?} must be one topic level other than `ioc`"
            ));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("listen {:?} is not address:port", self.listen));
        }
        if self.mqtt != "embedded"
            && let Err(error) = ioc_ingest::mqtt::BrokerUrl::parse(&self.mqtt)
        {
            problems.push(error.to_string());
        }
        if let Some(url) = &self.database_url
            && url::Url::parse(url).is_err()
        {
            problems.push(format!(
                "database_url {:?} is not a URL (postgres://user@host/db)",
                redact_url(url)
            ));
        }
        if self.slots == 0 {
            problems.push("slots must be at least 1".into());
        }
        if self.http_read_timeout_ms < 100 {
            problems.push("http_read_timeout must be at least 100ms".into());
        }
        if self.http_max_body_bytes < 1024 {
            problems.push("http_max_body_bytes must be at least 1024".into());
        }
        if self.ws_max_connections == 0 {
            problems.push("ws_max_connections must be at least 1".into());
        }
        if self.tick_ms < 50 {
            problems.push("tick must be at least 50ms".into());
        }
        if self.max_payload_bytes == 0
            || self.max_payload_bytes > ioc_ingest::mqtt::config::MAX_PACKET_BYTES / 2
        {
            problems.push("max_payload_bytes must be between 1 and 16 MiB".into());
        }
        if let Err(error) = self.history.settings(self.analytics.allowed_lateness_ms) {
            problems.push(error.to_string());
        }
        if let Err(error) = self.history.every() {
            problems.push(error.to_string());
        }
        match (&self.oidc.issuer, &self.oidc.jwks) {
            (Some(issuer), _) if url::Url::parse(issuer).is_err() => {
                problems.push(format!("oidc.issuer {issuer:?} is not a URL"));
            }
            (None, Some(_)) => problems.push("oidc.jwks is set but oidc.issuer is not".into()),
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let error = parse_file("listen = \"127.0.0.1:9000\"\n\n[history]\nhorizen = \"2d\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("horizen"), "{error}");
    }

    #[test]
    fn env_values_take_the_default_value_s_type() {
        let defaults = match serde_json::to_value(EngineConfig::default()) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let env = env_layer(&defaults, |name| match name {
            "IOC_TICK" => Some("250ms".into()),
            "IOC_OPEN311_API_KEYS" => Some("a, b,".into()),
            "IOC_JWT_SECRET" => Some("12345678901234567890".into()),
            "IOC_EMBEDDED_MQTT_PORT" => Some("1999".into()),
            "IOC_HISTORY_HORIZON" => Some("3d".into()),
            _ => None,
        });
        assert_eq!(
            Value::Object(env),
            serde_json::json!({
                "tick": "250ms",
                "open311": {"api_keys": ["a", "b"]},
                "jwt_secret": "12345678901234567890",
                "embedded_mqtt_port": 1999,
                "history": {"horizon": "3d"},
            })
        );
    }

    #[test]
    fn urls_print_without_their_password() {
        let shown = redact_url("postgres://ioc:hunter2@db:5432/ioc");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.starts_with("postgres://ioc:"), "{shown}");
        assert!(shown.ends_with("@db:5432/ioc"), "{shown}");
        assert_eq!(redact_url("postgres://db/ioc"), "postgres://db/ioc");
    }
}

/// `device_time_zone` as its IANA name (`"Asia/Ho_Chi_Minh"`) in files, variables and
/// `ioc config print`.
mod zone_name {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        zone: &chrono_tz::Tz,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(zone.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<chrono_tz::Tz, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|_| {
            serde::de::Error::custom(format!("device_time_zone {text:?} is not an IANA zone"))
        })
    }
}

/// The default `--instance`: host name and data directory, unique per engine on a machine.
pub fn default_instance(data_dir: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    format!("{host}:{}", canonical.display())
}
