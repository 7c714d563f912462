//! The live-view protocol end to end: snapshot + merge patches reproduce the REST data exactly,
//! `seq` has no gap, and a client that never reads neither grows the server nor delays others.

use ioc_tests::publish::Publisher;
use ioc_tests::ws::{LiveClient, Mirror};
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SOME_AREAS: [&str; 6] = [
    "ba-dinh",
    "hoan-kiem",
    "long-bien",
    "me-linh",
    "ung-hoa",
    "son-tay",
];

async fn publish_noise(
    publisher: &mut Publisher,
    root: &str,
    areas: &[&str],
    n: usize,
    offset: usize,
) {
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..n {
        let area = areas[(i + offset) % areas.len()];
        let body = json!({
            "id": format!("ws-{}-{}", offset, i),
            "source": format!("nm-{area}"),
            "ts": now - 30_000 + (i as i64 % 30_000),
            "values": {"laeq": 45 + (i % 30)}
        });
        publisher
            .publish(&format!("{root}/{area}/noise/nm-{area}"), body.to_string())
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_reproduce_the_rest_data_without_gaps() {
    let engine = Engine::start(EngineOptions::new("ws")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut client = LiveClient::connect(&engine.ws_url()).await;
    client.subscribe("s1", "overview", json!({})).await;
    client
        .subscribe("s2", "area", json!({"area": "hoan-kiem"}))
        .await;
    let mut overview = Mirror::default();
    let mut area = Mirror::default();

    let mut publisher = Publisher::connect(&host, port).await;
    let feeder = tokio::spawn(async move {
        for round in 0..10 {
            publish_noise(&mut publisher, &root, &SOME_AREAS, 300, round * 1000).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        publisher.wait_acked().await;
    });
    // Follow both subscriptions while the events flow and until the rate has decayed to 0
    // (the rate is averaged over 10 s), so that the last patch describes a still state.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let Some(frame) = client.next(Duration::from_secs(13)).await else {
            break;
        };
        match frame["id"].as_str() {
            Some("s1") => overview.apply(&frame),
            Some("s2") => area.apply(&frame),
            _ => panic!("unexpected frame {frame}"),
        }
        assert!(Instant::now() < deadline, "updates never settled");
    }
    feeder.await.expect("feeder");
    assert_eq!(overview.snapshots, 1);
    assert!(
        overview.frames > 3,
        "expected live updates, got {} frames",
        overview.frames
    );
    assert_eq!(overview.data["events_total"].as_u64(), Some(3000));
    assert_eq!(overview.data, engine.overview().await);
    assert_eq!(
        area.data,
        engine.get_json("/api/views/area?area=hoan-kiem").await
    );

    // Ping, unknown views and bad commands get their answers; the subscription stays.
    client.send(json!({"op": "ping"})).await;
    assert_eq!(
        client.next(Duration::from_secs(5)).await,
        Some(json!({"type": "pong"}))
    );
    client.subscribe("s3", "weather", json!({})).await;
    let error = client
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert_eq!(
        (
            error["type"].as_str(),
            error["id"].as_str(),
            error["code"].as_str()
        ),
        (Some("error"), Some("s3"), Some("unknown_view"))
    );
    client
        .send(json!({"op": "subscribe", "id": "s4", "view": "area"}))
        .await;
    let error = client
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert_eq!(error["code"].as_str(), Some("bad_request"));
    client.send(json!({"op": "unsubscribe", "id": "s1"})).await;
    client.subscribe("s1", "overview", json!({})).await;
    let again = client
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert_eq!(
        (again["type"].as_str(), again["seq"].as_u64()),
        (Some("snapshot"), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_bounded_and_delays_no_one() {
    // A fast tick fills the slow reader's socket buffers sooner; the mechanism is the same.
    let mut options = EngineOptions::new("ws-slow");
    let config = std::env::temp_dir().join(format!("{}.toml", options.topic_root));
    std::fs::write(&config, "tick = \"100ms\"\nws_client_queue_frames = 16\n")
        .expect("config file");
    options.extra_args = vec!["--config".into(), config.display().to_string()];
    let engine = Engine::start(options).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let areas: Vec<String> = engine.overview().await["areas"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();

    // The slow client asks for every area view and then never reads a byte.
    let area_refs: Vec<&str> = areas.iter().map(String::as_str).collect();
    let mut slow = LiveClient::connect(&engine.ws_url()).await;
    slow.subscribe("o", "overview", json!({})).await;
    for area in &areas {
        slow.subscribe(area, "area", json!({"area": area})).await;
    }
    let mut fast = LiveClient::connect(&engine.ws_url()).await;
    fast.subscribe("f", "overview", json!({})).await;
    let mut mirror = Mirror::default();
    let rss_before = engine.rss_kib().unwrap_or_default();

    let mut publisher = Publisher::connect(&host, port).await;
    let mut rounds = 0;
    let started = Instant::now();
    // Load until the server has reset the slow reader at least once (its queue overflowed).
    while engine
        .metric("ioc_ws_slow_client_resets_total")
        .await
        .unwrap_or(0.0)
        < 3.0
    {
        publish_noise(&mut publisher, &root, &area_refs, 300, rounds * 1000).await;
        rounds += 1;
        let deadline = Instant::now() + Duration::from_millis(500);
        while let Some(frame) = fast
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            mirror.apply(&frame);
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the slow client was never reset"
        );
    }
    publisher.wait_acked().await;
    let total = rounds as u64 * 300;
    // The fast client keeps up: it reaches the final count like the REST answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while mirror.data["events_total"].as_u64() != Some(total) {
        let frame = fast
            .next(Duration::from_secs(5))
            .await
            .expect("the fast client keeps getting updates");
        mirror.apply(&frame);
        assert!(
            Instant::now() < deadline,
            "fast client stuck at {}",
            mirror.data["events_total"]
        );
    }
    assert_eq!(mirror.snapshots, 1, "the fast client was never reset");
    let rss_after = engine.rss_kib().unwrap_or_default();
    // Bounded: the slow client's queue is 64 frames; allow the engine's own working set.
    assert!(
        rss_after < rss_before + 256 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    let _: Value = engine.overview().await;
    drop(slow);
    let _ = std::fs::remove_file(config);
}
