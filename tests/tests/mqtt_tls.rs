//! MQTT security end to end against a private Mosquitto with a password file and a TLS
//! listener (certificates made at test time): the engine ingests exact counts over `mqtts://`
//! with credentials and never logs the password; a wrong password or an untrusted CA leaves it
//! running but not ready, with a log line that says what is wrong, and nothing ingested.

use ioc_sim::MqttTarget;
use ioc_tests::mosquitto::{Mosquitto, MosquittoOptions};
use ioc_tests::simulate;
use ioc_tests::{Broker, Engine, EngineOptions};
use std::path::Path;
use std::time::{Duration, Instant};

const USER: &str = "ioc-engine";
const PASSWORD: &str = "Tr0ng-tam-IOC";
const EVENTS: u64 = 1_500;

fn options(test: &str, url: String, ca: &Path) -> EngineOptions {
    let mut options = EngineOptions::new(test);
    options.broker = Broker::External(url);
    options.extra_args = vec!["--mqtt-ca-file".into(), ca.display().to_string()];
    options.log_file = Some(std::env::temp_dir().join(format!("{}.log", options.topic_root)));
    options.with_env("IOC_LOG", "info")
}

fn log_of(engine: &Engine) -> String {
    engine
        .options
        .log_file
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default()
}

/// Waits until the engine's log holds `needle` (up to 30 s) and returns the log.
async fn wait_log(engine: &Engine, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = log_of(engine);
        if log.contains(needle) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "log never said {needle:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A rejected engine: still running, `/readyz` 503 with the broker check false, nothing counted.
async fn assert_refused_and_running(engine: &mut Engine) {
    assert!(engine.is_running(), "the engine exited instead of retrying");
    let (status, body) = engine.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["broker"], false, "{body}");
    assert_eq!(body["checks"]["journal"], true, "{body}");
    let overview = engine.overview().await;
    assert_eq!(overview["events_total"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_credentials_ingests_exact_counts_and_bad_credentials_or_ca_stay_not_ready() {
    let broker = Mosquitto::start(
        "tls",
        MosquittoOptions {
            users: vec![
                (USER.into(), PASSWORD.into()),
                ("sim".into(), "sim-pass".into()),
            ],
            tls: true,
            persistence: false,
        },
    );
    let pki = broker.pki.clone().expect("TLS broker has a PKI");

    // The right CA and password: exact counts over mqtts://.
    let url = broker.url_as(Some((USER, PASSWORD)));
    let engine = Engine::start(options("tls-ok", url, &pki.ca)).await;
    let mut target = MqttTarget::parse(&broker.url_as(Some(("sim", "sim-pass")))).expect("url");
    if let Some(files) = &mut target.tls {
        files.ca_file = Some(pki.ca.clone());
    }
    let root = &engine.options.topic_root;
    simulate::publish_all(simulate::city(target, root, EVENTS, 1_000.0, 5)).await;
    let overview = engine
        .wait_for(Duration::from_secs(60), |o| {
            o["events_total"].as_u64() == Some(EVENTS)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(EVENTS));
    assert_eq!(overview["rejected_total"].as_u64(), Some(0));
    let log = log_of(&engine);
    assert!(
        log.contains(&format!("mqtts://{USER}:***@localhost:{}", broker.port)),
        "the log shows the redacted broker URL:\n{log}"
    );
    assert!(!log.contains(PASSWORD), "the password leaked into the log");

    // A wrong password (given through IOC_MQTT_USERNAME / IOC_MQTT_PASSWORD).
    let bad = options("tls-badpass", broker.url_as(None), &pki.ca)
        .with_env("IOC_MQTT_USERNAME", USER)
        .with_env("IOC_MQTT_PASSWORD", "Sai-mat-khau-9");
    let mut wrong_password = Engine::launch(bad);
    let log = wait_log(&wrong_password, "broker refused the connection").await;
    assert!(log.contains("user name and password"), "{log}");
    assert!(!log.contains("Sai-mat-khau-9"), "the password leaked");
    assert_refused_and_running(&mut wrong_password).await;

    // The right password but a CA that did not sign the broker's certificate.
    let url = broker.url_as(Some((USER, PASSWORD)));
    let mut wrong_ca = Engine::launch(options("tls-badca", url, &pki.other_ca));
    let log = wait_log(&wrong_ca, "TLS with the broker failed").await;
    assert!(log.contains("mqtt_ca_file"), "{log}");
    assert!(!log.contains(PASSWORD), "the password leaked");
    assert_refused_and_running(&mut wrong_ca).await;

    for engine in [&engine, &wrong_password, &wrong_ca] {
        if let Some(path) = &engine.options.log_file {
            let _ = std::fs::remove_file(path);
        }
    }
}
