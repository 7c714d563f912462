//! Open data end to end: a scripted set of citizen reports (posted over Open311 and MQTT, then
//! assigned, resolved and rated through the operator API), air-quality readings, dossiers and
//! an alert go through the real engine and the real Mosquitto; every dataset in JSON and CSV
//! must equal the figures computed here by hand, small cells must be suppressed, nothing
//! personal may leave under `/open-data` or `/ngsi-ld`, the NGSI-LD door must serve valid
//! entities, caching must answer 304, the per-IP limit 429, and the public page must show the
//! same figures in headless Chromium.

use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "open-data-app";
const HOUR_MS: i64 = 3_600_000;
const AGENCY_X: &str = "Công ty Thoát nước, Hà Nội";
const AGENCY_Y: &str = "URENCO";

/// Personal and free-text values posted with the reports: none may appear in any public answer.
const SECRETS: [&str; 9] = [
    "Nguyễn Thị Bí Mật",
    "Trần",
    "0912345678",
    "bimat@example.vn",
    "Cống tràn trước số 17 ngõ Bí Mật",
    "https://img.example.vn/bi-mat.jpg",
    "17 ngõ Bí Mật, Ba Đình",
    "device-bi-mat",
    "account-bi-mat",
];

/// A plain HTTP answer with its headers.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Answer {
        status,
        headers,
        body,
    }
}

async fn operator_act(engine: &Engine, token: &str, id: &str, action: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(engine.url(&format!("/api/reports/{id}/{action}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{action} {id}: {text}");
}

/// The rows of a JSON dataset answer matching every `(key, value)`.
fn rows_where(answer: &Value, filter: &[(&str, &str)]) -> Vec<Value> {
    answer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| filter.iter().all(|(k, v)| row[*k] == *v))
        .cloned()
        .collect()
}

/// The only row matching `filter`.
fn row(answer: &Value, filter: &[(&str, &str)]) -> Value {
    let rows = rows_where(answer, filter);
    assert_eq!(rows.len(), 1, "one row for {filter:?} in {answer}");
    rows[0].clone()
}

/// Parses CSV with the `csv` crate; returns the header and records as JSON-like strings.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("CSV header")
        .iter()
        .map(String::from)
        .collect();
    let records = reader
        .records()
        .map(|r| r.expect("CSV record").iter().map(String::from).collect())
        .collect();
    (header, records)
}

/// A JSON value as its CSV cell text.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks that a CSV answer holds exactly the JSON answer's rows, column for column.
fn assert_csv_matches(csv_text: &str, json_answer: &Value, catalog_fields: &[String]) {
    let (header, records) = parse_csv(csv_text);
    assert_eq!(header, catalog_fields, "CSV header = the catalog's fields");
    let rows = json_answer["rows"].as_array().expect("rows");
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        let object = row.as_object().expect("row object");
        let keys: Vec<&String> = object.keys().collect();
        assert_eq!(keys, catalog_fields.iter().collect::<Vec<_>>());
        let expected: Vec<String> = object.values().map(cell).collect();
        assert_eq!(record, &expected);
    }
}

/// Polls `url` until `done` holds for its JSON body (the engine applies events asynchronously).
async fn wait_json(url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = get(url, &[]).await;
        if answer.status == 200 && done(&answer.json()) {
            return answer.json();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting on {url}: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn rfc3339(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The local (UTC+7) wall-clock form of an hour start, as `period_start` writes it.
fn local(ts_ms: i64) -> String {
    let zone = chrono::FixedOffset::east_opt(7 * 3600).expect("zone");
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .expect("time")
        .with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_data_ngsi_ld_and_public_page_publish_hand_computed_aggregates_only() {
    // One rule the second station trips at once, so alerts-daily has a count to publish.
    let rules =
        std::env::temp_dir().join(format!("ioc-open-data-rules-{}.toml", std::process::id()));
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"pm25-over-80\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 80\nseverity = \"major\"\n",
    )
    .expect("rules file");
    let mut options = EngineOptions::new("open-data").with_env("IOC_OPEN311_API_KEYS", KEY);
    options.extra_args = vec!["--rules".into(), rules.display().to_string()];
    let engine = Engine::start(options).await;
    let base = engine.url("");
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let operator = ioc_tests::engine::mint(&engine.data_dir, "operator");
    let now = chrono::Utc::now().timestamp_millis();

    // Reports. Ba Đình, over MQTT with their received times in the past (so times to resolve
    // are whole hours): r1 flooding 5 h ago, r2 flooding 3 h ago, r3 traffic 1 h ago — all
    // assigned to X and resolved now (r1 past its 4 h limit), rated 5, 4, 2; r4 assigned to
    // Y and left open; r5 rejected.
    let personal = json!({
        "first_name": SECRETS[0], "last_name": SECRETS[1], "phone": SECRETS[2],
        "email": SECRETS[3], "description": SECRETS[4], "media_url": SECRETS[5],
        "address_string": SECRETS[6], "device_id": SECRETS[7], "account_id": SECRETS[8],
    });
    let ba_dinh = [
        ("od-r1", 5, "flooding"),
        ("od-r2", 3, "flooding"),
        ("od-r3", 1, "traffic"),
        ("od-r4", 2, "environment"),
        ("od-r5", 2, "environment"),
    ];
    for (id, age_h, code) in ba_dinh {
        let mut body = personal.clone();
        body["id"] = json!(id);
        body["ts"] = json!(now - age_h * HOUR_MS);
        body["service_code"] = json!(code);
        body["lat"] = json!(21.035);
        body["long"] = json!(105.820);
        publisher
            .publish(&format!("{root}/ba-dinh/report"), body.to_string())
            .await;
    }
    // Tây Hồ, three reports over Open311 with every personal field; one resolved at once by
    // Y and rated 1.
    let client = Open311Client::new(&base);
    let mut tay_ho = Vec::new();
    for code in ["environment", "traffic", "urban_order"] {
        let answer = client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", code),
                    ("lat", "21.070"),
                    ("long", "105.818"),
                    ("first_name", SECRETS[0]),
                    ("last_name", SECRETS[1]),
                    ("phone", SECRETS[2]),
                    ("email", SECRETS[3]),
                    ("description", SECRETS[4]),
                    ("media_url", SECRETS[5]),
                    ("address_string", SECRETS[6]),
                    ("device_id", SECRETS[7]),
                    ("account_id", SECRETS[8]),
                ],
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        tay_ho.push(
            answer.json()[0]["service_request_id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }

    // Air quality: every reading at one instant (same clock hour), each with its own id.
    // hoan-kiem station 1: PM2.5 40, 50, 60 (mean 50 → 100), PM10 100 ×3 (→ 75): VN_AQI 100.
    // hoan-kiem station 2: PM2.5 100 ×2 (→ 164.29): VN_AQI 164, and the pm25 > 80 alert.
    // ba-dinh station: PM2.5 20 (→ 40). Area hoan-kiem = its worst station: 164; its PM2.5
    // mean over the five readings 70, PM10 100. One noise meter, one traffic counter, one gauge.
    let t0 = now - 2_000;
    let readings = [
        (
            "hoan-kiem",
            "air_quality",
            "aq-hk-1",
            json!({"pm25": 40.0, "pm10": 100.0}),
        ),
        (
            "hoan-kiem",
            "air_quality",
            "aq-hk-1",
            json!({"pm25": 50.0, "pm10": 100.0}),
        ),
        (
            "hoan-kiem",
            "air_quality",
            "aq-hk-1",
            json!({"pm25": 60.0, "pm10": 100.0}),
        ),
        (
            "hoan-kiem",
            "air_quality",
            "aq-hk-2",
            json!({"pm25": 100.0}),
        ),
        (
            "hoan-kiem",
            "air_quality",
            "aq-hk-2",
            json!({"pm25": 100.0}),
        ),
        ("ba-dinh", "air_quality", "aq-bd-1", json!({"pm25": 20.0})),
        (
            "ha-dong",
            "noise",
            "nz-hd-1",
            json!({"laeq": 60.0, "lamax": 71.5}),
        ),
        (
            "cau-giay",
            "traffic",
            "tf-cg-1",
            json!({"intensity": 20.0, "speed": 30.0, "occupancy": 0.3}),
        ),
        (
            "long-bien",
            "water_level",
            "wl-lb-1",
            json!({"level_cm": 25.0, "alert_cm": 30.0, "danger_cm": 50.0}),
        ),
    ];
    for (n, (area, kind, source, values)) in readings.iter().enumerate() {
        let body =
            json!({"id": format!("od-reading-{n}"), "source": source, "ts": t0, "values": values});
        publisher
            .publish(&format!("{root}/{area}/{kind}/{source}"), body.to_string())
            .await;
    }
    // Dossiers in Đống Đa: 4 received (2 online, 1 of them level 4), 2 resolved (1 on time):
    // online 50 %, level-4 25 %, on time 50 %.
    let dossiers = [
        json!({"channel": "online", "level": 4, "stage": "received"}),
        json!({"channel": "online", "level": 3, "stage": "received"}),
        json!({"channel": "offline", "level": 2, "stage": "received"}),
        json!({"channel": "offline", "level": 3, "stage": "received"}),
        json!({"channel": "offline", "level": 3, "stage": "resolved", "on_time": true}),
        json!({"channel": "offline", "level": 3, "stage": "resolved", "on_time": false}),
    ];
    for (n, values) in dossiers.iter().enumerate() {
        let mut values = values.clone();
        values["service"] = json!("Đăng ký khai sinh");
        values["agency"] = json!("UBND Đống Đa");
        let body = json!({"id": format!("od-dossier-{n}"), "source": "dvc-dd", "ts": t0, "values": values});
        publisher
            .publish(&format!("{root}/dong-da/dossier/dvc-dd"), body.to_string())
            .await;
    }
    publisher.wait_acked().await;
    let sent_events = (ba_dinh.len() + tay_ho.len() + readings.len() + dossiers.len()) as u64;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(sent_events)
        })
        .await;

    // The lifecycle through the operator API.
    for (id, agency, rating) in [
        ("od-r1", AGENCY_X, 5),
        ("od-r2", AGENCY_X, 4),
        ("od-r3", AGENCY_X, 2),
    ] {
        let id = ioc_ingest::report::request_id(id);
        operator_act(&engine, &operator, &id, "assign", json!({"agency": agency})).await;
        operator_act(
            &engine,
            &operator,
            &id,
            "status",
            json!({"status": "resolved"}),
        )
        .await;
        operator_act(&engine, &operator, &id, "rate", json!({"rating": rating})).await;
    }
    let r4 = ioc_ingest::report::request_id("od-r4");
    operator_act(
        &engine,
        &operator,
        &r4,
        "assign",
        json!({"agency": AGENCY_Y}),
    )
    .await;
    let r5 = ioc_ingest::report::request_id("od-r5");
    operator_act(
        &engine,
        &operator,
        &r5,
        "status",
        json!({"status": "rejected"}),
    )
    .await;
    operator_act(
        &engine,
        &operator,
        &tay_ho[0],
        "assign",
        json!({"agency": AGENCY_Y}),
    )
    .await;
    operator_act(
        &engine,
        &operator,
        &tay_ho[0],
        "status",
        json!({"status": "resolved"}),
    )
    .await;
    operator_act(&engine, &operator, &tay_ho[0], "rate", json!({"rating": 1})).await;

    // Everything public is collected here and searched for personal data at the end.
    let mut published = String::new();

    // Catalog: every dataset with its fields.
    let catalog = get(&engine.url("/open-data/v1/catalog.json"), &[]).await;
    assert_eq!(catalog.status, 200);
    published.push_str(&catalog.body);
    let catalog = catalog.json();
    let fields_of = |id: &str| -> Vec<String> {
        let dataset = catalog["datasets"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["id"] == id))
            .unwrap_or_else(|| panic!("{id} in the catalog"));
        for key in ["title", "description", "license", "update_frequency"] {
            assert!(
                dataset[key].as_str().is_some_and(|s| !s.is_empty()),
                "{id}.{key}"
            );
        }
        assert_eq!(dataset["formats"], json!(["json", "csv"]));
        dataset["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| {
                assert!(
                    f["type"].is_string() && f["unit"].is_string() && f["description"].is_string()
                );
                f["name"].as_str().expect("name").to_string()
            })
            .collect()
    };
    assert_eq!(
        fields_of("report-kpis"),
        [
            "area",
            "agency",
            "period_start",
            "received",
            "resolved",
            "on_time_pct",
            "median_hours_to_resolve",
            "avg_rating",
            "rated_4plus_pct",
            "suppressed"
        ]
    );
    assert_eq!(
        fields_of("air-quality"),
        [
            "area",
            "station",
            "period_start",
            "aqi",
            "band",
            "pm25",
            "pm10",
            "no2",
            "so2",
            "co",
            "o3"
        ]
    );
    assert_eq!(
        fields_of("alerts-daily"),
        ["area", "period_start", "kind", "severity", "count"]
    );
    assert_eq!(
        fields_of("dossier-kpis")[..3],
        ["area", "period_start", "received"]
    );
    assert_eq!(catalog["datasets"].as_array().map(Vec::len), Some(4));

    // report-kpis over the last 30 days as one period.
    let kpis_url = engine.url("/open-data/v1/report-kpis.json?every=all");
    let kpis = wait_json(&kpis_url, |k| {
        rows_where(k, &[("area", "city"), ("agency", "all")])
            .first()
            .is_some_and(|r| r["avg_rating"] == json!(3.0))
    })
    .await;
    published.push_str(&kpis.to_string());
    assert_eq!(kpis["dataset"], "report-kpis");
    assert!(kpis["generated_at"].is_string());
    // Ba Đình, all agencies: 5 received, 3 resolved, 2 of them on time (r2 3 h, r3 1 h; r1 5 h
    // is past 4 h), median of 1, 3, 5 h = 3, ratings 5, 4, 2 → 3.67 and 2 of 3 ≥ 4.
    assert_eq!(
        row(&kpis, &[("area", "ba-dinh"), ("agency", "all")]),
        json!({"area": "ba-dinh", "agency": "all", "period_start": kpis["from"],
            "received": 5, "resolved": 3, "on_time_pct": 66.67, "median_hours_to_resolve": 3.0,
            "avg_rating": 3.67, "rated_4plus_pct": 66.67, "suppressed": false})
    );
    // City: 8 received, 4 resolved (the Tây Hồ one within seconds, on time), 3 of 4 on time,
    // median of ~0, 1, 3, 5 h = 2, ratings 5, 4, 2, 1 → 3.0, half rated ≥ 4.
    assert_eq!(
        row(&kpis, &[("area", "city"), ("agency", "all")]),
        json!({"area": "city", "agency": "all", "period_start": kpis["from"],
            "received": 8, "resolved": 4, "on_time_pct": 75.0, "median_hours_to_resolve": 2.0,
            "avg_rating": 3.0, "rated_4plus_pct": 50.0, "suppressed": false})
    );
    // Cells of 3 (X in Ba Đình, all of Tây Hồ, X in the city), 2 and 1 are suppressed, with
    // every figure empty.
    let suppressed_cells = [
        ("ba-dinh", AGENCY_X),
        ("ba-dinh", AGENCY_Y),
        ("tay-ho", "all"),
        ("tay-ho", AGENCY_Y),
        ("city", AGENCY_X),
        ("city", AGENCY_Y),
    ];
    for (area, agency) in suppressed_cells {
        assert_eq!(
            row(&kpis, &[("area", area), ("agency", agency)]),
            json!({"area": area, "agency": agency, "period_start": kpis["from"],
                "received": null, "resolved": null, "on_time_pct": null,
                "median_hours_to_resolve": null, "avg_rating": null, "rated_4plus_pct": null,
                "suppressed": true}),
            "{area}/{agency}"
        );
    }
    assert_eq!(
        kpis["rows"].as_array().map(Vec::len),
        Some(2 + suppressed_cells.len())
    );
    let kpis_csv = get(&engine.url("/open-data/v1/report-kpis.csv?every=all"), &[]).await;
    assert_eq!(kpis_csv.status, 200);
    assert!(kpis_csv.header("content-type").starts_with("text/csv"));
    published.push_str(&kpis_csv.body);
    assert_csv_matches(&kpis_csv.body, &kpis, &fields_of("report-kpis"));
    // The agency name with a comma is quoted in the CSV and reads back whole.
    assert!(kpis_csv.body.contains(&format!("\"{AGENCY_X}\"")));
    // By day: Ba Đình's days add up to the same 5 reports, each day starting at local midnight.
    let daily = get(
        &engine.url("/open-data/v1/report-kpis.json?every=day&area=ba-dinh"),
        &[],
    )
    .await
    .json();
    published.push_str(&daily.to_string());
    let days = rows_where(&daily, &[("agency", "all")]);
    assert!(days.iter().all(|d| {
        d["area"] == "ba-dinh"
            && d["period_start"]
                .as_str()
                .is_some_and(|p| p.ends_with("T00:00:00+07:00"))
    }));
    let received: u64 = days.iter().filter_map(|d| d["received"].as_u64()).sum();
    let suppressed_days = days.iter().filter(|d| d["suppressed"] == true).count();
    assert!(received == 5 || suppressed_days > 0, "{daily}");

    // air-quality for the readings' hour.
    let hour_start = t0 - t0.rem_euclid(HOUR_MS);
    let air_url = engine.url(&format!(
        "/open-data/v1/air-quality.json?every=hour&area=hoan-kiem&from={}",
        rfc3339(hour_start)
    ));
    let air = get(&air_url, &[]).await;
    assert_eq!(air.status, 200, "{}", air.body);
    published.push_str(&air.body);
    let air = air.json();
    let period = local(hour_start);
    let nulls = json!({"no2": null, "so2": null, "co": null, "o3": null});
    let with = |mut base: Value| {
        for (k, v) in nulls.as_object().expect("object") {
            base[k] = v.clone();
        }
        base
    };
    assert_eq!(
        air["rows"],
        json!([
            with(
                json!({"area": "hoan-kiem", "station": "all", "period_start": period, "aqi": 164,
                "band": "bad", "pm25": 70.0, "pm10": 100.0})
            ),
            with(
                json!({"area": "hoan-kiem", "station": "aq-hk-1", "period_start": period, "aqi": 100,
                "band": "moderate", "pm25": 50.0, "pm10": 100.0})
            ),
            with(
                json!({"area": "hoan-kiem", "station": "aq-hk-2", "period_start": period, "aqi": 164,
                "band": "bad", "pm25": 100.0, "pm10": null})
            ),
        ])
    );
    let air_csv = get(&air_url.replace(".json", ".csv"), &[]).await;
    assert_csv_matches(&air_csv.body, &air, &fields_of("air-quality"));
    // The city row for the same hour takes both areas' stations: worst 164.
    let city_air = get(
        &engine.url(&format!(
            "/open-data/v1/air-quality.json?every=hour&area=city&from={}",
            rfc3339(hour_start)
        )),
        &[],
    )
    .await
    .json();
    assert_eq!(row(&city_air, &[("station", "all")])["aqi"], 164);
    assert_eq!(row(&city_air, &[("station", "all")])["pm25"], 61.67);

    // dossier-kpis.
    let dossier_url = engine.url(&format!(
        "/open-data/v1/dossier-kpis.json?every=hour&area=dong-da&from={}",
        rfc3339(hour_start)
    ));
    let dossier = get(&dossier_url, &[]).await.json();
    published.push_str(&dossier.to_string());
    assert_eq!(
        dossier["rows"],
        json!([{"area": "dong-da", "period_start": period, "received": 4, "received_online": 2,
            "received_level4": 1, "resolved": 2, "resolved_on_time": 1, "online_pct": 50.0,
            "level4_pct": 25.0, "on_time_pct": 50.0, "online_target_pct": 20.0,
            "level4_target_pct": 30.0, "on_time_target_pct": 95.0, "online_meets_target": true,
            "level4_meets_target": false, "on_time_meets_target": false}])
    );
    let dossier_csv = get(&dossier_url.replace(".json", ".csv"), &[]).await;
    assert_csv_matches(&dossier_csv.body, &dossier, &fields_of("dossier-kpis"));

    // alerts-daily: the one pm25 > 80 alert of station 2, in Hoàn Kiếm and the city.
    let alerts_url = engine.url(&format!(
        "/open-data/v1/alerts-daily.json?every=hour&from={}",
        rfc3339(hour_start)
    ));
    let alerts = wait_json(&alerts_url, |a| {
        !a["rows"].as_array().is_none_or(Vec::is_empty)
    })
    .await;
    published.push_str(&alerts.to_string());
    let alert_period = alerts["rows"][0]["period_start"].clone();
    assert_eq!(
        alerts["rows"],
        json!([
            {"area": "city", "period_start": alert_period, "kind": "threshold", "severity": "major", "count": 1},
            {"area": "hoan-kiem", "period_start": alert_period, "kind": "threshold", "severity": "major", "count": 1},
        ])
    );
    let alerts_csv = get(&alerts_url.replace(".json", ".csv"), &[]).await;
    assert_csv_matches(&alerts_csv.body, &alerts, &fields_of("alerts-daily"));
    published.push_str(&alerts_csv.body);
    published.push_str(&air_csv.body);
    published.push_str(&dossier_csv.body);

    // Bad queries are 400 with a message; an unknown dataset 404.
    for path in [
        "/open-data/v1/report-kpis.json?every=week",
        "/open-data/v1/report-kpis.json?area=atlantis",
        "/open-data/v1/report-kpis.json?from=yesterday",
        "/open-data/v1/air-quality.json?from=2026-01-01&to=2025-01-01",
    ] {
        let answer = get(&engine.url(path), &[]).await;
        assert_eq!(answer.status, 400, "{path}");
        assert!(
            answer.json()["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        );
    }
    assert_eq!(
        get(&engine.url("/open-data/v1/people.json"), &[])
            .await
            .status,
        404
    );

    // Caching: ETag, Last-Modified, Cache-Control on every answer; If-None-Match → 304.
    let first = get(&kpis_url, &[]).await;
    let etag = first.header("etag");
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag:?}");
    assert!(!first.header("last-modified").is_empty());
    assert!(first.header("cache-control").contains("max-age="));
    // A later tick, with a later `to` (now): same rows, so the same ETag.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = get(&kpis_url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), etag);
    let other = get(&kpis_url, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body, first.body, "unchanged data, same bytes");
    for url in [
        &air_url,
        &alerts_url,
        &engine.url("/open-data/v1/catalog.json"),
    ] {
        let answer = get(url, &[]).await;
        assert!(!answer.header("etag").is_empty() && !answer.header("cache-control").is_empty());
    }

    // NGSI-LD.
    let ngsi = |path: &str| engine.url(&format!("/ngsi-ld/v1/{path}"));
    let ld = get(
        &ngsi("entities/urn:ngsi-ld:AirQualityObserved:hoan-kiem"),
        &[("accept", "application/ld+json")],
    )
    .await;
    assert_eq!(ld.status, 200, "{}", ld.body);
    assert!(ld.header("content-type").starts_with("application/ld+json"));
    published.push_str(&ld.body);
    let entity = ld.json();
    assert_eq!(entity["id"], "urn:ngsi-ld:AirQualityObserved:hoan-kiem");
    assert_eq!(entity["type"], "AirQualityObserved");
    assert!(entity["@context"].as_array().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        entity["location"],
        json!({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [105.853, 21.029]},
            "observedAt": entity["pm25"]["observedAt"]})
    );
    let observed_at = chrono::DateTime::parse_from_rfc3339(
        entity["pm25"]["observedAt"].as_str().expect("observedAt"),
    )
    .expect("RFC 3339")
    .timestamp_millis();
    assert_eq!(observed_at, t0);
    assert_eq!(entity["pm25"]["type"], "Property");
    assert_eq!(entity["pm25"]["value"], 70.0);
    assert_eq!(entity["pm10"]["value"], 100.0);
    assert_eq!(entity["airQualityIndex"]["value"], 164);
    assert_eq!(entity["airQualityLevel"]["value"], "bad");
    for (name, value) in entity.as_object().expect("entity") {
        if ["id", "type", "@context", "location"].contains(&name.as_str()) {
            continue;
        }
        assert_eq!(value["type"], "Property", "{name}");
        assert!(
            value.get("value").is_some() && value["observedAt"].is_string(),
            "{name}"
        );
    }
    // Plain JSON: no @context in the body, a Link header instead.
    let plain = get(
        &ngsi("entities/urn:ngsi-ld:AirQualityObserved:hoan-kiem"),
        &[("accept", "application/json")],
    )
    .await;
    assert!(plain.header("content-type").starts_with("application/json"));
    assert!(
        plain
            .header("link")
            .contains("rel=\"http://www.w3.org/ns/json-ld#context\"")
    );
    assert!(plain.json().get("@context").is_none());
    published.push_str(&plain.body);
    // The other types.
    for (id, attribute, value) in [
        (
            "urn:ngsi-ld:NoiseLevelObserved:ha-dong",
            "LAeq",
            json!(60.0),
        ),
        (
            "urn:ngsi-ld:NoiseLevelObserved:ha-dong",
            "LAmax",
            json!(71.5),
        ),
        (
            "urn:ngsi-ld:TrafficFlowObserved:cau-giay",
            "averageVehicleSpeed",
            json!(30.0),
        ),
        (
            "urn:ngsi-ld:TrafficFlowObserved:cau-giay",
            "intensity",
            json!(20.0),
        ),
        ("urn:ngsi-ld:WaterObserved:long-bien", "height", json!(25.0)),
    ] {
        let answer = get(&ngsi(&format!("entities/{id}")), &[]).await;
        assert_eq!(answer.status, 200, "{id}");
        published.push_str(&answer.body);
        assert_eq!(answer.json()[attribute]["value"], value, "{id} {attribute}");
    }
    // Listing with paging, in area order: ba-dinh then hoan-kiem.
    let page = |offset: &str| {
        ngsi(&format!(
            "entities?type=AirQualityObserved&limit=1&offset={offset}&count=true"
        ))
    };
    let first_page = get(&page("0"), &[]).await;
    assert_eq!(first_page.header("ngsild-results-count"), "2");
    let ids = |a: &Answer| -> Vec<Value> {
        a.json()
            .as_array()
            .expect("list")
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(&first_page),
        [json!("urn:ngsi-ld:AirQualityObserved:ba-dinh")]
    );
    assert_eq!(
        ids(&get(&page("1"), &[]).await),
        [json!("urn:ngsi-ld:AirQualityObserved:hoan-kiem")]
    );
    assert!(ids(&get(&page("2"), &[]).await).is_empty());
    published.push_str(&first_page.body);
    // Errors in the NGSI-LD shape.
    for (path, status, kind) in [
        ("entities?type=Bus", 400, "BadRequestData"),
        ("entities", 400, "BadRequestData"),
        (
            "entities?type=AirQualityObserved&limit=abc",
            400,
            "BadRequestData",
        ),
        (
            "entities/urn:ngsi-ld:AirQualityObserved:atlantis",
            404,
            "ResourceNotFound",
        ),
        (
            "entities/urn:ngsi-ld:WaterObserved:tay-ho",
            404,
            "ResourceNotFound",
        ),
    ] {
        let answer = get(&ngsi(path), &[]).await;
        assert_eq!(answer.status, status, "{path}");
        let problem = answer.json();
        assert_eq!(
            problem["type"],
            format!("https://uri.etsi.org/ngsi-ld/errors/{kind}"),
            "{path}"
        );
        assert!(problem["title"].is_string() && problem["detail"].is_string());
    }

    // Nothing personal anywhere in what was published.
    for secret in SECRETS {
        assert!(!published.contains(secret), "{secret:?} leaked");
    }
    assert!(published.contains("ba-dinh") && published.contains("hoan-kiem"));

    // The public page in Chromium shows the dataset's figures.
    let dom = tokio::task::spawn_blocking({
        let url = engine.url("/public");
        move || ioc_tests::browser::dump_dom(&url, "open-data-public")
    })
    .await
    .expect("chromium");
    assert!(dom.contains("<html lang=\"vi\""), "Vietnamese by default");
    let ba_dinh_row = dom
        .split("<tr ")
        .find(|tr| tr.contains("data-area=\"ba-dinh\"") && tr.contains("data-agency=\"all\""))
        .unwrap_or_else(|| panic!("ba-dinh row in {dom}"));
    for (field, value) in [
        ("received", "5"),
        ("on_time_pct", "66.67"),
        ("avg_rating", "3.67"),
        ("median_hours_to_resolve", "3"),
    ] {
        assert!(
            ba_dinh_row.contains(&format!("data-field=\"{field}\">{value}<")),
            "{field} = {value} in {ba_dinh_row}"
        );
    }
    assert!(dom.contains("Ba Đình"), "area names shown");
    let tay_ho_row = dom
        .split("<tr ")
        .find(|tr| tr.contains("data-area=\"tay-ho\"") && tr.contains("data-agency=\"all\""))
        .expect("tay-ho row");
    assert!(tay_ho_row.contains("data-suppressed=\"true\"") && !tay_ho_row.contains("data-field="));
    let air_row = dom
        .split("<tr ")
        .find(|tr| tr.contains("data-aqi-area=\"hoan-kiem\""))
        .expect("hoan-kiem air row");
    assert!(air_row.contains("data-field=\"aqi\">164<"), "{air_row}");
    let today = local(now)[..10].to_string();
    assert!(
        dom.contains(&format!("data-air-date=\"\">{today}<")) || dom.contains(&today),
        "date of the data"
    );
    for secret in SECRETS {
        assert!(!dom.contains(secret), "{secret:?} on the public page");
    }
    let english = tokio::task::spawn_blocking({
        let url = engine.url("/public?lang=en");
        move || ioc_tests::browser::dump_dom(&url, "open-data-public-en")
    })
    .await
    .expect("chromium");
    assert!(english.contains("<html lang=\"en\""));
    assert!(english.contains("Whole city"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_endpoints_have_a_per_ip_budget() {
    let config =
        std::env::temp_dir().join(format!("ioc-open-data-limit-{}.toml", std::process::id()));
    std::fs::write(&config, "[open_data]\nrate_per_ip_per_min = 4\n").expect("config file");
    let mut options = EngineOptions::new("open-data-limit");
    options.extra_args = vec!["--config".into(), config.display().to_string()];
    let engine = Engine::start(options).await;
    let paths = [
        "/open-data/v1/catalog.json",
        "/open-data/v1/report-kpis.csv",
        "/ngsi-ld/v1/entities?type=NoiseLevelObserved",
        "/public",
    ];
    for path in paths {
        assert_eq!(get(&engine.url(path), &[]).await.status, 200, "{path}");
    }
    let refused = get(&engine.url("/open-data/v1/catalog.json"), &[]).await;
    assert_eq!(refused.status, 429);
    assert!(
        refused
            .header("retry-after")
            .parse::<u64>()
            .is_ok_and(|s| s >= 1)
    );
    assert!(refused.json()["error"].is_string());
    // The operator API is not part of this budget.
    assert_eq!(get(&engine.url("/healthz"), &[]).await.status, 200);
}
