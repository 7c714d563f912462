//! Several engines as one: real `ioc serve` processes sharing a PostgreSQL journal (a fresh
//! database per test, or a private server the test restarts) and a private Mosquitto with a
//! shared subscription split into slots.
//!
//! - Three instances, 12 slots, the simulator publishing: one instance is killed -9 at a
//!   seeded moment, another is paused (SIGSTOP) for longer than its leases and woken; the
//!   killed one comes back. The journal holds exactly the manifest's events once each, every
//!   instance counts exactly the manifest, all three serve the same overview, and the paused
//!   instance's late commit was refused.
//! - An incident's alerts are raised (and published on `ioc/alerts`) once across the cluster;
//!   an alert acknowledged, and a report changed, through two instances at once: one 200, one
//!   409.
//! - PostgreSQL stopped under load: the engine is not ready meanwhile, and afterwards nothing
//!   acknowledged is missing.
//! - The broker restarted under load: both instances are not ready meanwhile, then every
//!   acknowledged event is journaled once and both serve the same overview.

use ioc_sim::{MqttTarget, SimConfig};
use ioc_tests::alerts_topic::listen_alerts_topic;
use ioc_tests::engine::count;
use ioc_tests::mosquitto::{Mosquitto, MosquittoOptions};
use ioc_tests::postgres::{PrivatePostgres, TestDatabase};
use ioc_tests::publish::{NOISE_AREAS, Publisher, feed_noise};
use ioc_tests::simulate::{self, Manifest};
use ioc_tests::{Broker, Engine, EngineOptions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const SLOTS: u32 = 12;
const KEY: &str = "cluster-app";

/// Options of instance `name` of a cluster on `database_url`, sharing `root` on `broker`.
fn instance(root: &str, name: &str, broker: &Mosquitto, database_url: &str) -> EngineOptions {
    let mut options = EngineOptions::new("cluster").with_env("IOC_OPEN311_API_KEYS", KEY);
    options.broker = Broker::External(broker.url());
    options.topic_root = root.to_string();
    options.data_dir_name = Some(format!("{root}-{name}"));
    options.extra_args = [
        "--database-url",
        database_url,
        "--mqtt-share-group",
        "g",
        "--instance",
        name,
        "--slots",
        &SLOTS.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    options
}

/// Waits until the instances together hold every slot and each counts them all as live.
async fn wait_slots_settled(engines: &[&Engine]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut held = 0;
        let mut agreed = true;
        for engine in engines {
            let overview = engine.overview().await;
            held += overview["slots"].as_u64().unwrap_or(0);
            agreed &= overview["instances"].as_u64() == Some(engines.len() as u64);
            agreed &= engine.readyz().await.0 == 200;
        }
        if held == u64::from(SLOTS) && agreed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "slots never settled: {held} held"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The overview without what legitimately differs between instances or moments: the
/// measured rate and the slots this instance happens to hold.
fn comparable(mut overview: Value) -> Value {
    if let Some(map) = overview.as_object_mut() {
        map.remove("events_per_sec");
        map.remove("slots");
    }
    overview
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_survive_kill_and_pause_with_every_event_once_and_the_same_views() {
    const EVENTS: u64 = 6_000;
    let seed = ioc_tests::fault_seed("cluster");
    let broker = Mosquitto::start("cluster3", MosquittoOptions::default());
    let db = TestDatabase::create("cluster3");
    let root = ioc_tests::unique_root("cluster3");
    let log = |name: &str| std::env::temp_dir().join(format!("{root}-{name}.log"));
    let mut engines = Vec::new();
    for name in ["a", "b", "c"] {
        let mut options = instance(&root, name, &broker, &db.url());
        options.log_file = Some(log(name));
        engines.push(Engine::start(options).await);
    }
    wait_slots_settled(&[&engines[0], &engines[1], &engines[2]]).await;

    let manifest_path = engines[0].data_dir.with_extension("manifest.jsonl");
    let target = MqttTarget::new("127.0.0.1", broker.port);
    let simulator = tokio::spawn(simulate::publish_all(SimConfig {
        manifest: Some(manifest_path.clone()),
        ..simulate::city(target, &root, EVENTS, 300.0, seed)
    }));

    // A seeded moment: kill -9 instance a; a moment later pause c past its leases.
    let kill_after = Duration::from_millis(2_000 + seed % 3_000);
    tokio::time::sleep(kill_after).await;
    eprintln!("kill -9 a after {} ms", kill_after.as_millis());
    engines[0].kill9();
    tokio::time::sleep(Duration::from_millis(1_000 + seed % 1_000)).await;
    eprintln!("SIGSTOP c");
    engines[2].signal("STOP");
    // Longer than the 3 s lease plus the takeover round.
    tokio::time::sleep(Duration::from_secs(8)).await;
    engines[2].signal("CONT");
    eprintln!("SIGCONT c; restarting a");
    engines[0].restart().await;

    let summary = simulator.await.expect("simulator task");
    assert_eq!(summary.sent, EVENTS);
    let Manifest {
        ids,
        counts: expected,
    } = Manifest::read(&manifest_path);
    assert_eq!(ids.len() as u64, EVENTS);

    // Every instance applies the whole shared journal.
    for engine in &engines {
        let overview = engine
            .wait_for(Duration::from_secs(120), |o| {
                o["events_total"].as_u64() == Some(EVENTS)
            })
            .await;
        assert_eq!(overview["events_total"].as_u64(), Some(EVENTS));
        assert_eq!(overview["rejected_total"].as_u64(), Some(0));
        for ((area, kind), n) in &expected {
            assert_eq!(count(&overview, area, kind), *n, "{area}/{kind}");
        }
    }

    // The journal holds exactly the manifest's events, each once.
    let stored = db.strings("SELECT id FROM ioc_events WHERE kind <> 'alert'");
    let distinct: BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len() as u64, EVENTS, "each event once");
    assert_eq!(distinct, ids, "exactly the manifest's events");

    // The same overview everywhere once all have applied the same journal.
    wait_slots_settled(&[&engines[0], &engines[1], &engines[2]]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let views = loop {
        let mut views = Vec::new();
        for engine in &engines {
            views.push(comparable(engine.overview().await));
        }
        if (views[0] == views[1] && views[1] == views[2]) || Instant::now() > deadline {
            break views;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(views[0], views[1], "a and b serve the same overview");
    assert_eq!(views[1], views[2], "b and c serve the same overview");
    assert_eq!(views[0]["instances"].as_u64(), Some(3));

    // The paused instance woke up holding leases that had moved on: its commit was refused.
    let refused = engines[2]
        .metric("ioc_cluster_fenced_commits_total")
        .await
        .unwrap_or(0.0);
    let text = std::fs::read_to_string(log("c")).unwrap_or_default();
    eprintln!("c: {refused} fenced commits");
    assert!(
        refused >= 1.0,
        "the paused instance's late commit was refused"
    );
    assert!(text.contains("slot lease lost"), "c logged its lost leases");
    let _ = std::fs::remove_file(manifest_path);
    for name in ["a", "b", "c"] {
        let _ = std::fs::remove_file(log(name));
    }
}

/// Posts a flooding report through instance `engine`; returns its id.
async fn post_report(engine: &Engine) -> String {
    let response = reqwest::Client::new()
        .post(engine.url("/open311/v2/requests.json"))
        .form(&[
            ("api_key", KEY),
            ("service_code", "flooding"),
            ("lat", "21.0285"),
            ("long", "105.8542"),
            ("description", "Ngập sâu 40 cm trước số 12 Hàng Bạc"),
        ])
        .send()
        .await
        .expect("POST report");
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.expect("JSON");
    body[0]["service_request_id"]
        .as_str()
        .expect("request id")
        .to_string()
}

/// The same POST through two instances at once; returns both status codes (sorted) with
/// the answers' bodies.
async fn race(one: &Engine, two: &Engine, path: &str, body: Value) -> (Vec<u16>, Vec<String>) {
    let send = |engine: &Engine| {
        let request = reqwest::Client::new()
            .post(engine.url(path))
            .bearer_auth(&engine.token)
            .json(&body);
        async move {
            let response = request.send().await.expect("POST");
            let code = response.status().as_u16();
            (code, response.text().await.unwrap_or_default())
        }
    };
    let (a, b) = tokio::join!(send(one), send(two));
    let mut answers = vec![a, b];
    answers.sort_unstable();
    answers.into_iter().unzip()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_raised_once_across_the_cluster_and_concurrent_changes_conflict() {
    let broker = Mosquitto::start("cluster-alerts", MosquittoOptions::default());
    let db = TestDatabase::create("cluster_alerts");
    let root = ioc_tests::unique_root("cluster-alerts");
    let a = Engine::start(instance(&root, "a", &broker, &db.url())).await;
    let b = Engine::start(instance(&root, "b", &broker, &db.url())).await;
    wait_slots_settled(&[&a, &b]).await;
    let mut published = listen_alerts_topic("127.0.0.1", broker.port).await;

    // The incident: four gauges above their danger level for two minutes.
    let mut publisher = Publisher::connect("127.0.0.1", broker.port).await;
    let now = chrono::Utc::now().timestamp_millis();
    let gauges = [
        ("hoan-kiem", "wl-hk"),
        ("ba-dinh", "wl-bd"),
        ("long-bien", "wl-lb"),
        ("cau-giay", "wl-cg"),
    ];
    let mut sent = 0;
    for k in 0..7 {
        for (area, source) in gauges {
            let body = json!({
                "id": format!("{source}-{k}"),
                "source": source,
                "ts": now - 210_000 + k * 30_000,
                "values": {"level_cm": 95.0, "alert_cm": 60.0, "danger_cm": 80.0},
            });
            publisher
                .publish(
                    &format!("{root}/{area}/water_level/{source}"),
                    body.to_string(),
                )
                .await;
            sent += 1;
        }
    }
    publisher.wait_acked().await;
    for engine in [&a, &b] {
        engine
            .wait_for(Duration::from_secs(60), |o| {
                o["events_total"].as_u64() == Some(sent) && o["alerts_active"].as_u64() >= Some(8)
            })
            .await;
    }
    // Let every instance's evaluator run a few more rounds: a second raise would show now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let listed = |alerts: &Value| -> BTreeSet<String> {
        alerts["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|a| {
                        format!(
                            "{}/{}",
                            a["rule"].as_str().unwrap_or(""),
                            a["subject"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let on_a = a.get_json("/api/alerts?state=all").await;
    let on_b = b.get_json("/api/alerts?state=all").await;
    let expected: BTreeSet<String> = gauges
        .iter()
        .flat_map(|(_, source)| {
            [
                format!("flood-alert-level/{source}"),
                format!("flood-danger-level/{source}"),
            ]
        })
        .collect();
    assert_eq!(
        listed(&on_a),
        expected,
        "each gauge raised both flood rules once"
    );
    assert_eq!(
        on_a["items"], on_b["items"],
        "both instances hold the same alerts"
    );
    let mut raised: BTreeMap<String, u32> = BTreeMap::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), published.recv()).await
    {
        if message["state"] == "active" {
            *raised
                .entry(message["id"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    let ids: BTreeSet<String> = on_a["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(raised.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(
        raised.values().all(|n| *n == 1),
        "each published once: {raised:?}"
    );
    let raises =
        db.count("SELECT COUNT(*) FROM ioc_events WHERE kind = 'alert' AND id LIKE '%:raise'");
    assert_eq!(
        raises,
        expected.len() as i64,
        "one raise per alert in the journal"
    );

    // One alert acknowledged through both instances at once.
    let first = ids.iter().next().expect("an alert").clone();
    let (codes, bodies) = race(&a, &b, &format!("/api/alerts/{first}/ack"), json!({})).await;
    assert_eq!(codes, [200, 409], "{bodies:?}");

    // One report resolved through both instances at once.
    let report = post_report(&a).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::Client::new()
        .get(b.url(&format!("/api/reports/{report}")))
        .bearer_auth(&b.token)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
        != 200
    {
        assert!(Instant::now() < deadline, "report never reached b");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Resolving needs an assigned report (received → assigned → resolved).
    let assigned = reqwest::Client::new()
        .post(a.url(&format!("/api/reports/{report}/assign")))
        .bearer_auth(&a.token)
        .json(&json!({"agency": "so-xay-dung"}))
        .send()
        .await
        .expect("assign")
        .status()
        .as_u16();
    assert_eq!(assigned, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = reqwest::Client::new()
            .get(b.url(&format!("/api/reports/{report}")))
            .bearer_auth(&b.token)
            .send()
            .await
            .expect("report on b")
            .json::<serde_json::Value>()
            .await
            .expect("report JSON")["status"]
            .clone();
        if status == json!("assigned") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "assignment never reached b: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (codes, bodies) = race(
        &a,
        &b,
        &format!("/api/reports/{report}/status"),
        json!({"status": "resolved"}),
    )
    .await;
    assert_eq!(codes, [200, 409], "{bodies:?}");
    for engine in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(30);
        let detail = loop {
            let detail = engine.get_json(&format!("/api/reports/{report}")).await;
            if detail["status"] == "resolved" || Instant::now() > deadline {
                break detail;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(detail["status"], "resolved");
        assert_eq!(
            detail["history"].as_array().map(Vec::len),
            Some(2),
            "the assignment and one resolution stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_engine_not_ready_then_nothing_acknowledged_lost() {
    const TOTAL: u64 = 3_000;
    let broker = Mosquitto::start(
        "cluster-pg",
        MosquittoOptions {
            persistence: true,
            ..MosquittoOptions::default()
        },
    );
    let server = PrivatePostgres::start("cluster-pg");
    let db = TestDatabase::create_on(&server.url("postgres"), "cluster_pg");
    let root = ioc_tests::unique_root("cluster-pg");
    let engine = Engine::start(instance(&root, "solo", &broker, &db.url())).await;
    wait_slots_settled(&[&engine]).await;

    let publisher =
        Publisher::connect_persistent("127.0.0.1", broker.port, &format!("pub-{root}")).await;
    let feeder = tokio::spawn(feed_noise(
        publisher,
        root.clone(),
        "pg".into(),
        TOTAL,
        Duration::from_millis(20),
    ));

    // The database goes away mid-stream: readiness turns red, and comes back.
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() >= Some(500)
        })
        .await;
    server.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.readyz().await.0 == 200 {
        assert!(
            Instant::now() < deadline,
            "engine stayed ready without its database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.start_again();
    engine.wait_ready().await;

    let acknowledged = feeder.await.expect("feeder");
    assert_eq!(acknowledged, TOTAL, "the broker acknowledged every publish");
    let overview = engine
        .wait_for(Duration::from_secs(120), |o| {
            o["events_total"].as_u64() == Some(TOTAL)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(TOTAL));
    let stored = db.count("SELECT COUNT(DISTINCT id) FROM ioc_events WHERE id LIKE 'pg-%'");
    assert_eq!(stored as u64, TOTAL, "every message journaled once");
    drop(engine);
}

/// Waits until every engine reports not ready with the broker check down.
async fn wait_not_ready_without_broker(engines: &[&Engine]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for engine in engines {
        loop {
            let (status, body) = engine.readyz().await;
            if status == 503 && body["checks"]["broker"] == false {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "an instance stayed ready without its broker: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Mosquitto (2.0, measured) keeps a persistent session's plain subscriptions across its own
/// restart but not its shared ones: until each slot session subscribes again, what is
/// published matches no subscription and the broker drops it (docs/cluster.md). So the test
/// restarts the broker with a backlog queued in the slot sessions and in flight, and publishes
/// again once the instances are ready: the backlog must come through, each event once, and
/// the sessions must have subscribed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarted_under_load_every_instance_catches_up_with_nothing_lost() {
    const HALF: u64 = 1_500;
    let mut broker = Mosquitto::start(
        "cluster-mq",
        MosquittoOptions {
            persistence: true,
            ..MosquittoOptions::default()
        },
    );
    let db = TestDatabase::create("cluster_mq");
    let root = ioc_tests::unique_root("cluster-mq");
    let a = Engine::start(instance(&root, "a", &broker, &db.url())).await;
    let b = Engine::start(instance(&root, "b", &broker, &db.url())).await;
    wait_slots_settled(&[&a, &b]).await;

    // A burst faster than the instances journal it: when the broker stops, part of it is
    // still queued in the slot sessions or in flight to them.
    let publisher = Publisher::connect("127.0.0.1", broker.port).await;
    let before = feed_noise(publisher, root.clone(), "mq1".into(), HALF, Duration::ZERO).await;
    assert_eq!(before, HALF, "the broker acknowledged the burst");
    let journaled = a.overview().await["events_total"].as_u64().unwrap_or(0);
    broker.stop();
    eprintln!("broker stopped with {journaled} of {HALF} events journaled");
    wait_not_ready_without_broker(&[&a, &b]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.restart();
    a.wait_ready().await;
    b.wait_ready().await;

    // After the restart: only subscribed-again sessions receive this.
    let publisher = Publisher::connect("127.0.0.1", broker.port).await;
    let after = feed_noise(publisher, root.clone(), "mq2".into(), HALF, Duration::ZERO).await;
    assert_eq!(after, HALF, "the broker acknowledged the second burst");
    for engine in [&a, &b] {
        let overview = engine
            .wait_for(Duration::from_secs(120), |o| {
                o["events_total"].as_u64() == Some(2 * HALF)
            })
            .await;
        assert_eq!(overview["events_total"].as_u64(), Some(2 * HALF));
        for area in NOISE_AREAS {
            assert_eq!(count(&overview, area, "noise"), 2 * HALF / 3, "{area}");
        }
    }
    let stored = db.count("SELECT COUNT(*) FROM ioc_events WHERE id LIKE 'mq%'");
    let distinct = db.count("SELECT COUNT(DISTINCT id) FROM ioc_events WHERE id LIKE 'mq%'");
    assert_eq!(
        (stored as u64, distinct as u64),
        (2 * HALF, 2 * HALF),
        "each event once"
    );
    assert_eq!(
        comparable(a.overview().await),
        comparable(b.overview().await),
        "both instances serve the same overview"
    );
}
