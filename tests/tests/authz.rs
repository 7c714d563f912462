//! Roles and area scopes on every `/api/*` path and every websocket view (docs/auth.md): a table
//! of (request, token kind, expected status) walked with missing, badly signed, expired,
//! viewer, operator, admin and area-scoped tokens; then an area-scoped token's overview totals
//! against what this test sent to its areas and to the others.

use futures_util::{SinkExt, StreamExt};
use ioc_tests::engine::{binary, mint, mint_scoped};
use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "authz-app";

/// The scope of the scoped tokens.
const SCOPE: [&str; 2] = ["dong-da", "ba-dinh"];

fn ts(offset_ms: i64) -> i64 {
    chrono::Utc::now().timestamp_millis() + offset_ms
}

/// A token minted with `ioc token` and extra flags/environment.
fn mint_with(engine: &Engine, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(binary())
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(&engine.data_dir)
        .env_remove("IOC_JWT_SECRET")
        .envs(env.iter().copied())
        .output()
        .expect("ioc token");
    assert!(output.status.success(), "ioc token {args:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// One row of the table: method, path, JSON body, expected status per token kind.
type Row = (
    &'static str,
    String,
    Option<Value>,
    Vec<(&'static str, u16)>,
);

/// The token kinds of the table.
struct Tokens {
    viewer: String,
    operator: String,
    admin: String,
    scoped_viewer: String,
    scoped_operator: String,
    scoped_admin: String,
    expired: String,
    bad_signature: String,
    other_secret: String,
}

impl Tokens {
    async fn mint(engine: &Engine) -> Tokens {
        let expired = mint_with(engine, &["--role", "admin", "--ttl", "1s"], &[]);
        let admin = mint(&engine.data_dir, "admin");
        // Flip the signature's last character: same claims, signature no longer matches.
        let mut bad_signature = admin.clone();
        let last = bad_signature.pop().unwrap_or('A');
        bad_signature.push(if last == 'A' { 'B' } else { 'A' });
        let tokens = Tokens {
            viewer: mint(&engine.data_dir, "viewer"),
            operator: mint(&engine.data_dir, "operator"),
            admin,
            scoped_viewer: mint_scoped(&engine.data_dir, "viewer", &SCOPE),
            scoped_operator: mint_scoped(&engine.data_dir, "operator", &SCOPE),
            scoped_admin: mint_scoped(&engine.data_dir, "admin", &SCOPE),
            expired,
            bad_signature,
            other_secret: mint_with(
                engine,
                &["--role", "admin"],
                &[("IOC_JWT_SECRET", "another-secret-of-32-bytes-length")],
            ),
        };
        // The expired token's second has passed (no leeway on expiry).
        tokio::time::sleep(Duration::from_millis(2100)).await;
        tokens
    }

    fn get(&self, kind: &str) -> Option<&str> {
        match kind {
            "missing" => None,
            "viewer" => Some(&self.viewer),
            "operator" => Some(&self.operator),
            "admin" => Some(&self.admin),
            "scoped_viewer" => Some(&self.scoped_viewer),
            "scoped_operator" => Some(&self.scoped_operator),
            "scoped_admin" => Some(&self.scoped_admin),
            "expired" => Some(&self.expired),
            "bad_signature" => Some(&self.bad_signature),
            "other_secret" => Some(&self.other_secret),
            other => panic!("no token kind {other}"),
        }
    }
}

const ALL: [&str; 10] = [
    "missing",
    "bad_signature",
    "other_secret",
    "expired",
    "viewer",
    "operator",
    "admin",
    "scoped_viewer",
    "scoped_operator",
    "scoped_admin",
];

/// Expected status per token kind, in the order of [`ALL`].
fn statuses(list: [u16; 10]) -> Vec<(&'static str, u16)> {
    ALL.into_iter().zip(list).collect()
}

async fn post_report(client: &Open311Client, lat: &str, long: &str, n: usize) -> String {
    let answer = client
        .post_form(
            "json",
            &[
                ("api_key", KEY),
                ("service_code", "environment"),
                ("lat", lat),
                ("long", long),
                ("description", &format!("Rác thải chưa thu gom số {n}")),
                ("phone", "0912345678"),
            ],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_scopes_hold_on_every_path_and_view() {
    let engine =
        Engine::start(EngineOptions::new("authz").with_env("IOC_OPEN311_API_KEYS", KEY)).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let tokens = Tokens::mint(&engine).await;
    let client = Open311Client::new(&engine.url(""));

    // Traffic in and out of the scope. Fresh telemetry first (so the watermark moves), then
    // late events, reports and dossiers.
    let mut publisher = Publisher::connect(&host, port).await;
    let telemetry = [
        ("dong-da", 7_u64),
        ("ba-dinh", 5),
        ("hoan-kiem", 11),
        ("tay-ho", 3),
    ];
    let mut sent = 0_u64;
    for (area, n) in telemetry {
        for k in 0..n {
            let body = json!({"id": format!("{area}-n-{k}"), "source": format!("{area}-noise"),
                "ts": ts(-(k as i64) * 10), "values": {"laeq": 55.0 + k as f64}});
            publisher
                .publish(
                    &format!("{root}/{area}/noise/{area}-noise"),
                    body.to_string(),
                )
                .await;
            sent += 1;
        }
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(sent)
        })
        .await;
    // Ten minutes old: behind the watermark (allowed lateness two minutes).
    let late = [("dong-da", 2_u64), ("hoan-kiem", 4)];
    for (area, n) in late {
        for k in 0..n {
            let body = json!({"id": format!("{area}-late-{k}"), "source": format!("{area}-noise"),
                "ts": ts(-600_000 - k as i64), "values": {"laeq": 50.0}});
            publisher
                .publish(
                    &format!("{root}/{area}/noise/{area}-noise"),
                    body.to_string(),
                )
                .await;
            sent += 1;
        }
    }
    let dossiers = [("ba-dinh", 3_u64), ("cau-giay", 2)];
    for (area, n) in dossiers {
        for k in 0..n {
            let body = json!({"id": format!("{area}-dossier-{k}"), "source": format!("dvc-{area}"),
                "ts": ts(-1000), "values": {"service": "Cấp giấy phép xây dựng", "channel": "online",
                "level": 4, "stage": "received", "agency": "UBND"}});
            publisher
                .publish(
                    &format!("{root}/{area}/dossier/dvc-{area}"),
                    body.to_string(),
                )
                .await;
            sent += 1;
        }
    }
    publisher.wait_acked().await;
    // Reports at the area centroids: two in dong-da, three in hoan-kiem.
    let mut in_scope_report = String::new();
    for n in 0..2 {
        in_scope_report = post_report(&client, "21.013", "105.825", n).await;
        sent += 1;
    }
    let mut out_of_scope_report = String::new();
    for n in 0..3 {
        out_of_scope_report = post_report(&client, "21.029", "105.853", n).await;
        sent += 1;
    }
    let overview = engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(sent)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(sent));
    assert_eq!(overview["late_total"].as_u64(), Some(6));

    // The table: (method, path, body, expected status per token kind).
    let view_ok = statuses([401, 401, 401, 401, 200, 200, 200, 200, 200, 200]);
    let outside = statuses([401, 401, 401, 401, 200, 200, 200, 403, 403, 403]);
    let admin_only = statuses([401, 401, 401, 401, 403, 403, 200, 403, 403, 403]);
    let operator_in_scope = statuses([401, 401, 401, 401, 403, 200, 200, 403, 200, 200]);
    let operator_outside = statuses([401, 401, 401, 401, 403, 200, 200, 403, 403, 403]);
    let public = statuses([200; 10]);
    let assign = json!({"agency": "URENCO Hà Nội"});
    let table: Vec<Row> = vec![
        ("GET", "/api/views/overview".into(), None, view_ok.clone()),
        ("GET", "/api/views/kpi".into(), None, view_ok.clone()),
        ("GET", "/api/views/alerts".into(), None, view_ok.clone()),
        ("GET", "/api/views/reports".into(), None, view_ok.clone()),
        (
            "GET",
            "/api/views/reports?status=open".into(),
            None,
            view_ok.clone(),
        ),
        (
            "GET",
            "/api/views/area?area=dong-da".into(),
            None,
            view_ok.clone(),
        ),
        (
            "GET",
            "/api/views/reports?area=ba-dinh".into(),
            None,
            view_ok.clone(),
        ),
        (
            "GET",
            "/api/views/area?area=hoan-kiem".into(),
            None,
            outside.clone(),
        ),
        (
            "GET",
            "/api/views/reports?area=hoan-kiem".into(),
            None,
            outside.clone(),
        ),
        (
            "GET",
            "/api/views/area?area=atlantis".into(),
            None,
            statuses([401, 401, 401, 401, 400, 400, 400, 403, 403, 403]),
        ),
        (
            "GET",
            "/api/views/nonsense".into(),
            None,
            statuses([401, 401, 401, 401, 404, 404, 404, 404, 404, 404]),
        ),
        ("GET", "/api/deadletter".into(), None, admin_only),
        (
            "GET",
            format!("/api/reports/{in_scope_report}"),
            None,
            view_ok.clone(),
        ),
        (
            "GET",
            format!("/api/reports/{out_of_scope_report}"),
            None,
            outside,
        ),
        (
            "POST",
            format!("/api/reports/{in_scope_report}/assign"),
            Some(assign.clone()),
            operator_in_scope,
        ),
        (
            "POST",
            format!("/api/reports/{out_of_scope_report}/assign"),
            Some(assign),
            operator_outside,
        ),
        ("GET", "/api/alerts".into(), None, view_ok.clone()),
        (
            "GET",
            "/api/alerts?area=dong-da".into(),
            None,
            view_ok.clone(),
        ),
        (
            "GET",
            "/api/alerts?area=hoan-kiem".into(),
            None,
            statuses([401, 401, 401, 401, 200, 200, 200, 403, 403, 403]),
        ),
        (
            "POST",
            "/api/alerts/AL-0-none/ack".into(),
            None,
            statuses([401, 401, 401, 401, 403, 404, 404, 403, 404, 404]),
        ),
        (
            "GET",
            "/api/history?field=noise.laeq&area=dong-da".into(),
            None,
            view_ok.clone(),
        ),
        (
            "GET",
            "/api/history?field=noise.laeq&area=hoan-kiem".into(),
            None,
            statuses([401, 401, 401, 401, 200, 200, 200, 403, 403, 403]),
        ),
        ("GET", "/api/openapi.json".into(), None, public.clone()),
        ("GET", "/healthz".into(), None, public.clone()),
        ("GET", "/metrics".into(), None, public),
    ];
    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    for (method, path, body, expected) in &table {
        for (kind, status) in expected {
            let mut request = match *method {
                "POST" => http.post(engine.url(path)),
                _ => http.get(engine.url(path)),
            };
            if let Some(token) = tokens.get(kind) {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.expect("request");
            let got = response.status().as_u16();
            if got == 401 {
                let challenge = response.headers().get("www-authenticate").cloned();
                assert!(
                    challenge.is_some(),
                    "{method} {path} as {kind}: 401 without a challenge"
                );
            }
            if got >= 400 && path.starts_with("/api/") {
                let error: Value = response.json().await.unwrap_or(Value::Null);
                assert!(
                    error["error"].is_string(),
                    "{method} {path} as {kind}: {error}"
                );
            }
            if got != *status {
                failures.push(format!(
                    "{method} {path} as {kind}: {got}, expected {status}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The token may also come in the query, as browsers send it.
    let query = format!("/api/views/overview?access_token={}", tokens.viewer);
    assert_eq!(engine.status_without_token(&query).await, 200);
    let query = format!("/api/views/overview?access_token={}", tokens.expired);
    assert_eq!(engine.status_without_token(&query).await, 401);

    // Websocket: the upgrade needs a valid token.
    for kind in ["missing", "bad_signature", "other_secret", "expired"] {
        let mut url = format!("ws://127.0.0.1:{}/ws", engine.port);
        if let Some(token) = tokens.get(kind) {
            url.push_str(&format!("?access_token={token}"));
        }
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 401, "ws as {kind}");
            }
            Err(other) => panic!("ws as {kind}: {other}"),
            Ok(_) => panic!("ws as {kind}: upgraded"),
        }
    }
    // Websocket views: forbidden outside the scope, only the scope's areas inside it.
    let url = format!(
        "ws://127.0.0.1:{}/ws?access_token={}",
        engine.port, tokens.scoped_viewer
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("ws");
    let subscriptions = [
        json!({"op": "subscribe", "id": "a1", "view": "area", "area": "hoan-kiem"}),
        json!({"op": "subscribe", "id": "r1", "view": "reports", "area": "tay-ho"}),
        json!({"op": "subscribe", "id": "o1", "view": "overview"}),
        json!({"op": "subscribe", "id": "k1", "view": "kpi"}),
        json!({"op": "subscribe", "id": "r2", "view": "reports"}),
        json!({"op": "subscribe", "id": "a2", "view": "area", "area": "ba-dinh"}),
    ];
    for command in &subscriptions {
        socket
            .send(Message::Text(command.to_string().into()))
            .await
            .expect("send");
    }
    let mut errors = BTreeSet::new();
    let mut snapshots = serde_json::Map::new();
    while errors.len() + snapshots.len() < subscriptions.len() {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame");
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
        match frame["type"].as_str() {
            Some("error") => {
                assert_eq!(frame["code"], "forbidden", "{frame}");
                errors.insert(frame["id"].as_str().unwrap_or_default().to_string());
            }
            Some("snapshot") => {
                let id = frame["id"].as_str().unwrap_or_default().to_string();
                snapshots.insert(id, frame["data"].clone());
            }
            _ => {}
        }
    }
    assert_eq!(errors, BTreeSet::from(["a1".to_string(), "r1".to_string()]));
    let ws_overview = &snapshots["o1"];

    // The scoped overview: only its areas, totals over them.
    let scoped: Value = http
        .get(engine.url("/api/views/overview"))
        .bearer_auth(&tokens.scoped_viewer)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let ids: BTreeSet<&str> = scoped["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from(SCOPE));
    // dong-da: 7 fresh + 2 late noise + 2 reports + 4 assignments (operator, admin and the
    // two scoped tokens of the table); ba-dinh: 5 noise + 3 dossiers.
    let expected_events = 7 + 2 + 2 + 4 + 5 + 3;
    for overview in [&scoped, ws_overview] {
        assert_eq!(
            overview["events_total"].as_u64(),
            Some(expected_events),
            "{overview}"
        );
        assert_eq!(overview["late_total"].as_u64(), Some(2));
        assert_eq!(overview["reports"]["received"].as_u64(), Some(2));
        assert_eq!(overview["reports"]["open"].as_u64(), Some(2));
        assert_eq!(overview["kpi"]["dossiers_received"].as_u64(), Some(3));
        let sum: u64 = overview["areas"]
            .as_array()
            .expect("areas")
            .iter()
            .flat_map(|a| a["counts"].as_object().into_iter().flatten())
            .filter_map(|(_, n)| n.as_u64())
            .sum();
        assert_eq!(sum, expected_events);
    }
    // The city-wide token still sees the city.
    assert_eq!(overview["reports"]["received"].as_u64(), Some(5));
    assert_eq!(overview["kpi"]["dossiers_received"].as_u64(), Some(5));
    assert_eq!(overview["areas"].as_array().map(Vec::len), Some(30));

    // Lists and aggregates of the other views hold the scope only.
    let reports = &snapshots["r2"];
    assert_eq!(reports["total"].as_u64(), Some(2), "{reports}");
    assert!(
        reports["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["area"] == "dong-da")
    );
    let kpi = &snapshots["k1"];
    let kpi_areas: BTreeSet<&str> = kpi["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(kpi_areas, BTreeSet::from(SCOPE));
    assert_eq!(kpi["city"]["reports"]["received"].as_u64(), Some(2));
    assert_eq!(kpi["city"]["dossiers"]["received"].as_u64(), Some(3));
    assert_eq!(snapshots["a2"]["id"], "ba-dinh");
}
