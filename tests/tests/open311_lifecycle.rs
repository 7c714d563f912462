//! A report's lifecycle through the operator API (assign → in_progress → resolved → rated),
//! refused transitions, and the KPIs it must produce, computed here by hand; then kill -9 and
//! replay must give the same figures.

use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "lifecycle-app";
const HOUR_MS: i64 = 3_600_000;
const AGENCY: &str = "Công ty TNHH MTV Thoát nước Hà Nội";

struct Operator {
    http: reqwest::Client,
    engine_url: String,
    token: String,
}

impl Operator {
    async fn act(&self, id: &str, action: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/reports/{id}/{action}", self.engine_url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn ms(text: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text.as_str().expect("datetime"))
        .expect("RFC 3339")
        .timestamp_millis()
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_transitions_and_hand_computed_kpis_survive_restart() {
    let mut engine =
        Engine::start(EngineOptions::new("o311-life").with_env("IOC_OPEN311_API_KEYS", KEY)).await;
    let client = Open311Client::new(&engine.url(""));
    let (host, port) = engine.options.broker.address();
    let root = engine.options.topic_root.clone();

    // Two flooding reports (SLA 4 h) sent by an app over MQTT 3 h and 6 h ago, one traffic
    // report and one flooding report posted now.
    let now = chrono::Utc::now().timestamp_millis();
    let mut publisher = Publisher::connect(&host, port).await;
    for (id, age_h, text) in [("flood-a", 3, "Ngập A"), ("flood-b", 6, "Ngập B")] {
        let body = json!({"id": id, "ts": now - age_h * HOUR_MS, "service_code": "flooding",
            "lat": 21.029, "long": 105.853, "description": text});
        publisher
            .publish(&format!("{root}/_/report"), body.to_string())
            .await;
    }
    publisher.wait_acked().await;
    let posted = client
        .post_form(
            "json",
            &[
                ("api_key", KEY),
                ("service_code", "traffic"),
                ("lat", "21.035"),
                ("long", "105.820"),
                ("description", "Ùn tắc kéo dài"),
            ],
        )
        .await;
    assert_eq!(posted.status, 201);
    let c = posted.json()[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (a, b) = loop {
        let list = client
            .get("/open311/v2/requests.json", &[("service_code", "flooding")])
            .await
            .json();
        let find = |text: &str| {
            list.as_array()
                .and_then(|l| l.iter().find(|r| r["description"] == text))
                .and_then(|r| r["service_request_id"].as_str())
                .map(str::to_string)
        };
        if let (Some(a), Some(b)) = (find("Ngập A"), find("Ngập B")) {
            break (a, b);
        }
        assert!(Instant::now() < deadline, "MQTT reports not listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // B is already past its 4 h SLA.
    let overview = engine.overview().await;
    assert_eq!(overview["reports"]["overdue"], 1);
    let hoan_kiem = overview["areas"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == "hoan-kiem"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            hoan_kiem["reports_open"].clone(),
            hoan_kiem["reports_overdue"].clone()
        ),
        (json!(2), json!(1))
    );

    let operator = Operator {
        http: reqwest::Client::new(),
        engine_url: engine.url(""),
        token: ioc_tests::engine::mint(&engine.data_dir, "operator"),
    };
    let viewer = Operator {
        token: ioc_tests::engine::mint(&engine.data_dir, "viewer"),
        ..Operator {
            http: reqwest::Client::new(),
            engine_url: engine.url(""),
            token: String::new(),
        }
    };

    // Refusals.
    assert_eq!(
        viewer.act(&a, "assign", json!({"agency": AGENCY})).await.0,
        403
    );
    let (status, body) = operator.act(&a, "rate", json!({"rating": 5})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("received")),
        "{body}"
    );
    assert_eq!(
        operator
            .act(&a, "status", json!({"status": "in_progress"}))
            .await
            .0,
        409
    );
    assert_eq!(
        operator
            .act(&a, "status", json!({"status": "flying"}))
            .await
            .0,
        400
    );
    assert_eq!(operator.act(&a, "rate", json!({"rating": 6})).await.0, 400);
    assert_eq!(operator.act(&a, "assign", json!({})).await.0, 400);
    assert_eq!(
        operator
            .act("pa-0000000000000000", "assign", json!({"agency": AGENCY}))
            .await
            .0,
        404
    );
    assert_eq!(operator.act(&a, "fly", json!({})).await.0, 404);

    // A: assign → in_progress → resolved → rated 5 (resolved 3 h after receipt: on time).
    for (action, body) in [
        (
            "assign",
            json!({"agency": AGENCY, "note": "Đã chuyển đơn vị xử lý"}),
        ),
        ("status", json!({"status": "in_progress"})),
        (
            "status",
            json!({"status": "resolved", "note": "Đã bơm thoát nước"}),
        ),
        ("rate", json!({"rating": 5})),
    ] {
        let (status, report) = operator.act(&a, action, body).await;
        assert_eq!(status, 200, "{action}: {report}");
    }
    // B: assign → resolved (6 h: late) → rated 3. C: rejected, then nothing more.
    assert_eq!(
        operator
            .act(&b, "assign", json!({"agency": AGENCY}))
            .await
            .0,
        200
    );
    assert_eq!(
        operator
            .act(&b, "status", json!({"status": "resolved"}))
            .await
            .0,
        200
    );
    assert_eq!(operator.act(&b, "rate", json!({"rating": 3})).await.0, 200);
    assert_eq!(
        operator.act(&b, "rate", json!({"rating": 4})).await.0,
        409,
        "rated once"
    );
    assert_eq!(
        operator
            .act(&c, "status", json!({"status": "rejected"}))
            .await
            .0,
        200
    );
    assert_eq!(
        operator
            .act(&c, "status", json!({"status": "resolved"}))
            .await
            .0,
        409
    );
    assert_eq!(
        operator
            .act(&c, "assign", json!({"agency": AGENCY}))
            .await
            .0,
        409
    );

    // Open311 reflects it.
    let open311_a = client
        .get(&format!("/open311/v2/requests/{a}.json"), &[])
        .await
        .json();
    assert_eq!(open311_a[0]["status"], "closed");
    assert_eq!(open311_a[0]["agency_responsible"], AGENCY);
    assert_eq!(open311_a[0]["status_notes"], "Đã bơm thoát nước");
    assert!(ms(&open311_a[0]["updated_datetime"]) > ms(&open311_a[0]["requested_datetime"]));
    let detail_a = engine.get_json(&format!("/api/reports/{a}")).await;
    assert_eq!(detail_a["status"], "resolved");
    assert_eq!(detail_a["rating"], 5);
    let actions: Vec<&str> = detail_a["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(actions, ["assign", "status", "status", "rate"]);

    // KPIs by hand.
    let detail_b = engine.get_json(&format!("/api/reports/{b}")).await;
    let hours = |d: &Value| {
        (ms(&d["closed_datetime"]) - ms(&d["requested_datetime"])) as f64 / HOUR_MS as f64
    };
    let (h_a, h_b) = (hours(&detail_a), hours(&detail_b));
    assert!(h_a < 4.0 && h_b > 4.0, "{h_a} {h_b}");
    let expected_city = json!({
        "received": 3, "open": 0, "overdue": 0, "resolved": 2, "rejected": 1,
        "resolved_on_time_pct": 50.0,
        "median_resolve_hours": round2((h_a + h_b) / 2.0),
        "rated": 2, "rating_avg": 4.0, "rated_4plus_pct": 50.0,
    });
    let kpi = engine.get_json("/api/views/kpi").await;
    assert_eq!(kpi["city"]["reports"], expected_city);
    let agency = kpi["agencies"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["agency"] == AGENCY))
        .cloned()
        .unwrap_or_default();
    assert_eq!(agency["reports"]["received"], 2);
    assert_eq!(agency["reports"]["resolved_on_time_pct"], 50.0);
    let area = |kpi: &Value, id: &str| {
        kpi["areas"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["id"] == id))
            .map(|a| a["reports"].clone())
            .unwrap_or_default()
    };
    assert_eq!(area(&kpi, "hoan-kiem")["received"], 2);
    assert_eq!(area(&kpi, "hoan-kiem")["resolved"], 2);
    assert_eq!(area(&kpi, "ba-dinh")["rejected"], 1);
    let overview = engine.overview().await;
    assert_eq!(overview["reports"], expected_city);

    // kill -9 and replay: the same figures.
    engine.restart().await;
    let replayed = engine.get_json("/api/views/kpi").await;
    assert_eq!(replayed["city"], kpi["city"]);
    assert_eq!(replayed["agencies"], kpi["agencies"]);
    assert_eq!(replayed["areas"], kpi["areas"]);
    assert_eq!(
        engine.get_json(&format!("/api/reports/{a}")).await,
        detail_a
    );
}
