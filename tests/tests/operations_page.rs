//! The operations page in a real browser: headless Chromium driven over the DevTools
//! protocol against a running engine fed by real MQTT readings (and, for the demo, by the
//! simulator). Screenshots go to `$CARGO_TARGET_DIR/operations-page/`.

use ioc_tests::browser::{Browser, artifacts_dir};
use ioc_tests::engine::mint_scoped;
use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const API_KEY: &str = "page-key";
/// A citizen's description that would run script if the page parsed it as markup.
const XSS: &str = "<img src=x onerror=alert(1)><script>alert(2)</script>";

/// An engine on Mosquitto with an Open311 key and a rule raising a major alert above
/// PM2.5 50 µg/m³, plus `extra` flags.
async fn engine(test: &str, extra: &[String]) -> Engine {
    let rules = std::env::temp_dir().join(format!("ioc-{test}-rules-{}.toml", std::process::id()));
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"pm25-over-50\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 50\nseverity = \"major\"\n",
    )
    .expect("rules file");
    let mut options = EngineOptions::new(test).with_env("IOC_OPEN311_API_KEYS", API_KEY);
    options.extra_args = vec!["--rules".into(), rules.display().to_string()];
    options.extra_args.extend(extra.iter().cloned());
    Engine::start(options).await
}

/// Publishes `n` readings of `kind` with `values` from `source` in `area`, one second apart
/// ending now, and waits until the broker acknowledged them. Each carries its own id: without
/// one the engine derives it from source, time and kind, and two calls whose `now` happened to
/// lie a whole number of seconds apart would repeat readings, which the journal counts once.
async fn publish(engine: &Engine, area: &str, kind: &str, source: &str, values: Value, n: i64) {
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let root = &engine.options.topic_root;
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..n {
        let body = json!({
            "id": format!("{source}-{now}-{i}"),
            "source": source,
            "ts": now - (n - i) * 1000,
            "values": values
        });
        publisher
            .publish(&format!("{root}/{area}/{kind}/{source}"), body.to_string())
            .await;
    }
    publisher.wait_acked().await;
}

/// Waits until the overview counts `total` events.
async fn wait_events(engine: &Engine, total: u64) -> Value {
    let overview = engine
        .wait_for(WAIT, |o| o["events_total"].as_u64() == Some(total))
        .await;
    assert_eq!(overview["events_total"], json!(total), "events applied");
    overview
}

/// Posts a citizen report and returns its id.
async fn report(engine: &Engine, code: &str, lat: &str, long: &str, description: &str) -> String {
    let answer = Open311Client::new(&engine.url(""))
        .post_form(
            "json",
            &[
                ("api_key", API_KEY),
                ("service_code", code),
                ("lat", lat),
                ("long", long),
                ("description", description),
            ],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()[0]["service_request_id"]
        .as_str()
        .expect("service_request_id")
        .to_string()
}

/// A browser signed in with `token` through `/?access_token=`, live, map drawn.
async fn signed_in(engine: &Engine, token: &str, name: &str, width: u32, height: u32) -> Browser {
    let browser = Browser::launch(name, width, height).await;
    browser
        .navigate(&engine.url(&format!("/?access_token={token}")))
        .await;
    wait_live(&browser).await;
    browser
}

/// Waits until the page is connected, has drawn its map and filled the first tile.
async fn wait_live(browser: &Browser) {
    browser
        .wait_until(
            "document.querySelector('[data-connection=\"live\"]') !== null \
             && document.querySelectorAll('[data-map] [data-area]').length > 0 \
             && document.querySelector('[data-kpi=\"events_total\"]').textContent !== ''",
            WAIT,
        )
        .await;
}

/// The page's `[data-area]` shapes: id → `data-value`.
async fn shapes(browser: &Browser) -> Vec<(String, String)> {
    let list = browser
        .eval(
            "[...document.querySelectorAll('[data-map] [data-area]')]\
             .map(e => [e.getAttribute('data-area'), e.getAttribute('data-value')])",
        )
        .await;
    serde_json::from_value(list).expect("shape list")
}

/// The seven KPI tiles' texts.
async fn tiles(browser: &Browser) -> Value {
    browser
        .eval(
            "Object.fromEntries([...document.querySelectorAll('[data-kpi]')]\
             .map(e => [e.getAttribute('data-kpi'), e.textContent]))",
        )
        .await
}

/// The tile values as numbers (`None` for an empty tile, or text that is not a number).
fn tile_numbers(texts: &Value) -> Vec<(String, Option<f64>)> {
    let mut numbers: Vec<(String, Option<f64>)> = texts
        .as_object()
        .expect("tiles")
        .iter()
        .map(|(name, text)| (name.clone(), text.as_str().and_then(|t| t.parse().ok())))
        .collect();
    numbers.sort_by(|a, b| a.0.cmp(&b.0));
    numbers
}

/// What each tile must show for an overview: its number, or nothing when there is none.
fn expected_tiles(overview: &Value) -> Vec<(String, Option<f64>)> {
    let reports = &overview["reports"];
    let mut numbers: Vec<(String, Option<f64>)> = [
        ("events_total", &overview["events_total"]),
        ("events_per_sec", &overview["events_per_sec"]),
        ("alerts_active", &overview["alerts_active"]),
        ("reports_open", &reports["open"]),
        ("reports_overdue", &reports["overdue"]),
        ("reports_on_time_pct", &reports["resolved_on_time_pct"]),
        ("satisfaction", &reports["rating_avg"]),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.as_f64()))
    .collect();
    numbers.sort_by(|a, b| a.0.cmp(&b.0));
    numbers
}

/// Reads the tiles, the overview, and the tiles again until both reads equal the overview
/// between them (the tiles follow the live view within a tick); returns the tiles' texts.
async fn tiles_equal_overview(engine: &Engine, browser: &Browser) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let before = tiles(browser).await;
        let want = expected_tiles(&engine.overview().await);
        let after = tiles(browser).await;
        if tile_numbers(&before) == want && tile_numbers(&after) == want {
            return after;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tiles {after} never equalled the overview's {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether a `data-value` is the view's number (empty for none).
fn same_value(text: &str, value: &Value) -> bool {
    match value.as_f64() {
        None => text.is_empty(),
        Some(number) => text.parse::<f64>().ok() == Some(number),
    }
}

/// A child process killed when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Number of elements on the page.
async fn element_count(browser: &Browser) -> u64 {
    browser
        .eval("document.getElementsByTagName('*').length")
        .await
        .as_u64()
        .expect("count")
}

/// The element count once two counts more than two ticks apart agree.
async fn settled_element_count(browser: &Browser) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    let mut last = element_count(browser).await;
    loop {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let now = element_count(browser).await;
        if now == last {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page never stopped changing: {last} then {now} elements"
        );
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_takes_a_free_port_and_its_printed_url_signs_in() {
    // Hold a port, and ask the demo for it: it must take another one and say so.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let data_dir = std::env::temp_dir().join(ioc_tests::unique_root("demo-page"));
    let mut demo = KillOnDrop(
        Command::new(ioc_tests::engine::binary())
            .args(["demo", "--rate", "60", "--listen"])
            .arg(format!("127.0.0.1:{taken_port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .env("IOC_LOG", "warn")
            .env_remove("IOC_JWT_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ioc demo"),
    );
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(demo.0.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(demo.0.stderr.take().expect("stderr")) as Box<dyn std::io::Read + Send>,
    ] {
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
    }
    let mut said_taken = false;
    let url = loop {
        let line = lines
            .recv_timeout(WAIT)
            .expect("the demo printed no dashboard URL");
        said_taken |= line.contains(&format!("HTTP port {taken_port} is taken"));
        if let Some(url) = line.trim().strip_prefix("Dashboard:") {
            break url.trim().to_string();
        }
    };
    assert!(
        said_taken,
        "the demo did not say that port {taken_port} was taken"
    );
    assert!(
        !url.contains(&format!(":{taken_port}/")),
        "the demo kept the taken port: {url}"
    );
    let token = url.split("access_token=").nth(1).expect("token in URL");

    let browser = Browser::launch("demo", 1920, 1080).await;
    browser.navigate(&url).await;
    wait_live(&browser).await;
    // Signed in: the token went into the session and out of the address bar.
    assert_eq!(
        browser.eval("location.href.includes('access_token')").await,
        json!(false)
    );
    assert_eq!(
        browser.eval("sessionStorage.getItem('ioc_token')").await,
        json!(token)
    );
    let base = url.split("/?").next().expect("base");
    let overview: Value = reqwest::Client::new()
        .get(format!("{base}/api/views/overview"))
        .bearer_auth(token)
        .send()
        .await
        .expect("overview")
        .json()
        .await
        .expect("JSON");
    let mut ids: Vec<String> = shapes(&browser)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut want: Vec<String> = overview["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    want.sort();
    assert_eq!(ids.len(), 30, "one shape per Hanoi area");
    assert_eq!(ids, want);
    // The session survives a reload without the token in the URL.
    browser.navigate(base).await;
    wait_live(&browser).await;

    // Screenshots once the simulated city has alerts and reports to show.
    browser
        .wait_until(
            "document.querySelectorAll('[data-report]').length >= 3 \
             && [...document.querySelectorAll('[data-map] [data-area]')].filter(e => e.getAttribute('data-value') !== '').length >= 25",
            Duration::from_secs(120),
        )
        .await;
    let dir = artifacts_dir();
    browser.screenshot(&dir.join("wall-1920x1080.png")).await;
    browser.click("[data-layer=\"flood\"]").await;
    browser
        .screenshot(&dir.join("wall-flood-1920x1080.png"))
        .await;
    browser.click("[data-layer=\"aqi\"]").await;
    browser.click("[data-map] [data-area=\"thanh-tri\"]").await;
    browser
        .wait_until(
            "location.hash === '#/area/thanh-tri' && document.querySelectorAll('[data-source]').length > 0 \
             && document.querySelectorAll('[data-chart] polyline, [data-chart] circle').length > 0",
            WAIT,
        )
        .await;
    browser.screenshot(&dir.join("area-thanh-tri.png")).await;
    browser.set_viewport(1366, 768).await;
    browser.click("[data-back]").await;
    browser
        .wait_until(
            "document.querySelectorAll('[data-report]').length >= 3",
            WAIT,
        )
        .await;
    browser.screenshot(&dir.join("laptop-1366x768.png")).await;
    eprintln!("screenshots in {}", dir.display());
    assert_eq!(browser.exceptions(), Vec::<String>::new());
    drop(demo);
    drop(taken);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_areas_file_gets_one_shape_per_area_and_the_tiles_equal_the_overview() {
    // Three areas with polygons (squares west to east) and two with centroids only.
    let square = |lon: f64, lat: f64| {
        json!([
            [lon - 0.01, lat - 0.01],
            [lon + 0.01, lat - 0.01],
            [lon + 0.01, lat + 0.01],
            [lon - 0.01, lat + 0.01],
            [lon - 0.01, lat - 0.01]
        ])
    };
    let features = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "phuong-a", "name": "Phường A"}, "geometry": {"type": "Polygon", "coordinates": [square(105.80, 21.00)]}},
        {"type": "Feature", "properties": {"id": "phuong-b", "name": "Phường B"}, "geometry": {"type": "Polygon", "coordinates": [square(105.84, 21.00)]}},
        {"type": "Feature", "properties": {"id": "phuong-c", "name": "Phường C"}, "geometry": {"type": "Polygon", "coordinates": [square(105.88, 21.04)]}},
        {"type": "Feature", "properties": {"id": "xa-d", "name": "Xã D", "lat": 21.10, "lon": 105.80}, "geometry": null},
        {"type": "Feature", "properties": {"id": "xa-e", "name": "Xã E", "lat": 20.95, "lon": 105.90}, "geometry": null},
    ]});
    let file = std::env::temp_dir().join(format!("ioc-page-areas-{}.geojson", std::process::id()));
    std::fs::write(&file, features.to_string()).expect("areas file");
    let engine = engine(
        "page-areas",
        &["--areas".into(), file.display().to_string()],
    )
    .await;
    publish(
        &engine,
        "phuong-a",
        "air_quality",
        "aq-a",
        json!({"pm25": 20.0}),
        10,
    )
    .await;
    publish(
        &engine,
        "phuong-c",
        "air_quality",
        "aq-c",
        json!({"pm25": 30.0}),
        10,
    )
    .await;
    publish(
        &engine,
        "xa-d",
        "traffic",
        "tf-d",
        json!({"speed": 20.0, "intensity": 12.0}),
        10,
    )
    .await;
    let id = report(&engine, "environment", "21.0", "105.84", "Rác thải ùn ứ").await;
    let _ = report(&engine, "traffic", "21.10", "105.80", "Đèn tín hiệu hỏng").await;
    // 30 readings and two reports.
    wait_events(&engine, 32).await;
    let browser = signed_in(&engine, &engine.token, "areas", 1920, 1080).await;
    // The operator assigns the first report from its row; the engine then resolves and rates
    // it, so the on-time and satisfaction tiles have values.
    let row = format!("[data-report=\"{id}\"]");
    browser
        .wait_until(
            &format!("document.querySelector('{row} input.agency') !== null"),
            WAIT,
        )
        .await;
    browser
        .type_into(&format!("{row} input.agency"), "Công ty Môi trường Đô thị")
        .await;
    browser
        .click(&format!("{row} [data-action=\"assign\"]"))
        .await;
    let assigned = loop {
        let detail = engine.get_json(&format!("/api/reports/{id}")).await;
        if detail["status"] == "assigned" {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        assigned["agency"],
        json!("Công ty Môi trường Đô thị"),
        "{assigned}"
    );
    for (action, body) in [
        ("status", json!({"status": "resolved"})),
        ("rate", json!({"rating": 4})),
    ] {
        let status = reqwest::Client::new()
            .post(engine.url(&format!("/api/reports/{id}/{action}")))
            .bearer_auth(&engine.token)
            .json(&body)
            .send()
            .await
            .expect("POST")
            .status();
        assert!(status.is_success(), "{action}: {status}");
    }
    // Two reports and their three updates.
    let overview = wait_events(&engine, 35).await;
    let drawn = shapes(&browser).await;
    let mut ids: Vec<&str> = drawn.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["phuong-a", "phuong-b", "phuong-c", "xa-d", "xa-e"]);
    // Placed by coordinates: A west of B west of C; C north of B; D north of A.
    let boxes = browser
        .eval(
            "Object.fromEntries([...document.querySelectorAll('[data-map] [data-area]')].map(e => { \
             const b = e.getBBox(); return [e.getAttribute('data-area'), [b.x + b.width / 2, b.y + b.height / 2]]; }))",
        )
        .await;
    let x = |id: &str| boxes[id][0].as_f64().expect("x");
    let y = |id: &str| boxes[id][1].as_f64().expect("y");
    assert!(
        x("phuong-a") < x("phuong-b") && x("phuong-b") < x("phuong-c"),
        "{boxes}"
    );
    assert!(
        y("phuong-c") < y("phuong-b") && y("xa-d") < y("phuong-a") && y("xa-e") > y("phuong-b"),
        "{boxes}"
    );
    // The AQI layer's values are the overview's, empty where there is no air sensor.
    let area = |id: &str| {
        overview["areas"]
            .as_array()
            .and_then(|areas| areas.iter().find(|a| a["id"] == id))
            .cloned()
            .expect("area line")
    };
    browser
        .wait_until(
            "document.querySelector('[data-area=\"phuong-a\"]').getAttribute('data-value') !== ''",
            WAIT,
        )
        .await;
    for (id, value) in shapes(&browser).await {
        assert!(
            same_value(&value, &area(&id)["aqi"]),
            "AQI of {id}: {value}"
        );
    }
    assert!(!area("phuong-a")["aqi"].is_null() && area("xa-d")["aqi"].is_null());
    browser.click("[data-layer=\"congestion\"]").await;
    let xa_d = area("xa-d")["congestion"].clone();
    assert!(xa_d.is_number(), "congestion of xa-d: {xa_d}");
    browser
        .wait_until(
            "document.querySelector('[data-area=\"xa-d\"]').getAttribute('data-value') !== ''",
            WAIT,
        )
        .await;
    for (id, value) in shapes(&browser).await {
        assert!(
            same_value(&value, &area(&id)["congestion"]),
            "congestion of {id}: {value}"
        );
    }
    // The reports layer: open reports per area as the overview counts them, the resolved
    // one gone, the other one open in Xã D.
    browser.click("[data-layer=\"reports\"]").await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let now = engine.overview().await;
        let line = |id: &str| {
            now["areas"]
                .as_array()
                .and_then(|areas| areas.iter().find(|a| a["id"] == id))
                .cloned()
                .expect("area line")
        };
        let drawn = shapes(&browser).await;
        if drawn
            .iter()
            .all(|(id, value)| same_value(value, &line(id)["reports_open"]))
        {
            let open: Vec<&str> = drawn
                .iter()
                .filter(|(_, value)| value != "0")
                .map(|(id, _)| id.as_str())
                .collect();
            assert_eq!(open, ["xa-d"], "{drawn:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reports layer {drawn:?} vs {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let shown = tiles_equal_overview(&engine, &browser).await;
    assert_eq!(shown["reports_on_time_pct"], json!("100"), "{shown}");
    assert_eq!(shown["satisfaction"], json!("4"), "{shown}");
    assert_eq!(shown["reports_open"], json!("1"));

    // More updates change texts, not the number of elements. The count to keep is taken once
    // the page is still: the report queue and the alert feed are views of their own and may
    // draw their rows a tick after the overview the checks above waited for.
    let elements = settled_element_count(&browser).await;
    for round in 0..5u32 {
        publish(
            &engine,
            "phuong-a",
            "air_quality",
            "aq-a",
            json!({"pm25": 21.0 + f64::from(round)}),
            4,
        )
        .await;
        wait_events(&engine, 35 + 4 * (u64::from(round) + 1)).await;
        tiles_equal_overview(&engine, &browser).await;
    }
    assert_eq!(
        element_count(&browser).await,
        elements,
        "the page grew with updates"
    );
    assert_eq!(browser.exceptions(), Vec::<String>::new());
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_written_as_markup_shows_as_text() {
    let engine = engine("page-xss", &[]).await;
    let id = report(&engine, "environment", "21.029", "105.853", XSS).await;
    wait_events(&engine, 1).await;
    let browser = signed_in(&engine, &engine.token, "xss", 1920, 1080).await;
    let images_before = browser.eval("document.images.length").await;
    let scripts_before = browser.eval("document.scripts.length").await;
    let row = format!("[data-report=\"{id}\"]");
    let text = browser
        .wait_until(
            &format!("document.querySelector('{row} .desc')?.textContent"),
            WAIT,
        )
        .await;
    assert_eq!(text, json!(XSS));
    assert_eq!(browser.eval(&format!("document.querySelector('{row}').querySelectorAll('*').length - document.querySelector('{row}').querySelectorAll('div, span, button, input, select, option').length")).await, json!(0), "an element other than the row's own was injected");
    // The same in the area view.
    browser.eval("location.hash = '#/area/hoan-kiem'").await;
    let text = browser
        .wait_until(
            &format!("document.querySelector('#area {row} .desc')?.textContent"),
            WAIT,
        )
        .await;
    assert_eq!(text, json!(XSS));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(browser.eval("document.images.length").await, images_before);
    assert_eq!(
        browser.eval("document.scripts.length").await,
        scripts_before
    );
    assert_eq!(browser.dialogs(), Vec::<Value>::new(), "a dialog opened");
    assert_eq!(browser.exceptions(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_by_click_changes_the_alert_and_a_viewer_sees_no_buttons() {
    let engine = engine("page-ack", &[]).await;
    publish(
        &engine,
        "hoan-kiem",
        "air_quality",
        "aq-hk",
        json!({"pm25": 55.7}),
        5,
    )
    .await;
    let alerts = loop {
        let alerts = engine.get_json("/api/alerts").await;
        if alerts["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
        {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let alert_id = alerts["items"][0]["id"]
        .as_str()
        .expect("alert id")
        .to_string();
    assert_eq!(alerts["items"][0]["state"], json!("active"));
    let row = format!("[data-alert=\"{alert_id}\"]");

    let viewer_token = mint_scoped(&engine.data_dir, "viewer", &[]);
    let viewer = signed_in(&engine, &viewer_token, "viewer", 1366, 768).await;
    viewer
        .wait_until(&format!("document.querySelector('{row}') !== null"), WAIT)
        .await;
    assert_eq!(
        viewer
            .eval("document.querySelectorAll('[data-action]').length")
            .await,
        json!(0)
    );
    drop(viewer);

    let operator_token = mint_scoped(&engine.data_dir, "operator", &[]);
    let browser = signed_in(&engine, &operator_token, "operator", 1920, 1080).await;
    browser
        .wait_until(
            &format!("document.querySelector('{row} [data-action=\"ack\"]') !== null"),
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval(&format!(
                "document.querySelectorAll('{row} [data-action=\"resolve\"]').length"
            ))
            .await,
        json!(1)
    );
    browser.click(&format!("{row} [data-action=\"ack\"]")).await;
    let session: Value = reqwest::Client::new()
        .get(engine.url("/api/session"))
        .bearer_auth(&operator_token)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("JSON");
    let acked = loop {
        let alert = engine.get_json(&format!("/api/alerts/{alert_id}")).await;
        if alert["state"] == "acknowledged" {
            break alert;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(acked["acked_by"], session["sub"]);
    // The row shows who took it, and only the close button is left.
    browser
        .wait_until(
            &format!("document.querySelector('{row}')?.classList.contains('acknowledged')"),
            WAIT,
        )
        .await;
    let who = browser
        .eval(&format!("document.querySelector('{row} .who').textContent"))
        .await;
    assert!(
        who.as_str()
            .is_some_and(|w| w.contains(session["sub"].as_str().expect("sub"))),
        "{who}"
    );
    assert_eq!(
        browser
            .eval(&format!(
                "document.querySelectorAll('{row} [data-action=\"ack\"]').length"
            ))
            .await,
        json!(0)
    );
    browser
        .click(&format!("{row} [data-action=\"resolve\"]"))
        .await;
    loop {
        let alert = engine.get_json(&format!("/api/alerts/{alert_id}")).await;
        if alert["state"] == "resolved" {
            assert_eq!(alert["resolved_by"], session["sub"]);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .wait_until(&format!("document.querySelector('{row}') === null"), WAIT)
        .await;
    assert_eq!(browser.exceptions(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_a_stopped_engine_and_is_current_after_its_restart() {
    let mut engine = engine("page-restart", &[]).await;
    publish(
        &engine,
        "ba-dinh",
        "noise",
        "ns-bd",
        json!({"laeq": 61.0}),
        6,
    )
    .await;
    wait_events(&engine, 6).await;
    let browser = signed_in(&engine, &engine.token, "restart", 1920, 1080).await;
    tiles_equal_overview(&engine, &browser).await;

    engine.kill9();
    let state = browser
        .wait_until(
            "['reconnecting', 'offline'].find(s => document.querySelector(`[data-connection=\"${s}\"]`))",
            WAIT,
        )
        .await;
    assert!(state == "reconnecting" || state == "offline", "{state}");
    engine.restart().await;
    publish(
        &engine,
        "ba-dinh",
        "noise",
        "ns-bd",
        json!({"laeq": 64.0}),
        3,
    )
    .await;
    wait_events(&engine, 9).await;
    browser
        .wait_until(
            "document.querySelector('[data-connection=\"live\"]') !== null",
            WAIT,
        )
        .await;
    let shown = tiles_equal_overview(&engine, &browser).await;
    assert_eq!(shown["events_total"], json!("9"));
    assert_eq!(browser.exceptions(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_operator_sees_no_other_area_numbers() {
    let engine = engine("page-scope", &[]).await;
    publish(
        &engine,
        "hoan-kiem",
        "air_quality",
        "aq-hk",
        json!({"pm25": 55.7}),
        4,
    )
    .await;
    publish(
        &engine,
        "tay-ho",
        "air_quality",
        "aq-th",
        json!({"pm25": 173.3}),
        5,
    )
    .await;
    publish(
        &engine,
        "tay-ho",
        "traffic",
        "tf-th",
        json!({"speed": 12.3, "intensity": 41.7}),
        6,
    )
    .await;
    let city = wait_events(&engine, 15).await;
    let tay_ho = city["areas"]
        .as_array()
        .and_then(|areas| areas.iter().find(|a| a["id"] == "tay-ho"))
        .cloned()
        .expect("tay-ho");
    let tay_ho_aqi = tay_ho["aqi"].to_string();
    let alerts = loop {
        let alerts = engine.get_json("/api/alerts").await;
        if alerts["items"]
            .as_array()
            .is_some_and(|items| items.len() == 2)
        {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let other_alert = alerts["items"]
        .as_array()
        .and_then(|items| items.iter().find(|a| a["area"] == "tay-ho"))
        .and_then(|a| a["id"].as_str())
        .expect("tay-ho alert")
        .to_string();

    let token = mint_scoped(&engine.data_dir, "operator", &["hoan-kiem"]);
    let browser = signed_in(&engine, &token, "scope", 1920, 1080).await;
    browser
        .wait_until(
            "document.querySelector('[data-area=\"hoan-kiem\"]').getAttribute('data-value') !== ''",
            WAIT,
        )
        .await;
    let drawn = shapes(&browser).await;
    assert_eq!(drawn.len(), 30, "every area is drawn");
    for (id, value) in &drawn {
        if id != "hoan-kiem" {
            assert_eq!(value, "", "{id} has a value for a hoan-kiem operator");
        }
    }
    assert_eq!(
        browser
            .eval("document.querySelectorAll('[data-map] [data-area].out').length")
            .await,
        json!(29)
    );
    // Tiles are the scope's: 4 events, 1 alert.
    let shown = tiles(&browser).await;
    assert_eq!(shown["events_total"], json!("4"), "{shown}");
    browser
        .wait_until(
            "document.querySelector('[data-kpi=\"alerts_active\"]').textContent === '1'",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval(&format!(
                "document.querySelector('[data-alert=\"{other_alert}\"]')"
            ))
            .await,
        Value::Null
    );
    // None of Tây Hồ's figures anywhere in the text or the attributes, on any layer.
    for layer in ["aqi", "congestion", "flood", "reports", "alerts"] {
        browser.click(&format!("[data-layer=\"{layer}\"]")).await;
        let page = browser
            .eval(
                "document.body.innerText + ' ' + document.querySelector('[data-map]').textContent + ' ' + \
                 [...document.querySelectorAll('*')].flatMap(e => [...e.attributes] \
                 .filter(a => a.name.startsWith('data-') || a.name === 'title').map(a => a.value)).join(' ')",
            )
            .await;
        let page = page.as_str().expect("text");
        for figure in ["173.3", "12.3", "41.7", tay_ho_aqi.as_str()] {
            let shown = page
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .any(|word| word == figure);
            assert!(!shown, "{layer}: Tây Hồ's {figure} is on the page");
        }
        assert!(
            page.contains("Tây Hồ: ngoài phạm vi"),
            "{layer}: Tây Hồ not marked as outside the scope"
        );
    }
    // Its area view is refused, with a message and no figures.
    browser.eval("location.hash = '#/area/tay-ho'").await;
    browser
        .wait_until(
            "document.querySelector('#area-error')?.textContent !== ''",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('[data-source]').length")
            .await,
        json!(0)
    );
    assert_eq!(browser.exceptions(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_says_why_a_token_failed_and_takes_a_good_one() {
    let engine = engine("page-signin", &[]).await;
    let output = Command::new(ioc_tests::engine::binary())
        .args(["token", "--role", "viewer", "--ttl", "1s", "--data-dir"])
        .arg(&engine.data_dir)
        .env_remove("IOC_JWT_SECRET")
        .output()
        .expect("ioc token");
    assert!(output.status.success());
    let expired = String::from_utf8_lossy(&output.stdout).trim().to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let browser = Browser::launch("signin", 1366, 768).await;
    browser
        .navigate(&engine.url(&format!("/#access_token={expired}")))
        .await;
    let reason = "document.querySelector('[data-signin]').offsetParent !== null \
                  && document.querySelector('#signin-message').dataset.reason";
    assert_eq!(
        browser.wait_until(reason, WAIT).await,
        json!("signin_expired")
    );
    assert_eq!(
        browser
            .eval("document.querySelector('#signin-message').textContent")
            .await,
        json!("Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại với mã mới.")
    );
    // The token left the address bar and the session.
    assert_eq!(
        browser.eval("location.href.includes('access_token')").await,
        json!(false)
    );
    assert_eq!(
        browser.eval("sessionStorage.getItem('ioc_token')").await,
        Value::Null
    );

    // A token with a broken signature.
    let mut forged = engine.token.clone();
    let last = forged.pop().expect("token");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let field = "[data-signin] [name=token]";
    browser.type_into(field, &forged).await;
    browser.click("[data-signin] [type=submit]").await;
    browser
        .wait_until(
            "document.querySelector('#signin-message').dataset.reason === 'signin_invalid'",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#signin-message').textContent")
            .await,
        json!("Mã truy cập không hợp lệ. Kiểm tra lại và dán mã mới.")
    );

    // The right one signs in.
    browser
        .eval("document.querySelector('[data-signin] [name=token]').value = ''")
        .await;
    browser.type_into(field, &engine.token).await;
    browser.click("[data-signin] [type=submit]").await;
    wait_live(&browser).await;
    assert_eq!(shapes(&browser).await.len(), 30);
    assert_eq!(
        browser
            .eval("document.querySelector('[data-signin]').offsetParent")
            .await,
        Value::Null
    );
    assert_eq!(browser.exceptions(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_feed_and_tiles_show_what_was_published() {
    let engine = engine("page-live", &[]).await;
    publish(
        &engine,
        "hoan-kiem",
        "air_quality",
        "aq-hk",
        json!({"pm25": 55.7, "pm10": 20.0}),
        37,
    )
    .await;
    wait_events(&engine, 37).await;
    // One citizen report, in Tây Hồ.
    let _ = report(&engine, "environment", "21.070", "105.818", "Rác thải ùn ứ").await;
    wait_events(&engine, 38).await;

    let browser = signed_in(&engine, &engine.token, "live", 1920, 1080).await;
    // Hoàn Kiếm on the AQI layer: 110 for PM2.5 55.7 (the sub-index of Decision 1459).
    browser
        .wait_until(
            "document.querySelector('[data-map] [data-area=\"hoan-kiem\"]').getAttribute('data-value') === '110'",
            WAIT,
        )
        .await;
    assert_eq!(shapes(&browser).await.len(), 30, "30 areas");
    // The rule's alert in the feed with its Vietnamese message.
    let message = browser
        .wait_until(
            "[...document.querySelectorAll('[data-alert] .msg')].map(e => e.textContent).join('|')",
            WAIT,
        )
        .await;
    assert!(
        message
            .as_str()
            .is_some_and(|m| m
                .starts_with("Nồng độ bụi PM2.5 tại aq-hk (Hoàn Kiếm) là 55.7, vượt ngưỡng 50")),
        "{message}"
    );
    // The report on the reports layer: Tây Hồ alone has one open.
    browser.click("[data-layer=\"reports\"]").await;
    let open: Vec<(String, String)> = shapes(&browser)
        .await
        .into_iter()
        .filter(|(_, value)| value != "0")
        .collect();
    assert_eq!(open, vec![("tay-ho".to_string(), "1".to_string())]);
    let shown = tiles_equal_overview(&engine, &browser).await;
    assert_eq!(shown["events_total"], json!("38"));
    assert_eq!(shown["alerts_active"], json!("1"));
    assert_eq!(shown["reports_open"], json!("1"));
    assert_eq!(shown["reports_overdue"], json!("0"));
    // English on request, remembered across a reload.
    browser.click("[data-lang=\"en\"]").await;
    assert_eq!(
        browser.eval("document.documentElement.lang").await,
        json!("en")
    );
    browser.navigate(&engine.url("/")).await;
    wait_live(&browser).await;
    assert_eq!(
        browser.eval("document.documentElement.lang").await,
        json!("en")
    );
    assert_eq!(
        browser
            .eval("document.querySelector('[data-connection]').textContent.trim()")
            .await,
        json!("Live")
    );
    assert_eq!(browser.exceptions(), Vec::<String>::new());
}
