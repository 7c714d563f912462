//! Public-service dossier KPIs and the area ranking end to end: dossier events over MQTT, the
//! `kpi` view and overview ranks against values computed here by hand, then kill -9 and
//! replay must give identical figures.

use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::time::Duration;

/// (area, channel, level, stage, on_time) of every dossier event sent.
type Dossier = (&'static str, &'static str, u8, &'static str, bool);

fn dossiers() -> Vec<Dossier> {
    let mut sent: Vec<Dossier> = Vec::new();
    // hoan-kiem: 10 received (3 online, 3 at level 4), 8 resolved (7 on time).
    sent.extend([
        ("hoan-kiem", "online", 4, "received", false),
        ("hoan-kiem", "online", 4, "received", false),
        ("hoan-kiem", "online", 3, "received", false),
        ("hoan-kiem", "offline", 4, "received", false),
    ]);
    sent.extend((0..6).map(|_| ("hoan-kiem", "offline", 2, "received", false)));
    sent.extend((0..7).map(|_| ("hoan-kiem", "offline", 3, "resolved", true)));
    sent.push(("hoan-kiem", "online", 4, "resolved", false));
    // ba-dinh and cau-giay alike: 4 received online at level 3, 2 resolved on time.
    for area in ["cau-giay", "ba-dinh"] {
        sent.extend((0..4).map(|_| (area, "online", 3, "received", false)));
        sent.extend((0..2).map(|_| (area, "online", 3, "resolved", true)));
    }
    sent
}

fn line<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key] == id))
        .unwrap_or(&Value::Null)
}

/// The figures this test checks, so the same can be compared after the restart.
fn figures(kpi: &Value, overview: &Value) -> Value {
    let ranks: Vec<Value> = ["ba-dinh", "cau-giay", "hoan-kiem", "tay-ho"]
        .iter()
        .map(|id| line(&overview["areas"], "id", id)["rank"].clone())
        .collect();
    let areas: Vec<Value> = ["ba-dinh", "cau-giay", "hoan-kiem", "tay-ho"]
        .iter()
        .map(|id| line(&kpi["areas"], "id", id)["dossiers"].clone())
        .collect();
    json!({
        "city": kpi["city"]["dossiers"],
        "areas": areas,
        "ranking": kpi["ranking"],
        "overview_kpi": overview["kpi"],
        "ranks": ranks,
    })
}

async fn wait_and_read(engine: &Engine, total: u64) -> (Value, Value) {
    let overview = engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(total)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(total), "events");
    (engine.get_json("/api/views/kpi").await, overview)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dossier_kpis_and_ranking_match_hand_computed_values_and_survive_replay() {
    let mut engine = Engine::start(EngineOptions::new("dossier-kpis")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;

    let sent = dossiers();
    let start = chrono::Utc::now().timestamp_millis() - 60_000;
    for (n, (area, channel, level, stage, on_time)) in sent.iter().enumerate() {
        let source = format!("dvc-{area}");
        let mut values = json!({"service": "Đăng ký khai sinh", "channel": channel,
            "level": level, "stage": stage, "agency": format!("UBND {area}")});
        if *stage == "resolved" {
            values["on_time"] = json!(on_time);
        }
        let body = json!({"source": source, "ts": start + n as i64 * 100, "values": values});
        publisher
            .publish(&format!("{root}/{area}/dossier/{source}"), body.to_string())
            .await;
    }
    publisher.wait_acked().await;
    let (kpi, overview) = wait_and_read(&engine, sent.len() as u64).await;

    // hoan-kiem: online 3/10, level 4 3/10, on time 7/8.
    let hoan_kiem = &line(&kpi["areas"], "id", "hoan-kiem")["dossiers"];
    assert_eq!(
        (
            &hoan_kiem["received"],
            &hoan_kiem["resolved"],
            &hoan_kiem["online_pct"],
            &hoan_kiem["level4_pct"],
            &hoan_kiem["on_time_pct"],
        ),
        (
            &json!(10),
            &json!(8),
            &json!(30.0),
            &json!(30.0),
            &json!(87.5)
        ),
        "{hoan_kiem}"
    );
    assert_eq!(
        hoan_kiem["meets_target"],
        json!({"online_pct": true, "level4_pct": true, "on_time_pct": false})
    );
    // cau-giay: online 4/4, level 4 0/4, on time 2/2.
    let cau_giay = &line(&kpi["areas"], "id", "cau-giay")["dossiers"];
    assert_eq!(
        (
            &cau_giay["online_pct"],
            &cau_giay["level4_pct"],
            &cau_giay["on_time_pct"]
        ),
        (&json!(100.0), &json!(0.0), &json!(100.0))
    );
    assert_eq!(
        cau_giay["meets_target"],
        json!({"online_pct": true, "level4_pct": false, "on_time_pct": true})
    );
    // An area with no dossiers has no ratios (null, left out), not zeros.
    let tay_ho = &line(&kpi["areas"], "id", "tay-ho")["dossiers"];
    assert_eq!(tay_ho["received"], 0);
    assert!(tay_ho["online_pct"].is_null(), "{tay_ho}");
    // City: online 11/18 = 61.11 %, level 4 3/18 = 16.67 %, on time 11/12 = 91.67 %.
    let city = &kpi["city"]["dossiers"];
    assert_eq!(
        (
            &city["received"],
            &city["online_pct"],
            &city["level4_pct"],
            &city["on_time_pct"]
        ),
        (&json!(18), &json!(61.11), &json!(16.67), &json!(91.67)),
        "{city}"
    );
    assert_eq!(
        overview["kpi"]["dossiers_online_pct"],
        json!(61.11),
        "{}",
        overview["kpi"]
    );
    assert_eq!(overview["kpi"]["dossiers_level4_pct"], json!(16.67));
    assert_eq!(overview["kpi"]["dossiers_on_time_pct"], json!(91.67));
    assert_eq!(
        kpi["targets"],
        json!({"online_pct": 20.0, "level4_pct": 30.0, "on_time_pct": 95.0})
    );

    // Default weights, only dossier terms present (weights 0.25 on time, 0.10 online, 0.10
    // level 4, re-normalised over 0.45): ba-dinh = cau-giay = (25 + 10 + 0) / 0.45 = 77.78,
    // tied and ordered by id; hoan-kiem = (21.875 + 3 + 3) / 0.45 = 61.94.
    let ranking: Vec<(String, f64, u64)> = kpi["ranking"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r["area"].as_str().unwrap_or_default().to_string(),
                        r["score"].as_f64().unwrap_or(f64::NAN),
                        r["rank"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ranking,
        vec![
            ("ba-dinh".to_string(), 77.78, 1),
            ("cau-giay".to_string(), 77.78, 2),
            ("hoan-kiem".to_string(), 61.94, 3),
        ]
    );
    assert_eq!(line(&kpi["ranking"], "area", "ba-dinh")["name"], "Ba Đình");
    let before = figures(&kpi, &overview);
    assert_eq!(before["ranks"], json!([1, 2, 3, null]), "{before}");

    engine.restart().await;
    let (kpi, overview) = wait_and_read(&engine, sent.len() as u64).await;
    assert_eq!(figures(&kpi, &overview), before);
}
