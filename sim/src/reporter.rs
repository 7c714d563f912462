//! Citizens posting reports through the engine's Open311 API, and an operator desk dispatching,
//! resolving and closing a share of them through the operator API, so that the demo's report
//! KPIs move.

use crate::citizens::{Citizens, PlannedReport};
use crate::rng::Rng;
use ioc_ingest::Areas;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Reports in one `report-burst` cluster.
const BURST_SIZE: usize = 6;

/// Wall-clock time between two `report-burst` clusters.
const BURST_EVERY: Duration = Duration::from_secs(600);

/// Where the simulator posts reports and how its operators behave.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportTarget {
    /// The engine's HTTP base, `http://host:port`.
    pub base: String,
    /// An Open311 API key the engine accepts.
    pub api_key: String,
    /// An operator token; without one, reports are posted but nobody handles them.
    pub operator_token: Option<String>,
    /// Reports posted per minute (wall clock).
    pub per_min: f64,
    /// Shortest and longest wait between two steps of the desk on one report.
    pub desk_delay: (Duration, Duration),
}

impl ReportTarget {
    /// A target at `base` with `api_key`: 12 reports a minute, desk steps 10–60 s apart.
    pub fn new(base: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            api_key: api_key.into(),
            operator_token: None,
            per_min: 12.0,
            desk_delay: (Duration::from_secs(10), Duration::from_secs(60)),
        }
    }
}

/// What the citizens and the desk did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSummary {
    /// Reports the engine accepted (201).
    pub posted: u64,
    /// Reports the engine refused (4xx) or that could not be sent.
    pub failed: u64,
    /// Operator changes the engine accepted.
    pub operator_actions: u64,
    /// Reports the desk resolved.
    pub resolved: u64,
}

/// The agency a category is dispatched to.
fn agency(code: &str) -> &'static str {
    match code {
        "flooding" => "Công ty TNHH MTV Thoát nước Hà Nội",
        "environment" => "Công ty Môi trường đô thị Hà Nội (URENCO)",
        "traffic" => "Sở Xây dựng Hà Nội",
        "utilities" => "EVN Hà Nội",
        "urban_order" => "Đội Quản lý trật tự đô thị",
        "security" => "Công an thành phố Hà Nội",
        "public_services" => "Trung tâm Phục vụ hành chính công",
        "health" => "Sở Y tế Hà Nội",
        _ => "Sở Giáo dục và Đào tạo Hà Nội",
    }
}

/// One report on the desk and its next step.
struct Ticket {
    id: String,
    code: &'static str,
    steps: Vec<(&'static str, serde_json::Value)>,
    due: Instant,
}

struct Reporter {
    target: ReportTarget,
    http: reqwest::Client,
    desk_rng: Rng,
    device: String,
    nonce: i64,
    sent: u64,
    summary: ReportSummary,
}

impl Reporter {
    async fn post(&mut self, report: &PlannedReport) -> Option<String> {
        self.sent += 1;
        let client_id = format!("{}-{}", self.nonce, self.sent);
        let lat = report.lat.to_string();
        let lon = report.lon.to_string();
        let depth = report.depth_cm.map(|d| d.to_string());
        let mut form = vec![
            ("api_key", self.target.api_key.as_str()),
            ("service_code", report.service_code),
            ("lat", &lat),
            ("long", &lon),
            ("address_string", &report.address),
            ("description", &report.description),
            ("device_id", &self.device),
            ("client_request_id", &client_id),
        ];
        if let Some(depth) = &depth {
            form.push(("attribute[depth_cm]", depth));
        }
        let url = format!("{}/open311/v2/requests.json", self.target.base);
        // One retry on a transport error: the client id makes it idempotent.
        for _ in 0..2 {
            match self.http.post(&url).form(&form).send().await {
                Ok(response) if response.status().as_u16() == 201 => {
                    let body: serde_json::Value = response.json().await.ok()?;
                    self.summary.posted += 1;
                    return body[0]["service_request_id"].as_str().map(str::to_string);
                }
                Ok(response) => {
                    tracing::warn!(status = %response.status(), "report refused");
                    break;
                }
                Err(error) => tracing::debug!(%error, "report not sent; retrying once"),
            }
        }
        self.summary.failed += 1;
        None
    }

    fn delay(&mut self) -> Duration {
        let (low, high) = self.target.desk_delay;
        Duration::from_secs_f64(
            self.desk_rng
                .range(low.as_secs_f64(), high.as_secs_f64().max(low.as_secs_f64())),
        )
    }

    /// The steps an operator will take on a new report.
    fn plan(&mut self, id: String, code: &'static str) -> Ticket {
        use serde_json::json;
        let rng = &mut self.desk_rng;
        let mut steps = Vec::new();
        if rng.chance(0.05) {
            steps.push((
                "status",
                json!({"status": "rejected", "note": "Không thuộc thẩm quyền giải quyết"}),
            ));
        } else if rng.chance(0.03) {
            steps.push((
                "status",
                json!({"status": "duplicate", "note": "Trùng phản ánh đã tiếp nhận"}),
            ));
        } else {
            steps.push((
                "assign",
                json!({"agency": agency(code), "note": "Đã chuyển đơn vị xử lý"}),
            ));
            if rng.chance(0.85) {
                steps.push(("status", json!({"status": "in_progress"})));
                if rng.chance(0.9) {
                    steps.push((
                        "status",
                        json!({"status": "resolved", "note": "Đã xử lý xong"}),
                    ));
                    if rng.chance(0.6) {
                        let rating = 1 + rng.weighted(&[0.05, 0.07, 0.18, 0.35, 0.35]);
                        steps.push(("rate", json!({"rating": rating})));
                    }
                }
            }
        }
        steps.reverse();
        let due = Instant::now() + self.delay();
        Ticket {
            id,
            code,
            steps,
            due,
        }
    }

    /// Takes the ticket's next step; `false` once it has none left.
    async fn work(&mut self, ticket: &mut Ticket) -> bool {
        let Some(token) = self.target.operator_token.clone() else {
            return false;
        };
        let Some((action, body)) = ticket.steps.pop() else {
            return false;
        };
        let url = format!("{}/api/reports/{}/{action}", self.target.base, ticket.id);
        match self
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                self.summary.operator_actions += 1;
                if body["status"] == "resolved" {
                    self.summary.resolved += 1;
                }
            }
            Ok(response) => {
                tracing::warn!(status = %response.status(), action, code = ticket.code, "operator change refused");
                return false;
            }
            Err(error) => {
                tracing::debug!(%error, "operator change not sent");
                return false;
            }
        }
        ticket.due = Instant::now() + self.delay();
        !ticket.steps.is_empty()
    }
}

/// Posts reports at `target.per_min` (with `burst`, a cluster at once and every ten minutes)
/// and works the desk until `stop` resolves.
pub(crate) async fn play(
    target: ReportTarget,
    seed: u64,
    areas: Areas,
    burst: bool,
    stop: impl Future<Output = ()>,
) -> ReportSummary {
    let mut citizens = Citizens::new(seed, areas);
    let mut reporter = Reporter {
        http: reqwest::Client::new(),
        desk_rng: Rng::derive(seed, "desk"),
        device: format!("ioc-sim-{seed}"),
        nonce: ioc_ingest::event::now_ms(),
        sent: 0,
        summary: ReportSummary::default(),
        target,
    };
    let every = Duration::from_secs_f64(60.0 / reporter.target.per_min.clamp(0.01, 60_000.0));
    let mut desk: Vec<Ticket> = Vec::new();
    let mut next_post = Instant::now();
    let mut next_burst = burst.then_some(next_post);
    tokio::pin!(stop);
    loop {
        let now = Instant::now();
        let burst_due = next_burst.is_some_and(|at| now >= at);
        if now >= next_post || burst_due {
            let batch: Vec<PlannedReport> = if burst_due {
                next_burst = Some(now + BURST_EVERY);
                citizens.burst(BURST_SIZE)
            } else {
                next_post += every;
                vec![citizens.next_report()]
            };
            for report in batch {
                if let Some(id) = reporter.post(&report).await {
                    let ticket = reporter.plan(id, report.service_code);
                    desk.push(ticket);
                }
            }
        }
        let mut index = 0;
        while index < desk.len() {
            if desk[index].due <= Instant::now() {
                let mut ticket = desk.swap_remove(index);
                if reporter.work(&mut ticket).await {
                    desk.push(ticket);
                }
            } else {
                index += 1;
            }
        }
        let wake = desk
            .iter()
            .map(|t| t.due)
            .chain(next_burst)
            .fold(next_post, Instant::min);
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep_until(wake.max(Instant::now() + Duration::from_millis(5))) => {}
        }
    }
    reporter.summary
}
