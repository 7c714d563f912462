//! The OpenAPI document of a running engine: valid OpenAPI 3.1 by the official JSON Schema of
//! the specification (vendored in `tests/fixtures`, see its README), and the real answers of
//! the engine to every documented path match the schemas the document gives them.

use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "openapi-app";

/// Validation errors of `instance` against `schema`, one line each.
fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => validator
            .iter_errors(instance)
            .map(|error| format!("{error} at {}", error.instance_path()))
            .collect(),
        Err(error) => vec![format!("schema does not compile: {error}")],
    }
}

/// `instance` checked against `#/components/schemas/<name>` of the engine's document (the
/// document is the root, so references between components resolve).
fn assert_matches(document: &Value, schema: &str, instance: &Value, what: &str) {
    let mut root = document.clone();
    root["$ref"] = json!(format!("#/components/schemas/{schema}"));
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let problems = errors(&root, instance);
    assert!(
        problems.is_empty(),
        "{what} does not match {schema}: {problems:#?}\n{instance:#}"
    );
}

/// The schema a documented answer has: `paths.<path>.<method>.responses.<status>`.
fn response_schema(document: &Value, path: &str, method: &str, status: u16) -> Value {
    let schema = &document["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} documents no JSON {status} answer"
    );
    schema.clone()
}

/// `instance` checked against the schema the document gives `method path` for `status`.
fn assert_documented(document: &Value, path: &str, method: &str, status: u16, instance: &Value) {
    let mut root = document.clone();
    let schema = response_schema(document, path, method, status);
    if let (Value::Object(root), Value::Object(schema)) = (&mut root, schema) {
        root.extend(schema);
    }
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let problems = errors(&root, instance);
    assert!(
        problems.is_empty(),
        "{method} {path} {status} answer does not match its schema: {problems:#?}\n{instance:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_and_real_answers_match_it() {
    let engine =
        Engine::start(EngineOptions::new("openapi").with_env("IOC_OPEN311_API_KEYS", KEY)).await;
    let (_, document) = engine.call("GET", "/api/openapi.json", None, None).await;

    // Valid by the specification's own schema.
    let specification: Value =
        serde_json::from_str(include_str!("../fixtures/openapi-3.1-schema.json"))
            .expect("vendored schema");
    let problems = errors(&specification, &document);
    assert!(problems.is_empty(), "not valid OpenAPI 3.1: {problems:#?}");
    assert_eq!(document["openapi"], "3.1.0");

    // Data for every answer: telemetry, a refused message, reports (five close flooding
    // reports raise the compiled-in `report-cluster` alert).
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    for k in 0..3_i64 {
        let body = json!({"id": format!("oa-noise-{k}"), "source": "hk-noise-1", "ts": now - k,
            "values": {"laeq": 61.5 + k as f64}});
        publisher
            .publish(
                &format!("{root}/hoan-kiem/noise/hk-noise-1"),
                body.to_string(),
            )
            .await;
    }
    publisher
        .publish(&format!("{root}/hoan-kiem/noise/hk-noise-1"), "not json")
        .await;
    publisher.wait_acked().await;
    let client = Open311Client::new(&engine.url(""));
    let mut report_id = String::new();
    for (dlat, dlon) in [
        (0.0, 0.0),
        (0.0005, 0.0),
        (0.0, 0.0006),
        (-0.0007, 0.0003),
        (0.0004, -0.0008),
    ] {
        let lat = (21.0340 + dlat).to_string();
        let long = (105.8520 + dlon).to_string();
        let answer = client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "flooding"),
                    ("lat", &lat),
                    ("long", &long),
                    ("description", "Ngập sâu 30 cm"),
                    ("phone", "0912345678"),
                ],
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_documented(
            &document,
            "/open311/v2/requests.{format}",
            "post",
            201,
            &answer.json(),
        );
        report_id = answer.json()[0]["service_request_id"]
            .as_str()
            .expect("id")
            .to_string();
    }
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(8) && o["rejected_total"].as_u64() == Some(1)
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let (_, alerts) = engine
            .call("GET", "/api/alerts?state=all", Some(&engine.token), None)
            .await;
        if alerts["total"].as_u64().unwrap_or(0) > 0 || Instant::now() > deadline {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        alerts["total"].as_u64().unwrap_or(0) >= 1,
        "no alert raised: {alerts}"
    );
    let alert_id = alerts["items"][0]["id"]
        .as_str()
        .expect("alert id")
        .to_string();

    // Every documented JSON answer, against the schema the document gives it.
    let views = [
        ("/api/views/overview", "OverviewView"),
        ("/api/views/area?area=hoan-kiem", "AreaView"),
        ("/api/views/alerts", "AlertsView"),
        ("/api/views/reports", "ReportsView"),
        ("/api/views/kpi", "KpiView"),
    ];
    for (path, schema) in views {
        let (status, body) = engine.call("GET", path, Some(&engine.token), None).await;
        assert_eq!(status, 200, "{path}");
        assert_matches(&document, schema, &body, path);
        assert_documented(&document, "/api/views/{view}", "get", 200, &body);
    }
    let answers = [
        ("/api/deadletter", "/api/deadletter", 200),
        ("/api/alerts?state=all", "/api/alerts", 200),
        (
            &format!("/api/alerts/{alert_id}") as &str,
            "/api/alerts/{id}",
            200,
        ),
        (
            &format!("/api/reports/{report_id}"),
            "/api/reports/{id}",
            200,
        ),
        (
            "/api/history?field=noise.laeq&area=hoan-kiem&every=1h",
            "/api/history",
            200,
        ),
        ("/api/views/nonsense", "/api/views/{view}", 404),
        ("/api/alerts?state=bogus", "/api/alerts", 400),
        ("/api/alerts/AL-0-none", "/api/alerts/{id}", 404),
        ("/healthz", "/healthz", 200),
        ("/readyz", "/readyz", 200),
    ];
    for (url, path, expected) in answers {
        let (status, body) = engine.call("GET", url, Some(&engine.token), None).await;
        assert_eq!(status, expected, "{url}: {body}");
        assert_documented(&document, path, "get", status, &body);
    }
    let dead = engine
        .call("GET", "/api/deadletter", Some(&engine.token), None)
        .await
        .1;
    assert_eq!(dead["total"].as_u64(), Some(1));
    assert_eq!(
        dead["by_reason"]["malformed_json"].as_u64(),
        Some(1),
        "{dead}"
    );

    // Changes.
    let token = Some(engine.token.as_str());
    let assign = json!({"agency": "Công ty Thoát nước Hà Nội", "note": "Cử đội bơm"});
    let (status, body) = engine
        .call(
            "POST",
            &format!("/api/reports/{report_id}/assign"),
            token,
            Some(&assign),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&document, "/api/reports/{id}/assign", "post", 200, &body);
    let (status, body) = engine
        .call("POST", &format!("/api/alerts/{alert_id}/ack"), token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&document, "/api/alerts/{id}/ack", "post", 200, &body);
    let (status, body) = engine
        .call("POST", &format!("/api/alerts/{alert_id}/ack"), token, None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_documented(&document, "/api/alerts/{id}/ack", "post", 409, &body);
    let (status, body) = engine
        .call("POST", "/api/history/compact", token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&document, "/api/history/compact", "post", 200, &body);

    // Open311, public.
    for (url, path, status) in [
        (
            "/open311/discovery.json",
            "/open311/discovery.{format}",
            200,
        ),
        (
            "/open311/v2/services.json",
            "/open311/v2/services.{format}",
            200,
        ),
        (
            "/open311/v2/requests.json",
            "/open311/v2/requests.{format}",
            200,
        ),
        (
            "/open311/v2/services/flooding.json",
            "/open311/v2/services/{service_code}.{format}",
            200,
        ),
        (
            "/open311/v2/services/nonsense.json",
            "/open311/v2/services/{service_code}.{format}",
            404,
        ),
        (
            &format!("/open311/v2/requests/{report_id}.json") as &str,
            "/open311/v2/requests/{service_request_id}.{format}",
            200,
        ),
    ] {
        let answer = client.get(url, &[]).await;
        assert_eq!(answer.status, status, "{url}: {}", answer.body);
        assert_documented(&document, path, "get", status, &answer.json());
    }
    let services = client.get("/open311/v2/services.json", &[]).await.json();
    assert_matches(&document, "Service", &services[0], "the first service");
    let requests = client.get("/open311/v2/requests.json", &[]).await.json();
    assert_eq!(requests.as_array().map(Vec::len), Some(5));
    assert_matches(
        &document,
        "ServiceRequest",
        &requests[0],
        "a service request",
    );
}
