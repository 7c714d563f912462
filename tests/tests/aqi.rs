//! VN_AQI end to end: twelve hours of constant PM2.5 published over MQTT give, in the `area`
//! view, the index of that constant (NowCast of a constant is the constant); an area is as bad
//! as its worst station; noise averages by energy.

use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::time::Duration;

const MINUTE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_hours_of_constant_pm25_give_its_index_and_noise_averages_by_energy() {
    let engine = Engine::start(EngineOptions::new("aqi-e2e")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis() - 1_000;
    let mut sent = 0_u64;

    // Every 5 minutes for 12 hours, oldest first: Hoàn Kiếm's station at 55.7 µg/m³ (the
    // Decision's worked value, AQI 110); Ba Đình has a clean station (20.3 → 41) and a
    // polluted one (55.7 → 110).
    for k in (0..144_i64).rev() {
        let ts = now - k * 5 * MINUTE;
        for (area, station, pm25) in [
            ("hoan-kiem", "aq-hk", 55.7),
            ("ba-dinh", "aq-bd-clean", 20.3),
            ("ba-dinh", "aq-bd-busy", 55.7),
        ] {
            let body = json!({"source": station, "ts": ts, "values": {"pm25": pm25}});
            publisher
                .publish(
                    &format!("{root}/{area}/air_quality/{station}"),
                    body.to_string(),
                )
                .await;
            sent += 1;
        }
    }
    // Noise in Đống Đa: 60 and 70 dB(A) alternating over the last 105 s (inside the allowed
    // lateness, so none is late behind the air-quality readings of `now`).
    let levels: Vec<(i64, f64)> = (0..8_i64)
        .map(|k| (now - (7 - k) * 15_000, if k % 2 == 0 { 60.0 } else { 70.0 }))
        .collect();
    for (ts, laeq) in &levels {
        let body = json!({"source": "nm-dd", "ts": ts, "values": {"laeq": laeq}});
        publisher
            .publish(&format!("{root}/dong-da/noise/nm-dd"), body.to_string())
            .await;
        sent += 1;
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(60), |o| {
            o["events_total"].as_u64() == Some(sent)
        })
        .await;

    let hoan_kiem = engine.get_json("/api/views/area?area=hoan-kiem").await;
    assert_eq!(hoan_kiem["aqi"], json!(110), "{}", hoan_kiem["aqi"]);
    assert_eq!(hoan_kiem["aqi_basis"], "nowcast");
    assert_eq!(hoan_kiem["aqi_daily"], json!(110));
    assert_eq!(hoan_kiem["aqi_level"], "poor");
    assert_eq!(hoan_kiem["aqi_band"]["name_vi"], "Kém");
    assert_eq!(hoan_kiem["aqi_band"]["color"], "#FF7E00");
    let station = hoan_kiem["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "aq-hk").cloned())
        .expect("station in the area view");
    assert_eq!(station["aqi"], json!(110));

    let ba_dinh = engine.get_json("/api/views/area?area=ba-dinh").await;
    assert_eq!(ba_dinh["aqi"], json!(110), "the worst station decides");
    let clean = ba_dinh["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "aq-bd-clean").cloned())
        .expect("clean station");
    assert_eq!(clean["aqi"], json!(41), "NowCast 20.3 → 41");

    // LAeq over 5 minutes by energy: 10·log10(mean(10^(L/10))) over the readings in the window.
    let dong_da = engine.get_json("/api/views/area?area=dong-da").await;
    let energy: f64 = levels
        .iter()
        .map(|(_, l)| 10_f64.powf(l / 10.0))
        .sum::<f64>()
        / levels.len() as f64;
    let expected = (10.0 * energy.log10() * 100.0).round() / 100.0;
    assert_eq!(dong_da["laeq_5m"], json!(expected), "{dong_da}");
    assert_eq!(expected, 67.4);
    let limit = dong_da["noise_limit_db"].as_f64().expect("limit");
    assert!(
        limit == 70.0 || limit == 55.0,
        "QCVN 26 day or night: {limit}"
    );
    assert_eq!(dong_da["noise_over_limit"], json!(expected > limit));
    assert!(
        dong_da["series"].get("_laeq_energy").is_none(),
        "internal field hidden"
    );
}
