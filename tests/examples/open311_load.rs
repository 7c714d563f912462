//! B10, Open311 load and durability, in two steps around a `kill -9` of the engine:
//!
//! - `open311_load post <http base> <api key> <posts> <clients> <ids file>` posts `posts`
//!   service requests from `clients` concurrent clients, writes the `service_request_id` of
//!   every 201 to `ids file` (one a line) and prints one JSON line: answers by status,
//!   reports/s, latency percentiles of the 201s;
//! - `open311_load read <http base> <ids file> <clients>` reads every id back with
//!   `GET /open311/v2/requests/{id}.json` and prints how many are readable.
//!
//! Run `post`, kill the engine with SIGKILL, restart it on the same data directory, run
//! `read`: every acknowledged report must be readable (docs/open311.md: the 201 comes only
//! after the report is in the journal). See BENCHMARKS.md.

use ioc_ingest::report::catalog::SERVICES;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A request that takes longer than this is counted as a transport error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What one POST or GET came to.
enum Answer {
    /// An HTTP answer: status, time taken, and the id it names (a 201's, or a read's).
    Status(u16, Duration, Option<String>),
    /// No HTTP answer (connection refused or reset, timeout).
    Transport(String),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_, "post", http, key, posts, clients, ids] => {
            post(http, key, posts.parse()?, clients.parse()?, ids).await
        }
        [_, "read", http, ids, clients] => read(http, ids, clients.parse()?).await,
        _ => Err(
            "usage: open311_load post <http base> <api key> <posts> <clients> <ids file>\n       \
                  open311_load read <http base> <ids file> <clients>"
                .into(),
        ),
    }
}

/// An HTTP client with room for `clients` kept-alive connections to the engine.
fn http_client(clients: usize) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(REQUEST_TIMEOUT)
        .build()
}

/// Runs `count` requests over `clients` workers; `request(i)` makes the i-th. Every worker
/// takes the next index until none is left, so a slow answer holds up only its own worker.
async fn run_all<F, Fut>(count: usize, clients: usize, request: F) -> Vec<Answer>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Answer> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let next = Arc::clone(&next);
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return answers;
                    }
                    answers.push(request(i).await);
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(count);
    for worker in workers {
        match worker.await {
            Ok(part) => answers.extend(part),
            Err(error) => answers.push(Answer::Transport(format!("worker failed: {error}"))),
        }
    }
    answers
}

/// The `service_request_id` of the first element of an Open311 JSON answer.
fn request_id(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value[0]["service_request_id"].as_str().map(str::to_string)
}

/// Answers by HTTP status (and `transport` for none), as JSON.
fn by_status(answers: &[Answer]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        let key = match answer {
            Answer::Status(status, _, _) => status.to_string(),
            Answer::Transport(_) => "transport".to_string(),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// The first transport error, to say why requests had no answer.
fn first_transport_error(answers: &[Answer]) -> Option<&str> {
    answers.iter().find_map(|answer| match answer {
        Answer::Transport(error) => Some(error.as_str()),
        Answer::Status(..) => None,
    })
}

/// Milliseconds at quantile `q` of sorted durations (0 when there are none).
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// The `post` step.
async fn post(
    http: &str,
    key: &str,
    posts: usize,
    clients: usize,
    ids_file: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = http_client(clients)?;
    let url = format!("{}/open311/v2/requests.json", http.trim_end_matches('/'));
    let key = key.to_string();
    let began = Instant::now();
    let answers = run_all(posts, clients, move |i| {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        async move {
            // Points spread over a few hundred metres of Hoàn Kiếm, inside the city.
            let lat = format!("{:.5}", 21.0250 + (i % 50) as f64 * 0.0001);
            let long = format!("{:.5}", 105.8500 + (i % 70) as f64 * 0.0001);
            let description = format!("Phản ánh thử tải số {i}");
            // A retry-safe id per report, as a citizen app sends (docs/open311.md).
            let client_request_id = format!("b10-{i}");
            let fields = [
                ("api_key", key.as_str()),
                // Every category of the catalog in turn, so each one's SLA path is exercised.
                ("service_code", SERVICES[i % SERVICES.len()].code),
                ("lat", lat.as_str()),
                ("long", long.as_str()),
                ("description", description.as_str()),
                ("device_id", "b10-load"),
                ("client_request_id", client_request_id.as_str()),
            ];
            let sent = Instant::now();
            let answer = match client.post(&url).form(&fields).send().await {
                Ok(answer) => answer,
                Err(error) => return Answer::Transport(error.to_string()),
            };
            let status = answer.status().as_u16();
            let body = match answer.text().await {
                Ok(body) => body,
                Err(error) => return Answer::Transport(error.to_string()),
            };
            let id = if status == 201 {
                request_id(&body)
            } else {
                None
            };
            Answer::Status(status, sent.elapsed(), id)
        }
    })
    .await;
    let elapsed = began.elapsed();

    let mut latencies = Vec::with_capacity(answers.len());
    let mut ids = Vec::with_capacity(answers.len());
    let mut created = 0_usize;
    for answer in &answers {
        if let Answer::Status(201, took, id) = answer {
            created += 1;
            latencies.push(*took);
            ids.extend(id.clone());
        }
    }
    latencies.sort();
    let mut text = ids.join("\n");
    text.push('\n');
    std::fs::write(ids_file, text).map_err(|error| format!("writing {ids_file}: {error}"))?;
    let distinct = ids.iter().collect::<std::collections::HashSet<_>>().len();
    println!(
        "{}",
        json!({
            "posts": posts,
            "clients": clients,
            "created": created,
            "ids": ids.len(),
            "distinct_ids": distinct,
            "by_status": by_status(&answers),
            "transport_error": first_transport_error(&answers),
            "elapsed_s": elapsed.as_secs_f64(),
            "per_sec": created as f64 / elapsed.as_secs_f64(),
            "p50_ms": quantile_ms(&latencies, 0.5),
            "p99_ms": quantile_ms(&latencies, 0.99),
            "max_ms": quantile_ms(&latencies, 1.0),
        })
    );
    Ok(())
}

/// The `read` step.
async fn read(
    http: &str,
    ids_file: &str,
    clients: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(ids_file)
        .map_err(|error| format!("reading {ids_file}: {error}"))?;
    let ids: Arc<Vec<String>> = Arc::new(
        text.lines()
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect(),
    );
    let client = http_client(clients)?;
    let base = http.trim_end_matches('/').to_string();
    let wanted = Arc::clone(&ids);
    let answers = run_all(ids.len(), clients, move |i| {
        let (client, base, wanted) = (client.clone(), base.clone(), Arc::clone(&wanted));
        async move {
            let id = &wanted[i];
            let sent = Instant::now();
            let url = format!("{base}/open311/v2/requests/{id}.json");
            let answer = match client.get(&url).send().await {
                Ok(answer) => answer,
                Err(error) => return Answer::Transport(error.to_string()),
            };
            let status = answer.status().as_u16();
            match answer.text().await {
                Ok(body) => Answer::Status(status, sent.elapsed(), request_id(&body)),
                Err(error) => Answer::Transport(error.to_string()),
            }
        }
    })
    .await;
    // Readable: 200 with the very report asked for. Answers come back in worker order, so
    // they are matched to ids by content, not position.
    let asked: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let readable: std::collections::HashSet<&str> = answers
        .iter()
        .filter_map(|answer| match answer {
            Answer::Status(200, _, Some(id)) if asked.contains(id.as_str()) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    println!(
        "{}",
        json!({
            "ids": ids.len(),
            "distinct_ids": asked.len(),
            "readable": readable.len(),
            "missing": asked.len() - readable.len(),
            "by_status": by_status(&answers),
            "transport_error": first_transport_error(&answers),
        })
    );
    Ok(())
}
