//! History: `GET /api/history` over several days of telemetry sent over MQTT equals a reference
//! computed here from what was sent — before compaction (all in the journal), after it (older
//! than the 48 h horizon in Parquet, the rest in the journal), and after a restart, which also
//! keeps the lifetime counts of the compacted events.

use ioc_ingest::Kind;
use ioc_ingest::journal::compaction::read_history;
use ioc_tests::engine::{count, mint, mint_scoped};
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const HORIZON: i64 = 48 * HOUR;

/// One reading sent: kind, area, event time, field, value.
#[derive(Debug, Clone)]
struct Sent {
    kind: &'static str,
    area: &'static str,
    ts: i64,
    field: &'static str,
    value: f64,
}

/// Four days of readings every 20 minutes: noise in two areas, PM2.5 in one; none within an
/// hour of the compaction cutoff, so which side each falls on does not depend on timing.
fn readings(now: i64) -> Vec<Sent> {
    let start = (now - 4 * DAY).div_euclid(HOUR) * HOUR;
    let cutoff = now - HORIZON;
    let mut sent = Vec::new();
    let mut i = 0_i64;
    let mut ts = start + 7_000;
    while ts < now - 2 * HOUR {
        if (ts - cutoff).abs() > HOUR {
            let noise = 40.0 + ((i * 7) % 30) as f64 + 0.25;
            sent.push(Sent {
                kind: "noise",
                area: "hoan-kiem",
                ts,
                field: "laeq",
                value: noise,
            });
            sent.push(Sent {
                kind: "noise",
                area: "ba-dinh",
                ts: ts + 1_000,
                field: "laeq",
                value: noise + 3.5,
            });
            let pm = 10.0 + ((i * 13) % 90) as f64 / 2.0;
            sent.push(Sent {
                kind: "air_quality",
                area: "hoan-kiem",
                ts: ts + 2_000,
                field: "pm25",
                value: pm,
            });
        }
        i += 1;
        ts += 20 * 60_000;
    }
    sent
}

/// An expected point: bucket start (RFC 3339), count, mean, min, max.
type Expected = (String, u64, f64, f64, f64);

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The expected points: readings of `kind.field` in `areas` within `[from, to)`, bucketed by
/// `every_ms` from the epoch.
fn reference(
    sent: &[Sent],
    kind: &str,
    field: &str,
    areas: &[&str],
    from: i64,
    to: i64,
    every_ms: i64,
) -> Vec<Expected> {
    let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for s in sent {
        if s.kind == kind
            && s.field == field
            && areas.contains(&s.area)
            && s.ts >= from
            && s.ts < to
        {
            buckets
                .entry(s.ts.div_euclid(every_ms) * every_ms)
                .or_default()
                .push(s.value);
        }
    }
    buckets
        .into_iter()
        .map(|(start, values)| {
            let n = values.len();
            (
                rfc3339(start),
                n as u64,
                values.iter().sum::<f64>() / n as f64,
                values.iter().copied().fold(f64::INFINITY, f64::min),
                values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        })
        .collect()
}

fn assert_points(answer: &Value, want: &[Expected], what: &str) {
    let points = answer["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {answer}"));
    assert_eq!(points.len(), want.len(), "{what}: {answer}");
    assert!(!want.is_empty(), "{what}: the reference is empty");
    for (point, (ts, n, mean, min, max)) in points.iter().zip(want) {
        assert_eq!(point["ts"].as_str(), Some(ts.as_str()), "{what}");
        assert_eq!(point["count"].as_u64(), Some(*n), "{what} at {ts}");
        assert_eq!(point["min"].as_f64(), Some(*min), "{what} at {ts}");
        assert_eq!(point["max"].as_f64(), Some(*max), "{what} at {ts}");
        let got = point["mean"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (got - mean).abs() < 1e-9,
            "{what} at {ts}: mean {got} vs {mean}"
        );
    }
}

async fn get(engine: &Engine, token: &str, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(engine.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The queries checked at every stage, with their references.
fn queries(sent: &[Sent], now: i64) -> Vec<(String, Vec<Expected>)> {
    // An hour three days ago (archived after compaction) and one five hours ago (journal).
    let old_hour = (now - 3 * DAY).div_euclid(HOUR) * HOUR;
    let recent_hour = (now - 5 * HOUR).div_euclid(HOUR) * HOUR;
    let from = now - 5 * DAY;
    let mut list = Vec::new();
    for hour in [old_hour, recent_hour] {
        list.push((
            format!(
                "/api/history?area=hoan-kiem&field=noise.laeq&from={}&to={}&every=10m",
                rfc3339(hour),
                rfc3339(hour + HOUR)
            ),
            reference(
                sent,
                "noise",
                "laeq",
                &["hoan-kiem"],
                hour,
                hour + HOUR,
                10 * 60_000,
            ),
        ));
    }
    list.push((
        format!("/api/history?field=laeq&from={from}&to={now}&every=1h"),
        reference(
            sent,
            "noise",
            "laeq",
            &["hoan-kiem", "ba-dinh"],
            from,
            now,
            HOUR,
        ),
    ));
    list.push((
        format!("/api/history?field=laeq&from={from}&to={now}&every=1d"),
        reference(
            sent,
            "noise",
            "laeq",
            &["hoan-kiem", "ba-dinh"],
            from,
            now,
            DAY,
        ),
    ));
    list.push((
        format!("/api/history?area=hoan-kiem&field=air_quality.pm25&from={from}&to={now}&every=6h"),
        reference(
            sent,
            "air_quality",
            "pm25",
            &["hoan-kiem"],
            from,
            now,
            6 * HOUR,
        ),
    ));
    list
}

async fn check_all(engine: &Engine, sent: &[Sent], now: i64, stage: &str) -> Vec<Value> {
    let mut answers = Vec::new();
    for (path, want) in queries(sent, now) {
        let (status, answer) = get(engine, &engine.token, &path).await;
        assert_eq!(status, 200, "{stage} {path}: {answer}");
        assert_points(&answer, &want, &format!("{stage} {path}"));
        answers.push(answer["points"].clone());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_equals_the_reference_before_and_after_compaction_and_restart() {
    // Compaction only when asked (and once at start, on an empty journal).
    let mut engine =
        Engine::start(EngineOptions::new("history").with_env("IOC_HISTORY_COMPACT_EVERY", "1h"))
            .await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    let sent = readings(now);
    for (i, s) in sent.iter().enumerate() {
        let source = format!("hist-{}-{}", s.kind, s.area);
        let body = json!({
            "id": format!("h-{i}"),
            "source": source,
            "kind": s.kind,
            "area": s.area,
            "ts": s.ts,
            "values": {s.field: s.value},
        });
        publisher
            .publish(
                &format!("{root}/{}/{}/{source}", s.area, s.kind),
                body.to_string(),
            )
            .await;
    }
    publisher.wait_acked().await;
    let total = sent.len() as u64;
    let before = engine
        .wait_for(Duration::from_secs(60), |o| {
            o["events_total"].as_u64() == Some(total)
        })
        .await;
    assert_eq!(before["events_total"].as_u64(), Some(total));

    // Everything is in the journal: answers come from it alone.
    let journal_answers = check_all(&engine, &sent, now, "journal").await;

    // Compaction moves exactly the readings older than the horizon.
    let cutoff = now - HORIZON;
    let old = sent.iter().filter(|s| s.ts < cutoff).count() as u64;
    assert!(old > 0 && old < total);
    let response = reqwest::Client::new()
        .post(engine.url("/api/history/compact"))
        .bearer_auth(&engine.token)
        .send()
        .await
        .expect("POST compact");
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().await.expect("JSON");
    assert_eq!(report["events"].as_u64(), Some(old), "{report}");
    assert_eq!(report["rows"].as_u64(), Some(old), "{report}");
    let files: Vec<String> = report["files"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    // Readings span the two or three days before the cutoff: one file per day.
    assert!((2..=3).contains(&files.len()), "{report}");
    for file in &files {
        assert!(
            file.starts_with("day=") && file.ends_with(".parquet"),
            "{file}"
        );
        assert!(
            engine.data_dir.join("archive").join(file).is_file(),
            "{file}"
        );
    }
    // The journal no longer holds them; the manifest lists the files.
    let snapshot =
        read_history(&engine.data_dir, Kind::Noise, "laeq", 0, now + HOUR).expect("journal");
    let noise_recent = sent
        .iter()
        .filter(|s| s.kind == "noise" && s.ts >= cutoff)
        .count();
    assert_eq!(snapshot.values.len(), noise_recent);
    assert!(snapshot.values.iter().all(|v| v.ts_ms >= cutoff));
    assert_eq!(snapshot.files.len(), files.len());

    // A second run finds nothing more.
    let again: Value = reqwest::Client::new()
        .post(engine.url("/api/history/compact"))
        .bearer_auth(&engine.token)
        .send()
        .await
        .expect("POST compact")
        .json()
        .await
        .expect("JSON");
    assert_eq!(again["events"].as_u64(), Some(0), "{again}");

    // Same answers from archive + journal.
    let archived_answers = check_all(&engine, &sent, now, "archive").await;
    assert_eq!(archived_answers, journal_answers);

    // Restart: replay of what is left plus the compacted counts gives the same lifetime totals.
    engine.restart().await;
    let after = engine.overview().await;
    assert_eq!(after["events_total"].as_u64(), Some(total));
    for (area, kind) in [
        ("hoan-kiem", "noise"),
        ("ba-dinh", "noise"),
        ("hoan-kiem", "air_quality"),
    ] {
        assert_eq!(
            count(&after, area, kind),
            count(&before, area, kind),
            "{area} {kind}"
        );
    }
    let restarted_answers = check_all(&engine, &sent, now, "restarted").await;
    assert_eq!(restarted_answers, journal_answers);

    // Scope: a token for hoan-kiem gets hoan-kiem only; other areas are 403.
    let scoped = mint_scoped(&engine.data_dir, "viewer", &["hoan-kiem"]);
    let from = now - 5 * DAY;
    let (status, _) = get(&engine, &scoped, "/api/history?area=ba-dinh&field=laeq").await;
    assert_eq!(status, 403);
    let (status, city) = get(
        &engine,
        &scoped,
        &format!("/api/history?field=laeq&from={from}&to={now}&every=1d"),
    )
    .await;
    assert_eq!(status, 200, "{city}");
    let mine = reference(&sent, "noise", "laeq", &["hoan-kiem"], from, now, DAY);
    assert_points(&city, &mine, "scoped city");
    assert_eq!(city["areas"], json!(["hoan-kiem"]));

    // Bad requests are 400 with a message; compaction is for admins.
    for path in [
        "/api/history?field=nope",
        "/api/history?field=laeq&every=1mo",
        "/api/history?field=laeq&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/api/history?field=laeq&area=atlantis",
        "/api/history?field=laeq&from=0&every=1s",
        "/api/history?field=laeq&from=yesterday",
        "/api/history",
    ] {
        let (status, body) = get(&engine, &engine.token, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
    let viewer = mint(&engine.data_dir, "viewer");
    let status = reqwest::Client::new()
        .post(engine.url("/api/history/compact"))
        .bearer_auth(&viewer)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 403);
    assert_eq!(
        engine.status_without_token("/api/history?field=laeq").await,
        401
    );
}
