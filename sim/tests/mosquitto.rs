//! Publishing against the Mosquitto broker at 127.0.0.1:1883 (which the test command starts).

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ioc_ingest::event::{Kind, now_ms};
use ioc_sim::{MqttTarget, SimConfig, run};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const BROKER: (&str, u16) = ("127.0.0.1", 1883);

fn broker_is_up() -> bool {
    let up = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], BROKER.1)),
        Duration::from_millis(500),
    )
    .is_ok();
    // The README's test command starts Mosquitto; a missing broker is a failure, not a skip.
    assert!(
        up,
        "no MQTT broker at 127.0.0.1:1883: run scripts/test-all.sh, which starts one"
    );
    up
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Subscribes to `{root}/#` and returns a receiver of every payload's `id`.
async fn subscribe(root: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, bytes::Bytes)> {
    let mut options = MqttOptions::new(unique("simtest-sub"), BROKER.0, BROKER.1);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    client
        .subscribe(format!("{root}/#"), QoS::AtMostOnce)
        .await
        .expect("subscribe request");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _client = client; // keep the request channel open
        let mut subscribed = Some(subscribed_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    // Parsed by the reader, so this loop keeps up with the broker.
                    if tx.send((publish.topic, publish.payload)).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => panic!("subscriber connection failed: {error}"),
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), subscribed_rx)
        .await
        .expect("SUBACK in time")
        .expect("subscriber alive");
    rx
}

fn manifest_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.jsonl", unique(name)))
}

fn read_manifest(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("manifest readable");
    std::fs::remove_file(path).expect("manifest removed");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("manifest line is JSON"))
        .collect()
}

/// Collects ids from the subscriber until `expected` distinct ids arrived (or 10 s passed).
async fn collect(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, bytes::Bytes)>,
    expected: usize,
) -> HashSet<String> {
    let mut ids = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ids.len() < expected {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((topic, payload))) => {
                let payload: Value = serde_json::from_slice(&payload).expect("json payload");
                let id = payload["id"].as_str().expect("id").to_string();
                let expected_topic = format!(
                    "{}/{}/{}",
                    topic.split('/').next().unwrap_or_default(),
                    payload["area"].as_str().unwrap_or_default(),
                    payload["kind"].as_str().unwrap_or_default(),
                );
                assert!(topic.starts_with(&expected_topic), "{topic} vs {payload}");
                ids.insert(id);
            }
            _ => break,
        }
    }
    // Anything else that arrives shortly after would be an event the manifest does not list.
    while let Ok(Some((_, payload))) =
        tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
    {
        let payload: Value = serde_json::from_slice(&payload).expect("json payload");
        ids.insert(payload["id"].as_str().expect("id").to_string());
    }
    ids
}

fn config(root: &str, qos: u8, events: u64, manifest: &Path) -> SimConfig {
    SimConfig {
        mqtt: MqttTarget::new(BROKER.0, BROKER.1),
        topic_root: root.to_string(),
        rate: 2_000.0,
        duration: Duration::from_secs(20),
        seed: 77,
        qos,
        manifest: Some(manifest.to_path_buf()),
        speedup: 60.0,
        max_events: Some(events),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn qos1_run_delivers_exactly_the_manifest() {
    if !broker_is_up() {
        return;
    }
    let root = unique("simtest");
    let mut rx = subscribe(&root).await;
    let manifest = manifest_path("simtest-manifest");
    let before = now_ms();
    let summary = run(config(&root, 1, 500, &manifest), std::future::pending())
        .await
        .expect("run");
    let after = now_ms();
    assert_eq!(summary.sent, 500);
    assert_eq!(summary.planned, 500);
    assert_eq!(summary.unacknowledged, 0);
    assert_eq!(summary.reconnects, 0);
    assert_eq!(summary.counts.values().sum::<u64>(), 500);

    let lines = read_manifest(&manifest);
    assert_eq!(lines.len(), 500);
    let manifest_ids: HashSet<String> = lines
        .iter()
        .map(|line| line["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(manifest_ids.len(), 500, "manifest ids are unique");
    for line in &lines {
        let topic = line["topic"].as_str().expect("topic");
        assert!(topic.starts_with(&format!("{root}/")));
        let kind = Kind::parse(line["kind"].as_str().expect("kind")).expect("known kind");
        assert!(summary.count(line["area"].as_str().expect("area"), kind) > 0);
        let ts =
            chrono::DateTime::parse_from_rfc3339(line["ts"].as_str().expect("ts")).expect("ts");
        // Simulated time: never in the future, within the run's compressed window.
        assert!(ts.timestamp_millis() <= after, "{ts} is in the future");
        assert!(
            ts.timestamp_millis() >= before - 20 * 60 * 1000 - 1000,
            "{ts} too early"
        );
    }

    let received = collect(&mut rx, 500).await;
    assert_eq!(received, manifest_ids);
}

#[tokio::test]
async fn qos0_run_and_early_shutdown_list_what_was_sent() {
    if !broker_is_up() {
        return;
    }
    let root = unique("simtest0");
    let mut rx = subscribe(&root).await;
    let manifest = manifest_path("simtest0-manifest");
    let mut cfg = config(&root, 0, 1_000_000, &manifest);
    cfg.rate = 400.0;
    // Stop well before duration or max_events.
    let summary = run(cfg, tokio::time::sleep(Duration::from_millis(600)))
        .await
        .expect("run");
    assert!(
        summary.sent > 100 && summary.sent < 400,
        "sent {}",
        summary.sent
    );
    assert!(summary.elapsed < Duration::from_secs(5));
    let lines = read_manifest(&manifest);
    assert_eq!(lines.len() as u64, summary.sent);
    let manifest_ids: HashSet<String> = lines
        .iter()
        .map(|line| line["id"].as_str().expect("id").to_string())
        .collect();
    let received = collect(&mut rx, manifest_ids.len()).await;
    assert_eq!(received, manifest_ids);
}

#[tokio::test]
async fn a_run_sends_rate_times_duration_events_stamped_up_to_now() {
    if !broker_is_up() {
        return;
    }
    let root = unique("simtestpace");
    let manifest = manifest_path("simtestpace-manifest");
    let mut cfg = config(&root, 1, u64::MAX, &manifest);
    cfg.max_events = None;
    cfg.rate = 300.0;
    cfg.duration = Duration::from_secs(1);
    cfg.speedup = 1.0;
    let before = now_ms();
    let summary = run(cfg, std::future::pending()).await.expect("run");
    let after = now_ms();
    assert_eq!(summary.sent, 300);
    assert_eq!(summary.planned, 300);
    assert!(
        summary.elapsed >= Duration::from_millis(990),
        "{:?}",
        summary.elapsed
    );
    assert!(
        summary.elapsed < Duration::from_secs(3),
        "{:?}",
        summary.elapsed
    );
    // Real time (speedup 1): the first event at about the start, the last at about the end.
    let (first, last) = summary.ts_range_ms.expect("events were sent");
    assert!(
        first >= before && first <= before + 500,
        "first {first} vs start {before}"
    );
    assert!(
        last <= after && last >= after - 1_500,
        "last {last} vs end {after}"
    );
    assert_eq!(read_manifest(&manifest).len(), 300);
}

#[tokio::test]
async fn high_rate_qos1_run_keeps_up() {
    if !broker_is_up() {
        return;
    }
    let root = unique("simtestfast");
    let manifest = manifest_path("simtestfast-manifest");
    let mut cfg = config(&root, 1, 10_000, &manifest);
    cfg.rate = 20_000.0;
    let summary = run(cfg, std::future::pending()).await.expect("run");
    assert_eq!(summary.sent, 10_000);
    assert_eq!(summary.unacknowledged, 0);
    // 30 areas × 5 kinds all present.
    assert_eq!(summary.counts.len(), 150);
    assert_eq!(read_manifest(&manifest).len(), 10_000);
    eprintln!(
        "achieved {:.0} events/s over {:?}",
        summary.rate, summary.elapsed
    );
    assert!(
        summary.rate > 5_000.0,
        "achieved only {:.0} events/s",
        summary.rate
    );
}

/// A TCP proxy to the broker that cuts every connection once, `cut_after` after the first one.
async fn cutting_proxy(cut_after: Duration) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("proxy address").port();
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let cut_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        let mut timer_started = false;
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                break;
            };
            if !timer_started {
                timer_started = true;
                let (cut, cut_done) = (cut.clone(), cut_done.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(cut_after).await;
                    cut_done.store(true, std::sync::atomic::Ordering::SeqCst);
                    cut.notify_waiters();
                });
            }
            let (cut, already_cut) = (
                cut.clone(),
                cut_done.load(std::sync::atomic::Ordering::SeqCst),
            );
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(BROKER).await else {
                    return;
                };
                if already_cut {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                } else {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut.notified() => {}
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn qos1_run_survives_a_dropped_connection_with_an_exact_manifest() {
    if !broker_is_up() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let root = unique("simtestcut");
    let mut rx = subscribe(&root).await;
    let port = cutting_proxy(Duration::from_millis(250)).await;
    let manifest = manifest_path("simtestcut-manifest");
    let mut cfg = config(&root, 1, 10_000, &manifest);
    cfg.mqtt = MqttTarget::new("127.0.0.1", port);
    cfg.rate = 20_000.0;
    let summary = run(cfg, std::future::pending()).await.expect("run");
    assert!(
        summary.reconnects >= 1,
        "the proxy should have cut the connection"
    );
    assert_eq!(summary.sent, 10_000);
    assert_eq!(summary.unacknowledged, 0);
    let lines = read_manifest(&manifest);
    let manifest_ids: HashSet<String> = lines
        .iter()
        .map(|line| line["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(lines.len(), 10_000);
    assert_eq!(manifest_ids.len(), 10_000);
    let received = collect(&mut rx, 10_000).await;
    assert_eq!(received, manifest_ids);
}
