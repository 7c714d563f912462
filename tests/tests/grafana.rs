//! The Grafana dashboard (`deploy/grafana/ioc.json`) against a real engine: one event per
//! payload format and one refused message go in over MQTT, then every metric name that any
//! panel or template variable queries must be a sample in `GET /metrics`, the new ingest
//! metrics must hold exactly what was sent, and every metric follows Prometheus naming
//! (counters end in `_total`, histograms carry a unit). See docs/operations.md.

use ioc_tests::engine::count;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

fn dashboard() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/ioc.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every PromQL expression of the dashboard: panel targets and template variable queries.
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("every target has an expr");
            found.push(expr.to_string());
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(query) = variable["query"]["query"].as_str() {
            found.push(query.to_string());
        }
    }
    found
}

/// The engine's metric names in an expression (`ioc_…` identifiers outside quoted label
/// values).
fn metric_names(expr: &str) -> Vec<String> {
    let unquoted: String = expr.split('"').step_by(2).collect::<Vec<_>>().join(" ");
    let mut names = Vec::new();
    let mut rest = unquoted.as_str();
    while let Some(start) = rest.find("ioc_") {
        let preceded_by_word = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded_by_word {
            names.push(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// `/metrics` as sample name → lines, and the `# TYPE` of every family.
struct Exposition {
    samples: BTreeMap<String, Vec<(String, f64)>>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    fn parse(text: &str) -> Exposition {
        let mut samples: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(declaration) = line.strip_prefix("# TYPE ") {
                let (name, kind) = declaration.split_once(' ').expect("TYPE name kind");
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample value");
            let name = series.split('{').next().unwrap_or(series);
            let value: f64 = value.parse().expect("numeric sample");
            samples
                .entry(name.to_string())
                .or_default()
                .push((series.to_string(), value));
        }
        Exposition { samples, types }
    }

    /// The value of one exact series (`name{labels}` as written).
    fn value(&self, series: &str) -> Option<f64> {
        let name = series.split('{').next().unwrap_or(series);
        self.samples
            .get(name)?
            .iter()
            .find(|(written, _)| written == series)
            .map(|(_, value)| *value)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_query_names_a_metric_the_engine_exports() {
    let engine = Engine::start(EngineOptions::new("grafana")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now();
    let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let native = json!({"source": "hn-noise-g1", "ts": ts, "values": {"laeq": 61.5}});
    let senml = json!([{"bn": "hn-noise-g2:", "bt": now.timestamp(), "n": "laeq", "v": 58}]);
    let zoneless = now
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("+07:00"))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let ngsi = json!({"id": "urn:ngsi-ld:NoiseLevelObserved:hn-noise-g3",
        "type": "NoiseLevelObserved", "dateObserved": zoneless, "LAeq": 64});
    for (source, payload) in [("g1", native), ("g2", senml), ("g3", ngsi)] {
        let topic = format!("{root}/hoan-kiem/noise/{source}");
        publisher.publish(&topic, payload.to_string()).await;
    }
    publisher
        .publish(&format!("{root}/hoan-kiem/noise/g4"), "{\"ts\": ")
        .await;
    publisher.wait_acked().await;
    let overview = engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"] == 3 && o["rejected_total"] == 1
        })
        .await;
    assert_eq!(overview["events_total"], 3, "{overview}");
    assert_eq!(count(&overview, "hoan-kiem", "noise"), 3);

    let text = reqwest::get(engine.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let exposition = Exposition::parse(&text);

    // What was sent, exactly.
    for format in ["native", "senml", "ngsi"] {
        let series = format!("ioc_ingest_events_total{{kind=\"noise\",format=\"{format}\"}}");
        assert_eq!(exposition.value(&series), Some(1.0), "{series}");
    }
    let ingested: f64 = exposition.samples["ioc_ingest_events_total"]
        .iter()
        .map(|(_, value)| value)
        .sum();
    assert_eq!(ingested, 3.0);
    assert_eq!(exposition.value("ioc_zoneless_timestamps_total"), Some(1.0));
    assert_eq!(
        exposition.value("ioc_rejected_total{reason=\"malformed_json\"}"),
        Some(1.0)
    );
    let commits = exposition
        .value("ioc_journal_commit_seconds_count")
        .expect("commit count");
    assert!(commits >= 1.0, "at least one commit, got {commits}");
    assert_eq!(
        exposition.value("ioc_journal_commit_seconds_bucket{le=\"+Inf\"}"),
        Some(commits)
    );
    let newest = exposition
        .value("ioc_newest_event_timestamp_seconds")
        .expect("newest event time");
    // The native event carries milliseconds; SenML and the zone-less time whole seconds.
    assert_eq!(newest, now.timestamp_millis() as f64 / 1000.0);
    for state in ["active", "acknowledged", "resolved"] {
        let series = format!("ioc_alerts{{state=\"{state}\"}}");
        assert!(exposition.value(&series).is_some(), "{series}");
    }
    assert_eq!(exposition.value("ioc_mqtt_connected"), Some(1.0));

    // Every name a panel or variable queries exists as a sample.
    let dashboard = dashboard();
    let exprs = expressions(&dashboard);
    assert!(exprs.len() >= 15, "the dashboard has its panels: {exprs:?}");
    let mut queried = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr} queries no engine metric");
        queried.extend(names);
    }
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| !exposition.samples.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "queried but not exported: {missing:?}");
    for wanted in [
        "ioc_ingest_events_total",
        "ioc_rejected_total",
        "ioc_newest_event_timestamp_seconds",
        "ioc_journal_commit_seconds_bucket",
        "ioc_ws_connections",
        "ioc_ws_slow_client_resets_total",
        "ioc_alerts",
        "ioc_mqtt_connected",
    ] {
        assert!(queried.contains(wanted), "the dashboard shows {wanted}");
    }

    // Prometheus naming conventions.
    for (name, kind) in &exposition.types {
        assert!(name.starts_with("ioc_"), "{name}");
        match kind.as_str() {
            "counter" => assert!(name.ends_with("_total"), "counter {name} ends in _total"),
            "histogram" => assert!(name.ends_with("_seconds"), "histogram {name} has a unit"),
            "gauge" => assert!(!name.ends_with("_total"), "gauge {name} is not a total"),
            other => panic!("{name} has type {other}"),
        }
    }
}

#[test]
fn the_dashboard_is_well_formed_for_grafana() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "ioc-engine");
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let id = panel["id"].as_u64().expect("numeric panel id");
        assert!(ids.insert(id), "panel id {id} is unique");
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
        assert!(
            matches!((x, w), (Some(x), Some(w)) if x + w <= 24),
            "panel {id} fits the 24-column grid"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "panel {id}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {id} queries something");
        let refs: BTreeSet<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
        assert_eq!(refs.len(), targets.len(), "panel {id} refIds are distinct");
    }
    assert_eq!(
        metric_names("sum by (le) (rate(ioc_journal_commit_seconds_bucket{x=\"ioc_no\"}[5m]))"),
        vec!["ioc_journal_commit_seconds_bucket"]
    );
}
