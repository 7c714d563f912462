//! Micro-benchmarks of the ingest path, one message or one batch at a time: each payload
//! format through the intake (decode and validate), the journal codec both ways, and a group
//! commit of 1,000 events to the SQLite journal. `cargo bench -p ioc-ingest`; the figures are in
//! BENCHMARKS.md ("Micro-benchmarks").

// Bench code: a panic is how a broken set-up reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ioc_ingest::intake::{DEFAULT_MAX_PAYLOAD_BYTES, Intake};
use ioc_ingest::journal::{Durability, Entry, JournalStore, SqliteJournal, codec};
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event};
use std::hint::black_box;
use std::sync::Arc;

/// 2026-11-22T09:00:00Z.
const NOW: i64 = 1_795_338_000_000;

fn intake() -> Intake {
    Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(Areas::hanoi())),
        DEFAULT_MAX_PAYLOAD_BYTES,
    )
}

/// One payload of each format, as devices send them.
fn payloads() -> [(&'static str, &'static str, String); 3] {
    let native = format!(
        r#"{{"id":"aq-ba-dinh-1-000123","source":"aq-ba-dinh-1","ts":{},"lat":21.034,"lon":105.814,"values":{{"pm25":35.5,"pm10":52.1,"no2":21.0,"o3":18.2,"co":410.0,"so2":7.5,"temperature":24.1,"humidity":0.71}}}}"#,
        NOW - 1_000
    );
    let senml = format!(
        r#"[{{"bn":"urn:dev:aq-ba-dinh-2:","bt":{},"n":"pm25","u":"ug/m3","v":35.5}},{{"n":"pm10","u":"ug/m3","v":52.1}},{{"n":"temperature","u":"Cel","v":24.1}}]"#,
        (NOW - 1_000) as f64 / 1000.0
    );
    let ngsi = r#"{"id":"urn:ngsi-ld:AirQualityObserved:aq-ba-dinh-3","type":"AirQualityObserved","dateObserved":{"type":"Property","value":"2026-11-22T08:59:59Z"},"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[105.814,21.034]}},"pm25":{"type":"Property","value":35.5},"pm10":{"type":"Property","value":52.1},"@context":"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"}"#.to_string();
    [
        ("native", "city/ba-dinh/air_quality/aq-ba-dinh-1", native),
        ("senml", "city/ba-dinh/air_quality/aq-ba-dinh-2", senml),
        ("ngsi", "city/ba-dinh/air_quality/aq-ba-dinh-3", ngsi),
    ]
}

fn decoders(c: &mut Criterion) {
    let intake = intake();
    let mut group = c.benchmark_group("decode");
    for (name, topic, payload) in payloads() {
        let entries = intake.classify(topic, payload.as_bytes(), NOW);
        assert!(
            matches!(entries.first(), Some(Entry::Event(_))),
            "{name}: {entries:?}"
        );
        group.bench_function(name, |b| {
            b.iter(|| intake.classify(black_box(topic), black_box(payload.as_bytes()), NOW))
        });
    }
    group.finish();
}

/// A decoded native air-quality event.
fn event(n: usize) -> Event {
    let (_, topic, payload) = &payloads()[0];
    let mut event = match intake().classify(topic, payload.as_bytes(), NOW).pop() {
        Some(Entry::Event(event)) => event,
        other => panic!("{other:?}"),
    };
    event.id = format!("aq-ba-dinh-1-{n:09}");
    event
}

fn codec(c: &mut Criterion) {
    let event = event(1);
    let mut body = Vec::new();
    codec::encode_event(&event, &mut body).unwrap();
    c.bench_function("journal/encode", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            codec::encode_event(black_box(&event), &mut out).unwrap();
        })
    });
    c.bench_function("journal/decode", |b| {
        b.iter(|| codec::decode_event(1, black_box(&body)).unwrap())
    });
}

fn append(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ioc-bench-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 100).unwrap();
    let mut next = 0;
    c.bench_function("journal/append_1000", |b| {
        b.iter_batched(
            || {
                let entries: Vec<Entry> = (next..next + 1000)
                    .map(|n| Entry::Event(event(n)))
                    .collect();
                next += 1000;
                entries
            },
            |entries| journal.append(&entries, NOW, &[]).unwrap(),
            BatchSize::LargeInput,
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, decoders, codec, append);
criterion_main!(benches);
