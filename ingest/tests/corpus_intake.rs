//! The MQTT half of the bad-input corpus (`tests/corpus/`) straight through the intake, without
//! a broker: every case gets the reason (or the number of events) its manifest documents. The
//! end-to-end test (`tests/tests/corpus.rs`) does the same through a real engine; this one runs
//! in milliseconds, so a fuzzing find added to the corpus fails here first.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_ingest::Areas;
use ioc_ingest::intake::Intake;
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

const NOW: i64 = 1_795_338_000_000;

#[derive(Debug, Deserialize)]
struct Case {
    file: Option<String>,
    generated: Option<String>,
    channel: String,
    topic: Option<String>,
    bytes: Option<usize>,
    fill: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    events: usize,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

fn substitute(raw: &[u8]) -> Vec<u8> {
    let format = |ms: i64| ioc_ingest::event::format_ts(ms);
    let mut out = raw.to_vec();
    for (from, to) in [
        ("__NOW__", format(NOW - 1000)),
        ("__FUTURE__", format(NOW + 3_600_000)),
    ] {
        let mut next = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out[i..].starts_with(from.as_bytes()) {
                next.extend_from_slice(to.as_bytes());
                i += from.len();
            } else {
                next.push(out[i]);
                i += 1;
            }
        }
        out = next;
    }
    out
}

#[test]
fn every_mqtt_corpus_case_gets_its_documented_outcome() {
    let text = std::fs::read_to_string(corpus().join("manifest.toml")).expect("manifest");
    let manifest: Manifest = toml::from_str(&text).expect("manifest parses");
    let intake = Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(Areas::hanoi())),
        64 * 1024,
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in manifest.case.iter().filter(|c| c.channel == "mqtt") {
        let (name, payload) = match (&case.file, &case.generated) {
            (Some(file), _) => {
                let raw = std::fs::read(corpus().join(file)).expect("corpus file");
                let stem = file.rsplit_once('.').map_or(file.as_str(), |(s, _)| s);
                (stem.replace('/', "-"), substitute(&raw))
            }
            (None, Some(name)) => {
                let fill = case.fill.as_deref().unwrap_or("a").as_bytes().to_vec();
                let size = case.bytes.unwrap_or_default();
                (
                    name.clone(),
                    fill.iter().copied().cycle().take(size).collect(),
                )
            }
            (None, None) => panic!("a case without file or generated"),
        };
        let topic = format!(
            "city/{}",
            case.topic
                .as_deref()
                .unwrap_or_default()
                .replace("{case}", &name)
        );
        let entries = intake.classify(&topic, &payload, NOW);
        let refused: Vec<&str> = entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::Rejected(record) => Some(record.reason.as_str()),
                Entry::Event(_) => None,
            })
            .collect();
        let events = entries.len() - refused.len();
        let ok = match &case.reason {
            Some(reason) => refused == [reason.as_str()] && events == 0,
            None => refused.is_empty() && events == case.events,
        };
        if !ok {
            failures.push(format!(
                "{name}: refused {refused:?} with {events} events, expected {:?} / {} events",
                case.reason, case.events
            ));
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} MQTT cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
