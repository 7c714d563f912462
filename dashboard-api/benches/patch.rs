//! Micro-benchmark of the websocket's merge-patch diff: an overview of 30 areas where each area
//! changed a few figures since the last tick, diffed and applied back.
//! `cargo bench -p ioc-dashboard-api`; the figures are in BENCHMARKS.md ("Micro-benchmarks").

// Bench code: a panic is how a broken set-up reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ioc_dashboard_api::patch::{apply, diff, normalize};
use serde_json::{Value, json};
use std::hint::black_box;

/// An overview-shaped document: 30 area lines of the view's fields; `tick` moves some figures.
fn overview(tick: u64) -> Value {
    let areas: Vec<Value> = (0..30_u64)
        .map(|i| {
            json!({
                "id": format!("area-{i}"), "name": format!("Khu vực {i}"),
                "counts": {"traffic": 1_000 + i * 7 + tick * 3, "air_quality": 800 + i + tick,
                    "water_level": 400 + i, "noise": 600 + i + tick, "report": 12 + i,
                    "report_update": 30 + i, "dossier": 50 + i},
                "aqi": 50 + (i + tick) % 80, "aqi_level": "moderate", "aqi_basis": "nowcast",
                "aqi_daily": 61, "pm25_1h": 30.0 + (i as f64) * 0.37 + tick as f64 * 0.01,
                "traffic_speed_5m": 32.5 + (i % 5) as f64, "congestion": 0.21,
                "congested_sensors": i % 3, "water_level_max_cm": 12 + i % 4,
                "gauges_alert": 0, "gauges_danger": 0, "laeq_5m": 61.2, "laeq_1h": 60.8,
                "noise_limit_db": 70, "noise_over_limit": false, "reports_open": 3,
                "reports_overdue": 0, "alerts_active": 0, "rank": i + 1,
            })
        })
        .collect();
    normalize(json!({
        "events_total": 123_456 + tick * 90, "events_per_sec": 31.5, "late_total": 3,
        "rejected_total": 12, "watermark": "2026-11-22T09:00:00Z", "areas": areas,
        "alerts_active": 1,
    }))
}

fn patch(c: &mut Criterion) {
    let (before, after) = (overview(1), overview(2));
    let patch = diff(&before, &after).expect("a change");
    let mut applied = before.clone();
    apply(&mut applied, &patch);
    assert_eq!(applied, after);
    c.bench_function("patch/diff_overview_30_areas", |b| {
        b.iter(|| diff(black_box(&before), black_box(&after)))
    });
    c.bench_function("patch/apply_overview_30_areas", |b| {
        b.iter(|| {
            let mut target = before.clone();
            apply(&mut target, black_box(&patch));
            target
        })
    });
}

criterion_group!(benches, patch);
criterion_main!(benches);
