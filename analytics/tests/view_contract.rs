//! The views' JSON against their contract, docs/views.md: every member the doc lists and no
//! other, in the order the engine has always sent them (the order is part of the output:
//! clients and merge patches see it), with values counted again from the events themselves.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{NOW, all_views, city_hour};
use ioc_analytics::{Analytics, AnalyticsConfig};
use ioc_ingest::event::format_ts;
use ioc_ingest::report::update::{Change, Update};
use ioc_ingest::report::{self, request_id};
use ioc_ingest::{Areas, Event, Kind, Reason};
use ioc_sim::citizens::Citizens;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const EVENTS: usize = 20_000;
const REPORTS: usize = 60;
const SEED: u64 = 31;

/// The agencies reports are assigned to, in the order the `kpi` view lists them (by name).
const AGENCIES: [&str; 2] = ["Công ty Môi trường", "Công ty Thoát nước"];

/// The contract the views are checked against.
const VIEWS_DOC: &str = include_str!("../../docs/views.md");

/// Members of the overview, in wire order.
const OVERVIEW: [&str; 12] = [
    "events_total",
    "events_per_sec",
    "late_total",
    "rejected_total",
    "rejected_by_reason",
    "instances",
    "slots",
    "watermark",
    "areas",
    "reports",
    "alerts_active",
    "kpi",
];

/// Members of an area's overview line (and the head of its area view), in wire order.
const AREA_LINE: [&str; 22] = [
    "id",
    "name",
    "counts",
    "aqi",
    "aqi_level",
    "pm25_1h",
    "traffic_speed_5m",
    "congestion",
    "congested_sensors",
    "water_level_max_cm",
    "gauges_alert",
    "gauges_danger",
    "laeq_5m",
    "laeq_1h",
    "noise_limit_db",
    "noise_over_limit",
    "aqi_basis",
    "aqi_daily",
    "reports_open",
    "reports_overdue",
    "alerts_active",
    "rank",
];

/// What the area view adds after its overview line, in wire order.
const AREA_TAIL: [&str; 7] = [
    "aqi_band",
    "sources",
    "series",
    "windows",
    "window_end",
    "reports",
    "alerts",
];

/// Members of a report item, in wire order.
const REPORT_ITEM: [&str; 16] = [
    "id",
    "service_code",
    "status",
    "area",
    "lat",
    "long",
    "description",
    "media_url",
    "address",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "agency",
    "overdue",
    "rating",
    "phone",
];

/// Members of the kpi view, in wire order.
const KPI: [&str; 7] = [
    "city",
    "areas",
    "agencies",
    "ranking",
    "targets",
    "ranking_weights",
    "sla_hours",
];

/// The member names in the first column of the `table`-th table (0-based) under the doc's
/// `## \`section\`` heading.
fn documented(section: &str, table: usize) -> BTreeSet<String> {
    let heading = format!("## `{section}`");
    let start = VIEWS_DOC.find(&heading).expect("the section is documented");
    let body = &VIEWS_DOC[start + heading.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut tables: Vec<Vec<&str>> = Vec::new();
    let mut in_table = false;
    for line in body.lines() {
        if line.starts_with('|') {
            if !in_table {
                tables.push(Vec::new());
            }
            in_table = true;
            tables.last_mut().expect("a table").push(line);
        } else {
            in_table = false;
        }
    }
    // Header and separator rows first; a row's first cell names one or more members.
    tables[table][2..]
        .iter()
        .flat_map(|row| {
            let cell = row.split('|').nth(1).expect("a first cell");
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `REPORTS` citizen reports over the hour before [`NOW`], as the Open311 API journals them,
/// with an operator's changes: every third assigned, every sixth resolved and rated.
fn citizen_reports(areas: &Areas) -> Vec<Event> {
    let mut citizens = Citizens::new(SEED, areas.clone());
    let step = 3_000_000 / REPORTS as i64;
    let mut events = Vec::new();
    for i in 0..REPORTS {
        let planned = citizens.next_report();
        let ts = NOW - 3_600_000 + i as i64 * step;
        let fields = json!({
            "service_code": planned.service_code,
            "lat": planned.lat,
            "long": planned.lon,
            "description": planned.description,
            "address_string": planned.address,
            "email": "dan@example.vn",
            "phone": "0912345678",
            "first_name": "An",
        });
        let checked = report::check(fields.as_object().expect("fields"), areas, None)
            .expect("a valid report");
        let area = checked.area.clone();
        let id = format!("r{i}");
        events.push(report::into_event(
            checked,
            id.clone(),
            "open311".into(),
            ts,
        ));
        let mut change = |what: Change, after_ms: i64| {
            let update = Update {
                report_id: request_id(&id),
                change: what,
                by: "operator".into(),
                note: None,
            };
            events.push(update.into_event(format!("{id}-{after_ms}"), area.clone(), ts + after_ms));
        };
        if i % 3 == 0 {
            let agency = AGENCIES[i / 3 % 2].to_string();
            change(Change::Assign { agency }, 60_000);
        }
        if i % 6 == 0 {
            let status = "resolved".to_string();
            change(Change::Status { status }, 120_000);
            change(Change::Rate { rating: 4 }, 180_000);
        }
    }
    events
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

#[test]
fn views_keep_the_documented_members_in_their_order_with_exact_values() {
    let areas = Arc::new(Areas::hanoi());
    let mut events = city_hour(&areas, SEED, EVENTS);
    events.extend(citizen_reports(&areas));
    // In time order, as the journal would hold them.
    events.sort_by_key(|event| event.ts_ms);
    let analytics = Analytics::new(Arc::clone(&areas), AnalyticsConfig::default());
    // Applied live five seconds before NOW, so the rate meter holds them all.
    analytics.apply(&events, Some(NOW - 5_000)).expect("apply");
    let views: Vec<Value> = all_views(&analytics, &areas)
        .iter()
        .map(|text| serde_json::from_str(text).expect("JSON"))
        .collect();
    let (overview, kpi, alerts, reports) = (&views[0], &views[1], &views[2], &views[3]);

    // overview
    assert_eq!(keys(overview), OVERVIEW);
    assert_eq!(set(&OVERVIEW), documented("overview", 0));
    assert_eq!(overview["events_total"], json!(events.len()));
    assert_eq!(
        overview["events_per_sec"],
        json!((events.len() as f64 / 10.0 * 100.0).round() / 100.0)
    );
    assert_eq!(overview["rejected_total"], json!(0));
    let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(keys(&overview["rejected_by_reason"]), reasons);
    assert!(
        overview["rejected_by_reason"]
            .as_object()
            .expect("an object")
            .values()
            .all(|n| n == &json!(0))
    );
    assert_eq!(
        (&overview["instances"], &overview["slots"]),
        (&json!(1), &json!(1))
    );
    let newest = events.iter().map(|e| e.ts_ms).max().expect("events");
    let lateness = AnalyticsConfig::default().allowed_lateness_ms;
    assert_eq!(overview["watermark"], json!(format_ts(newest - lateness)));
    assert_eq!(overview["alerts_active"], json!(0));
    assert_eq!(
        keys(&overview["kpi"]),
        [
            "dossiers_received",
            "dossiers_resolved",
            "dossiers_online_pct",
            "dossiers_level4_pct",
            "dossiers_on_time_pct",
            "meets_target",
            "targets",
        ]
    );
    assert_eq!(
        overview["kpi"]["targets"],
        json!({"online_pct": 20.0, "level4_pct": 30.0, "on_time_pct": 95.0})
    );
    let received = events
        .iter()
        .filter(|e| e.kind == Kind::Dossier && e.text("stage") == Some("received"))
        .count();
    assert!(received > 0, "the simulated hour holds dossiers");
    assert_eq!(overview["kpi"]["dossiers_received"], json!(received));

    // Each area's overview line.
    let lines = overview["areas"].as_array().expect("areas");
    assert_eq!(lines.len(), areas.len());
    assert_eq!(set(&AREA_LINE), documented("overview", 1));
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    for (line, area) in lines.iter().zip(areas.all()) {
        assert_eq!(keys(line), AREA_LINE);
        assert_eq!(
            (&line["id"], &line["name"]),
            (&json!(area.id), &json!(area.name))
        );
        assert_eq!(keys(&line["counts"]), kinds);
        for kind in Kind::ALL {
            let sent = events
                .iter()
                .filter(|e| e.area == area.id && e.kind == kind)
                .count();
            assert_eq!(
                line["counts"][kind.as_str()],
                json!(sent),
                "{} {kind:?}",
                area.id
            );
        }
        // Figures stay floats, counts stay integers.
        assert!(line["noise_limit_db"].is_f64() && line["gauges_alert"].is_u64());
    }

    // area: the overview line, then what the area view adds; windows only `count` when empty.
    let area_views = &views[4..];
    assert_eq!(area_views.len(), areas.len());
    let documented_area: BTreeSet<String> = documented("area", 0);
    assert_eq!(set(&AREA_TAIL), documented_area);
    let mut windows_seen = 0;
    for (view, line) in area_views.iter().zip(lines) {
        let expected: Vec<&str> = AREA_LINE.iter().chain(&AREA_TAIL).copied().collect();
        assert_eq!(keys(view), expected);
        for member in AREA_LINE {
            assert_eq!(view[member], line[member], "{member}");
        }
        for (field, per_width) in view["windows"].as_object().expect("windows") {
            assert_eq!(keys(per_width), ["1m", "5m", "15m", "60m"], "{field}");
            for stats in per_width.as_object().expect("widths").values() {
                if stats["count"] == json!(0) {
                    assert_eq!(keys(stats), ["count"]);
                } else {
                    let figures = ["count", "mean", "min", "max", "last", "p50", "p95"];
                    assert_eq!(keys(stats), figures);
                    windows_seen += 1;
                }
            }
            let points = view["series"][field].as_array().expect("a series");
            assert!(points.iter().all(|p| p[0].is_i64() && p[1].is_f64()));
        }
    }
    assert!(windows_seen > 0, "some window holds readings");

    // alerts: no rule ran, so nothing is open.
    assert_eq!(keys(alerts), ["items", "open", "open_by_severity"]);
    assert_eq!(set(&keys(alerts)), documented("alerts", 0));
    assert_eq!(
        alerts["open_by_severity"],
        json!({"critical": 0, "major": 0, "minor": 0, "warning": 0})
    );
    assert_eq!((&alerts["items"], &alerts["open"]), (&json!([]), &json!(0)));

    // reports: every report sent is in the register.
    assert_eq!(keys(reports), ["total", "items"]);
    assert_eq!(set(&keys(reports)), documented("reports", 0));
    let sent = REPORTS;
    assert_eq!(reports["total"], json!(sent));
    let items = reports["items"].as_array().expect("items");
    assert_eq!(items.len(), sent);
    assert_eq!(set(&REPORT_ITEM), documented("reports", 1));
    for item in items {
        assert_eq!(keys(item), REPORT_ITEM);
        // Only the masked phone of the contact.
        assert_eq!(item["phone"], json!("09******78"));
    }
    let resolved = (0..REPORTS).filter(|i| i % 6 == 0).count();
    let rated: Vec<&Value> = items
        .iter()
        .filter(|item| item["rating"] == json!(4))
        .collect();
    assert_eq!(rated.len(), resolved);
    assert!(rated.iter().all(|item| item["status"] == json!("resolved")));

    // kpi
    assert_eq!(keys(kpi), KPI);
    assert_eq!(set(&KPI), documented("kpi", 0));
    assert_eq!(kpi["targets"], overview["kpi"]["targets"]);
    assert_eq!(keys(&kpi["city"]), ["reports", "dossiers"]);
    assert_eq!(kpi["city"]["reports"], overview["reports"]);
    assert_eq!(kpi["city"]["reports"]["received"], json!(sent));
    assert_eq!(kpi["city"]["reports"]["resolved"], json!(resolved));
    assert_eq!(kpi["city"]["dossiers"]["received"], json!(received));
    let agencies: Vec<&Value> = kpi["agencies"]
        .as_array()
        .expect("agencies")
        .iter()
        .map(|row| &row["agency"])
        .collect();
    assert_eq!(agencies, [&json!(AGENCIES[0]), &json!(AGENCIES[1])]);
    let kpi_areas = kpi["areas"].as_array().expect("areas");
    assert_eq!(kpi_areas.len(), areas.len());
    for (row, line) in kpi_areas.iter().zip(lines) {
        assert_eq!(keys(row), ["id", "name", "reports", "dossiers", "rank"]);
        assert_eq!((&row["id"], &row["rank"]), (&line["id"], &line["rank"]));
    }
}
