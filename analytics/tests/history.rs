//! History over a real journal: answers are the same before and after compaction, in chunks;
//! reports and dossiers stay in the journal; a Parquet file left by a run that died before its
//! journal transaction is never counted and is removed by the next run.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_analytics::history::{Every, History, HistoryRequest, HistorySettings, resolve_field};
use ioc_ingest::journal::{Durability, Entry, JournalStore, SqliteJournal};
use ioc_ingest::{Event, Kind};
use serde_json::json;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn event(id: usize, kind: Kind, area: &str, ts_ms: i64, values: serde_json::Value) -> Event {
    Event {
        id: format!("e-{id}"),
        source: format!("{kind}-{area}"),
        kind,
        area: area.into(),
        ts_ms,
        lat: Some(21.03),
        lon: Some(105.85),
        values: values.as_object().cloned().unwrap_or_default().into(),
    }
}

#[test]
fn compaction_keeps_every_answer_and_ignores_orphan_files() {
    let dir = std::env::temp_dir().join(format!("ioc-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = 1_767_225_600_000_i64 + 4 * DAY + 5 * HOUR; // 2026-01-05T05:00Z
    let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 10).expect("journal");
    let mut entries = Vec::new();
    for i in 0..400_usize {
        let ts = now - 4 * DAY + i as i64 * 14 * 60_000;
        let area = ["hoan-kiem", "tay-ho"][i % 2];
        let speed = 20.0 + (i % 13) as f64;
        let values = json!({"speed": speed, "intensity": 9, "congested": i % 3 == 0});
        entries.push(Entry::Event(event(i, Kind::Traffic, area, ts, values)));
    }
    let dossier = json!({"service": "x", "channel": "online", "level": 4, "stage": "received"});
    entries.push(Entry::Event(event(
        9_999,
        Kind::Dossier,
        "tay-ho",
        now - 3 * DAY,
        dossier,
    )));
    journal.append(&entries, now, &[]).expect("append");

    let settings = HistorySettings {
        horizon_ms: 2 * DAY,
        chunk_events: 37,
    };
    let history = History::new(&dir, settings);
    let ask = |field: &str, areas: Option<&[&str]>, every: &str| {
        let request = HistoryRequest::new(
            resolve_field(field).expect("field"),
            areas.map(|a| a.iter().map(|s| s.to_string()).collect()),
            now - 5 * DAY,
            now,
            Every::parse(every).expect("every"),
        )
        .expect("request");
        history.query(&request).expect("query")
    };
    let cases: [(&str, Option<&[&str]>, &str); 4] = [
        ("speed", None, "1h"),
        ("traffic.speed", Some(&["tay-ho"]), "1d"),
        ("congested", Some(&["hoan-kiem", "tay-ho"]), "6h"),
        ("intensity", Some(&[]), "1d"),
    ];
    let before: Vec<_> = cases.iter().map(|(f, a, e)| ask(f, *a, e).points).collect();
    assert_eq!(before[0].iter().map(|p| p.count).sum::<u64>(), 400);
    assert_eq!(before[1].iter().map(|p| p.count).sum::<u64>(), 200);
    assert!(before[3].is_empty());

    let report = history.compact(now).expect("compact");
    let old = (0..400).filter(|i| i * 14 * 60_000 < 2 * DAY).count() as u64;
    assert_eq!(report.events, old);
    assert_eq!(report.rows, 3 * old);
    // 37 events per chunk, each chunk one file per day it covers.
    assert!(report.files.len() as u64 >= old.div_ceil(37), "{report:?}");
    // What is left: the newer readings and the dossier.
    assert_eq!(journal.event_count().ok(), Some(400 - old + 1));
    let recovered = journal.recover().expect("recover");
    let compacted: u64 = recovered.compacted.values().sum();
    assert_eq!(compacted, old);

    let after: Vec<_> = cases.iter().map(|(f, a, e)| ask(f, *a, e).points).collect();
    assert_eq!(after, before);
    assert!(ask("speed", None, "1h").archive_files > 0);

    // A run that died after writing a file but before its transaction: a full copy of a
    // listed file under an unlisted name must not be counted, and the next run removes it.
    let listed = history.archive_dir().join(&report.files[0]);
    let orphan = listed.with_file_name("part-0-0000.parquet");
    std::fs::copy(&listed, &orphan).expect("copy");
    let with_orphan: Vec<_> = cases.iter().map(|(f, a, e)| ask(f, *a, e).points).collect();
    assert_eq!(with_orphan, before);
    let again = history.compact(now).expect("compact again");
    assert_eq!((again.events, again.removed_orphans), (0, 1));
    assert!(!orphan.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
