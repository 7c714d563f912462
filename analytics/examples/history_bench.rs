//! History benchmark: fills a journal with `DAYS` days of city telemetry (every area: one
//! traffic counter, one air-quality station, one flood gauge and one noise meter, a reading every
//! `EVERY_MIN` minutes), compacts everything older than 48 h to Parquet with the engine's own
//! compactor, then times `GET /api/history`'s query for one area and for the whole city.
//!
//! `cargo run --release -p ioc-analytics --example history_bench -- [DIR] [DAYS] [EVERY_MIN]`

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::history::{Every, History, HistoryRequest, HistorySettings, resolve_field};
use ioc_ingest::journal::{Durability, Entry, JournalStore, SqliteJournal};
use ioc_ingest::{Areas, Event, Kind};
use serde_json::{Map, Value, json};
use std::time::Instant;

const DAY: i64 = 86_400_000;

fn event(source: String, kind: Kind, area: &str, ts_ms: i64, values: Value) -> Event {
    Event {
        id: format!("{source}:{ts_ms}"),
        source,
        kind,
        area: area.to_string(),
        ts_ms,
        lat: None,
        lon: None,
        values: values.as_object().cloned().unwrap_or_else(Map::new).into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir =
        std::path::PathBuf::from(args.get(1).map_or("/tmp/ioc-history-bench", String::as_str));
    let days: i64 = args.get(2).and_then(|d| d.parse().ok()).unwrap_or(30);
    let every_min: i64 = args.get(3).and_then(|d| d.parse().ok()).unwrap_or(5);
    let _ = std::fs::remove_dir_all(&dir);
    let areas = Areas::hanoi();
    let now = ioc_ingest::event::now_ms();
    let start = now - days * DAY;

    let began = Instant::now();
    let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 100)?;
    let mut events = 0_u64;
    let mut batch = Vec::with_capacity(8192);
    let mut ts = start;
    let mut step = 0_i64;
    while ts < now {
        for (a, area) in areas.all().iter().enumerate() {
            let id = area.id.as_str();
            let wave = ((step + a as i64 * 17) % 288) as f64 / 288.0;
            batch.push(Entry::Event(event(format!("tf-{id}"), Kind::Traffic, id, ts,
                json!({"speed": 20.0 + 30.0 * wave, "intensity": 5.0 + 40.0 * wave, "occupancy": wave}))));
            batch.push(Entry::Event(event(format!("aq-{id}"), Kind::AirQuality, id, ts,
                json!({"pm25": 15.0 + 80.0 * wave, "pm10": 30.0 + 90.0 * wave, "no2": 20.0 + wave, "temperature": 18.0 + 10.0 * wave, "humidity": 0.5 + 0.4 * wave}))));
            batch.push(Entry::Event(event(
                format!("wl-{id}"),
                Kind::WaterLevel,
                id,
                ts,
                json!({"level_cm": 5.0 * wave}),
            )));
            batch.push(Entry::Event(event(
                format!("nm-{id}"),
                Kind::Noise,
                id,
                ts,
                json!({"laeq": 50.0 + 20.0 * wave}),
            )));
        }
        if batch.len() >= 8000 {
            events += batch.len() as u64;
            journal.append(&batch, now, &[])?;
            batch.clear();
        }
        ts += every_min * 60_000;
        step += 1;
    }
    events += batch.len() as u64;
    journal.append(&batch, now, &[])?;
    println!(
        "journal: {events} events over {days} days in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let history = History::new(&dir, HistorySettings::default());
    let began = Instant::now();
    let report = history.compact(now)?;
    println!(
        "compaction: {} events, {} rows, {} files in {:.1} s; {} events left in the journal",
        report.events,
        report.rows,
        report.files.len(),
        began.elapsed().as_secs_f64(),
        journal.event_count()?
    );
    let archive_bytes: u64 = walk(&history.archive_dir());
    println!("archive: {:.1} MiB", archive_bytes as f64 / 1_048_576.0);

    // The whole range, then its archived and its journal parts alone, to see where time goes.
    let split = now - 2 * DAY;
    let ranges = [
        (format!("{days} d"), start, now),
        ("archived part".to_string(), start, split),
        ("journal part (48 h)".to_string(), split, now),
    ];
    let scopes = [
        ("one area (hoan-kiem)", Some(vec!["hoan-kiem".to_string()])),
        ("whole city", None),
    ];
    for (range, from, to) in &ranges {
        for (label, area) in &scopes {
            for every in ["1h", "1d"] {
                let request = HistoryRequest::new(
                    resolve_field("air_quality.pm25")?,
                    area.clone(),
                    *from,
                    *to,
                    Every::parse(every)?,
                )?;
                let mut times = Vec::new();
                let mut points = 0;
                for _ in 0..5 {
                    let began = Instant::now();
                    points = history.query(&request)?.points.len();
                    times.push(began.elapsed().as_secs_f64() * 1000.0);
                }
                times.sort_by(f64::total_cmp);
                println!(
                    "query {label}, pm25, {range}, every={every}: {points} points, median {:.0} ms (min {:.0}, max {:.0})",
                    times[2], times[0], times[4]
                );
            }
        }
    }
    Ok(())
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                entry.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}
