//! The views do not depend on how the stream was cut into micro-batches. A live engine flushes
//! its windows whenever a batch or a view asks, a restarted one replays in other chunks, and
//! every instance of a cluster applies the shared journal in its own rhythm: all of them must
//! serve the same numbers, to the last bit, for the same journal.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::{Analytics, AnalyticsConfig, ViewRequest};
use ioc_ingest::intake::{DEFAULT_MAX_PAYLOAD_BYTES, Intake};
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event};
use serde_json::Value;
use std::sync::Arc;

/// 2026-11-22T09:00:00Z, the end of the simulated hour.
const NOW: i64 = 1_795_338_000_000;
const EVENTS: usize = 30_000;

/// An hour of the simulated city, decoded as the engine decodes it.
fn city_hour(areas: &Arc<Areas>) -> Vec<Event> {
    let intake = Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::clone(areas)),
        DEFAULT_MAX_PAYLOAD_BYTES,
    );
    let mut city = ioc_sim::City::new(11, (**areas).clone());
    let step = 3_600_000.0 / EVENTS as f64;
    city.events(NOW - 3_600_000, step)
        .take(EVENTS)
        .flat_map(|event| intake.classify(&event.topic, &event.payload_bytes(), NOW))
        .filter_map(|entry| match entry {
            Entry::Event(event) => Some(event),
            Entry::Rejected(_) => None,
        })
        .collect()
}

/// Every view an operator can ask for, serialized.
fn all_views(analytics: &Analytics, areas: &Areas) -> Vec<String> {
    let mut requests = ["overview", "kpi", "alerts", "reports"]
        .iter()
        .map(|name| ViewRequest::parse(name, None, None, None).expect("view"))
        .collect::<Vec<_>>();
    for area in areas.all() {
        requests.push(ViewRequest::parse("area", Some(area.id.clone()), None, None).expect("area"));
    }
    requests
        .iter()
        .map(|request| {
            let view: Value = analytics.view(request, NOW).expect("view");
            serde_json::to_string(&view).expect("JSON")
        })
        .collect()
}

#[test]
fn views_are_the_same_to_the_bit_whatever_the_micro_batches() {
    let areas = Arc::new(Areas::hanoi());
    let events = city_hour(&areas);
    assert!(events.len() > EVENTS * 9 / 10, "the simulated hour decodes");

    // One engine sees the hour in one piece.
    let whole = Analytics::new(Arc::clone(&areas), AnalyticsConfig::default());
    whole.apply(&events, None).expect("apply");

    // Another in uneven pieces, its windows flushed after each, as a busy live engine does.
    let pieces = Analytics::new(Arc::clone(&areas), AnalyticsConfig::default());
    let sizes = [1_usize, 7, 64, 333, 1_000, 4_096];
    let mut rest = events.as_slice();
    let mut i = 0;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(sizes[i % sizes.len()].min(rest.len()));
        pieces.apply(piece, None).expect("apply");
        pieces.flush_windows();
        rest = tail;
        i += 1;
    }

    let (a, b) = (all_views(&whole, &areas), all_views(&pieces, &areas));
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a, b);
    }
    // The comparison is not vacuous: the overview carries window means.
    assert!(a[0].contains("traffic_speed_5m") && a[0].contains("pm25_1h"));
}
