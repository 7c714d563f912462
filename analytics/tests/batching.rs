//! The views do not depend on how the stream was cut into micro-batches. A live engine flushes
//! its windows whenever a batch or a view asks, a restarted one replays in other chunks, and
//! every instance of a cluster applies the shared journal in its own rhythm: all of them must
//! serve the same numbers, to the last bit, for the same journal.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{all_views, city_hour};
use ioc_analytics::{Analytics, AnalyticsConfig};
use ioc_ingest::Areas;
use std::sync::Arc;

const EVENTS: usize = 30_000;

#[test]
fn views_are_the_same_to_the_bit_whatever_the_micro_batches() {
    let areas = Arc::new(Areas::hanoi());
    let events = city_hour(&areas, 11, EVENTS);
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
