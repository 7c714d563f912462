//! Snapshots of the analytics state: a state restored from one serves the same views as the
//! state that wrote it, to the byte, and goes on from there exactly as it would have; a
//! snapshot that does not belong to the deployment or the journal is set aside, never used.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{NOW, all_views, city_hour};
use ioc_analytics::snapshot::{self, Header, SNAPSHOT_FILE, SnapshotError};
use ioc_analytics::state::State;
use ioc_analytics::{Analytics, AnalyticsConfig};
use ioc_ingest::journal::Recovered;
use ioc_ingest::{Areas, Event, Kind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const EVENTS: usize = 20_000;
const SEED: u64 = 23;

/// A fresh directory for one test's snapshot.
fn snapshot_path(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ioc-snapshot-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(SNAPSHOT_FILE)
}

/// An engine's analytics that applied `events` as journal seqs 1..=n and wrote its snapshot
/// to `path`; returns it with the seq written.
fn written(areas: &Arc<Areas>, events: &[Event], path: &Path) -> (Analytics, i64) {
    let analytics = Analytics::new(Arc::clone(areas), AnalyticsConfig::default());
    analytics.apply(events, None).expect("apply");
    analytics.mark_applied(events.len() as i64);
    analytics.enable_snapshots(path.to_path_buf(), events.len() as u64);
    let seq = analytics.write_snapshot().expect("written").expect("a seq");
    (analytics, seq)
}

#[test]
fn a_restored_state_serves_the_same_views_and_goes_on_the_same() {
    let areas = Arc::new(Areas::hanoi());
    let events = city_hour(&areas, SEED, EVENTS);
    let (first, second) = events.split_at(events.len() / 2);
    let path = snapshot_path("same");
    let (original, seq) = written(&areas, first, &path);
    assert_eq!(seq, first.len() as i64);

    let restored = Analytics::new(Arc::clone(&areas), AnalyticsConfig::default());
    let after = restored.restore_with_snapshot(&path, Recovered::default(), first.len() as i64);
    assert_eq!(after, seq, "replay continues after the snapshot's seq");
    assert_eq!(
        restored.metrics(NOW).events_total,
        first.len() as u64,
        "every event of the first half is in the restored state"
    );
    assert_eq!(restored.metrics(NOW).snapshot_seq, seq);
    let (was, is) = (all_views(&original, &areas), all_views(&restored, &areas));
    for (was, is) in was.iter().zip(&is) {
        assert_eq!(was, is);
    }

    // Windows, sketches, hourly AQI and alert trackers carry on from where they were.
    original.apply(second, None).expect("apply");
    restored.apply(second, None).expect("apply");
    let (was, is) = (all_views(&original, &areas), all_views(&restored, &areas));
    assert_eq!(was.len(), 4 + areas.len());
    for (was, is) in was.iter().zip(&is) {
        assert_eq!(was, is);
    }
    assert_eq!(restored.metrics(NOW).events_total, events.len() as u64);
    // The comparison is not vacuous: the overview carries window means.
    assert!(was[0].contains("traffic_speed_5m") && was[0].contains("pm25_1h"));
}

#[test]
fn a_snapshot_that_does_not_belong_is_set_aside() {
    let areas = Arc::new(Areas::hanoi());
    let events = city_hour(&areas, SEED, EVENTS);
    let path = snapshot_path("aside");
    let (_, seq) = written(&areas, &events, &path);
    let fresh = || Analytics::new(Arc::clone(&areas), AnalyticsConfig::default());
    let untouched = |analytics: &Analytics| analytics.metrics(NOW).events_total == 0;

    // The journal ends before the snapshot's seq (an older journal put back).
    let older = fresh();
    assert_eq!(
        older.restore_with_snapshot(&path, Recovered::default(), seq - 1),
        0
    );
    assert!(untouched(&older));

    // Other analytics settings would have built another state.
    let config = AnalyticsConfig {
        allowed_lateness_ms: AnalyticsConfig::default().allowed_lateness_ms + 1_000,
        ..AnalyticsConfig::default()
    };
    let other = Analytics::new(Arc::clone(&areas), config);
    assert_eq!(
        other.restore_with_snapshot(&path, Recovered::default(), seq),
        0
    );
    assert!(untouched(&other));

    // A compaction after the snapshot took out events with a seq above the snapshot's: it
    // lacks them, so the journal (and its compacted counts) are the truth.
    let compacted = fresh();
    let recovered = Recovered {
        compacted: [(("hoan-kiem".to_string(), Kind::Traffic), 5)].into(),
        compacted_through: seq + 1,
        ..Recovered::default()
    };
    assert_eq!(compacted.restore_with_snapshot(&path, recovered, seq), 0);
    assert_eq!(
        compacted.metrics(NOW).events_total,
        5,
        "the compacted count is restored from the journal instead"
    );

    // A compaction that only took events up to the snapshot's seq took events it holds: it is
    // used, and the compacted count is not added again.
    let older_only = fresh();
    let recovered = Recovered {
        compacted: [(("hoan-kiem".to_string(), Kind::Traffic), 5)].into(),
        compacted_through: seq,
        ..Recovered::default()
    };
    assert_eq!(older_only.restore_with_snapshot(&path, recovered, seq), seq);
    assert_eq!(older_only.metrics(NOW).events_total, events.len() as u64);

    // One flipped byte: the checksum refuses the file.
    let mut bytes = std::fs::read(&path).expect("snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).expect("damage");
    let damaged = fresh();
    assert_eq!(
        damaged.restore_with_snapshot(&path, Recovered::default(), seq),
        0
    );
    assert!(untouched(&damaged));

    // No file at all is a full replay too.
    std::fs::remove_file(&path).expect("remove");
    assert_eq!(
        fresh().restore_with_snapshot(&path, Recovered::default(), seq),
        0
    );
}

/// The snapshot file at `path` rewritten as an engine of the previous snapshot format would
/// have headed it (the state's bytes unchanged, the checksum made right again).
fn reheaded_as_previous_format(path: &Path) {
    let image = std::fs::read(path).expect("snapshot");
    let (magic, rest) = image.split_at(8);
    let mut state_and_trackers = &rest[4..];
    let mut header: Header = rmp_serde::decode::from_read(&mut state_and_trackers).expect("header");
    header.format -= 1;
    let mut body = Vec::new();
    rmp_serde::encode::write_named(&mut body, &header).expect("header");
    body.extend_from_slice(state_and_trackers);
    let mut older = magic.to_vec();
    older.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    older.extend_from_slice(&body);
    std::fs::write(path, older).expect("rewrite");
}

#[test]
fn a_snapshot_of_another_format_is_set_aside() {
    let areas = Arc::new(Areas::hanoi());
    let events = city_hour(&areas, SEED, 2_000);
    let path = snapshot_path("format");
    let (_, seq) = written(&areas, &events, &path);
    reheaded_as_previous_format(&path);

    // Refused for its format, before its state is decoded.
    let image = std::fs::read(&path).expect("snapshot");
    let fresh_state = State::new(Arc::clone(&areas), AnalyticsConfig::default());
    match snapshot::read_image(&image, fresh_state, 0) {
        Err(SnapshotError::Mismatch(why)) => assert!(why.contains("format"), "{why}"),
        other => panic!(
            "expected a format mismatch, got {:?}",
            other.map(|(_, h)| h)
        ),
    }

    // The engine then replays the journal in full.
    let analytics = Analytics::new(Arc::clone(&areas), AnalyticsConfig::default());
    assert_eq!(
        analytics.restore_with_snapshot(&path, Recovered::default(), seq),
        0
    );
    assert_eq!(analytics.metrics(NOW).events_total, 0);
}
