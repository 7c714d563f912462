//! The simulator as a citizen app and an operator desk: what it says it posted and resolved is
//! exactly what the engine's report KPIs show, and `report-burst` puts a cluster on the map.

use ioc_sim::{MqttTarget, ReportTarget, Scenario, SimConfig};
use ioc_tests::{Engine, EngineOptions};
use std::time::Duration;

const KEY: &str = "sim-app";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_citizens_and_desk_move_the_report_kpis() {
    let engine =
        Engine::start(EngineOptions::new("o311-sim").with_env("IOC_OPEN311_API_KEYS", KEY)).await;
    let (host, port) = engine.options.broker.address();
    let mut target = ReportTarget::new(engine.url(""), KEY);
    target.operator_token = Some(ioc_tests::engine::mint(&engine.data_dir, "operator"));
    target.per_min = 240.0;
    target.desk_delay = (Duration::from_millis(20), Duration::from_millis(100));
    let config = SimConfig {
        mqtt: MqttTarget::new(host, port),
        topic_root: engine.options.topic_root.clone(),
        rate: 50.0,
        duration: Duration::from_secs(4),
        seed: 3,
        qos: 1,
        scenarios: vec![Scenario::ReportBurst],
        reports: Some(target),
        ..SimConfig::default()
    };
    let summary = ioc_sim::run(config, std::future::pending())
        .await
        .expect("simulator run");
    let reports = &summary.reports;
    assert!(reports.posted >= 6 + 10, "{reports:?}");
    assert_eq!(reports.failed, 0);
    assert!(
        reports.resolved >= 1 && reports.operator_actions > reports.resolved,
        "{reports:?}"
    );

    let kpi = engine.get_json("/api/views/kpi").await;
    let city = &kpi["city"]["reports"];
    assert_eq!(city["received"], reports.posted);
    assert_eq!(city["resolved"], reports.resolved);
    assert!(kpi["agencies"].as_array().is_some_and(|a| !a.is_empty()));

    // The burst: at least six flooding reports within 300 m of each other.
    let flooding = engine
        .get_json("/api/views/reports?status=all&service_code=flooding")
        .await;
    let points: Vec<(f64, f64)> = flooding["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| Some((r["lat"].as_f64()?, r["long"].as_f64()?)))
        .collect();
    let clustered = points.iter().any(|(lat, lon)| {
        points
            .iter()
            .filter(|(la, lo)| {
                let dy = (la - lat) * 111_000.0;
                let dx = (lo - lon) * 111_000.0 * lat.to_radians().cos();
                (dx * dx + dy * dy).sqrt() <= 300.0
            })
            .count()
            >= 6
    });
    assert!(clustered, "no cluster of six flooding reports: {points:?}");
    let text = flooding["items"][0]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !text.is_empty() && !text.is_ascii(),
        "Vietnamese description expected: {text}"
    );
}
