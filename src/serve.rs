//! `ioc serve`: wires journal, analytics, MQTT ingest and the API together.
//!
//! Start order: open the journal → replay it into analytics (views come back as they were) →
//! start the analytics worker and the journal thread → connect to the broker → serve HTTP.
//! Readiness stays red until replay is done and the broker is connected.

use crate::config::{EngineConfig, default_client_id};
use crate::metrics::IngestMetrics;
use anyhow::Context;
use ioc_analytics::Analytics;
use ioc_analytics::alerts::RuleSet;
use ioc_analytics::engine::WINDOW_FLUSH_READINGS;
use ioc_analytics::snapshot::SNAPSHOT_FILE;
use ioc_dashboard_api::{ApiConfig, ApiState, Authenticator, MetricsSource, Readiness};
use ioc_ingest::Areas;
use ioc_ingest::cluster::ClusterSettings;
use ioc_ingest::cluster::slots::SlotSessions;
use ioc_ingest::intake::Intake;
use ioc_ingest::journal::{self, Durability, Entry, JournalHandle, JournalStore, SqliteJournal};
use ioc_ingest::mqtt::{self, MqttConfig, MqttStatus, Protocol, SessionTotals};
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The journal opened at start.
enum Opened {
    /// The embedded SQLite journal.
    Embedded(Box<dyn JournalStore>),
    /// The PostgreSQL journal of a cluster.
    Cluster(Box<crate::cluster::Journals>),
}

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
    let areas = Arc::new(match &config.areas {
        Some(path) => Areas::from_file(path)?,
        None => Areas::hanoi(),
    });
    let secret = crate::secret::jwt_secret(
        config.jwt_secret.as_ref().map(crate::secret::expose),
        &config.data_dir,
    )?;
    let auth = config.authenticator(&secret);

    // Journal and replay: the embedded SQLite file, or the PostgreSQL journal of a cluster.
    let opened = match &config.database_url {
        Some(url) => {
            let (url, capacity) = (url.clone(), config.analytics.dead_letter_capacity);
            Opened::Cluster(Box::new(
                tokio::task::spawn_blocking(move || crate::cluster::Journals::open(&url, capacity))
                    .await?
                    .context("cannot open the PostgreSQL journal")?,
            ))
        }
        None => Opened::Embedded(Box::new(
            SqliteJournal::open(
                &config.data_dir,
                Durability::ProcessCrash,
                config.analytics.dead_letter_capacity,
            )
            .context("cannot open the journal")?,
        )),
    };
    let rules = load_rules(config.rules.as_deref())?;
    tracing::info!(rules = rules.rules.len(), "alert rules loaded");
    let analytics = Analytics::new(Arc::clone(&areas), config.analytics.clone()).with_rules(rules);
    let replayed = Arc::new(AtomicBool::new(false));
    let (opened, replayed_seq) = {
        let analytics = analytics.clone();
        let data_dir = config.data_dir.clone();
        let mut opened = opened;
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Opened, i64)> {
            // A cluster keeps every row in its shared journal and compacts nothing, so it has
            // no archive (docs/cluster.md).
            let has_archive = matches!(opened, Opened::Embedded(_));
            let snapshot_path = has_archive.then(|| data_dir.join(SNAPSHOT_FILE));
            let store: &mut dyn JournalStore = match &mut opened {
                Opened::Embedded(store) => store.as_mut(),
                Opened::Cluster(journals) => &mut journals.reader,
            };
            let began = Instant::now();
            let recovered = store.recover()?;
            // The embedded journal's data directory keeps a snapshot of the analytics state;
            // replay continues after the seq it holds (docs/architecture.md, "Snapshots"). A
            // cluster's instances replay the shared journal.
            let after_seq = match &snapshot_path {
                Some(path) => {
                    analytics.restore_with_snapshot(path, recovered, store.last_event_seq()?)
                }
                None => {
                    analytics.restore(recovered);
                    0
                }
            };
            // Weeks of hourly means for the anomaly baselines: the journal keeps only the
            // history horizon, the archive the rest. A snapshot holds them already.
            if has_archive && after_seq == 0 {
                let now = ioc_ingest::event::now_ms();
                match analytics.seed_baselines_from_archive(&data_dir, now) {
                    Ok(hours) => tracing::info!(hours, "anomaly baselines seeded from the archive"),
                    Err(error) => {
                        tracing::warn!(%error, "anomaly baselines not seeded from the archive")
                    }
                }
            }
            let (events, last) = replay(&mut *store, &analytics, after_seq)?;
            analytics.note_replayed(events);
            if let Some(path) = snapshot_path {
                analytics.enable_snapshots(path, events);
            }
            // Writers wait for analytics to reach their journal seq: start from the replayed
            // one (a shared journal may have grown since; the follower continues from here).
            analytics.mark_applied(last);
            tracing::info!(
                events,
                after_seq,
                elapsed_ms = began.elapsed().as_millis() as u64,
                "journal replayed"
            );
            Ok((opened, last))
        })
        .await??
    };
    replayed.store(true, Ordering::Relaxed);
    let (journal, cluster) = match opened {
        Opened::Embedded(store) => {
            let (sink, _analytics_thread) = analytics.start_worker()?;
            let (journal, _journal_thread) = journal::spawn(store, sink)?;
            tokio::spawn(journal_alerts(
                analytics.connect_alert_journal(),
                journal.clone(),
            ));
            (journal, None)
        }
        Opened::Cluster(journals) => {
            let settings = ClusterSettings {
                database_url: config.database_url.clone().unwrap_or_default(),
                instance: config
                    .instance
                    .clone()
                    .unwrap_or_else(|| crate::config::default_instance(&config.data_dir)),
                slots: config.slots,
            };
            let analytics = analytics.clone();
            let cluster = tokio::task::spawn_blocking(move || {
                crate::cluster::Cluster::start(*journals, replayed_seq, &analytics, &settings)
            })
            .await??;
            (cluster.journal.clone(), Some(cluster))
        }
    };

    // Broker.
    let broker_url = if config.mqtt == "embedded" {
        let port =
            crate::broker::start_embedded(config.embedded_mqtt_port, config.max_payload_bytes)?;
        format!("mqtt://127.0.0.1:{port}")
    } else {
        config.mqtt.clone()
    };
    let scheme = TopicScheme::new(config.topic_root.clone());
    // A cluster always splits the stream; its group defaults to `ioc`.
    let share_group = config
        .mqtt_share_group
        .clone()
        .or_else(|| cluster.as_ref().map(|_| "ioc".to_string()));
    let filter = match &share_group {
        Some(group) => format!("$share/{group}/{}", scheme.subscription_filter()),
        None => scheme.subscription_filter(),
    };
    let (broker, tls) = crate::mqtt_security::connection(&config, &broker_url)?;
    // From here on only the redacted URL is shown.
    let broker_url = broker.redacted();
    // `mqtt_client_id`, else the URL's `?client_id=…`, else one derived from the data dir.
    let client_id = config
        .mqtt_client_id
        .clone()
        .or_else(|| broker.client_id.clone())
        .unwrap_or_else(|| default_client_id(&config.data_dir, &filter));
    let mqtt_config = MqttConfig {
        broker,
        tls,
        client_id,
        filter: filter.clone(),
        keep_alive: Duration::from_secs(config.mqtt_keep_alive_secs.max(1)),
        // The embedded broker (rumqttd) is spoken to over MQTT 3.1.1; external brokers over 5.
        protocol: if config.mqtt == "embedded" {
            Protocol::V4
        } else {
            config.mqtt_protocol.into()
        },
        session_expiry_secs: config.mqtt_session_expiry_secs,
        fence: None,
    };
    let intake = Intake::new(
        scheme,
        Validator::new(Arc::clone(&areas)),
        config.max_payload_bytes,
    )
    .with_device_zone(config.device_time_zone);
    let intake_counters = intake.counters();
    let status = Arc::new(MqttStatus::default());

    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |stop: &tokio::sync::broadcast::Sender<()>| {
        let mut receiver = stop.subscribe();
        async move {
            let _ = receiver.recv().await;
        }
    };
    let (alerts_out, alerts_queue) = mqtt::publisher::queue();
    tokio::spawn(forward_alerts(
        analytics.alert_feed(),
        alerts_out,
        cluster.as_ref().map(crate::cluster::Cluster::won_alerts),
    ));
    tokio::spawn(mqtt::publisher::publish(
        mqtt_config.clone(),
        ioc_ingest::topic::ALERTS_TOPIC.to_string(),
        alerts_queue,
        stopped(&stop),
    ));
    let subscriber = match &cluster {
        None => tokio::spawn(mqtt::run(
            mqtt_config,
            intake,
            journal.clone(),
            Arc::clone(&status),
            stopped(&stop),
        )),
        Some(cluster) => cluster.run(
            SlotSessions {
                base: mqtt_config,
                group: share_group.unwrap_or_default(),
                topic_root: config.topic_root.clone(),
                filter,
                intake,
                journal: journal.clone(),
            },
            &analytics,
            stopped(&stop),
        ),
    };

    // API.
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let http = listener.local_addr()?;
    publish_address(&config.data_dir, http)?;
    let ingest_metrics = |sessions: Arc<dyn SessionTotals>| IngestMetrics {
        sessions,
        intake: Arc::clone(&intake_counters),
        journal: journal.clone(),
    };
    let (readiness, metrics): (Arc<dyn Readiness>, Arc<dyn MetricsSource>) = match &cluster {
        Some(cluster) => (
            cluster.readiness(replayed),
            cluster.metrics(ingest_metrics(cluster.session_totals())),
        ),
        None => (
            Arc::new(EngineReadiness {
                journal: journal.clone(),
                mqtt: Arc::clone(&status),
                replayed,
            }),
            Arc::new(ingest_metrics(Arc::clone(&status) as Arc<dyn SessionTotals>)),
        ),
    };
    let state = ApiState::new(
        analytics.clone(),
        auth.clone(),
        readiness,
        metrics,
        ApiConfig {
            tick: Duration::from_millis(config.tick_ms),
            client_queue_frames: config.ws_client_queue_frames,
            max_connections: config.ws_max_connections,
            max_body_bytes: config.http_max_body_bytes,
            read_timeout: Duration::from_millis(config.http_read_timeout_ms),
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
    // Compaction moves rows out of the embedded journal; the shared PostgreSQL journal keeps
    // them (compaction is not cluster-safe yet).
    let compaction = match &cluster {
        None => Some(tokio::spawn(crate::history::compact_periodically(
            history,
            config.history.every()?,
            stopped(&stop),
        ))),
        Some(_) => {
            tracing::info!("cluster mode: journal compaction to Parquet is off");
            None
        }
    };
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
    if let Some(compaction) = compaction {
        let _ = compaction.await;
    }
    match api.await {
        Ok(result) => result?,
        Err(error) => tracing::error!(%error, "api task failed"),
    }
    drop(journal);
    // Nothing new arrives now: a snapshot of what analytics applied spares the next start the
    // replay (events still on their way from the journal are replayed after it).
    if cluster.is_none() {
        let analytics = analytics.clone();
        match tokio::task::spawn_blocking(move || analytics.write_snapshot()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "analytics snapshot not written at stop"),
            Err(error) => tracing::error!(%error, "analytics snapshot task failed"),
        }
    }
    if let Some(mut cluster) = cluster {
        // Hands the slots back at once instead of letting their leases expire.
        let _ = tokio::task::spawn_blocking(move || cluster.leave()).await;
    }
    tracing::info!("engine stopped");
    Ok(())
}

/// Chunks read ahead of analytics during replay.
const REPLAY_READ_AHEAD: usize = 4;

/// Replays the journal into analytics on three threads: one reads and decodes chunks, one
/// admits them in journal order (counts, sources, reports, alert trackers), one runs their
/// window readings through polars in batches of [`WINDOW_FLUSH_READINGS`] while the next
/// chunks are admitted. Replays the events after `after_seq` (0: all of them); returns how many
/// and the seq of the last.
///
/// The windows come out as in a sequential replay: readings are merged in admission order,
/// and a bucket that a merge prunes because admission has moved the newest event time on
/// would be pruned by the last merge anyway. Admitted chunks go back to the reader to be
/// freed there, the thread that allocated them (B8's profile in BENCHMARKS.md).
fn replay(
    store: &mut dyn JournalStore,
    analytics: &Analytics,
    after_seq: i64,
) -> anyhow::Result<(u64, i64)> {
    let (chunks, queue) =
        std::sync::mpsc::sync_channel::<Vec<ioc_ingest::Event>>(REPLAY_READ_AHEAD);
    let (spent, to_free) = std::sync::mpsc::channel::<Vec<ioc_ingest::Event>>();
    let (to_windows, window_batches) =
        std::sync::mpsc::sync_channel::<Vec<ioc_analytics::batch::Reading>>(1);
    std::thread::scope(|scope| {
        // Named, so that `top -H` and a profile tell the replay's stages apart.
        let reader = std::thread::Builder::new()
            .name("ioc-replay-read".into())
            .spawn_scoped(scope, move || {
                let mut last = after_seq;
                store
                    .replay(after_seq, REPLAY_CHUNK, &mut |batch, seq| {
                        last = seq;
                        // The admitting thread only stops early on a failure, reported below.
                        let _ = chunks.send(batch);
                        to_free.try_iter().for_each(drop);
                    })
                    .map(|events| (events, last))
            })?;
        let windows = std::thread::Builder::new()
            .name("ioc-replay-win".into())
            .spawn_scoped(scope, move || {
                for readings in window_batches {
                    analytics.merge_readings(&readings)?;
                }
                Ok::<(), ioc_analytics::AnalyticsError>(())
            })?;
        let mut readings = Vec::new();
        for batch in queue {
            analytics.admit(&batch, None, &mut readings);
            // A failed windows thread has dropped its queue: the rest is read and dropped,
            // and its error reported below.
            if readings.len() >= WINDOW_FLUSH_READINGS {
                let _ = to_windows.send(std::mem::take(&mut readings));
            }
            // Once the reader is done, what is left is freed here as the channel drops.
            let _ = spent.send(batch);
        }
        let _ = to_windows.send(readings);
        drop(to_windows);
        let windowed = windows
            .join()
            .map_err(|_| anyhow::anyhow!("the replay's windows thread panicked"))?;
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the journal reader panicked"))??;
        windowed?;
        Ok(read)
    })
}

/// Writes the bound HTTP address to `<data_dir>/listen.addr` (written aside and renamed, so a
/// reader never sees half of it): with `--listen 127.0.0.1:0` it is how scripts and tests
/// learn the port the system picked.
fn publish_address(data_dir: &std::path::Path, http: std::net::SocketAddr) -> anyhow::Result<()> {
    let path = data_dir.join(LISTEN_ADDR_FILE);
    let partial = data_dir.join(format!("{LISTEN_ADDR_FILE}.partial"));
    std::fs::write(&partial, format!("{http}\n"))
        .and_then(|()| std::fs::rename(&partial, &path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The file in the data directory naming the address `serve` listens on.
pub const LISTEN_ADDR_FILE: &str = "listen.addr";

/// The rules of `--rules`, or the compiled-in ones; a bad file stops the start with every
/// problem and its line.
pub fn load_rules(path: Option<&std::path::Path>) -> anyhow::Result<RuleSet> {
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

/// Turns applied alert transitions into `ioc/alerts` messages. In a cluster every instance
/// applies every transition, and only the one whose journal insert won publishes it.
async fn forward_alerts(
    mut feed: tokio::sync::broadcast::Receiver<Arc<ioc_analytics::alerts::Alert>>,
    out: tokio::sync::mpsc::Sender<Vec<u8>>,
    won: Option<crate::cluster::WonAlerts>,
) {
    loop {
        match feed.recv().await {
            Ok(alert) => {
                let out = out.clone();
                let id = alert.last_transition_event_id();
                let publish = move || {
                    let body = serde_json::to_vec(&alert.to_json()).unwrap_or_default();
                    if out.try_send(body).is_err() {
                        tracing::debug!("alert publish queue full; MQTT copy dropped");
                    }
                };
                match &won {
                    None => publish(),
                    Some(won) => {
                        let won = won.clone();
                        tokio::spawn(async move {
                            if won.check(&id).await {
                                publish();
                            }
                        });
                    }
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "alert publisher fell behind");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
