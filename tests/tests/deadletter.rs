//! One malformed message per rejection reason: each is counted under its reason, listed in the
//! dead-letter and published on `ioc/deadletter`; valid traffic around them is counted exactly.

use ioc_tests::engine::count;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn now_rfc3339(offset_ms: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// (reason, topic suffix, payload) for every reason the engine documents.
fn bad_messages() -> Vec<(&'static str, String, Vec<u8>)> {
    let ts = now_rfc3339(-1000);
    let noise = |values: Value| json!({"ts": ts, "values": values}).to_string().into_bytes();
    vec![
        ("too_large", "hoan-kiem/noise/big".into(), {
            let filler = "x".repeat(70 * 1024);
            json!({"ts": ts, "values": {"laeq": 60}, "note": filler})
                .to_string()
                .into_bytes()
        }),
        (
            "invalid_utf8",
            "hoan-kiem/noise/u".into(),
            vec![0x7b, 0xff, 0xfe, 0x7d],
        ),
        (
            "malformed_json",
            "hoan-kiem/noise/m".into(),
            b"{\"ts\": ".to_vec(),
        ),
        ("bad_topic", "hoan-kiem".into(), noise(json!({"laeq": 60}))),
        (
            "unknown_kind",
            "hoan-kiem/radiation/r1".into(),
            noise(json!({"laeq": 60})),
        ),
        (
            "unknown_area",
            "atlantis/noise/n1".into(),
            noise(json!({"laeq": 60})),
        ),
        (
            "outside_city",
            "_/noise/n1".into(),
            json!({"ts": ts, "lat": 10.776, "lon": 106.700, "values": {"laeq": 60}})
                .to_string()
                .into_bytes(),
        ),
        (
            "missing_field",
            "hoan-kiem/noise/n1".into(),
            json!({"values": {"laeq": 60}}).to_string().into_bytes(),
        ),
        (
            "wrong_type",
            "hoan-kiem/noise/n1".into(),
            noise(json!({"laeq": "loud"})),
        ),
        (
            "non_finite",
            "hoan-kiem/noise/n1".into(),
            format!("{{\"ts\":\"{ts}\",\"values\":{{\"laeq\":NaN}}}}").into_bytes(),
        ),
        (
            "out_of_range",
            "hoan-kiem/air_quality/a1".into(),
            json!({"ts": ts, "values": {"humidity": 1.5}})
                .to_string()
                .into_bytes(),
        ),
        (
            "future_timestamp",
            "hoan-kiem/noise/n1".into(),
            json!({"ts": now_rfc3339(3_600_000), "values": {"laeq": 60}})
                .to_string()
                .into_bytes(),
        ),
        (
            "invalid_senml",
            "hoan-kiem/air_quality/s1".into(),
            br#"[{"bver":11,"n":"s1:pm25","v":12}]"#.to_vec(),
        ),
    ]
}

async fn every_reason_is_counted_and_dead_lettered(options: EngineOptions) {
    let engine = Engine::start(options).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();

    // Watch ioc/deadletter for records of this run's topics.
    let mut watch_options = MqttOptions::new(format!("dl-{root}"), host.clone(), port);
    watch_options.set_max_packet_size(1 << 20, 1 << 20);
    let (watcher, mut watch_loop) = AsyncClient::new(watch_options, 100);
    watcher
        .subscribe("ioc/deadletter", QoS::AtMostOnce)
        .await
        .expect("subscribe");
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let watched_root = root.clone();
    let watch_task = tokio::spawn(async move {
        loop {
            match watch_loop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Ok(record) = serde_json::from_slice::<Value>(&p.payload)
                        && record["topic"]
                            .as_str()
                            .is_some_and(|t| t.starts_with(&watched_root))
                    {
                        let _ = seen_tx.send(record);
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {}
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut publisher = Publisher::connect(&host, port).await;
    let bad = bad_messages();
    let mut valid = 0_u64;
    for (i, (_, suffix, payload)) in bad.iter().enumerate() {
        for k in 0..5 {
            let ts = now_rfc3339(-((i * 5 + k) as i64));
            let body = json!({"id": format!("ok-{i}-{k}"), "source": "n-ok", "ts": ts, "values": {"laeq": 50 + k}});
            publisher
                .publish(&format!("{root}/dong-da/noise/n-ok"), body.to_string())
                .await;
            valid += 1;
        }
        publisher
            .publish(&format!("{root}/{suffix}"), payload.clone())
            .await;
    }
    publisher.wait_acked().await;

    let expected_rejected = bad.len() as u64;
    let overview = engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(valid)
                && o["rejected_total"].as_u64() == Some(expected_rejected)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(valid));
    assert_eq!(count(&overview, "dong-da", "noise"), valid);
    assert_eq!(overview["rejected_total"].as_u64(), Some(expected_rejected));
    for (reason, _, _) in &bad {
        assert_eq!(
            overview["rejected_by_reason"][reason].as_u64(),
            Some(1),
            "reason {reason}"
        );
    }

    // Refused payloads may hold personal data: only an admin reads them.
    let http = reqwest::Client::new();
    for role in ["viewer", "operator"] {
        let token = ioc_tests::engine::mint(&engine.data_dir, role);
        let response = http
            .get(engine.url("/api/deadletter"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status().as_u16(), 403, "{role}");
    }
    assert_eq!(engine.status_without_token("/api/deadletter").await, 401);
    let dead = engine.get_json("/api/deadletter?limit=1000").await;
    let mut listed: BTreeMap<String, u64> = BTreeMap::new();
    for item in dead["items"].as_array().expect("items") {
        assert!(item["topic"].as_str().is_some_and(|t| t.starts_with(&root)));
        assert!(!item["detail"].as_str().unwrap_or_default().is_empty());
        *listed
            .entry(item["reason"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let expected: BTreeMap<String, u64> = bad.iter().map(|(r, _, _)| (r.to_string(), 1)).collect();
    assert_eq!(listed, expected);

    let metrics = reqwest::get(engine.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("ioc_rejected_total{reason=\"future_timestamp\"} 1"),
        "{metrics}"
    );

    let mut published: BTreeMap<String, u64> = BTreeMap::new();
    while published.values().sum::<u64>() < expected_rejected {
        let record = tokio::time::timeout(Duration::from_secs(10), seen_rx.recv())
            .await
            .expect("dead-letter records on ioc/deadletter")
            .expect("watcher alive");
        *published
            .entry(record["reason"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    assert_eq!(published, expected);
    watch_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reason_is_counted_on_mosquitto() {
    every_reason_is_counted_and_dead_lettered(EngineOptions::new("deadletter")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reason_is_counted_on_the_embedded_broker() {
    every_reason_is_counted_and_dead_lettered(EngineOptions::embedded("deadletter-emb")).await;
}
