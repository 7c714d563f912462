//! The bad-input corpus (`tests/corpus/`, described in its `manifest.toml`) against a real
//! engine: every case over its channel (MQTT, Open311 and operator HTTP, websocket frames),
//! each followed by valid traffic. Checks each case's outcome, that the dead-letter holds
//! exactly the refused cases under their reasons, that the per-reason counters of
//! `/api/deadletter` and `/metrics` equal the number of refused cases, that the valid traffic
//! (and the hostile-but-valid cases) are counted exactly, and that the engine stays healthy.

use futures_util::{SinkExt, StreamExt};
use ioc_tests::engine::{count, mint};
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "corpus-app";

/// One `[[case]]` of the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: Option<String>,
    generated: Option<String>,
    channel: String,
    about: String,
    topic: Option<String>,
    method: Option<String>,
    path: Option<String>,
    content_type: Option<String>,
    token: Option<String>,
    #[serde(default)]
    binary: bool,
    bytes: Option<usize>,
    fill: Option<String>,
    reason: Option<String>,
    status: Option<u16>,
    ws: Option<String>,
    #[serde(default)]
    events: u64,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

impl Case {
    fn name(&self) -> String {
        let name = self.generated.clone().unwrap_or_else(|| {
            let file = self.file.clone().unwrap_or_default();
            file.rsplit_once('.')
                .map_or(file.clone(), |(stem, _)| stem.to_string())
        });
        name.replace('/', "-")
    }

    /// The input bytes with the substitutions made.
    fn bytes(&self, subst: &Substitutions) -> Vec<u8> {
        match (&self.file, &self.generated) {
            (Some(file), _) => {
                let raw = std::fs::read(corpus_dir().join(file))
                    .unwrap_or_else(|error| panic!("corpus file {file}: {error}"));
                subst.apply(&raw)
            }
            (None, Some(_)) => {
                let fill = self.fill.as_deref().unwrap_or("a").as_bytes().to_vec();
                let size = self.bytes.expect("generated cases give `bytes`");
                fill.iter().copied().cycle().take(size).collect()
            }
            (None, None) => panic!("case {} has neither file nor generated", self.about),
        }
    }
}

/// The placeholders of the corpus files.
struct Substitutions {
    report: String,
}

impl Substitutions {
    fn apply(&self, raw: &[u8]) -> Vec<u8> {
        let now = chrono::Utc::now();
        let rfc = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let pairs = [
            ("__NOW__", rfc(now - chrono::Duration::seconds(1))),
            ("__FUTURE__", rfc(now + chrono::Duration::hours(1))),
            ("__API_KEY__", KEY.to_string()),
            ("__REPORT__", self.report.clone()),
        ];
        let mut out = raw.to_vec();
        for (from, to) in pairs {
            out = replace_bytes(&out, from.as_bytes(), to.as_bytes());
        }
        out
    }
}

fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one frame and names the answer: an error code, `pong`, `snapshot` or `closed`.
async fn ws_outcome(socket: &mut Socket, payload: Vec<u8>, binary: bool) -> String {
    let message = if binary {
        Message::Binary(payload.into())
    } else {
        match String::from_utf8(payload) {
            Ok(text) => Message::Text(text.into()),
            Err(_) => panic!("a text frame must be UTF-8; mark the case binary"),
        }
    };
    if socket.send(message).await.is_err() {
        return "closed".into();
    }
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), socket.next()).await;
        let frame = match next {
            Err(_) => return "no answer".into(),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return "closed".into(),
            Ok(Some(Ok(Message::Text(text)))) => {
                serde_json::from_str::<Value>(text.as_str()).unwrap_or(Value::Null)
            }
            Ok(Some(Ok(_))) => continue,
        };
        match frame["type"].as_str() {
            Some("update") => continue,
            Some("error") => return frame["code"].as_str().unwrap_or("error").to_string(),
            Some(other) => return other.to_string(),
            None => return format!("unreadable frame {frame}"),
        }
    }
}

/// Whether an error answer is in the endpoint's own format.
fn error_format_ok(path: &str, status: u16, body: &str) -> bool {
    if path.starts_with("/open311/") {
        let route = path.split('?').next().unwrap_or(path);
        if route.ends_with(".xml") {
            return body.contains("<errors>") && body.contains(&format!("<code>{status}</code>"));
        }
        return serde_json::from_str::<Value>(body)
            .is_ok_and(|v| v[0]["code"] == status && v[0]["description"].is_string());
    }
    serde_json::from_str::<Value>(body).is_ok_and(|v| v["error"].is_string())
}

async fn valid_report(http: &reqwest::Client, engine: &Engine, n: usize) -> String {
    let response = http
        .post(engine.url("/open311/v2/requests.json"))
        .form(&[
            ("api_key", KEY),
            ("service_code", "urban_order"),
            ("lat", "21.013"),
            ("long", "105.825"),
            ("description", &format!("Lấn chiếm vỉa hè số {n}")),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 201, "valid report {n}");
    let answer: Value = response.json().await.expect("JSON");
    answer[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_case_gets_its_documented_outcome_and_counts_stay_exact() {
    let text = std::fs::read_to_string(corpus_dir().join("manifest.toml")).expect("manifest");
    let manifest: Manifest = toml::from_str(&text).expect("manifest parses");
    let cases = manifest.case;
    let files = cases.iter().filter(|c| c.file.is_some()).count();
    assert!(files >= 150, "the corpus holds {files} files");

    let engine =
        Engine::start(EngineOptions::new("corpus").with_env("IOC_OPEN311_API_KEYS", KEY)).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let http = reqwest::Client::new();
    let mut tokens = BTreeMap::new();
    for role in ["viewer", "operator", "admin"] {
        tokens.insert(role.to_string(), mint(&engine.data_dir, role));
    }
    let mut forged = tokens["admin"].clone();
    let last = forged.pop().unwrap_or('A');
    forged.push(if last == 'A' { 'B' } else { 'A' });
    tokens.insert("forged".into(), forged);

    let mut valid_reports = 0_u64;
    let report = valid_report(&http, &engine, 0).await;
    valid_reports += 1;
    let subst = Substitutions { report };

    let mut publisher = Publisher::connect(&host, port).await;
    let ws_url = engine.ws_url();
    let mut socket: Socket = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("ws")
        .0;

    let mut valid_mqtt = 0_u64;
    let mut accepted = 0_u64;
    let mut expected_dead: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut expected_reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures = Vec::new();

    for (i, case) in cases.iter().enumerate() {
        let name = case.name();
        let payload = case.bytes(&subst);
        match case.channel.as_str() {
            "mqtt" => {
                let topic_rest = case.topic.as_deref().expect("mqtt cases give a topic");
                let topic = format!("{root}/{}", topic_rest.replace("{case}", &name));
                publisher.publish(&topic, payload).await;
                match (&case.reason, case.events) {
                    (Some(reason), 0) => {
                        *expected_dead.entry((topic, reason.clone())).or_default() += 1;
                        *expected_reasons.entry(reason.clone()).or_default() += 1;
                    }
                    (None, n) if n > 0 => accepted += n,
                    _ => panic!("{name}: give either `reason` or `events`"),
                }
            }
            "http" => {
                let method = case.method.as_deref().unwrap_or("POST");
                let path = String::from_utf8(
                    subst.apply(
                        case.path
                            .as_deref()
                            .expect("http cases give a path")
                            .as_bytes(),
                    ),
                )
                .expect("UTF-8 path");
                let mut headers = Vec::new();
                if let Some(content_type) = &case.content_type {
                    headers.push(format!("Content-Type: {content_type}"));
                }
                if let Some(token) = &case.token {
                    headers.push(format!("Authorization: Bearer {}", tokens[token]));
                }
                let answer =
                    ioc_tests::raw::request(engine.port, method, &path, &headers, &payload).await;
                let expected = case.status.expect("http cases give a status");
                if answer.status != expected {
                    failures.push(format!(
                        "{name}: status {}, expected {expected}: {}",
                        answer.status,
                        answer.body.chars().take(300).collect::<String>()
                    ));
                } else if expected >= 400 && !error_format_ok(&path, expected, &answer.body) {
                    failures.push(format!(
                        "{name}: {expected} without the endpoint's error format: {}",
                        answer.body.chars().take(300).collect::<String>()
                    ));
                } else {
                    accepted += case.events;
                }
                // Valid traffic between the bad requests.
                valid_report(&http, &engine, i + 1).await;
                valid_reports += 1;
            }
            "ws" => {
                let expected = case.ws.as_deref().expect("ws cases give `ws`");
                let got = ws_outcome(&mut socket, payload, case.binary).await;
                if got != expected {
                    failures.push(format!(
                        "{name}: websocket answered {got}, expected {expected}"
                    ));
                }
                if got == "closed" {
                    socket = tokio_tungstenite::connect_async(ws_url.as_str())
                        .await
                        .expect("ws again")
                        .0;
                }
            }
            other => panic!("{name}: unknown channel {other}"),
        }
        // Valid telemetry after every case.
        let body = json!({"id": format!("corpus-valid-{i}"), "source": "dong-da-noise-1",
            "ts": chrono::Utc::now().timestamp_millis() - 1000, "values": {"laeq": 58.0}});
        publisher
            .publish(
                &format!("{root}/dong-da/noise/dong-da-noise-1"),
                body.to_string(),
            )
            .await;
        valid_mqtt += 1;
    }
    publisher.wait_acked().await;

    let refused: u64 = expected_reasons.values().sum();
    let events = valid_mqtt + valid_reports + accepted;
    let overview = engine
        .wait_for(Duration::from_secs(60), |o| {
            o["events_total"].as_u64() == Some(events)
                && o["rejected_total"].as_u64() == Some(refused)
        })
        .await;
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(overview["events_total"].as_u64(), Some(events), "events");
    assert_eq!(
        overview["rejected_total"].as_u64(),
        Some(refused),
        "refusals"
    );
    assert_eq!(count(&overview, "dong-da", "noise"), valid_mqtt);

    // The dead-letter holds every refused case under its reason, nothing else.
    let dead = engine.get_json("/api/deadletter?limit=1000").await;
    let mut listed: BTreeMap<(String, String), u64> = BTreeMap::new();
    for item in dead["items"].as_array().expect("items") {
        let topic = item["topic"].as_str().unwrap_or_default().to_string();
        let reason = item["reason"].as_str().unwrap_or_default().to_string();
        *listed.entry((topic, reason)).or_default() += 1;
    }
    let missing: Vec<_> = expected_dead
        .iter()
        .filter(|(key, n)| listed.get(*key) != Some(*n))
        .map(|((topic, reason), n)| {
            let got: Vec<_> = listed
                .iter()
                .filter(|((t, _), _)| t == topic)
                .map(|((_, r), k)| format!("{r}×{k}"))
                .collect();
            format!("{topic}: expected {reason}×{n}, got {got:?}")
        })
        .collect();
    assert!(missing.is_empty(), "dead-letter:\n{}", missing.join("\n"));
    assert_eq!(listed, expected_dead);

    // Every reason's counter equals the number of cases refused for it, zeros included.
    let metrics = reqwest::get(engine.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for reason in ioc_ingest::Reason::ALL {
        let label = reason.as_str();
        let want = expected_reasons.get(label).copied().unwrap_or(0);
        assert_eq!(
            dead["by_reason"][label].as_u64(),
            Some(want),
            "by_reason {label}"
        );
        assert!(
            metrics.contains(&format!(
                "ioc_rejected_total{{reason=\"{label}\"}} {want}\n"
            )),
            "ioc_rejected_total {label} should be {want}"
        );
    }

    // Still alive and ready, and still answering websockets.
    assert_eq!(engine.status_without_token("/healthz").await, 200);
    assert_eq!(engine.status_without_token("/readyz").await, 200);
    assert_eq!(
        ws_outcome(&mut socket, br#"{"op":"ping"}"#.to_vec(), false).await,
        "pong"
    );
}
