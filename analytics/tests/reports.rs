//! The report register: lifecycle, refused transitions, KPIs computed by hand, and replay.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::reports::{ChangeError, Status};
use ioc_analytics::{Analytics, AnalyticsConfig, ViewRequest};
use ioc_ingest::report::update::{Change, Update};
use ioc_ingest::report::{self, CheckedReport};
use ioc_ingest::{Areas, Event};
use serde_json::{Map, json};
use std::sync::Arc;

const T0: i64 = 1_795_338_000_000; // 2026-11-22T09:00:00Z
const HOUR: i64 = 3_600_000;

fn report_event(n: u32, code: &str, area: &str, ts: i64) -> Event {
    let mut values = Map::new();
    values.insert("service_code".into(), json!(code));
    values.insert("phone".into(), json!("0912345678"));
    values.insert("email".into(), json!("a@b.vn"));
    let checked = CheckedReport {
        area: area.into(),
        lat: None,
        lon: None,
        values,
    };
    report::into_event(checked, format!("r{n}"), "app".into(), ts)
}

fn update(n: u32, change: Change, area: &str, ts: i64) -> Event {
    Update {
        report_id: report::request_id(&format!("r{n}")),
        change,
        by: "op".into(),
        note: Some("đã xử lý".into()),
    }
    .into_event(format!("u{n}-{ts}"), area.into(), ts)
}

fn assign(agency: &str) -> Change {
    Change::Assign {
        agency: agency.into(),
    }
}

fn status(name: &str) -> Change {
    Change::Status {
        status: name.into(),
    }
}

/// Three flooding reports (SLA 4 h) and one traffic report (24 h) in hoan-kiem / ba-dinh.
fn journal() -> Vec<Event> {
    vec![
        report_event(1, "flooding", "hoan-kiem", T0),
        report_event(2, "flooding", "hoan-kiem", T0),
        report_event(3, "traffic", "ba-dinh", T0),
        report_event(4, "flooding", "ba-dinh", T0),
        update(1, assign("Công ty Thoát nước"), "hoan-kiem", T0 + HOUR),
        update(1, status("in_progress"), "hoan-kiem", T0 + 2 * HOUR),
        update(1, status("resolved"), "hoan-kiem", T0 + 3 * HOUR), // on time (4 h)
        update(1, Change::Rate { rating: 5 }, "hoan-kiem", T0 + 4 * HOUR),
        update(2, assign("Công ty Thoát nước"), "hoan-kiem", T0 + HOUR),
        update(2, status("resolved"), "hoan-kiem", T0 + 6 * HOUR), // late
        update(2, Change::Rate { rating: 3 }, "hoan-kiem", T0 + 7 * HOUR),
        update(3, status("rejected"), "ba-dinh", T0 + HOUR),
        // Refused by the lifecycle: resolving a rejected report is ignored on apply.
        update(3, status("resolved"), "ba-dinh", T0 + 2 * HOUR),
    ]
}

fn analytics() -> Analytics {
    Analytics::new(Arc::new(Areas::hanoi()), AnalyticsConfig::default())
}

#[test]
fn lifecycle_and_kpis_match_a_hand_computation() {
    let analytics = analytics();
    analytics.apply(&journal(), None).unwrap_or_default();
    let now = T0 + 10 * HOUR;
    let kpi = analytics
        .view(&ViewRequest::parse("kpi", None, None, None).unwrap(), now)
        .unwrap();
    let city = &kpi["city"]["reports"];
    // 4 received; open: #4 only (overdue: 4 h SLA, now +10 h); resolved #1 and #2, #1 on time.
    assert_eq!(city["received"], 4);
    assert_eq!(city["open"], 1);
    assert_eq!(city["overdue"], 1);
    assert_eq!(city["resolved"], 2);
    assert_eq!(city["rejected"], 1);
    assert_eq!(city["resolved_on_time_pct"], 50.0);
    assert_eq!(city["median_resolve_hours"], 4.5); // (3 + 6) / 2
    assert_eq!(city["rating_avg"], 4.0); // (5 + 3) / 2
    assert_eq!(city["rated_4plus_pct"], 50.0);
    let agency = &kpi["agencies"][0];
    assert_eq!(agency["agency"], "Công ty Thoát nước");
    assert_eq!(agency["reports"]["received"], 2);
    let r1 = analytics
        .report(&report::request_id("r1"))
        .map(|r| (r.status, r.rating));
    assert_eq!(r1, Some((Status::Resolved, Some(5))));
    let r3 = analytics
        .report(&report::request_id("r3"))
        .map(|r| r.status);
    assert_eq!(r3, Some(Status::Rejected));

    let overview = analytics
        .view(
            &ViewRequest::parse("overview", None, None, None).unwrap(),
            now,
        )
        .unwrap();
    let ba_dinh = overview["areas"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == "ba-dinh"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            ba_dinh["reports_open"].clone(),
            ba_dinh["reports_overdue"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(overview["reports"]["received"], 4);
}

#[test]
fn invalid_transitions_are_refused_with_a_reason() {
    let analytics = analytics();
    analytics.apply(&journal(), None).unwrap_or_default();
    let id = report::request_id("r4");
    assert!(matches!(
        analytics.check_change(&id, &status("in_progress")),
        Err(ChangeError::Conflict(_))
    ));
    assert!(matches!(
        analytics.check_change(&id, &Change::Rate { rating: 4 }),
        Err(ChangeError::Conflict(_))
    ));
    assert!(matches!(
        analytics.check_change(&report::request_id("r1"), &Change::Rate { rating: 4 }),
        Err(ChangeError::Conflict(_))
    ));
    assert!(matches!(
        analytics.check_change(&id, &status("flying")),
        Err(ChangeError::Invalid(_))
    ));
    assert!(matches!(
        analytics.check_change("nope", &assign("x")),
        Err(ChangeError::UnknownReport(_))
    ));
    assert_eq!(
        analytics
            .check_change(&id, &assign("x"))
            .map(|(area, _version)| area),
        Ok("ba-dinh".to_string())
    );
}

#[test]
fn views_mask_the_phone_and_never_show_email() {
    let analytics = analytics();
    analytics.apply(&journal(), None).unwrap_or_default();
    let view = analytics
        .view(
            &ViewRequest::parse("reports", None, Some("open".into()), None).unwrap(),
            T0,
        )
        .unwrap();
    assert_eq!(view["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(view["items"][0]["phone"], "09******78");
    let text = view.to_string();
    assert!(!text.contains("0912345678") && !text.contains("a@b.vn"));
}

#[test]
fn replay_in_other_batch_sizes_gives_the_same_register() {
    let whole = analytics();
    whole.apply(&journal(), None).unwrap_or_default();
    let pieces = analytics();
    for event in journal() {
        pieces.apply(&[event], None).unwrap_or_default();
    }
    let request = ViewRequest::parse("reports", None, Some("all".into()), None).unwrap();
    assert_eq!(whole.view(&request, T0), pieces.view(&request, T0));
    let kpi = ViewRequest::parse("kpi", None, None, None).unwrap();
    assert_eq!(whole.view(&kpi, T0), pieces.view(&kpi, T0));
}

#[tokio::test]
async fn waiting_for_an_applied_seq_returns_once_it_is_marked() {
    let analytics = analytics();
    assert!(
        !analytics
            .wait_applied(5, std::time::Duration::from_millis(20))
            .await
    );
    let marker = analytics.clone();
    tokio::spawn(async move { marker.mark_applied(7) });
    assert!(
        analytics
            .wait_applied(5, std::time::Duration::from_secs(2))
            .await
    );
    assert_eq!(analytics.applied_seq(), 7);
}

#[test]
fn configured_slas_replace_the_defaults() {
    let mut config = AnalyticsConfig::default();
    config.report_sla_hours.insert("flooding".into(), 2.0);
    assert_eq!(config.sla_hours("flooding"), 2.0);
    assert_eq!(config.sla_hours("traffic"), 24.0);
    assert_eq!(config.sla_hours("environment"), 72.0);
    let analytics = Analytics::new(Arc::new(Areas::hanoi()), config);
    analytics
        .apply(&[report_event(1, "flooding", "hoan-kiem", T0)], None)
        .unwrap_or_default();
    let report = analytics.report(&report::request_id("r1"));
    assert_eq!(report.map(|r| r.expected_ms), Some(T0 + 2 * HOUR));
}
