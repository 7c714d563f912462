//! B2, the engine's in-process work on one core: simulated city events are decoded, validated
//! and aggregated (counts, sources, alert trackers, hourly VN_AQI, polars window partials) in
//! micro-batches, with no network and no journal. Prints one JSON line, with the share of the
//! time each step took.
//!
//! The steps are the live worker's: each batch is admitted at once, and its window readings
//! wait for a polars batch of [`WINDOW_FLUSH_READINGS`] (the worker's bound under load; at a
//! million events a second it is reached long before its 500 ms one).
//!
//! `cargo run -p ioc-analytics --release --example pipeline_bench -- <events> [batch] [span_s]`
//!
//! `span_s` (default 3600) is the event time the events cover: a short span with many events
//! gives the windows' buckets the density of a high live rate (the memory figure of B7).

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::engine::WINDOW_FLUSH_READINGS;
use ioc_analytics::{Analytics, AnalyticsConfig};
use ioc_ingest::Areas;
use ioc_ingest::intake::{DEFAULT_MAX_PAYLOAD_BYTES, Intake};
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use std::sync::Arc;
use std::time::Instant;

/// The engine binary's allocator, so the figures match `ioc serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).map_or(Ok(1_000_000), |n| n.parse())?;
    let batch: usize = args.get(2).map_or(Ok(4096), |n| n.parse())?;
    let span_ms: i64 = args.get(3).map_or(Ok(3600), |n| n.parse::<i64>())? * 1000;
    let areas = Areas::hanoi();
    // `span_ms` of city time ending now.
    let now = chrono::Utc::now().timestamp_millis();
    let step = span_ms as f64 / events as f64;
    let mut city = ioc_sim::City::new(7, areas.clone());
    let messages: Vec<(String, Vec<u8>)> = city
        .events(now - span_ms, step)
        .take(events)
        .map(|event| (event.topic.clone(), event.payload_bytes()))
        .collect();
    let areas = Arc::new(areas);
    let intake = Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::clone(&areas)),
        DEFAULT_MAX_PAYLOAD_BYTES,
    );
    let analytics = Analytics::new(areas, AnalyticsConfig::default());

    let rss_before = resident_mb();
    let began = Instant::now();
    let mut decode_s = 0.0;
    let mut windows_s = 0.0;
    let mut readings = Vec::new();
    for chunk in messages.chunks(batch) {
        let decoding = Instant::now();
        // As the subscriber does: one vector of entries per batch of messages.
        let mut entries = Vec::with_capacity(chunk.len());
        for (topic, payload) in chunk {
            intake.classify_into(topic, payload, now, &mut entries);
        }
        let decoded: Vec<ioc_ingest::Event> = entries
            .into_iter()
            .filter_map(|entry| match entry {
                Entry::Event(event) => Some(event),
                Entry::Rejected(_) => None,
            })
            .collect();
        decode_s += decoding.elapsed().as_secs_f64();
        analytics.admit(&decoded, Some(now), &mut readings);
        if readings.len() >= WINDOW_FLUSH_READINGS {
            let windowing = Instant::now();
            analytics.merge_readings(&readings)?;
            // As the worker does: the buffer keeps its capacity for the next readings.
            readings.clear();
            windows_s += windowing.elapsed().as_secs_f64();
        }
    }
    let windowing = Instant::now();
    analytics.merge_readings(&readings)?;
    windows_s += windowing.elapsed().as_secs_f64();
    let seconds = began.elapsed().as_secs_f64();
    let counted = analytics.metrics(now).events_total;
    // What the engine's state holds after the run, beyond the generated messages.
    let state_mb = resident_mb() - rss_before;
    println!(
        "{{\"bench\":\"pipeline\",\"events\":{events},\"counted\":{counted},\"batch\":{batch},\"seconds\":{seconds:.3},\"events_per_sec\":{:.0},\"decode_share\":{:.3},\"windows_share\":{:.3},\"state_mb\":{state_mb:.1}}}",
        events as f64 / seconds,
        decode_s / seconds,
        windows_s / seconds
    );
    Ok(())
}

/// This process's resident memory in MB (Linux), 0 where it cannot be read.
fn resident_mb() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1e6
}
