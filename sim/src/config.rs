//! What a simulator run is told: broker, pacing, seed, scenarios, outputs.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ioc_ingest::Areas;

use crate::scenario::Scenario;

/// A configuration or URL the simulator refuses, with what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The broker URL could not be understood.
    #[error("invalid MQTT URL `{url}`: {problem}")]
    MqttUrl {
        /// The URL as given, its password masked.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A numeric setting is out of its range.
    #[error("invalid {field}: {problem}")]
    Value {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// The MQTT broker to publish to and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttTarget {
    /// Host name or IP address of the broker.
    pub host: String,
    /// TCP port of the broker (1883 when the URL gives none).
    pub port: u16,
    /// User name for the CONNECT packet, if the broker wants one.
    pub username: Option<String>,
    /// Password for the CONNECT packet (sent only with a user name).
    pub password: Option<String>,
    /// MQTT client id; unique per run by default so parallel runs never kick each other off.
    pub client_id: String,
    /// TLS (`mqtts://`): the CA file and optional client certificate used, or `None` for TCP.
    pub tls: Option<ioc_ingest::mqtt::TlsFiles>,
}

impl MqttTarget {
    /// A target without credentials and with a fresh unique client id.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            username: None,
            password: None,
            client_id: default_client_id(),
            tls: None,
        }
    }

    /// Parses `mqtt://user:pass@host:port` (also `tcp://`, or bare `host:port`) or
    /// `mqtts://…` (TLS with the system's roots; set [`MqttTarget::tls`] for a CA file); user,
    /// password, port and an optional `?client_id=…` query are optional, `%XX` escapes are decoded.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        parse_mqtt_url(url)
    }
}

impl std::fmt::Debug for MqttTarget {
    /// Like a derived `Debug`, with the password masked so configs can be logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("client_id", &self.client_id)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Default for MqttTarget {
    /// The local broker, `127.0.0.1:1883`.
    fn default() -> Self {
        Self::new("127.0.0.1", 1883)
    }
}

impl FromStr for MqttTarget {
    type Err = ConfigError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        parse_mqtt_url(url)
    }
}

/// A client id unique to this process and moment: `ioc-sim-<pid>-<nanos>`.
pub fn default_client_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!("ioc-sim-{}-{nanos}", std::process::id())
}

/// Parses a broker URL `mqtt://user:pass@host:port` into a [`MqttTarget`] (see
/// [`MqttTarget::parse`]), by the engine's own rules ([`ioc_ingest::mqtt::BrokerUrl::parse`]).
pub fn parse_mqtt_url(url: &str) -> Result<MqttTarget, ConfigError> {
    let broker = ioc_ingest::mqtt::BrokerUrl::parse(url).map_err(|error| ConfigError::MqttUrl {
        url: error.url,
        problem: error.problem,
    })?;
    let mut target = MqttTarget::new(broker.host, broker.port);
    target.username = broker.username;
    target.password = broker.password;
    if let Some(client_id) = broker.client_id {
        target.client_id = client_id;
    }
    if broker.tls {
        target.tls = Some(ioc_ingest::mqtt::TlsFiles::default());
    }
    Ok(target)
}

/// Everything one simulator run needs; [`SimConfig::default`] is a gentle local run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The broker to publish to (`--mqtt mqtt://user:pass@host:port`).
    pub mqtt: MqttTarget,
    /// First topic level (default `city`); events go to `{topic_root}/{area}/{kind}/{source}`, so
    /// test runs sharing a broker stay apart.
    pub topic_root: String,
    /// Target publish rate in events per second; the achieved rate is in the summary.
    pub rate: f64,
    /// Wall-clock length of the run; the run publishes `rate × duration` events unless stopped.
    pub duration: Duration,
    /// Seed of the city model: the same seed gives the same sources, values and order of events.
    pub seed: u64,
    /// MQTT quality of service, 0 (fire and forget) or 1 (every event acknowledged by the broker).
    pub qos: u8,
    /// Incidents to play on top of the normal day.
    pub scenarios: Vec<Scenario>,
    /// When set, one JSON line per event the broker acknowledged (QoS 1) or the client accepted
    /// (QoS 0) is written to this file.
    pub manifest: Option<PathBuf>,
    /// How many times faster simulated time runs than the wall clock (1 = real time); the run's
    /// simulated time ends at about now.
    pub speedup: f64,
    /// Show a progress bar with events sent and the achieved rate on stderr.
    pub progress: bool,
    /// The areas the city has, each with its own sensors (default: Hanoi's 30).
    pub areas: Areas,
    /// Stop after this many events even if the duration has not elapsed.
    pub max_events: Option<u64>,
    /// When set, citizens also post reports through this engine's Open311 API and an operator
    /// desk works them (docs/cli.md `ioc sim`); `report-burst` adds a cluster at the start.
    pub reports: Option<crate::ReportTarget>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            mqtt: MqttTarget::default(),
            topic_root: "city".to_string(),
            rate: 100.0,
            duration: Duration::from_secs(60),
            seed: 1,
            qos: 1,
            scenarios: Vec::new(),
            manifest: None,
            speedup: 1.0,
            progress: false,
            areas: Areas::hanoi(),
            max_events: None,
            reports: None,
        }
    }
}

impl SimConfig {
    /// Checks the settings that would make a run meaningless (zero rate, bad QoS, empty areas …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field, problem: &str| {
            Err(ConfigError::Value {
                field,
                problem: problem.to_string(),
            })
        };
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1_000_000.0) {
            return fail(
                "rate",
                "must be a number of events/s above 0 and at most 1000000",
            );
        }
        if !(self.speedup.is_finite() && self.speedup > 0.0 && self.speedup <= 1_000_000.0) {
            return fail("speedup", "must be above 0 and at most 1000000");
        }
        if self.qos > 1 {
            return fail("qos", "must be 0 or 1");
        }
        if self.areas.is_empty() {
            return fail("areas", "at least one area is needed");
        }
        let root = &self.topic_root;
        if root.is_empty() || root.contains(['/', '+', '#', '\0']) {
            return fail(
                "topic_root",
                "must be one non-empty topic level without / + #",
            );
        }
        if self.mqtt.host.is_empty() {
            return fail("mqtt", "missing broker host");
        }
        Ok(())
    }

    /// Number of events the run aims for: `rate × duration`, capped by `max_events`.
    pub fn planned_events(&self) -> u64 {
        let planned = (self.rate * self.duration.as_secs_f64()).floor();
        let planned = if planned.is_finite() && planned > 0.0 {
            planned as u64
        } else {
            0
        };
        self.max_events.map_or(planned, |max| planned.min(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_short_urls() {
        let target = parse_mqtt_url("mqtt://ioc:s%40cret@broker.example:1884?client_id=sim-1")
            .expect("valid url");
        assert_eq!(target.host, "broker.example");
        assert_eq!(target.port, 1884);
        assert_eq!(target.username.as_deref(), Some("ioc"));
        assert_eq!(target.password.as_deref(), Some("s@cret"));
        assert_eq!(target.client_id, "sim-1");
        assert!(!format!("{target:?}").contains("s@cret"));

        let target = parse_mqtt_url("mqtt://127.0.0.1").expect("valid url");
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 1883));
        assert!(target.username.is_none() && target.password.is_none());
        assert!(target.client_id.starts_with("ioc-sim-"));

        let target = parse_mqtt_url("localhost:1999").expect("valid url");
        assert_eq!((target.host.as_str(), target.port), ("localhost", 1999));
        let target = parse_mqtt_url("tcp://[::1]:1885/").expect("valid url");
        assert_eq!((target.host.as_str(), target.port), ("::1", 1885));
        let target: MqttTarget = "mqtt://user@h".parse().expect("valid url");
        assert_eq!(target.username.as_deref(), Some("user"));
        assert_eq!(target.password, None);
        let target = parse_mqtt_url("mqtts://u:p@broker.example").expect("valid url");
        assert_eq!(
            (target.host.as_str(), target.port),
            ("broker.example", 8883)
        );
        assert_eq!(target.tls, Some(ioc_ingest::mqtt::TlsFiles::default()));
        assert_eq!(parse_mqtt_url("mqtt://h").expect("valid url").tls, None);
    }

    #[test]
    fn refusals_keep_the_reason_and_mask_the_password() {
        let error = parse_mqtt_url("mqtt://u:hunter2@h:notaport").unwrap_err();
        assert!(
            matches!(&error, ConfigError::MqttUrl { url, problem }
                if url == "mqtt://u:***@h:notaport" && problem.contains("port")),
            "{error}"
        );
        let error = parse_mqtt_url("ws://h").unwrap_err().to_string();
        assert!(error.contains("mqtts://"), "{error}");
    }

    #[test]
    fn validates_settings_and_plans_event_counts() {
        let config = SimConfig {
            rate: 200.0,
            duration: Duration::from_secs(3),
            ..SimConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.planned_events(), 600);
        assert_eq!(
            SimConfig {
                max_events: Some(50),
                ..config.clone()
            }
            .planned_events(),
            50
        );
        for bad in [
            SimConfig {
                rate: 0.0,
                ..config.clone()
            },
            SimConfig {
                rate: f64::NAN,
                ..config.clone()
            },
            SimConfig {
                speedup: -1.0,
                ..config.clone()
            },
            SimConfig {
                qos: 2,
                ..config.clone()
            },
            SimConfig {
                topic_root: "a/b".into(),
                ..config.clone()
            },
            SimConfig {
                topic_root: String::new(),
                ..config.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
