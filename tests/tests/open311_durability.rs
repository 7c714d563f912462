//! kill -9 right after 50 acknowledged Open311 POSTs: after restart all 50 are readable, none
//! twice, and retries of the same app request get the same id instead of a second report.

use ioc_tests::open311::Open311Client;
use ioc_tests::{Engine, EngineOptions};
use std::collections::BTreeSet;

const KEY: &str = "durable-app";
const REPORTS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_acknowledged_reports_survive_kill_nine_and_retries_do_not_duplicate() {
    let mut engine =
        Engine::start(EngineOptions::new("o311-kill9").with_env("IOC_OPEN311_API_KEYS", KEY)).await;
    let client = Open311Client::new(&engine.url(""));
    let mut ids = Vec::new();
    for i in 0..REPORTS {
        let client_id = format!("c-{i}");
        let lat = format!("{:.4}", 20.95 + (i as f64) * 0.003);
        let description = format!("Phản ánh số {i}: rác thải chưa được thu gom");
        let answer = client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "environment"),
                    ("lat", &lat),
                    ("long", "105.84"),
                    ("description", &description),
                    ("device_id", "phone-9"),
                    ("client_request_id", &client_id),
                ],
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        ids.push(
            answer.json()[0]["service_request_id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    // No pause: the last answer was the acknowledgement.
    engine.kill9();
    engine.restart().await;

    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), REPORTS, "every POST got its own id");
    let joined = ids.join(",");
    let listed = client
        .get(
            "/open311/v2/requests.json",
            &[("service_request_id", &joined)],
        )
        .await
        .json();
    let found: Vec<String> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            r["service_request_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(found.len(), REPORTS, "all 50 readable after kill -9");
    assert_eq!(found.iter().collect::<BTreeSet<_>>(), unique);
    for (i, id) in ids.iter().enumerate() {
        let one = client
            .get(&format!("/open311/v2/requests/{id}.json"), &[])
            .await
            .json();
        assert_eq!(
            one[0]["description"],
            format!("Phản ánh số {i}: rác thải chưa được thu gom")
        );
    }

    // The app did not see some answers and retries them all: same ids, nothing new.
    for (i, id) in ids.iter().enumerate() {
        let client_id = format!("c-{i}");
        let answer = client
            .post_form(
                "json",
                &[
                    ("api_key", KEY),
                    ("service_code", "environment"),
                    ("address_string", "retry"),
                    ("device_id", "phone-9"),
                    ("client_request_id", &client_id),
                ],
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.json()[0]["service_request_id"], id.as_str());
    }
    let all = client.get("/open311/v2/requests.json", &[]).await.json();
    assert_eq!(all.as_array().map(Vec::len), Some(REPORTS), "none twice");
    let overview = engine.overview().await;
    assert_eq!(overview["reports"]["received"], REPORTS as u64);
    assert_eq!(overview["reports"]["open"], REPORTS as u64);
}
