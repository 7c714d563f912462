//! Open311 GeoReport v2 end to end against the real binary: every endpoint in JSON and XML,
//! every error case with its status and body, the list filters, and an app written against the
//! specification posting form-encoded reports and reading them back.

use ioc_tests::open311::{Answer, Open311Client};
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const KEY: &str = "app-key-1";

/// Form fields of one POST.
type Fields = Vec<(&'static str, &'static str)>;

async fn engine(test: &str) -> (Engine, Open311Client) {
    let engine = Engine::start(
        EngineOptions::new(test).with_env("IOC_OPEN311_API_KEYS", &format!("{KEY}, app-key-2")),
    )
    .await;
    let client = Open311Client::new(&engine.url(""));
    (engine, client)
}

/// A report the spec allows, with Vietnamese text that must come back byte for byte.
const DESCRIPTION: &str = "Ngập sâu khoảng 30cm trước số 12 Hàng Bạc; xe máy chết máy.\r\nCần hỗ trợ gấp! <script>alert('x')</script> & \"quotes\" ạ";

fn created_id(answer: &Answer) -> String {
    assert_eq!(
        answer.status, 201,
        "POST answered {}: {}",
        answer.status, answer.body
    );
    answer.json()[0]["service_request_id"]
        .as_str()
        .expect("service_request_id")
        .to_string()
}

fn errors_json(answer: &Answer) -> Vec<(u64, String)> {
    answer
        .json()
        .as_array()
        .expect("an error list")
        .iter()
        .map(|e| {
            (
                e["code"].as_u64().expect("code"),
                e["description"].as_str().expect("description").to_string(),
            )
        })
        .collect()
}

fn errors_xml(answer: &Answer) -> Vec<(u64, String)> {
    let root = answer.xml();
    assert_eq!(root.name, "errors");
    root.children
        .iter()
        .map(|e| {
            assert_eq!(e.name, "error");
            (
                e.text_of("code").parse().expect("numeric code"),
                e.text_of("description"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_definitions_and_discovery_in_json_and_xml() {
    let (_engine, client) = engine("o311-services").await;
    let expected: BTreeSet<&str> = [
        "traffic",
        "flooding",
        "environment",
        "urban_order",
        "health",
        "security",
        "utilities",
        "education",
        "public_services",
    ]
    .into();

    let json = client.get("/open311/v2/services.json", &[]).await;
    assert_eq!(json.status, 200);
    assert!(json.content_type.starts_with("application/json"));
    let services = json.json();
    let codes: BTreeSet<&str> = services
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["service_code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, expected);
    for service in services.as_array().expect("list") {
        for field in ["service_name", "group", "description", "type", "metadata"] {
            assert!(!service[field].is_null(), "{field} missing in {service}");
        }
    }
    let flooding = services
        .as_array()
        .and_then(|s| s.iter().find(|s| s["service_code"] == "flooding"))
        .expect("flooding");
    assert_eq!(flooding["service_name"], "Ngập úng");
    assert_eq!(flooding["metadata"], true);

    let xml = client.get("/open311/v2/services.xml", &[]).await;
    assert_eq!(xml.status, 200);
    assert!(xml.content_type.starts_with("text/xml"));
    let root = xml.xml();
    assert_eq!(root.name, "services");
    let xml_codes: BTreeSet<String> = root
        .children
        .iter()
        .map(|s| s.text_of("service_code"))
        .collect();
    assert_eq!(xml_codes, expected.iter().map(|s| s.to_string()).collect());
    let names: Vec<String> = root
        .children
        .iter()
        .map(|s| s.text_of("service_name"))
        .collect();
    assert!(names.contains(&"Ngập úng".to_string()), "{names:?}");

    let definition = client
        .get("/open311/v2/services/flooding.json", &[])
        .await
        .json();
    assert_eq!(definition["service_code"], "flooding");
    assert_eq!(definition["attributes"][0]["code"], "depth_cm");
    assert_eq!(definition["attributes"][0]["datatype"], "number");
    let definition = client
        .get("/open311/v2/services/flooding.xml", &[])
        .await
        .xml();
    assert_eq!(definition.name, "service_definition");
    let attribute = definition
        .child("attributes")
        .and_then(|a| a.child("attribute"))
        .expect("attribute");
    assert_eq!(attribute.text_of("code"), "depth_cm");
    let plain = client.get("/open311/v2/services/traffic.json", &[]).await;
    assert_eq!(
        (plain.status, plain.json()["attributes"].clone()),
        (200, json!([]))
    );

    let unknown = client.get("/open311/v2/services/ufo.json", &[]).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(errors_json(&unknown)[0].0, 404);
    let unknown = client.get("/open311/v2/services/ufo.xml", &[]).await;
    assert_eq!((unknown.status, errors_xml(&unknown)[0].0), (404, 404));

    let discovery = client.get("/open311/discovery.json", &[]).await;
    assert_eq!(discovery.status, 200);
    let endpoint = &discovery.json()["endpoints"][0];
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert!(
        endpoint["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/open311/v2"))
    );
    let discovery = client.get("/open311/discovery.xml", &[]).await.xml();
    assert_eq!(discovery.name, "discovery");
    let formats: Vec<String> = discovery
        .child("endpoints")
        .and_then(|e| e.child("endpoint"))
        .and_then(|e| e.child("formats"))
        .map(|f| f.children.iter().map(|c| c.text.clone()).collect())
        .unwrap_or_default();
    assert_eq!(formats, ["application/json", "text/xml"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_client_posts_form_reports_and_reads_them_back_in_both_formats() {
    let (_engine, client) = engine("o311-roundtrip").await;
    let form = [
        ("api_key", KEY),
        ("service_code", "flooding"),
        ("lat", "21.0285"),
        ("long", "105.8542"),
        ("address_string", "12 Hàng Bạc, Hoàn Kiếm, Hà Nội"),
        ("description", DESCRIPTION),
        (
            "media_url",
            "https://img.example.vn/ngap/12-hang-bac.jpg?size=large&v=2",
        ),
        ("attribute[depth_cm]", "30"),
        ("device_id", "phone-123"),
    ];
    let posted = client.post_form("json", &form).await;
    assert!(posted.content_type.starts_with("application/json"));
    let id = created_id(&posted);
    assert!(posted.json()[0]["service_notice"].is_string());

    // Read back at once (read-your-writes), JSON.
    let one = client
        .get(&format!("/open311/v2/requests/{id}.json"), &[])
        .await;
    assert_eq!(one.status, 200);
    let report = &one.json()[0];
    assert_eq!(report["service_request_id"], id.as_str());
    assert_eq!(report["description"], DESCRIPTION);
    assert_eq!(report["status"], "open");
    assert_eq!(report["service_code"], "flooding");
    assert_eq!(report["service_name"], "Ngập úng");
    assert_eq!(report["address"], "12 Hàng Bạc, Hoàn Kiếm, Hà Nội");
    assert_eq!(
        report["media_url"],
        "https://img.example.vn/ngap/12-hang-bac.jpg?size=large&v=2"
    );
    assert_eq!(
        (report["lat"].as_f64(), report["long"].as_f64()),
        (Some(21.0285), Some(105.8542))
    );
    let requested = chrono::DateTime::parse_from_rfc3339(
        report["requested_datetime"].as_str().expect("requested"),
    )
    .expect("RFC 3339 requested_datetime");
    let expected = chrono::DateTime::parse_from_rfc3339(
        report["expected_datetime"].as_str().expect("expected"),
    )
    .expect("RFC 3339 expected_datetime");
    assert_eq!(
        expected - requested,
        chrono::Duration::hours(4),
        "flooding SLA is 4 h"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(report["updated_datetime"].as_str().expect("updated"))
            .is_ok()
    );
    // The JSON text itself carries no markup characters.
    assert!(!one.body.contains("<script>"), "{}", one.body);

    // XML: the same text, byte for byte, through a real XML parser.
    let xml = client
        .get(&format!("/open311/v2/requests/{id}.xml"), &[])
        .await;
    assert_eq!(xml.status, 200);
    assert!(!xml.body.contains("<script>"));
    let root = xml.xml();
    assert_eq!(root.name, "service_requests");
    let request = root.child("request").expect("request");
    assert_eq!(request.text_of("description"), DESCRIPTION);
    assert_eq!(request.text_of("service_request_id"), id);
    assert_eq!(request.text_of("status"), "open");
    assert_eq!(request.text_of("address"), "12 Hàng Bạc, Hoàn Kiếm, Hà Nội");
    assert_eq!(
        request.text_of("media_url"),
        "https://img.example.vn/ngap/12-hang-bac.jpg?size=large&v=2"
    );
    assert_eq!(request.text_of("lat").parse::<f64>().ok(), Some(21.0285));

    // POST answered in XML; JSON bodies are accepted too.
    let xml_post = client
        .post_form(
            "xml",
            &[
                ("api_key", KEY),
                ("service_code", "environment"),
                ("address_string", "Chợ Đồng Xuân"),
            ],
        )
        .await;
    assert_eq!(xml_post.status, 201);
    let xml_id = xml_post
        .xml()
        .child("request")
        .expect("request")
        .text_of("service_request_id");
    assert!(!xml_id.is_empty());
    let json_post = client
        .post_json("json", &json!({"api_key": "app-key-2", "service_code": "traffic", "lat": 21.03, "long": 105.79, "description": "Đèn tín hiệu hỏng"}))
        .await;
    let json_id = created_id(&json_post);

    // All three in the list, newest first.
    let list = client.get("/open311/v2/requests.json", &[]).await.json();
    let ids: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, [json_id.as_str(), xml_id.as_str(), id.as_str()]);
    let list = client.get("/open311/v2/requests.xml", &[]).await.xml();
    assert_eq!(list.children.len(), 3);
    assert!(list.children.iter().all(|c| c.name == "request"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_case_answers_its_status_and_the_open311_error_shape() {
    let (_engine, client) = engine("o311-errors").await;
    let ok = [
        ("service_code", "traffic"),
        ("lat", "21.03"),
        ("long", "105.85"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Fields {
        let mut fields = vec![("api_key", KEY)];
        for (k, v) in ok {
            if !extra.iter().any(|(e, _)| *e == k) {
                fields.push((k, v));
            }
        }
        fields.extend_from_slice(extra);
        fields
    };
    let long_description: &'static str = Box::leak("ạ".repeat(4001).into_boxed_str());
    let long_name: &'static str = Box::leak("N".repeat(101).into_boxed_str());
    let cases: Vec<(&str, Fields, u16)> = vec![
        ("missing api_key", ok.to_vec(), 403),
        (
            "unknown api_key",
            {
                let mut f = ok.to_vec();
                f.push(("api_key", "stolen"));
                f
            },
            403,
        ),
        (
            "unknown service_code",
            with(&[("service_code", "ufo")]),
            404,
        ),
        ("missing service_code", with(&[("service_code", "")]), 400),
        (
            "no location",
            vec![("api_key", KEY), ("service_code", "traffic")],
            400,
        ),
        (
            "outside the city",
            with(&[("lat", "10.776"), ("long", "106.700")]),
            400,
        ),
        (
            "non-numeric coordinates",
            with(&[("lat", "hai mốt"), ("long", "105.85")]),
            400,
        ),
        (
            "lat without long",
            vec![
                ("api_key", KEY),
                ("service_code", "traffic"),
                ("lat", "21.03"),
            ],
            400,
        ),
        (
            "description over 4000 characters",
            with(&[("description", long_description)]),
            400,
        ),
        (
            "media_url not http(s)",
            with(&[("media_url", "javascript:alert(1)")]),
            400,
        ),
        (
            "media_url ftp",
            with(&[("media_url", "ftp://x.vn/a.jpg")]),
            400,
        ),
        (
            "first_name too long",
            with(&[("first_name", long_name)]),
            400,
        ),
        ("last_name too long", with(&[("last_name", long_name)]), 400),
        ("invalid email", with(&[("email", "nguyen.van.a@")]), 400),
        ("invalid phone", with(&[("phone", "call me maybe")]), 400),
        (
            "flood depth not a number",
            with(&[("service_code", "flooding"), ("attribute[depth_cm]", "sâu")]),
            400,
        ),
    ];
    for (name, fields, status) in &cases {
        for format in ["json", "xml"] {
            let answer = client.post_form(format, fields).await;
            assert_eq!(answer.status, *status, "{name} ({format}): {}", answer.body);
            let errors = if format == "json" {
                errors_json(&answer)
            } else {
                errors_xml(&answer)
            };
            assert!(!errors.is_empty(), "{name}: no error");
            assert!(
                errors
                    .iter()
                    .all(|(code, description)| *code == u64::from(*status)
                        && !description.is_empty()),
                "{name}: {errors:?}"
            );
        }
    }

    // Several wrong fields: every one named at once.
    let answer = client
        .post_form(
            "json",
            &[
                ("api_key", KEY),
                ("service_code", "traffic"),
                ("lat", "abc"),
                ("long", "105.8"),
                ("media_url", "ftp://x"),
                ("email", "x@"),
                ("phone", "12"),
                ("description", long_description),
            ],
        )
        .await;
    assert_eq!(answer.status, 400);
    let errors = errors_json(&answer);
    assert_eq!(errors.len(), 5, "{errors:?}");
    let text = answer.body.clone();
    for field in ["lat", "media_url", "email", "phone", "description"] {
        assert!(text.contains(field), "{field} not named in {text}");
    }
    let answer = client
        .post_form(
            "xml",
            &[
                ("api_key", KEY),
                ("service_code", "traffic"),
                ("email", "x@"),
                ("phone", "12"),
            ],
        )
        .await;
    assert_eq!((answer.status, errors_xml(&answer).len()), (400, 3));

    // A malformed JSON body and an unsupported body type.
    let answer = client
        .post_json("json", &json!(["not", "an", "object"]))
        .await;
    assert_eq!(answer.status, 400);

    // Unknown request ids and formats.
    let answer = client
        .get("/open311/v2/requests/pa-0000000000000000.json", &[])
        .await;
    assert_eq!((answer.status, errors_json(&answer)[0].0), (404, 404));
    let answer = client
        .get("/open311/v2/requests/pa-0000000000000000.xml", &[])
        .await;
    assert_eq!((answer.status, errors_xml(&answer)[0].0), (404, 404));
    let answer = client.get("/open311/v2/services.csv", &[]).await;
    assert_eq!(answer.status, 404);
    // Bad list filters: 400 naming each.
    let answer = client
        .get(
            "/open311/v2/requests.json",
            &[("status", "pending"), ("start_date", "hôm qua")],
        )
        .await;
    assert_eq!((answer.status, errors_json(&answer).len()), (400, 2));

    // Nothing was stored by any of these.
    let list = client.get("/open311/v2/requests.json", &[]).await.json();
    assert_eq!(list, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_ids_codes_status_dates_window_and_cap() {
    let (engine, client) = engine("o311-filters").await;
    let mut ids = Vec::new();
    for (i, code) in ["traffic", "flooding", "environment", "traffic"]
        .iter()
        .enumerate()
    {
        let lat = format!("21.0{i}");
        let answer = client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", code),
                    ("lat", &lat),
                    ("long", "105.82"),
                ],
            )
            .await;
        ids.push(created_id(&answer));
    }
    let listed = |answer: Answer| -> BTreeSet<String> {
        answer
            .json()
            .as_array()
            .expect("list")
            .iter()
            .map(|r| {
                r["service_request_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let set =
        |items: &[&String]| -> BTreeSet<String> { items.iter().map(|s| s.to_string()).collect() };

    let by_code = client
        .get("/open311/v2/requests.json", &[("service_code", "traffic")])
        .await;
    assert_eq!(listed(by_code), set(&[&ids[0], &ids[3]]));
    let by_codes = client
        .get(
            "/open311/v2/requests.json",
            &[("service_code", "flooding,environment")],
        )
        .await;
    assert_eq!(listed(by_codes), set(&[&ids[1], &ids[2]]));

    // Close one through the operator API; status filters follow.
    let http = reqwest::Client::new();
    let token = &engine.token;
    let response = http
        .post(engine.url(&format!("/api/reports/{}/status", ids[2])))
        .bearer_auth(token)
        .json(&json!({"status": "rejected", "note": "Không thuộc thẩm quyền"}))
        .send()
        .await
        .expect("POST status");
    assert_eq!(response.status(), 200);
    let closed = client
        .get("/open311/v2/requests.json", &[("status", "closed")])
        .await;
    assert_eq!(listed(closed), set(&[&ids[2]]));
    let open = client
        .get("/open311/v2/requests.json", &[("status", "open")])
        .await;
    assert_eq!(listed(open), set(&[&ids[0], &ids[1], &ids[3]]));
    let both = client
        .get("/open311/v2/requests.json", &[("status", "open,closed")])
        .await;
    assert_eq!(listed(both).len(), 4);
    let note = client
        .get(&format!("/open311/v2/requests/{}.json", ids[2]), &[])
        .await
        .json();
    assert_eq!(
        (note[0]["status"].clone(), note[0]["status_notes"].clone()),
        (json!("closed"), json!("Không thuộc thẩm quyền"))
    );

    // Ids override every other filter.
    let joined = format!("{},{}", ids[0], ids[2]);
    let by_ids = client
        .get(
            "/open311/v2/requests.json",
            &[
                ("service_request_id", &joined),
                ("service_code", "flooding"),
                ("status", "open"),
                ("start_date", "2099-01-01T00:00:00Z"),
            ],
        )
        .await;
    assert_eq!(listed(by_ids), set(&[&ids[0], &ids[2]]));

    // Date range.
    let future = client
        .get(
            "/open311/v2/requests.json",
            &[("start_date", "2099-01-01T00:00:00+07:00")],
        )
        .await;
    assert!(listed(future).is_empty());
    let past = client
        .get("/open311/v2/requests.json", &[("end_date", "2020-01-01")])
        .await;
    assert!(listed(past).is_empty());
    let around = client
        .get(
            "/open311/v2/requests.json",
            &[
                ("start_date", "2020-01-01T00:00:00Z"),
                ("end_date", "2099-01-01T00:00:00Z"),
            ],
        )
        .await;
    assert_eq!(listed(around).len(), 4);

    // Reports over MQTT go the same path: 1003 of them, one dated 100 days ago.
    let (host, port) = engine.options.broker.address();
    let root = engine.options.topic_root.clone();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    let old_ts = now - 100 * 24 * 3600 * 1000;
    publisher
        .publish(&format!("{root}/ba-dinh/report"), json!({"id": "old-1", "ts": old_ts, "service_code": "security", "address_string": "Phố cũ"}).to_string())
        .await;
    for i in 0..1002 {
        let body = json!({"id": format!("m-{i}"), "ts": now - 60_000 + i, "service_code": "environment", "lat": 21.03, "long": 105.85, "description": format!("Rác thải số {i}")});
        publisher
            .publish(&format!("{root}/_/report"), body.to_string())
            .await;
    }
    // A redelivered MQTT report (same event id) is not a second report.
    let again = json!({"id": "m-7", "ts": now - 60_000 + 7, "service_code": "environment", "lat": 21.03, "long": 105.85, "description": "Rác thải số 7"});
    publisher
        .publish(&format!("{root}/_/report"), again.to_string())
        .await;
    publisher.wait_acked().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let overview = engine.overview().await;
        if overview["reports"]["received"].as_u64() == Some(4 + 1003) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "MQTT reports not counted: {}",
            overview["reports"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let default = client.get("/open311/v2/requests.json", &[]).await.json();
    assert_eq!(default.as_array().map(Vec::len), Some(1000), "at most 1000");
    let old_id = ioc_ingest::report::request_id("old-1");
    let all_codes = client
        .get("/open311/v2/requests.json", &[("service_code", "security")])
        .await;
    assert!(
        listed(all_codes).is_empty(),
        "the 90-day default leaves out the old report"
    );
    let old_start = chrono::DateTime::from_timestamp_millis(old_ts - 1000)
        .expect("time")
        .to_rfc3339();
    let with_start = client
        .get(
            "/open311/v2/requests.json",
            &[("service_code", "security"), ("start_date", &old_start)],
        )
        .await;
    assert_eq!(listed(with_start), set(&[&old_id]));
    let old = client
        .get(&format!("/open311/v2/requests/{old_id}.json"), &[])
        .await
        .json();
    assert_eq!(old[0]["address"], "Phố cũ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_phone_email_or_name_in_any_open311_answer_or_view() {
    let (engine, client) = engine("o311-privacy").await;
    let phone = "0912345678";
    let email = "nguyen.thi.hoa@example.vn";
    let first = "Hoa";
    let last = "Nguyễn Thị";
    let id = created_id(
        &client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "health"),
                    ("lat", "21.0"),
                    ("long", "105.83"),
                    ("description", "Cơ sở bán thực phẩm không rõ nguồn gốc"),
                    ("phone", phone),
                    ("email", email),
                    ("first_name", first),
                    ("last_name", last),
                ],
            )
            .await,
    );
    let xml_id = client
        .post_form(
            "xml",
            &[
                ("api_key", KEY),
                ("service_code", "health"),
                ("lat", "21.0"),
                ("long", "105.83"),
                ("phone", phone),
                ("email", email),
                ("first_name", first),
                ("last_name", last),
            ],
        )
        .await;
    assert_eq!(xml_id.status, 201);
    let forbidden = |text: &str, what: &str| {
        for secret in [phone, email, first, last, "345678", "hoa@"] {
            assert!(!text.contains(secret), "{what} leaks {secret:?}: {text}");
        }
    };
    forbidden(&xml_id.body, "POST xml");
    for path in [
        "/open311/v2/requests.json".to_string(),
        "/open311/v2/requests.xml".to_string(),
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.xml"),
    ] {
        let answer = client.get(&path, &[]).await;
        assert_eq!(answer.status, 200);
        forbidden(&answer.body, &path);
    }
    let area = engine.overview().await["areas"]
        .as_array()
        .and_then(|areas| areas.iter().find(|a| a["reports_open"].as_u64() == Some(2)))
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .expect("an area with both reports open");
    for view in [
        "overview".to_string(),
        "reports".to_string(),
        "reports?status=all".to_string(),
        "kpi".to_string(),
        format!("area?area={area}"),
    ] {
        let data = engine.get_json(&format!("/api/views/{view}")).await;
        forbidden(&data.to_string(), &view);
    }
    let reports = engine.get_json("/api/views/reports?status=open").await;
    assert_eq!(reports["items"][0]["phone"], "09******78");

    // Websocket frames: snapshot of the reports view, then an update after one more report.
    let mut live = ioc_tests::ws::LiveClient::connect(&engine.ws_url()).await;
    live.subscribe("r", "reports", json!({"status": "open"}))
        .await;
    let snapshot = live
        .next(std::time::Duration::from_secs(5))
        .await
        .expect("snapshot");
    assert_eq!(snapshot["type"], "snapshot");
    forbidden(&snapshot.to_string(), "ws snapshot");
    created_id(
        &client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "security"),
                    ("lat", "21.0"),
                    ("long", "105.83"),
                    ("phone", phone),
                    ("email", email),
                    ("first_name", first),
                    ("last_name", last),
                ],
            )
            .await,
    );
    let update = live
        .next(std::time::Duration::from_secs(5))
        .await
        .expect("update");
    assert_eq!(update["type"], "update");
    forbidden(&update.to_string(), "ws update");

    // An operator sees the masked phone; only an admin reads the contact.
    let operator = ioc_tests::engine::mint(&engine.data_dir, "operator");
    let http = reqwest::Client::new();
    let as_operator: Value = http
        .get(engine.url(&format!("/api/reports/{id}")))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    forbidden(&as_operator.to_string(), "operator REST");
    assert_eq!(as_operator["phone"], "09******78");
    assert_eq!(as_operator["contact"]["phone"], "09******78");
    assert_eq!(as_operator["contact"]["email"], "n***@example.vn");
    let as_admin = engine.get_json(&format!("/api/reports/{id}")).await;
    assert_eq!(as_admin["contact"]["phone"], phone);
    assert_eq!(as_admin["contact"]["email"], email);
    assert_eq!(as_admin["contact"]["last_name"], last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_scoped_operators_see_and_change_only_their_areas() {
    let (engine, client) = engine("o311-scope").await;
    let hoan_kiem = created_id(
        &client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "urban_order"),
                    ("lat", "21.029"),
                    ("long", "105.853"),
                ],
            )
            .await,
    );
    let ba_dinh = created_id(
        &client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "urban_order"),
                    ("lat", "21.035"),
                    ("long", "105.820"),
                ],
            )
            .await,
    );
    let token = ioc_tests::engine::mint_scoped(&engine.data_dir, "operator", &["hoan-kiem"]);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http.get(engine.url(&path)).bearer_auth(&token);
        async move {
            let response = request.send().await.expect("GET");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, view) = get("/api/views/reports?status=all".into()).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = view["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [hoan_kiem.as_str()]);
    assert_eq!(get("/api/views/reports?area=ba-dinh".into()).await.0, 403);
    let (_, kpi) = get("/api/views/kpi".into()).await;
    assert_eq!(kpi["city"]["reports"]["received"], 1);
    assert_eq!(kpi["areas"].as_array().map(Vec::len), Some(1));
    assert_eq!(get(format!("/api/reports/{hoan_kiem}")).await.0, 200);
    assert_eq!(get(format!("/api/reports/{ba_dinh}")).await.0, 403);
    let assign = |id: String| {
        let request = http
            .post(engine.url(&format!("/api/reports/{id}/assign")))
            .bearer_auth(&token)
            .json(&json!({"agency": "UBND phường"}));
        async move { request.send().await.expect("POST").status().as_u16() }
    };
    assert_eq!(assign(ba_dinh.clone()).await, 403);
    assert_eq!(assign(hoan_kiem.clone()).await, 200);
    // The refused change left nothing behind.
    let untouched = engine.get_json(&format!("/api/reports/{ba_dinh}")).await;
    assert_eq!(untouched["status"], "received");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_over_the_per_address_rate_get_429_with_retry_after() {
    let mut options = EngineOptions::new("o311-limit").with_env("IOC_OPEN311_API_KEYS", KEY);
    let config = std::env::temp_dir().join(format!("{}.toml", options.topic_root));
    std::fs::write(&config, "[open311]\nrate_per_ip_per_min = 5\n").expect("config file");
    options.extra_args = vec!["--config".into(), config.display().to_string()];
    let engine = Engine::start(options).await;
    let client = Open311Client::new(&engine.url(""));
    let form = [
        ("api_key", KEY),
        ("service_code", "traffic"),
        ("address_string", "Cầu Giấy"),
    ];
    for _ in 0..5 {
        assert_eq!(client.post_form("json", &form).await.status, 201);
    }
    for format in ["json", "xml"] {
        let answer = client.post_form(format, &form).await;
        assert_eq!(answer.status, 429, "{}", answer.body);
        let code = if format == "json" {
            errors_json(&answer)[0].0
        } else {
            errors_xml(&answer)[0].0
        };
        assert_eq!(code, 429);
    }
    let response = reqwest::Client::new()
        .post(engine.url("/open311/v2/requests.json"))
        .form(&form)
        .send()
        .await
        .expect("POST");
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    // Reading is not limited.
    assert_eq!(
        client.get("/open311/v2/requests.json", &[]).await.status,
        200
    );
    let _ = std::fs::remove_file(config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_report_endpoints() {
    let (engine, client) = engine("o311-openapi").await;
    let answer = client.get("/api/openapi.json", &[]).await;
    assert_eq!(answer.status, 200, "public, like discovery");
    let document = answer.json();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for path in [
        "/api/reports/{id}",
        "/api/reports/{id}/assign",
        "/api/reports/{id}/status",
        "/api/reports/{id}/rate",
        "/open311/v2/requests.{format}",
        "/api/views/{view}",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    drop(engine);
}
