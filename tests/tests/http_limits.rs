//! HTTP abuse limits (docs/api.md): bodies over the limit get 413 with an error body in the
//! endpoint's own format, a client that sends half a request head is disconnected, one that
//! stalls in its body gets 408, every Open311 text field has a length limit, and the engine
//! keeps serving throughout.

use ioc_tests::engine::mint;
use ioc_tests::open311::Open311Client;
use ioc_tests::{Engine, EngineOptions};
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const KEY: &str = "limits-app";

async fn start() -> Engine {
    let mut options = EngineOptions::new("http-limits").with_env("IOC_OPEN311_API_KEYS", KEY);
    options.extra_args = vec!["--http-read-timeout".into(), "1500ms".into()];
    Engine::start(options).await
}

/// Reads what the server sends until it closes the connection (or 20 s pass).
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    ioc_tests::raw::read_until_closed(stream, Duration::from_secs(20)).await
}

/// POSTs `body` raw with the admin token and returns the status and body of the answer.
async fn raw_post(engine: &Engine, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let headers = [
        format!("Content-Type: {content_type}"),
        format!("Authorization: Bearer {}", engine.token),
    ];
    let answer = ioc_tests::raw::request(engine.port, "POST", path, &headers, body).await;
    (answer.status, answer.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_in_the_endpoints_format() {
    let engine = start().await;
    let ten_mb = vec![b'a'; 10 * 1024 * 1024];

    // Open311 JSON: the standard error list.
    let (status, body) = raw_post(
        &engine,
        "/open311/v2/requests.json",
        "application/json",
        &ten_mb,
    )
    .await;
    assert_eq!(status, 413);
    let errors: Value = serde_json::from_str(&body).expect("JSON errors");
    assert_eq!(errors[0]["code"], 413, "{errors}");
    // Open311 XML: the same as XML.
    let (status, body) = raw_post(
        &engine,
        "/open311/v2/requests.xml",
        "application/x-www-form-urlencoded",
        &ten_mb,
    )
    .await;
    assert_eq!(status, 413);
    assert!(
        body.contains("<errors>") && body.contains("<code>413</code>"),
        "{body}"
    );
    // Operator API: `{"error": …}`.
    let (status, body) = raw_post(
        &engine,
        "/api/reports/pa-0/status",
        "application/json",
        &ten_mb,
    )
    .await;
    assert_eq!(status, 413);
    let error: Value = serde_json::from_str(&body).expect("JSON error");
    assert!(error["error"].is_string(), "{error}");

    // A body just over the limit with a truthful length, sent by an ordinary client.
    let client = reqwest::Client::new();
    let response = client
        .post(engine.url("/open311/v2/requests.json"))
        .header("content-type", "application/json")
        .body(vec![b' '; 64 * 1024 + 1])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 413);
    // Chunked, without a length: refused once the limit is passed.
    let mut stream = TcpStream::connect(("127.0.0.1", engine.port))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/reports/pa-0/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        engine.token
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = format!("1000\r\n{}\r\n", " ".repeat(4096));
    for _ in 0..40 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let answer = read_until_closed(&mut stream).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let health = reqwest::get(engine.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let engine = start().await;

    // Half a request head, then nothing: the connection is closed without an answer.
    let mut half = TcpStream::connect(("127.0.0.1", engine.port))
        .await
        .expect("connect");
    half.write_all(b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        .await
        .expect("write");
    let answer = read_until_closed(&mut half).await;
    assert!(
        answer.is_some(),
        "a stalled request head keeps its connection"
    );

    // A whole head, then a body that stops short: 408.
    let mut stalled = TcpStream::connect(("127.0.0.1", engine.port))
        .await
        .expect("connect");
    stalled
        .write_all(
            b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"api_key\":",
        )
        .await
        .expect("write");
    let answer = read_until_closed(&mut stalled).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let errors: Value = serde_json::from_str(body).expect("JSON errors");
    assert_eq!(errors[0]["code"], 408, "{errors}");

    // The same on the operator API.
    let mut stalled = TcpStream::connect(("127.0.0.1", engine.port))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/reports/pa-0/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{{",
        mint(&engine.data_dir, "operator")
    );
    stalled.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stalled).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // Meanwhile and afterwards, ordinary clients are served.
    let health = reqwest::get(engine.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    // A websocket may stay quiet longer than the head deadline: it is past its head.
    let mut live = ioc_tests::ws::LiveClient::connect(&engine.ws_url()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    live.send(serde_json::json!({"op": "ping"})).await;
    let pong = live.next(Duration::from_secs(5)).await.expect("pong");
    assert_eq!(pong["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open311_text_field_has_a_limit() {
    let engine = start().await;
    let client = Open311Client::new(&engine.url(""));
    let long = |n: usize| "ă".repeat(n);
    let digits = format!("09{}", " ".repeat(40)) + "12345678";
    let cases: Vec<(&str, String)> = vec![
        ("description", long(4001)),
        ("address_string", long(501)),
        ("first_name", long(101)),
        ("last_name", long(101)),
        ("device_id", "d".repeat(129)),
        ("account_id", "a".repeat(129)),
        ("client_request_id", "c".repeat(129)),
        (
            "media_url",
            format!("https://example.org/{}", "p".repeat(2100)),
        ),
        ("email", format!("{}@example.org", "e".repeat(300))),
        ("phone", digits),
    ];
    for (field, value) in &cases {
        let mut fields = vec![
            ("api_key", KEY),
            ("service_code", "traffic"),
            ("lat", "21.029"),
            ("long", "105.853"),
        ];
        if *field != "address_string" || !value.is_empty() {
            fields.push((field, value.as_str()));
        }
        let answer = client.post_form("json", &fields).await;
        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        let errors = answer.json();
        assert!(
            errors[0]["description"]
                .as_str()
                .is_some_and(|d| d.contains(field)),
            "{field}: {errors}"
        );
    }
    // At the limit, accepted.
    let description = long(4000);
    let answer = client
        .post_form(
            "json",
            &[
                ("api_key", KEY),
                ("service_code", "traffic"),
                ("lat", "21.029"),
                ("long", "105.853"),
                ("description", &description),
            ],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
}
