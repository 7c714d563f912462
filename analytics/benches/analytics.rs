//! Micro-benchmarks of the analytics hot path: one partial merged into another, a bucket
//! partial merged into the window store (its area's series and the city's), the polars batch
//! aggregation of 10,000 readings, the hour window of a busy series, and each alert tracker
//! taking one reading.
//! `cargo bench -p ioc-analytics`; the figures are in BENCHMARKS.md ("Micro-benchmarks").

// Bench code: a panic is how a broken set-up reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ioc_analytics::alerts::Direction;
use ioc_analytics::alerts::trackers::{
    AnomalyShape, AnomalyTracker, BurstShape, BurstTracker, Observation, RateTracker, StaleTracker,
    ThresholdTracker,
};
use ioc_analytics::batch::{Reading, aggregate};
use ioc_analytics::partial::{ExactSum, Partial};
use ioc_analytics::windows::{SeriesKey, WindowStore, bucket_of};
use ioc_ingest::Kind;
use std::hint::black_box;

/// 2026-11-22T09:00:00Z.
const NOW: i64 = 1_795_338_000_000;

fn one(value: f64, ts: i64) -> Partial {
    Partial {
        count: 1,
        sum: ExactSum::of(value),
        min: value,
        max: value,
        last_ts: ts,
        last: value,
        sketch: Default::default(),
    }
}

fn windows(c: &mut Criterion) {
    c.bench_function("windows/partial_merge", |b| {
        let reading = one(35.5, NOW);
        let mut total = Partial::empty();
        b.iter(|| total.merge(black_box(&reading)))
    });
    c.bench_function("windows/store_merge", |b| {
        let mut store = WindowStore::default();
        let key = SeriesKey {
            area: "ba-dinh".into(),
            kind: Kind::AirQuality,
            field: "pm25".into(),
        };
        let partial = one(35.5, NOW);
        let mut ts = NOW;
        b.iter(|| {
            ts += 1_000;
            store.merge(&key, bucket_of(ts), black_box(&partial));
        })
    });
    let readings: Vec<Reading> = (0..10_000)
        .map(|i| Reading {
            series: (i % 300) as u32,
            bucket: bucket_of(NOW + i as i64 * 100),
            ts: NOW + i as i64 * 100,
            value: 20.0 + (i % 97) as f64 * 0.5,
        })
        .collect();
    c.bench_function("windows/polars_aggregate_10000", |b| {
        b.iter(|| aggregate(black_box(&readings)).unwrap())
    });
    // The 60-minute window of a busy series, as a view asks for it every tick: 360 buckets,
    // each holding 3,000 speeds between 5 and 80 km/h.
    let mut store = WindowStore::default();
    let key = SeriesKey {
        area: "ba-dinh".into(),
        kind: Kind::Traffic,
        field: "speed_kmh".into(),
    };
    for bucket in 0..360_i64 {
        let mut partial = Partial::empty();
        for i in 0..3_000_i64 {
            let mut reading = one(5.0 + ((i * 37 + bucket) % 750) as f64 * 0.1, NOW);
            reading.sketch.add(reading.last);
            partial.merge(&reading);
        }
        store.merge(&key, NOW + bucket * 10_000, &partial);
    }
    c.bench_function("windows/hour_window_of_busy_buckets", |b| {
        b.iter(|| store.window(black_box(&key), NOW + 3_600_000, 3_600_000))
    });
}

fn observation(ts: i64, value: f64) -> Observation<'static> {
    Observation {
        source: "wl-hoan-kiem-1",
        area: "hoan-kiem",
        ts,
        value,
        lat: Some(21.028),
        lon: Some(105.852),
    }
}

fn trackers(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracker");
    group.bench_function("threshold", |b| {
        let mut tracker = ThresholdTracker::default();
        let mut ts = NOW;
        b.iter(|| {
            ts += 1_000;
            let value = if ts % 7_000 == 0 { 95.0 } else { 40.0 };
            tracker.observe(&observation(ts, value), 80.0, true, 5.0, 60_000);
        })
    });
    group.bench_function("rate_of_change", |b| {
        let mut tracker = RateTracker::default();
        let mut ts = NOW;
        b.iter(|| {
            ts += 1_000;
            let value = 100.0 + (ts / 1_000 % 50) as f64;
            tracker.observe(&observation(ts, value), 20.0, 10.0, 600_000);
        })
    });
    group.bench_function("stale_source", |b| {
        let mut tracker = StaleTracker::new("hoan-kiem", NOW);
        let mut ts = NOW;
        b.iter(|| {
            ts += 1_000;
            tracker.observe("hoan-kiem", ts, 3);
        })
    });
    group.bench_function("anomaly", |b| {
        let mut tracker = AnomalyTracker::default();
        let shape = AnomalyShape {
            direction: Direction::Above,
            z: 3.0,
            clear_z: 2.0,
            window_ms: 900_000,
            min_weeks: 3,
            min_spread: 0.1,
        };
        let mut ts = NOW;
        b.iter(|| {
            ts += 1_000;
            tracker.observe("hoan-kiem", ts, 40.0 + (ts / 1_000 % 9) as f64, shape);
        })
    });
    group.bench_function("report_burst", |b| {
        let mut tracker = BurstTracker::default();
        let shape = BurstShape {
            count: 5,
            radius_m: 300.0,
            within_ms: 1_800_000,
            clear_count: 2,
        };
        let mut ts = NOW;
        b.iter(|| {
            ts += 10_000;
            let step = (ts / 10_000 % 40) as f64 * 0.0005;
            tracker.observe(
                "flooding",
                "hoan-kiem",
                ts,
                21.02 + step,
                105.85 + step,
                shape,
            );
        })
    });
    group.finish();
}

criterion_group!(benches, windows, trackers);
criterion_main!(benches);
