//! `ioc serve`: wires journal, analytics, MQTT ingest and the API together.
//!
//! Start order: open the journal → replay it into analytics (views come back as they were) →
//! start the analytics worker and the journal thread → connect to the broker → serve HTTP.
//! Readiness stays red until replay is done and the broker is connected.

use crate::config::{EngineConfig, default_client_id};
use anyhow::Context;
use ioc_analytics::Analytics;
use ioc_analytics::alerts::RuleSet;
use ioc_dashboard_api::prometheus::write_metric;
use ioc_dashboard_api::{ApiConfig, ApiState, Authenticator, MetricsSource, Readiness};
use ioc_ingest::Areas;
use ioc_ingest::intake::Intake;
use ioc_ingest::journal::{self, Durability, Entry, JournalHandle, JournalStore, SqliteJournal};
use ioc_ingest::mqtt::{self, MqttConfig, MqttStatus, Protocol};
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Events per replay chunk.
const REPLAY_CHUNK: usize = 20_000;

/// What `/readyz` checks.
struct EngineReadiness {
    journal: JournalHandle,
    mqtt: Arc<MqttStatus>,
    replayed: Arc<AtomicBool>,
}

impl Readiness for EngineReadiness {
    fn checks(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("journal", self.journal.is_healthy()),
            (
                "broker",
                self.mqtt.is_connected() && self.mqtt.is_subscribed(),
            ),
            ("replay", self.replayed.load(Ordering::Relaxed)),
        ]
    }
}

/// Ingest counters for `/metrics`.
struct IngestMetrics {
    mqtt: Arc<MqttStatus>,
}

impl MetricsSource for IngestMetrics {
    fn render(&self) -> String {
        let mut text = String::new();
        let mqtt = &self.mqtt;
        let metrics = [
            (
                "ioc_mqtt_received_total",
                "counter",
                "MQTT messages received.",
                mqtt.received(),
            ),
            (
                "ioc_mqtt_acknowledged_total",
                "counter",
                "MQTT messages journaled and acknowledged.",
                mqtt.acknowledged(),
            ),
            (
                "ioc_mqtt_connection_errors_total",
                "counter",
                "Broker connection errors.",
                mqtt.reconnects(),
            ),
            (
                "ioc_mqtt_connected",
                "gauge",
                "Whether the broker connection is up.",
                u64::from(mqtt.is_connected()),
            ),
        ];
        for (name, kind, help, value) in metrics {
            write_metric(&mut text, name, kind, help, value);
        }
        text
    }
}

/// A running engine: where it listens and how to reach its broker.
pub struct Started {
    /// HTTP address actually bound.
    pub http: std::net::SocketAddr,
    /// Broker URL in use, password redacted.
    pub broker: String,
    /// Signs tokens with the engine's secret.
    pub auth: Authenticator,
    /// The broker connection's state.
    pub mqtt: Arc<MqttStatus>,
}

/// Runs the engine until `shutdown` resolves.
pub async fn run(
    config: EngineConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (ready_tx, _ready_rx) = tokio::sync::oneshot::channel();
    run_with(config, shutdown, ready_tx).await
}

/// Runs the engine until `shutdown` resolves; sends [`Started`] once it listens.
pub async fn run_with(
    config: EngineConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    started: tokio::sync::oneshot::Sender<Started>,
) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        tracing::warn!(
            "--database-url is not supported yet; using the SQLite journal in the data dir"
        );
    }
    let areas = Arc::new(match &config.areas {
        Some(path) => Areas::from_file(path)?,
        None => Areas::hanoi(),
    });
    let secret = crate::secret::jwt_secret(
        config
            .jwt_secret
            .as_ref()
            .map(crate::secret::Secret::expose),
        &config.data_dir,
    )?;
    let auth = Authenticator::new(&secret);

    // Journal and replay.
    let mut store: Box<dyn JournalStore> = Box::new(
        SqliteJournal::open(
            &config.data_dir,
            Durability::ProcessCrash,
            config.analytics.dead_letter_capacity,
        )
        .context("cannot open the journal")?,
    );
    let rules = load_rules(config.rules.as_deref())?;
    tracing::info!(rules = rules.rules.len(), "alert rules loaded");
    let analytics = Analytics::new(Arc::clone(&areas), config.analytics.clone()).with_rules(rules);
    let replayed = Arc::new(AtomicBool::new(false));
    let store = {
        let analytics = analytics.clone();
        let data_dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Box<dyn JournalStore>> {
            let began = Instant::now();
            analytics.restore(store.recover()?);
            // Weeks of hourly means for the anomaly baselines: the journal keeps only the
            // history horizon, the archive the rest.
            match analytics.seed_baselines_from_archive(&data_dir, ioc_ingest::event::now_ms()) {
                Ok(hours) => tracing::info!(hours, "anomaly baselines seeded from the archive"),
                Err(error) => {
                    tracing::warn!(%error, "anomaly baselines not seeded from the archive")
                }
            }
            let mut failure = None;
            let events = store.replay(0, REPLAY_CHUNK, &mut |batch, _| {
                if let Err(error) = analytics.apply(&batch, None) {
                    failure.get_or_insert(error);
                }
            })?;
            if let Some(error) = failure {
                return Err(error.into());
            }
            // Writers wait for analytics to reach their journal seq: start from the replayed one.
            analytics.mark_applied(store.last_event_seq()?);
            tracing::info!(
                events,
                elapsed_ms = began.elapsed().as_millis() as u64,
                "journal replayed"
            );
            Ok(store)
        })
        .await??
    };
    replayed.store(true, Ordering::Relaxed);
    let (sink, _analytics_thread) = analytics.start_worker()?;
    let (journal, _journal_thread) = journal::spawn(store, sink)?;
    tokio::spawn(journal_alerts(
        analytics.connect_alert_journal(),
        journal.clone(),
    ));

    // Broker.
    let broker_url = if config.mqtt == "embedded" {
        let port =
            crate::broker::start_embedded(config.embedded_mqtt_port, config.max_payload_bytes)?;
        format!("mqtt://127.0.0.1:{port}")
    } else {
        config.mqtt.clone()
    };
    let scheme = TopicScheme::new(config.topic_root.clone());
    let filter = match &config.mqtt_share_group {
        Some(group) => format!("$share/{group}/{}", scheme.subscription_filter()),
        None => scheme.subscription_filter(),
    };
    let (broker, tls) = crate::mqtt_security::connection(&config, &broker_url)?;
    // From here on only the redacted URL is shown.
    let broker_url = broker.redacted();
    let mqtt_config = MqttConfig {
        broker,
        tls,
        client_id: config
            .mqtt_client_id
            .clone()
            .unwrap_or_else(|| default_client_id(&config.data_dir, &filter)),
        filter,
        keep_alive: Duration::from_secs(30),
        // The embedded broker (rumqttd) is spoken to over MQTT 3.1.1; external brokers over 5.
        protocol: if config.mqtt == "embedded" {
            Protocol::V4
        } else {
            config.mqtt_protocol
        },
        session_expiry_secs: config.mqtt_session_expiry_secs,
    };
    let intake = Intake::new(
        scheme,
        Validator::new(Arc::clone(&areas)),
        config.max_payload_bytes,
    );
    let status = Arc::new(MqttStatus::default());

    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |stop: &tokio::sync::broadcast::Sender<()>| {
        let mut receiver = stop.subscribe();
        async move {
            let _ = receiver.recv().await;
        }
    };
    let (alerts_out, alerts_queue) = mqtt::publisher::queue();
    tokio::spawn(forward_alerts(analytics.alert_feed(), alerts_out));
    tokio::spawn(mqtt::publisher::publish(
        mqtt_config.clone(),
        ioc_ingest::topic::ALERTS_TOPIC.to_string(),
        alerts_queue,
        stopped(&stop),
    ));
    let subscriber = tokio::spawn(mqtt::run(
        mqtt_config,
        intake,
        journal.clone(),
        Arc::clone(&status),
        stopped(&stop),
    ));

    // API.
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let http = listener.local_addr()?;
    let state = ApiState::new(
        analytics,
        auth.clone(),
        Arc::new(EngineReadiness {
            journal: journal.clone(),
            mqtt: Arc::clone(&status),
            replayed,
        }),
        Arc::new(IngestMetrics {
            mqtt: Arc::clone(&status),
        }),
        ApiConfig {
            tick: Duration::from_millis(config.tick_ms),
            client_queue_frames: config.ws_client_queue_frames,
            max_body_bytes: config.http_max_body_bytes,
            read_timeout: Duration::from_millis(config.http_read_timeout_ms),
            ..ApiConfig::default()
        },
    )
    .with_reports(
        journal.clone(),
        config.open311.api_keys.clone(),
        ioc_dashboard_api::Open311Limits {
            per_key_per_min: config.open311.rate_per_key_per_min,
            per_ip_per_min: config.open311.rate_per_ip_per_min,
        },
    );
    // History: compaction starts after the replay (it moves rows the replay would count).
    let history = Arc::new(ioc_analytics::history::History::new(
        &config.data_dir,
        config
            .history
            .settings(config.analytics.allowed_lateness_ms)?,
    ));
    let state = state
        .with_history(Arc::clone(&history))
        .with_open_data(config.open_data);
    let compaction = tokio::spawn(crate::history::compact_periodically(
        history,
        config.history.every()?,
        stopped(&stop),
    ));
    if config.open311.api_keys.is_empty() {
        tracing::warn!("no Open311 api_keys configured: citizen apps cannot post reports");
    }
    tracing::info!(%http, broker = %broker_url, "engine listening");
    let _ = started.send(Started {
        http,
        broker: broker_url,
        auth,
        mqtt: Arc::clone(&status),
    });
    let api = tokio::spawn(ioc_dashboard_api::run(listener, state, stopped(&stop)));

    shutdown.await;
    let _ = stop.send(());
    let _ = subscriber.await;
    let _ = compaction.await;
    match api.await {
        Ok(result) => result?,
        Err(error) => tracing::error!(%error, "api task failed"),
    }
    drop(journal);
    tracing::info!("engine stopped");
    Ok(())
}

/// The rules of `--rules`, or the compiled-in ones; a bad file stops the start with every
/// problem and its line.
fn load_rules(path: Option<&std::path::Path>) -> anyhow::Result<RuleSet> {
    let Some(path) = path else {
        return Ok(RuleSet::defaults());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the rules file {}", path.display()))?;
    RuleSet::parse(&text)
        .map_err(|error| anyhow::anyhow!("rules file {} refused:\n{error}", path.display()))
}

/// Journals the transitions the rule evaluator asks for; they come back through the journal
/// to the alert book, the websocket push and MQTT.
async fn journal_alerts(
    mut transitions: tokio::sync::mpsc::UnboundedReceiver<ioc_ingest::Event>,
    journal: JournalHandle,
) {
    while let Some(first) = transitions.recv().await {
        let mut entries = vec![Entry::Event(first)];
        while let Ok(next) = transitions.try_recv() {
            entries.push(Entry::Event(next));
        }
        if let Err(error) = journal.append(entries).await {
            // The evaluator asks again once the transition has been in flight too long.
            tracing::error!(%error, "alert transition not journaled; will retry");
        }
    }
}

/// Turns applied alert transitions into `ioc/alerts` messages.
async fn forward_alerts(
    mut feed: tokio::sync::broadcast::Receiver<Arc<ioc_analytics::alerts::Alert>>,
    out: tokio::sync::mpsc::Sender<Vec<u8>>,
) {
    loop {
        match feed.recv().await {
            Ok(alert) => {
                let body = serde_json::to_vec(&alert.to_json()).unwrap_or_default();
                if out.try_send(body).is_err() {
                    tracing::debug!("alert publish queue full; MQTT copy dropped");
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "alert publisher fell behind");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
