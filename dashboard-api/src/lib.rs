//! HTTP and websocket API of the IOC engine: live views over `/ws`, the operator REST API
//! under `/api`, `/metrics`, `/healthz` and `/readyz`.
//!
//! Shape of the service: [`run`] takes a bound listener and any shutdown future, so the binary
//! passes Ctrl-C and tests pass a oneshot.

pub mod auth;
mod http;
pub mod hub;
mod ngsi_ld;
pub mod oidc;
mod open311;
mod open_data;
pub mod patch;
pub mod prometheus;
pub mod scope;
mod server;
pub mod ws;

pub use auth::{Authenticator, Claims, Role};
pub use open_data::OpenDataConfig;
pub use open311::Open311Limits;

use hub::Hub;
use ioc_analytics::Analytics;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};

/// What `/readyz` asks: each check's name and whether it passes.
pub trait Readiness: Send + Sync + 'static {
    /// The checks (`journal`, `broker`, `replay`) and their state.
    fn checks(&self) -> Vec<(&'static str, bool)>;
}

/// Extra lines for `/metrics` from the parts outside analytics (ingest, broker).
pub trait MetricsSource: Send + Sync + 'static {
    /// Prometheus text lines, each ending in a newline.
    fn render(&self) -> String;
}

/// Settings of the API server.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How often live views are recomputed and patches sent (docs/websocket.md: 500 ms).
    pub tick: Duration,
    /// Frames a websocket client may have queued before it is reset to a snapshot.
    pub client_queue_frames: usize,
    /// Most websocket connections at once; more are refused with 503.
    pub max_connections: usize,
    /// Largest request body (Open311 and operator POSTs); larger ones are refused with 413.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request head, or a request body; a slower one is
    /// cut off (head) or answered 408 (body).
    pub read_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(500),
            client_queue_frames: 64,
            max_connections: 1024,
            max_body_bytes: 64 * 1024,
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of the API itself, for `/metrics`.
#[derive(Debug, Default)]
pub struct ApiCounters {
    /// Websocket connections open now.
    pub ws_connections: std::sync::atomic::AtomicI64,
    /// Times a slow websocket reader's pending updates were dropped for fresh snapshots.
    pub slow_client_resets: std::sync::atomic::AtomicU64,
    /// Frames written to websocket clients.
    pub ws_frames_sent: std::sync::atomic::AtomicU64,
}

/// What the report endpoints need besides analytics: the journal they write to, the citizen
/// apps' API keys, and a lock that makes an operator's check-then-journal atomic.
#[derive(Clone)]
pub struct ReportIntake {
    pub(crate) journal: ioc_ingest::journal::JournalHandle,
    pub(crate) api_keys: Arc<Vec<String>>,
    pub(crate) updates: Arc<tokio::sync::Mutex<()>>,
    pub(crate) limits: Open311Limits,
    pub(crate) limiter: Arc<open311::Limiter>,
}

/// How long a report endpoint waits for analytics to show what it just journaled.
const VISIBLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

impl ReportIntake {
    /// Journals one event and waits until analytics has applied it (or, for a retried
    /// duplicate, everything committed so far), so a read right after the answer sees it.
    /// Errors only when the journal could not store it; a [`Outcome::Duplicate`] says the id
    /// was already stored (a retry, or — for ids derived from a version — a concurrent change
    /// that won, possibly on another engine instance).
    ///
    /// [`Outcome::Duplicate`]: ioc_ingest::journal::Outcome::Duplicate
    pub(crate) async fn journal_visible(
        &self,
        analytics: &Analytics,
        event: ioc_ingest::Event,
    ) -> Result<ioc_ingest::journal::Outcome, ioc_ingest::journal::JournalError> {
        use ioc_ingest::journal::{Entry, Outcome};
        let outcome = self.journal.append(vec![Entry::Event(event)]).await?;
        let first = outcome.first().copied().unwrap_or(Outcome::Duplicate);
        let seq = match first {
            Outcome::Stored(seq) => seq,
            // A duplicate's first copy was committed earlier, so at most the committed seq.
            Outcome::Duplicate => self.journal.committed_seq(),
        };
        if !analytics.wait_applied(seq, VISIBLE_WITHIN).await {
            tracing::warn!(seq, "journaled but not yet visible; answering anyway");
        }
        Ok(first)
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) analytics: Analytics,
    pub(crate) auth: Authenticator,
    pub(crate) hub: Arc<Hub>,
    pub(crate) readiness: Arc<dyn Readiness>,
    pub(crate) metrics: Arc<dyn MetricsSource>,
    pub(crate) config: ApiConfig,
    pub(crate) connections: Arc<Semaphore>,
    pub(crate) shutdown: broadcast::Sender<()>,
    pub(crate) counters: Arc<ApiCounters>,
    pub(crate) reports: Option<ReportIntake>,
    pub(crate) history: Option<Arc<ioc_analytics::history::History>>,
    pub(crate) public: Arc<open_data::PublicService>,
}

impl ApiState {
    /// Builds the shared state.
    pub fn new(
        analytics: Analytics,
        auth: Authenticator,
        readiness: Arc<dyn Readiness>,
        metrics: Arc<dyn MetricsSource>,
        config: ApiConfig,
    ) -> Self {
        let (shutdown, _) = broadcast::channel(1);
        Self {
            public: Arc::new(open_data::PublicService::new(
                OpenDataConfig::default(),
                config.tick,
            )),
            hub: Hub::new(analytics.clone()),
            connections: Arc::new(Semaphore::new(config.max_connections)),
            analytics,
            auth,
            readiness,
            metrics,
            config,
            shutdown,
            counters: Arc::new(ApiCounters::default()),
            reports: None,
            history: None,
        }
    }

    /// Enables `GET /api/history` and `POST /api/history/compact` over this journal and
    /// archive. Without it they answer 503.
    pub fn with_history(mut self, history: Arc<ioc_analytics::history::History>) -> Self {
        self.history = Some(history);
        self
    }

    /// Sets the public endpoints' suppression threshold, per-address budget and client cache
    /// time (the defaults otherwise).
    pub fn with_open_data(mut self, config: OpenDataConfig) -> Self {
        self.public = Arc::new(open_data::PublicService::new(config, self.config.tick));
        self
    }

    /// Enables the report endpoints (Open311 POST, operator changes): they write to `journal`,
    /// Open311 posts must carry one of `api_keys` and stay within `limits`. Without this they
    /// answer 503.
    pub fn with_reports(
        mut self,
        journal: ioc_ingest::journal::JournalHandle,
        api_keys: Vec<String>,
        limits: Open311Limits,
    ) -> Self {
        self.reports = Some(ReportIntake {
            journal,
            api_keys: Arc::new(api_keys),
            updates: Arc::new(tokio::sync::Mutex::new(())),
            limits,
            limiter: Arc::new(open311::Limiter::default()),
        });
        self
    }
}

/// Serves the API on `listener` until `shutdown` resolves; websockets are then closed with
/// 1001 (going away).
pub async fn run(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_hub, hub_stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn(Arc::clone(&state.hub).run(state.config.tick, async {
        let _ = hub_stopped.await;
    }));
    let sessions = state.shutdown.clone();
    let head_timeout = state.config.read_timeout;
    let router = http::router(state);
    let result = server::serve(listener, router, head_timeout, async move {
        shutdown.await;
        let _ = sessions.send(());
    })
    .await;
    let _ = stop_hub.send(());
    let _ = hub.await;
    result
}
