//! Open data from the analytics state: report cells by local day with suppression, hourly
//! NowCast and daily indices of air quality, dossier indicators, and query checks — each
//! against values computed here by hand.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::open_data::{
    Dataset, Every, OpenDataError, OpenDataQuery, Publication, catalog, period,
};
use ioc_analytics::{Analytics, AnalyticsConfig};
use ioc_ingest::report::update::{Change, Update};
use ioc_ingest::report::{self, CheckedReport};
use ioc_ingest::{Areas, Event, Kind};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const T0: i64 = 1_795_338_000_000; // 2026-11-22T09:00:00Z = 16:00 in Hanoi
const HOUR: i64 = 3_600_000;

fn analytics() -> Analytics {
    Analytics::new(Arc::new(Areas::hanoi()), AnalyticsConfig::default())
}

fn report_event(n: u32, area: &str, ts: i64) -> Event {
    let mut values = Map::new();
    values.insert("service_code".into(), json!("flooding"));
    values.insert("description".into(), json!("Nước ngập sâu trước nhà tôi"));
    values.insert("phone".into(), json!("0912345678"));
    let checked = CheckedReport {
        area: area.into(),
        lat: Some(21.03),
        lon: Some(105.85),
        values,
    };
    report::into_event(checked, format!("r{n}"), "app".into(), ts)
}

fn update(n: u32, change: Change, ts: i64) -> Event {
    Update {
        report_id: report::request_id(&format!("r{n}")),
        change,
        by: "op".into(),
        note: None,
    }
    .into_event(format!("u{n}-{ts}"), "hoan-kiem".into(), ts)
}

fn reading(kind: Kind, area: &str, source: &str, ts: i64, values: Value) -> Event {
    Event {
        id: format!("{source}-{ts}-{values}"),
        source: source.into(),
        kind,
        area: area.into(),
        ts_ms: ts,
        lat: None,
        lon: None,
        values: values.as_object().cloned().unwrap_or_default().into(),
    }
}

fn query(dataset: Dataset, from: &str, to: &str, area: Option<&str>, every: &str) -> OpenDataQuery {
    OpenDataQuery::parse(
        dataset,
        Some(from),
        Some(to),
        area,
        Some(every),
        |a| Areas::hanoi().get(a).is_some(),
        T0,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn rows(analytics: &Analytics, dataset: Dataset, query: &OpenDataQuery, min: u64) -> Vec<Value> {
    analytics
        .open_data(
            dataset,
            query,
            Publication {
                min_cell_reports: min,
            },
            T0 + 48 * HOUR,
        )
        .json_rows()
}

#[test]
fn report_cells_follow_local_days_and_small_cells_are_suppressed() {
    let analytics = analytics();
    // Three reports on the 22nd (local), two at 00:00 and 01:00 local on the 23rd.
    let mut events: Vec<Event> = (1..=3).map(|n| report_event(n, "hoan-kiem", T0)).collect();
    events.push(report_event(4, "hoan-kiem", T0 + 8 * HOUR));
    events.push(report_event(5, "hoan-kiem", T0 + 9 * HOUR));
    for (n, hours, rating) in [(1, 2, 5), (2, 6, 3), (3, 3, 4)] {
        events.push(update(
            n,
            Change::Assign {
                agency: "Thoát nước".into(),
            },
            T0 + HOUR,
        ));
        events.push(update(
            n,
            Change::Status {
                status: "resolved".into(),
            },
            T0 + hours * HOUR,
        ));
        events.push(update(n, Change::Rate { rating }, T0 + 7 * HOUR));
    }
    analytics.apply(&events, None).unwrap_or_default();

    let by_day = query(
        Dataset::ReportKpis,
        "2026-11-22",
        "2026-11-24",
        Some("hoan-kiem"),
        "day",
    );
    let got = rows(&analytics, Dataset::ReportKpis, &by_day, 3);
    assert_eq!(
        got,
        vec![
            // 3 reports: at the threshold, published. Resolved after 2, 6, 3 h (SLA 4 h).
            json!({"area": "hoan-kiem", "agency": "all", "period_start": "2026-11-22T00:00:00+07:00",
                "received": 3, "resolved": 3, "on_time_pct": 66.67, "median_hours_to_resolve": 3.0,
                "avg_rating": 4.0, "rated_4plus_pct": 66.67, "suppressed": false}),
            json!({"area": "hoan-kiem", "agency": "Thoát nước", "period_start": "2026-11-22T00:00:00+07:00",
                "received": 3, "resolved": 3, "on_time_pct": 66.67, "median_hours_to_resolve": 3.0,
                "avg_rating": 4.0, "rated_4plus_pct": 66.67, "suppressed": false}),
            // 2 reports: below the threshold.
            json!({"area": "hoan-kiem", "agency": "all", "period_start": "2026-11-23T00:00:00+07:00",
                "received": null, "resolved": null, "on_time_pct": null, "median_hours_to_resolve": null,
                "avg_rating": null, "rated_4plus_pct": null, "suppressed": true}),
        ]
    );
    // A month holds all five; the city row equals the area's.
    let month = query(
        Dataset::ReportKpis,
        "2026-11-01",
        "2026-12-01",
        None,
        "month",
    );
    let got = rows(&analytics, Dataset::ReportKpis, &month, 5);
    let all: Vec<&Value> = got.iter().filter(|r| r["agency"] == "all").collect();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0]["area"].clone(), all[0]["received"].clone()),
        (json!("city"), json!(5))
    );
    assert_eq!(all[1]["area"], "hoan-kiem");
    assert_eq!(all[0]["period_start"], "2026-11-01T00:00:00+07:00");
    let text = serde_json::to_string(&got).unwrap_or_default();
    assert!(!text.contains("ngập") && !text.contains("0912345678"));
}

#[test]
fn air_quality_uses_the_nowcast_hourly_and_the_means_daily() {
    let analytics = analytics();
    let aq = |ts, pm25: f64| {
        reading(
            Kind::AirQuality,
            "ba-dinh",
            "aq-1",
            ts,
            json!({"pm25": pm25}),
        )
    };
    // Hour 09Z: PM2.5 10; hour 10Z: 40. NowCast at 10Z: w = 0.5, (40 + 5) / 1.5 = 30 → 60.
    analytics
        .apply(&[aq(T0 + 60_000, 10.0), aq(T0 + HOUR + 60_000, 40.0)], None)
        .unwrap_or_default();
    let hourly = query(
        Dataset::AirQuality,
        "2026-11-22T09:00:00Z",
        "2026-11-22T11:00:00Z",
        None,
        "hour",
    );
    let got = rows(&analytics, Dataset::AirQuality, &hourly, 5);
    let aqi: Vec<(Value, Value, Value, Value)> = got
        .iter()
        .map(|r| {
            (
                r["area"].clone(),
                r["station"].clone(),
                r["aqi"].clone(),
                r["pm25"].clone(),
            )
        })
        .collect();
    assert_eq!(
        aqi,
        vec![
            (json!("city"), json!("all"), json!(20), json!(10.0)),
            (json!("ba-dinh"), json!("all"), json!(20), json!(10.0)),
            (json!("ba-dinh"), json!("aq-1"), json!(20), json!(10.0)),
            (json!("city"), json!("all"), json!(60), json!(40.0)),
            (json!("ba-dinh"), json!("all"), json!(60), json!(40.0)),
            (json!("ba-dinh"), json!("aq-1"), json!(60), json!(40.0)),
        ]
    );
    assert_eq!(got[3]["period_start"], "2026-11-22T17:00:00+07:00");
    assert_eq!(got[3]["band"], "moderate");
    // The day: mean 25 → 50, good.
    let daily = query(
        Dataset::AirQuality,
        "2026-11-22",
        "2026-11-23",
        Some("ba-dinh"),
        "day",
    );
    let got = rows(&analytics, Dataset::AirQuality, &daily, 5);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (
            got[0]["aqi"].clone(),
            got[0]["band"].clone(),
            got[0]["pm25"].clone()
        ),
        (json!(50), json!("good"), json!(25.0))
    );
}

#[test]
fn dossier_indicators_per_period_against_targets() {
    let analytics = analytics();
    let dossier =
        |n: i64, values: Value| reading(Kind::Dossier, "dong-da", "dvc", T0 + n * 1000, values);
    analytics
        .apply(
            &[
                dossier(
                    1,
                    json!({"stage": "received", "channel": "online", "level": 4}),
                ),
                dossier(
                    2,
                    json!({"stage": "received", "channel": "offline", "level": 2}),
                ),
                dossier(3, json!({"stage": "resolved", "on_time": true})),
            ],
            None,
        )
        .unwrap_or_default();
    let day = query(
        Dataset::DossierKpis,
        "2026-11-22",
        "2026-11-23",
        Some("dong-da"),
        "day",
    );
    let got = rows(&analytics, Dataset::DossierKpis, &day, 5);
    assert_eq!(
        got,
        vec![
            json!({"area": "dong-da", "period_start": "2026-11-22T00:00:00+07:00", "received": 2,
            "received_online": 1, "received_level4": 1, "resolved": 1, "resolved_on_time": 1,
            "online_pct": 50.0, "level4_pct": 50.0, "on_time_pct": 100.0, "online_target_pct": 20.0,
            "level4_target_pct": 30.0, "on_time_target_pct": 95.0, "online_meets_target": true,
            "level4_meets_target": true, "on_time_meets_target": true})
        ]
    );
}

#[test]
fn queries_are_checked_and_defaults_align_to_periods() {
    let parse = |from: Option<&str>, to: Option<&str>, area: Option<&str>, every: Option<&str>| {
        OpenDataQuery::parse(
            Dataset::ReportKpis,
            from,
            to,
            area,
            every,
            |a| a == "ba-dinh",
            T0,
        )
    };
    let bad =
        |r: Result<OpenDataQuery, OpenDataError>| matches!(r, Err(OpenDataError::BadRequest(_)));
    assert!(bad(parse(None, None, None, Some("week"))));
    assert!(bad(parse(None, None, Some("atlantis"), None)));
    assert!(bad(parse(Some("soon"), None, None, None)));
    assert!(bad(parse(
        Some("2026-11-23"),
        Some("2026-11-22"),
        None,
        None
    )));
    assert!(bad(parse(Some("2026-01-01"), None, None, Some("hour"))));
    let default = parse(None, None, Some("city"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(default.every, Every::Day);
    assert_eq!(
        period::format_local(default.from_ms),
        "2026-10-24T00:00:00+07:00"
    );
    assert_eq!(default.to_ms, T0);
    assert_eq!(default.area.as_deref(), Some("city"));
}

#[test]
fn the_catalog_lists_every_dataset_with_its_fields() {
    let catalog = catalog();
    let datasets = catalog["datasets"].as_array().cloned().unwrap_or_default();
    assert_eq!(datasets.len(), Dataset::ALL.len());
    for (entry, dataset) in datasets.iter().zip(Dataset::ALL) {
        assert_eq!(entry["id"], dataset.id());
        let names: Vec<&str> = entry["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["name"].as_str()).collect())
            .unwrap_or_default();
        let expected: Vec<&str> = dataset.fields().iter().map(|f| f.name).collect();
        assert_eq!(names, expected);
        assert_eq!(&names[..1], ["area"]);
    }
}
