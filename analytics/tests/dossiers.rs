//! Dossier KPIs and the ranking through the analytics engine: configured targets and weights,
//! the environment term from the area's AQI, and replay in other batch sizes.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::{Analytics, AnalyticsConfig, ViewRequest};
use ioc_ingest::{Areas, Event, Kind};
use serde_json::{Value, json};
use std::sync::Arc;

const T0: i64 = 1_795_338_000_000; // 2026-11-22T09:00:00Z

fn event(n: i64, kind: Kind, area: &str, values: Value) -> Event {
    Event {
        id: format!("e{n}"),
        source: format!("src-{area}-{kind}"),
        kind,
        area: area.into(),
        ts_ms: T0 + n * 1_000,
        lat: None,
        lon: None,
        values: values.as_object().cloned().unwrap_or_default().into(),
    }
}

fn dossier(n: i64, area: &str, channel: &str, stage: &str, on_time: bool) -> Event {
    event(
        n,
        Kind::Dossier,
        area,
        json!({"service": "cấp phép", "channel": channel, "level": 4, "stage": stage,
            "on_time": on_time}),
    )
}

/// dong-da: 2 received (1 online), 2 resolved on time; long-bien: 1 received online, 1
/// resolved late, plus PM2.5 readings for an AQI.
fn journal() -> Vec<Event> {
    vec![
        dossier(1, "dong-da", "online", "received", false),
        dossier(2, "dong-da", "offline", "received", false),
        dossier(3, "long-bien", "online", "received", false),
        dossier(4, "dong-da", "offline", "resolved", true),
        dossier(5, "dong-da", "offline", "resolved", true),
        dossier(6, "long-bien", "online", "resolved", false),
        event(
            7,
            Kind::AirQuality,
            "long-bien",
            json!({"pm25": 20.0, "pm10": 30.0}),
        ),
        event(
            8,
            Kind::AirQuality,
            "long-bien",
            json!({"pm25": 22.0, "pm10": 32.0}),
        ),
    ]
}

fn config() -> AnalyticsConfig {
    serde_json::from_value(json!({
        "dossier_targets": {"online_pct": 60, "on_time_pct": 100},
        "ranking_weights": {"report_on_time": 1, "report_satisfaction": 1, "dossier_on_time": 2,
            "dossier_online": 1, "dossier_level4": 0, "environment": 1},
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn view(analytics: &Analytics, name: &str) -> Value {
    let request = ViewRequest::parse(name, None, None, None).unwrap_or_else(|e| panic!("{e}"));
    analytics
        .view(&request, T0)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn line<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key] == id))
        .unwrap_or(&Value::Null)
}

#[test]
fn configured_targets_and_weights_rank_the_areas() {
    let analytics = Analytics::new(Arc::new(Areas::hanoi()), config());
    analytics.apply(&journal(), None).unwrap_or_default();
    let kpi = view(&analytics, "kpi");
    let dong_da = &line(&kpi["areas"], "id", "dong-da")["dossiers"];
    assert_eq!(dong_da["online_pct"], json!(50.0));
    assert_eq!(dong_da["on_time_pct"], json!(100.0));
    assert_eq!(
        dong_da["meets_target"],
        json!({"online_pct": false, "level4_pct": true, "on_time_pct": true})
    );
    // dong-da: (2·100 + 1·50) ÷ 3 = 83.33 (no AQI, no reports).
    let ranked = &kpi["ranking"];
    assert_eq!(line(ranked, "area", "dong-da")["score"], json!(83.33));
    assert_eq!(line(ranked, "area", "dong-da")["rank"], json!(1));
    // long-bien: (2·0 + 1·100 + 1·env) ÷ 4, env = 100 − min(AQI, 100).
    let overview = view(&analytics, "overview");
    let aqi = line(&overview["areas"], "id", "long-bien")["aqi"].as_f64();
    let long_bien = line(ranked, "area", "long-bien");
    match aqi {
        Some(aqi) => {
            let env = 100.0 - aqi.min(100.0);
            assert_eq!(long_bien["terms"]["environment"], json!(env));
            let score = ((100.0 + env) / 4.0 * 100.0).round() / 100.0;
            assert_eq!(long_bien["score"], json!(score));
        }
        None => assert_eq!(long_bien["score"], json!(50.0)),
    }
    assert_eq!(long_bien["rank"], json!(2));
    assert_eq!(line(&overview["areas"], "id", "dong-da")["rank"], json!(1));
    assert_eq!(
        line(&overview["areas"], "id", "long-bien")["rank"],
        json!(2)
    );
    assert_eq!(
        line(&overview["areas"], "id", "ba-dinh")["rank"],
        Value::Null
    );
    // City: online 2/3, on time 2/3.
    assert_eq!(overview["kpi"]["dossiers_online_pct"], json!(66.67));
    assert_eq!(overview["kpi"]["dossiers_on_time_pct"], json!(66.67));
    assert_eq!(kpi["targets"]["online_pct"], json!(60.0));
}

#[test]
fn replay_one_event_at_a_time_gives_the_same_kpis_and_ranks() {
    let whole = Analytics::new(Arc::new(Areas::hanoi()), config());
    whole.apply(&journal(), None).unwrap_or_default();
    let pieces = Analytics::new(Arc::new(Areas::hanoi()), config());
    for event in journal() {
        pieces.apply(&[event], None).unwrap_or_default();
    }
    assert_eq!(view(&whole, "kpi"), view(&pieces, "kpi"));
    let overview = view(&whole, "overview");
    assert_eq!(overview["kpi"], view(&pieces, "overview")["kpi"]);
    assert_eq!(overview["areas"], view(&pieces, "overview")["areas"]);
}
