//! Alert rules end to end: for each rule type a scenario that must raise exactly one alert
//! (right subject, severity, value), one near the limit that must raise none, and a flapping one
//! that must raise one; acknowledgement and resolution over the API; the immediate `alert`
//! frame on the websocket and the copy on MQTT `ioc/alerts`; survival across kill -9.

use ioc_tests::alerts_topic::listen_alerts_topic;
use ioc_tests::engine::{mint, mint_scoped};
use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::ws::LiveClient;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;

/// Writes a rules file for one test and returns its path.
fn rules_file(test: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ioc-rules-{test}-{}.toml", std::process::id()));
    std::fs::write(&path, text).expect("rules file");
    path
}

fn with_rules(test: &str, text: &str) -> EngineOptions {
    let mut options = EngineOptions::new(test);
    options.extra_args.push("--rules".into());
    options
        .extra_args
        .push(rules_file(test, text).display().to_string());
    options
}

/// Every alert the engine keeps.
async fn all_alerts(engine: &Engine) -> Vec<Value> {
    engine.get_json("/api/alerts?state=all").await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn of_rule<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"] == rule).collect()
}

fn subjects(alerts: &[&Value]) -> Vec<String> {
    let mut subjects: Vec<String> = alerts
        .iter()
        .map(|a| a["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    subjects.sort();
    subjects
}

/// Polls `/api/alerts` until `done` holds (panics after 30 s).
async fn wait_alerts(engine: &Engine, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts = all_alerts(engine).await;
        if done(&alerts) {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "alerts never reached the expected state: {alerts:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lets the evaluator run a few more times (it reconciles every second and after each
/// batch), so that an alert that should not exist would have appeared.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(2_500)).await;
}

async fn post(engine: &Engine, path: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(engine.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits for the `ioc/alerts` message of `id` in `state`.
async fn mqtt_copy(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    id: &str,
    state: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no ioc/alerts message for {id} {state}"))
            .expect("listener alive");
        if message["id"] == id && message["state"] == state {
            return message;
        }
    }
}

/// Waits for the websocket `alert` frame of `subject` in `state`; checks `seq` has no gap.
async fn alert_frame(
    live: &mut LiveClient,
    last_seq: &mut u64,
    subject: &str,
    state: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = live
            .next(left)
            .await
            .unwrap_or_else(|| panic!("no alert frame for {subject} {state}"));
        if frame["id"] != "al" {
            continue;
        }
        let seq = frame["seq"].as_u64().expect("seq");
        assert_eq!(seq, *last_seq + 1, "gap in seq: {frame}");
        *last_seq = seq;
        if frame["type"] == "alert"
            && frame["alert"]["subject"] == subject
            && frame["alert"]["state"] == state
        {
            return frame;
        }
    }
}

const SENSOR_RULES: &str = r#"
[[rule]]
id = "pm25-high"
type = "threshold"
metric = "air_quality.pm25"
above = 150
clear = 130
for = "2m"
severity = "critical"

[[rule]]
id = "water-rise"
type = "rate_of_change"
metric = "water_level.level_cm"
rise = 20
within = "10m"
severity = "major"

"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensor_rules_raise_once_per_episode_and_survive_restart() {
    let mut engine = Engine::start(with_rules(
        "alerts-sensors",
        &format!("{SENSOR_RULES}{ANOMALY_RULES}"),
    ))
    .await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut mqtt_alerts = listen_alerts_topic(&host, port).await;
    let mut live = LiveClient::connect(&engine.ws_url()).await;
    live.subscribe("al", "alerts", json!({})).await;
    let mut seq = 0;
    let snapshot = alert_frame_snapshot(&mut live, &mut seq).await;
    assert_eq!(snapshot["items"], json!([]));

    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    let t0 = now - 10 * MINUTE;
    let mut sent = 0_u64;
    let mut send = async |area: &str, kind: &str, source: &str, ts: i64, values: Value| {
        let body = json!({"source": source, "ts": ts, "values": values});
        publisher
            .publish(&format!("{root}/{area}/{kind}/{source}"), body.to_string())
            .await;
    };

    // Threshold: PM2.5 above 150 for 2 minutes, clears at 130.
    let half = MINUTE / 2;
    for k in 0..7 {
        send(
            "hoan-kiem",
            "air_quality",
            "aq-hit",
            t0 + k * half,
            json!({"pm25": 160.0}),
        )
        .await;
        sent += 1;
    }
    for k in 0..11 {
        send(
            "ba-dinh",
            "air_quality",
            "aq-near",
            t0 + k * half,
            json!({"pm25": 149.9}),
        )
        .await;
        sent += 1;
    }
    let flap = [
        160.0, 160.0, 160.0, 160.0, 160.0, 160.0, 140.0, 155.0, 140.0, 155.0, 125.0, 160.0, 160.0,
    ];
    for (k, value) in flap.iter().enumerate() {
        send(
            "dong-da",
            "air_quality",
            "aq-flap",
            t0 + k as i64 * half,
            json!({"pm25": value}),
        )
        .await;
        sent += 1;
    }
    // Rate of change: +20 cm within 10 minutes.
    for (source, area, levels) in [
        ("w-hit", "long-bien", vec![50.0, 60.0, 75.0]),
        ("w-near", "cau-giay", vec![50.0, 60.0, 69.0]),
        (
            "w-flap",
            "thanh-xuan",
            vec![50.0, 75.0, 55.0, 76.0, 56.0, 77.0],
        ),
    ] {
        for (k, level) in levels.iter().enumerate() {
            send(
                area,
                "water_level",
                source,
                t0 + k as i64 * MINUTE,
                json!({"level_cm": level}),
            )
            .await;
            sent += 1;
        }
    }
    // Anomaly: the same hour of the week two and one weeks ago had speeds 40 and 42.
    let hour = now - now.rem_euclid(3_600_000);
    for (area, source) in [
        ("tay-ho", "tr-hit"),
        ("hai-ba-trung", "tr-near"),
        ("hoang-mai", "tr-flap"),
    ] {
        for (ts, speed) in speed_baseline(hour) {
            send(area, "traffic", source, ts, json!({"speed": speed})).await;
            sent += 1;
        }
    }
    let current = |k: i64| hour + k * 1_000;
    for (k, speed) in [10.0, 10.0].iter().enumerate() {
        send(
            "tay-ho",
            "traffic",
            "tr-hit",
            current(k as i64),
            json!({"speed": speed}),
        )
        .await;
        sent += 1;
    }
    for (k, speed) in [33.0, 33.0].iter().enumerate() {
        send(
            "hai-ba-trung",
            "traffic",
            "tr-near",
            current(k as i64),
            json!({"speed": speed}),
        )
        .await;
        sent += 1;
    }
    for (k, speed) in [10.0, 35.0, 10.0, 35.0].iter().enumerate() {
        send(
            "hoang-mai",
            "traffic",
            "tr-flap",
            current(k as i64),
            json!({"speed": speed}),
        )
        .await;
        sent += 1;
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(sent)
        })
        .await;

    let alerts = wait_alerts(&engine, |alerts| alerts.len() >= 6).await;
    settle().await;
    let alerts = {
        let again = all_alerts(&engine).await;
        assert_eq!(
            again.len(),
            alerts.len(),
            "no alert beyond the expected: {again:#?}"
        );
        again
    };
    assert_eq!(alerts.len(), 6, "{alerts:#?}");

    let pm = of_rule(&alerts, "pm25-high");
    assert_eq!(subjects(&pm), vec!["aq-flap", "aq-hit"]);
    let hit = pm
        .iter()
        .find(|a| a["subject"] == "aq-hit")
        .expect("aq-hit");
    assert_eq!(hit["severity"], "critical");
    assert_eq!(hit["state"], "active");
    assert_eq!(hit["area"], "hoan-kiem");
    assert_eq!(hit["source"], "aq-hit");
    assert_eq!(hit["value"], json!(160.0));
    assert_eq!(hit["threshold"], json!(150.0));
    assert!(
        hit["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Hoàn Kiếm"),
        "{hit}"
    );
    let flapped = pm
        .iter()
        .find(|a| a["subject"] == "aq-flap")
        .expect("aq-flap");
    assert_eq!(flapped["state"], "resolved", "cleared at 125: {flapped}");
    assert_eq!(flapped["resolved_by"], Value::Null);

    let rise = of_rule(&alerts, "water-rise");
    assert_eq!(subjects(&rise), vec!["w-flap", "w-hit"]);
    let w_hit = rise
        .iter()
        .find(|a| a["subject"] == "w-hit")
        .expect("w-hit");
    assert_eq!(w_hit["value"], json!(25.0));
    assert_eq!(w_hit["threshold"], json!(20.0));
    assert_eq!(w_hit["severity"], "major");
    assert!(rise.iter().all(|a| a["state"] == "active"));

    let unusual = of_rule(&alerts, "speed-unusual");
    assert_eq!(subjects(&unusual), vec!["hoang-mai", "tay-ho"]);
    let tay_ho = unusual
        .iter()
        .find(|a| a["subject"] == "tay-ho")
        .expect("tay-ho");
    assert_eq!(tay_ho["value"], json!(10.0));
    // Baseline 41 with a spread floored at 10 % of it: 41 − 3 × 4.1.
    assert_eq!(tay_ho["threshold"], json!(28.7));
    assert_eq!(tay_ho["area"], "tay-ho");
    assert_eq!(tay_ho["source"], Value::Null);

    // The websocket got the raise at once, and MQTT a copy.
    let hit_id = hit["id"].as_str().expect("id").to_string();
    alert_frame(&mut live, &mut seq, "aq-hit", "active").await;
    mqtt_copy(&mut mqtt_alerts, &hit_id, "active").await;

    // Overview counts open alerts, per area too.
    let overview = engine.overview().await;
    assert_eq!(overview["alerts_active"], json!(5));
    let line = |o: &Value, area: &str| {
        o["areas"]
            .as_array()
            .and_then(|areas| areas.iter().find(|a| a["id"] == area).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(line(&overview, "hoan-kiem")["alerts_active"], json!(1));
    assert_eq!(line(&overview, "dong-da")["alerts_active"], json!(0));

    // Roles and scopes on the lifecycle.
    let operator = mint(&engine.data_dir, "operator");
    let viewer = mint(&engine.data_dir, "viewer");
    let elsewhere = mint_scoped(&engine.data_dir, "operator", &["cau-giay"]);
    assert_eq!(
        post(&engine, &format!("/api/alerts/{hit_id}/ack"), &viewer)
            .await
            .0,
        403
    );
    assert_eq!(
        post(&engine, &format!("/api/alerts/{hit_id}/ack"), &elsewhere)
            .await
            .0,
        403
    );
    assert_eq!(
        post(&engine, "/api/alerts/AL-0-none/ack", &operator)
            .await
            .0,
        404
    );
    let (status, acked) = post(&engine, &format!("/api/alerts/{hit_id}/ack"), &operator).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["acked_by"], "operator");
    assert_eq!(
        post(&engine, &format!("/api/alerts/{hit_id}/ack"), &operator)
            .await
            .0,
        409
    );
    alert_frame(&mut live, &mut seq, "aq-hit", "acknowledged").await;
    mqtt_copy(&mut mqtt_alerts, &hit_id, "acknowledged").await;

    // An operator resolves w-hit while its rise still holds: no new alert for it.
    let w_hit_id = w_hit["id"].as_str().expect("id").to_string();
    let (status, resolved) = post(
        &engine,
        &format!("/api/alerts/{w_hit_id}/resolve"),
        &operator,
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["resolved_by"], "operator");
    assert_eq!(
        post(
            &engine,
            &format!("/api/alerts/{w_hit_id}/resolve"),
            &operator
        )
        .await
        .0,
        409
    );
    settle().await;
    let before = all_alerts(&engine).await;
    assert_eq!(before.len(), 6, "{before:#?}");
    let scoped = reqwest::Client::new()
        .get(engine.url("/api/alerts?state=all"))
        .bearer_auth(&elsewhere)
        .send()
        .await
        .expect("GET")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(scoped["total"], json!(0), "cau-giay has no alert: {scoped}");

    // kill -9 and restart: the same alerts in the same states, nothing raised again.
    engine.kill9();
    engine.restart().await;
    settle().await;
    let after = all_alerts(&engine).await;
    assert_eq!(after, before);
    assert_eq!(engine.overview().await["alerts_active"], json!(4));
}

/// The snapshot of the `al` subscription (the first frame).
async fn alert_frame_snapshot(live: &mut LiveClient, seq: &mut u64) -> Value {
    let frame = live.next(Duration::from_secs(10)).await.expect("snapshot");
    assert_eq!(frame["type"], "snapshot", "{frame}");
    *seq = frame["seq"].as_u64().expect("seq");
    frame["data"].clone()
}

const STALE_RULES: &str = r#"
[[rule]]
id = "silent"
type = "stale"
kinds = ["noise"]
after = "3s"
recover_readings = 2
severity = "warning"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sensors_raise_one_alert_and_recover_after_readings_in_a_row() {
    let engine = Engine::start(with_rules("alerts-stale", STALE_RULES)).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let mut readings_sent = 0_u32;
    let mut reading = async |source: &str| {
        // An explicit id: two readings within one millisecond would otherwise share the
        // derived id (source, ts, kind) and count once.
        readings_sent += 1;
        let body = json!({"id": format!("{source}-{readings_sent}"), "source": source,
            "ts": chrono::Utc::now().timestamp_millis(), "values": {"laeq": 60.0}});
        publisher
            .publish(
                &format!("{root}/hoan-kiem/noise/{source}"),
                body.to_string(),
            )
            .await;
        publisher.wait_acked().await;
    };
    reading("n-hit").await;
    reading("n-flap").await;
    // n-near reports every second, well inside the 3 s limit, for the whole test.
    let near_root = root.clone();
    let near = tokio::spawn(async move {
        let mut near_publisher = Publisher::connect(&host, port).await;
        loop {
            let body = json!({"source": "n-near", "ts": chrono::Utc::now().timestamp_millis(), "values": {"laeq": 60.0}});
            near_publisher
                .publish(
                    &format!("{near_root}/hoan-kiem/noise/n-near"),
                    body.to_string(),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
    });

    let alerts = wait_alerts(&engine, |a| a.len() >= 2).await;
    assert_eq!(
        subjects(&alerts.iter().collect::<Vec<_>>()),
        vec!["n-flap", "n-hit"]
    );
    let hit = alerts
        .iter()
        .find(|a| a["subject"] == "n-hit")
        .expect("n-hit");
    assert_eq!(hit["severity"], "warning");
    assert_eq!(hit["threshold"], json!(3.0));
    let hit_id = hit["id"].as_str().expect("id").to_string();

    // n-flap: one reading, silence again, one reading: never two in a row, one alert.
    reading("n-flap").await;
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    reading("n-flap").await;

    // n-hit: acknowledged, then two readings in a row resolve it.
    let operator = mint(&engine.data_dir, "operator");
    assert_eq!(
        post(&engine, &format!("/api/alerts/{hit_id}/ack"), &operator)
            .await
            .0,
        200
    );
    reading("n-hit").await;
    reading("n-hit").await;
    let alerts = wait_alerts(&engine, |a| {
        a.iter()
            .any(|x| x["subject"] == "n-hit" && x["state"] == "resolved")
    })
    .await;
    near.abort();
    let hit = alerts
        .iter()
        .find(|a| a["subject"] == "n-hit")
        .expect("n-hit");
    assert_eq!(hit["acked_by"], "operator");
    assert_eq!(hit["resolved_by"], Value::Null);
    let flap: Vec<&Value> = alerts.iter().filter(|a| a["subject"] == "n-flap").collect();
    assert_eq!(flap.len(), 1, "{alerts:#?}");
    assert_eq!(flap[0]["state"], "active");
    assert_eq!(alerts.len(), 2, "n-near never went silent: {alerts:#?}");
}

const BURST_RULES: &str = r#"
[[rule]]
id = "cluster"
type = "report_burst"
count = 5
radius_m = 300
within = "30m"
categories = ["flooding", "environment", "traffic"]
severity = "major"

[[rule]]
id = "short-cluster"
type = "report_burst"
count = 5
radius_m = 300
within = "8s"
categories = ["urban_order"]
severity = "minor"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_reports_within_300_m_raise_one_alert_and_spread_reports_none() {
    const KEY: &str = "burst-app";
    let engine = Engine::start(
        with_rules("alerts-burst", BURST_RULES).with_env("IOC_OPEN311_API_KEYS", KEY),
    )
    .await;
    let client = Open311Client::new(&engine.url(""));
    let report = async |code: &str, lat: f64, lon: f64| {
        let (lat, lon) = (lat.to_string(), lon.to_string());
        let answer = client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", code),
                    ("lat", &lat),
                    ("long", &lon),
                    ("description", "Ngập sâu, xe máy chết máy"),
                ],
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    };
    // Five flooding reports within about 150 m of Hàng Bạc.
    for (dlat, dlon) in [
        (0.0, 0.0),
        (0.0005, 0.0),
        (0.0, 0.0006),
        (-0.0007, 0.0003),
        (0.0004, -0.0008),
    ] {
        report("flooding", 21.0340 + dlat, 105.8520 + dlon).await;
    }
    // Five garbage reports spread over the city, kilometres apart.
    for (lat, lon) in [
        (21.035, 105.820),
        (21.070, 105.818),
        (21.048, 105.889),
        (21.030, 105.790),
        (20.974, 105.860),
    ] {
        report("environment", lat, lon).await;
    }
    // Four traffic reports close together: one short of a cluster.
    for k in 0..4 {
        report("traffic", 21.0130 + f64::from(k) * 0.0003, 105.8250).await;
    }
    let alerts = wait_alerts(&engine, |a| !a.is_empty()).await;
    settle().await;
    let alerts_now = all_alerts(&engine).await;
    assert_eq!(alerts_now.len(), 1, "{alerts_now:#?}");
    assert_eq!(alerts_now, alerts);
    let cluster = &alerts[0];
    assert_eq!(cluster["rule"], "cluster");
    assert_eq!(cluster["type"], "report_burst");
    assert_eq!(cluster["metric"], "flooding");
    assert_eq!(cluster["severity"], "major");
    assert_eq!(cluster["value"], json!(5.0));
    assert!(
        cluster["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("5 phản ánh \"Ngập úng\" trong bán kính 300 m trong 30 phút tại "),
        "{cluster}"
    );
    assert!(
        cluster["subject"]
            .as_str()
            .unwrap_or_default()
            .starts_with("flooding@21.03")
    );
    let (lat, lon) = (
        cluster["lat"].as_f64().expect("lat"),
        cluster["long"].as_f64().expect("long"),
    );
    assert!(
        (lat - 21.03404).abs() < 0.0001 && (lon - 105.85202).abs() < 0.0001,
        "{cluster}"
    );

    // A sixth report nearby and a second wave of five join the cluster: still one alert.
    for k in 0..6 {
        report("flooding", 21.0342 + f64::from(k) * 0.0001, 105.8522).await;
    }
    settle().await;
    assert_eq!(all_alerts(&engine).await.len(), 1);

    // An operator acknowledges it.
    let operator = mint(&engine.data_dir, "operator");
    let id = cluster["id"].as_str().expect("id");
    let (status, acked) = post(&engine, &format!("/api/alerts/{id}/ack"), &operator).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");

    // A cluster whose reports age out of its 8 s span resolves by itself.
    for k in 0..5 {
        report("urban_order", 21.0130 + f64::from(k) * 0.0002, 105.8400).await;
    }
    let alerts = wait_alerts(&engine, |a| {
        a.iter()
            .any(|x| x["rule"] == "short-cluster" && x["state"] == "resolved")
    })
    .await;
    let short: Vec<&Value> = of_rule(&alerts, "short-cluster");
    assert_eq!(short.len(), 1, "{alerts:#?}");
    assert_eq!(short[0]["resolved_by"], Value::Null);
    assert_eq!(short[0]["severity"], "minor");
    assert_eq!(of_rule(&alerts, "cluster").len(), 1);
}

#[test]
fn a_bad_rules_file_is_refused_with_its_line() {
    let path = rules_file(
        "alerts-bad",
        "[[rule]]\nid = \"ok\"\ntype = \"stale\"\nafter = \"5m\"\nseverity = \"warning\"\n\n[[rule]]\nid = \"pm\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 150\nfor = \"ten minutes\"\nseverity = \"major\"\n",
    );
    let data_dir = std::env::temp_dir().join(format!("ioc-test-alerts-bad-{}", std::process::id()));
    let output = std::process::Command::new(ioc_tests::engine::binary())
        .args([
            "serve",
            "--mqtt",
            &ioc_tests::test_broker_url(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--rules")
        .arg(&path)
        .env_remove("IOC_JWT_SECRET")
        .output()
        .expect("run ioc serve");
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 7") && stderr.contains("`for`") && stderr.contains("rule \"pm\""),
        "{stderr}"
    );
}

/// Traffic speeds of the same hour of the week as `hour`, two and one weeks earlier: 40 and 42,
/// five readings each, then a reading in the next hour that closes the hour into the baseline
/// (baseline mean 41).
fn speed_baseline(hour: i64) -> Vec<(i64, f64)> {
    let week = 7 * 24 * 3_600_000_i64;
    [(2, 40.0), (1, 42.0)]
        .into_iter()
        .flat_map(|(weeks_ago, speed)| {
            let start = hour - weeks_ago * week;
            (0..5)
                .map(move |k| start + k * MINUTE)
                .chain([start + 3_600_000 + 1])
                .map(move |ts| (ts, speed))
        })
        .collect()
}

const ANOMALY_RULES: &str = r#"
[[rule]]
id = "speed-unusual"
type = "anomaly"
metric = "traffic.speed"
direction = "below"
z = 3
clear_z = 1
window = "1s"
min_weeks = 2
severity = "minor"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomaly_baselines_come_back_from_the_parquet_archive_after_a_restart() {
    let mut engine = Engine::start(
        with_rules("alerts-archive", ANOMALY_RULES).with_env("IOC_HISTORY_COMPACT_EVERY", "1h"),
    )
    .await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    let hour = now - now.rem_euclid(3_600_000);
    let topic = format!("{root}/tay-ho/traffic/tr-archive");
    let mut sent = 0_u64;
    for (ts, speed) in speed_baseline(hour) {
        let body = json!({"source": "tr-archive", "ts": ts, "values": {"speed": speed}});
        publisher.publish(&topic, body.to_string()).await;
        sent += 1;
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(sent)
        })
        .await;

    // All of it is older than the 48 h horizon: compaction moves every reading to Parquet.
    let report: Value = reqwest::Client::new()
        .post(engine.url("/api/history/compact"))
        .bearer_auth(&engine.token)
        .send()
        .await
        .expect("POST compact")
        .json()
        .await
        .expect("JSON");
    assert_eq!(report["events"].as_u64(), Some(sent), "{report}");

    // After a restart the journal holds none of the baseline; the archive seeds it.
    engine.kill9();
    engine.restart().await;
    for (k, speed) in [10.0, 10.0].iter().enumerate() {
        let body = json!({"source": "tr-archive", "ts": hour + k as i64 * 1_000, "values": {"speed": speed}});
        publisher.publish(&topic, body.to_string()).await;
    }
    publisher.wait_acked().await;
    let alerts = wait_alerts(&engine, |a| !a.is_empty()).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["subject"], "tay-ho");
    assert_eq!(alerts[0]["value"], json!(10.0));
    // The same baseline as before compaction: 41 with the spread floored at 4.1.
    assert_eq!(alerts[0]["threshold"], json!(28.7));
}
