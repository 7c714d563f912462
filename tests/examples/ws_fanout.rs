//! B6, websocket fan-out: opens many websocket clients, subscribes each to the `overview` view
//! and checks that every client receives every tick of the measured interval. Run it while the
//! simulator feeds the engine, so the overview changes at every tick; see BENCHMARKS.md.
//!
//! `cargo run -p ioc-tests --release --example ws_fanout -- <http base> <token> <clients>
//!  <seconds> <tick ms>`
//!
//! Prints `{"phase":"measuring",…}` once every client holds its snapshot and the measured
//! interval begins, `{"phase":"measured"}` when it ends (so a harness can read the engine's CPU
//! over exactly that interval), then one JSON line of per-client statistics.
//!
//! How the truth is known: the hub computes the overview once per tick and every session diffs
//! against that same data, so a tick's `events_total` is the same number for every client, and
//! under load it grows at every tick. A tick is therefore identified by its `events_total`; the
//! ticks of the interval are those whose value the first client to see it saw inside the
//! interval. A client that lagged and had two ticks coalesced, or was reset to a snapshot,
//! misses a value. The clock gives a second opinion (interval ÷ tick) and the longest pause
//! between two ticks shows whether the hub itself skipped one.

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Connections being opened at once, so the engine's accept queue is not flooded.
const CONNECTING_AT_ONCE: usize = 100;

/// How long every client keeps reading after the interval: a tick first seen just before the
/// end must still reach the others before anyone is said to have missed it.
const GRACE: Duration = Duration::from_secs(2);

/// Ticks waited after the last client subscribed before measuring, so the interval starts with
/// every session past its snapshot.
const WARM_UP_TICKS: u32 = 2;

/// Socket buffers per client: an overview patch is a few KiB, and tungstenite's 128 KiB default
/// read and write buffers would cost hundreds of MB over thousands of clients.
const BUFFER_BYTES: usize = 16 * 1024;

/// The parts of a frame this benchmark reads; serde skips the rest without building it.
#[derive(Deserialize)]
struct Frame {
    /// `snapshot`, `update`, `alert`, `error`, `pong`.
    #[serde(rename = "type")]
    kind: String,
    /// The subscription's sequence number (absent on errors and pongs).
    seq: Option<u64>,
    /// A snapshot's data.
    data: Option<Counted>,
    /// An update's merge patch.
    patch: Option<Counted>,
}

/// The one member of the overview (or of its patch) that identifies a tick.
#[derive(Deserialize)]
struct Counted {
    /// Accepted events: present in a patch whenever it changed.
    events_total: Option<u64>,
}

/// What one client saw.
#[derive(Default)]
struct ClientLog {
    /// Each time the overview's `events_total` changed: when, and to what.
    seen: Vec<(Instant, u64)>,
    /// Frames (snapshots and updates) received, with their arrival time.
    frames: Vec<Instant>,
    /// Times `seq` did not follow the previous frame's by one.
    seq_gaps: u64,
    /// Snapshots after the first: slow-client resets.
    resets: u64,
    /// When an update's patch did not carry `events_total` (its tick cannot be identified).
    /// While clients still subscribe this is expected: a snapshot computed between two ticks
    /// can hold the next tick's count already.
    without_total: Vec<Instant>,
    /// The connection ended before the benchmark did.
    dropped: bool,
    /// The last `seq` received.
    last_seq: u64,
}

/// How one client's run ended.
enum Outcome {
    /// It subscribed and read until the end.
    Done(ClientLog),
    /// The engine answered the upgrade with 503: its connection cap.
    Refused,
    /// Anything else went wrong before the snapshot.
    Failed(String),
}

/// A websocket connection to the engine.
type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, http, token, clients, seconds, tick_ms] = args.as_slice() else {
        return Err("usage: ws_fanout <http base> <token> <clients> <seconds> <tick ms>".into());
    };
    let clients: usize = clients.parse()?;
    let seconds: f64 = seconds.parse()?;
    let tick = Duration::from_millis(tick_ms.parse()?);
    let url = format!("{}/ws?access_token={token}", http.replacen("http", "ws", 1));

    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each client says once whether it subscribed; the interval starts when all have spoken.
    let (ready_tx, mut ready_rx) = mpsc::channel::<bool>(clients.max(1));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        tasks.push(tokio::spawn(client(
            url.clone(),
            Arc::clone(&connecting),
            ready_tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(ready_tx);
    let mut connected = 0_usize;
    while let Some(subscribed) = ready_rx.recv().await {
        connected += usize::from(subscribed);
    }
    tokio::time::sleep(tick * WARM_UP_TICKS).await;

    let start = Instant::now();
    println!(
        "{}",
        json!({"phase": "measuring", "clients": clients, "connected": connected})
    );
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let end = Instant::now();
    println!("{}", json!({"phase": "measured"}));
    tokio::time::sleep(GRACE).await;
    let _ = stop_tx.send(true);

    let mut logs = Vec::with_capacity(clients);
    let (mut refused, mut failed) = (0_usize, BTreeMap::<String, usize>::new());
    for task in tasks {
        match task.await? {
            Outcome::Done(log) => logs.push(log),
            Outcome::Refused => refused += 1,
            Outcome::Failed(error) => *failed.entry(error).or_default() += 1,
        }
    }
    println!(
        "{}",
        report(&logs, clients, refused, &failed, start, end, tick)
    );
    Ok(())
}

/// Connects, subscribes to the overview, reports whether that worked, then reads every frame
/// until told to stop.
async fn client(
    url: String,
    connecting: Arc<Semaphore>,
    ready: mpsc::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> Outcome {
    let opened = {
        let Ok(_permit) = connecting.acquire().await else {
            let _ = ready.send(false).await;
            return Outcome::Failed("semaphore closed".into());
        };
        subscribe(&url).await
    };
    let (mut socket, mut log) = match opened {
        Ok(opened) => opened,
        Err(outcome) => {
            let _ = ready.send(false).await;
            return outcome;
        }
    };
    let _ = ready.send(true).await;
    drop(ready);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                        continue;
                    };
                    observe(&mut log, &frame);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    log.dropped = true;
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    Outcome::Done(log)
}

/// Opens the socket and waits for the overview snapshot.
async fn subscribe(url: &str) -> Result<(Socket, ClientLog), Outcome> {
    let config = WebSocketConfig::default()
        .read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES);
    let mut socket =
        match tokio_tungstenite::connect_async_with_config(url, Some(config), true).await {
            Ok((socket, _)) => socket,
            Err(WsError::Http(answer)) if answer.status().as_u16() == 503 => {
                return Err(Outcome::Refused);
            }
            Err(error) => return Err(Outcome::Failed(format!("connect: {error}"))),
        };
    let command = json!({"op": "subscribe", "id": "o", "view": "overview"});
    if let Err(error) = socket.send(Message::Text(command.to_string().into())).await {
        return Err(Outcome::Failed(format!("subscribe: {error}")));
    }
    let mut log = ClientLog::default();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), socket.next()).await;
        let Ok(Some(Ok(message))) = next else {
            return Err(Outcome::Failed("no snapshot within 30 s".into()));
        };
        let Message::Text(text) = message else {
            continue;
        };
        let frame = serde_json::from_str::<Frame>(text.as_str())
            .map_err(|error| Outcome::Failed(format!("unreadable frame: {error}")))?;
        match frame.kind.as_str() {
            "snapshot" => {
                observe(&mut log, &frame);
                return Ok((socket, log));
            }
            "error" => return Err(Outcome::Failed(format!("error frame: {text}"))),
            _ => {}
        }
    }
}

/// Records one frame of the subscription: its seq, its time, the tick it carries.
fn observe(log: &mut ClientLog, frame: &Frame) {
    let counted = match frame.kind.as_str() {
        "snapshot" => {
            if !log.frames.is_empty() {
                log.resets += 1;
            }
            &frame.data
        }
        "update" => &frame.patch,
        _ => return,
    };
    let now = Instant::now();
    if let Some(seq) = frame.seq {
        if seq != log.last_seq + 1 {
            log.seq_gaps += 1;
        }
        log.last_seq = seq;
    }
    log.frames.push(now);
    match counted.as_ref().and_then(|c| c.events_total) {
        // A reset's snapshot repeats the data the client already has: not a new tick.
        Some(total) if log.seen.last().is_some_and(|&(_, last)| last == total) => {}
        Some(total) => log.seen.push((now, total)),
        None if frame.kind == "update" => log.without_total.push(now),
        None => {}
    }
}

/// The statistics line: the ticks of the interval, and how many of them each client got.
fn report(
    logs: &[ClientLog],
    clients: usize,
    refused: usize,
    failed: &BTreeMap<String, usize>,
    start: Instant,
    end: Instant,
    tick: Duration,
) -> String {
    // When each tick (by its events_total) first reached any client.
    let mut first_seen: HashMap<u64, Instant> = HashMap::new();
    for log in logs {
        for &(at, total) in &log.seen {
            first_seen
                .entry(total)
                .and_modify(|first| *first = (*first).min(at))
                .or_insert(at);
        }
    }
    let mut ticks: Vec<(Instant, u64)> = first_seen
        .iter()
        .filter(|(_, at)| **at >= start && **at <= end)
        .map(|(total, at)| (*at, *total))
        .collect();
    ticks.sort();
    let expected: HashSet<u64> = ticks.iter().map(|&(_, total)| total).collect();
    let longest_pause = ticks
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .max()
        .unwrap_or_default();

    let received: Vec<usize> = logs
        .iter()
        .map(|log| {
            log.seen
                .iter()
                .filter(|(_, total)| expected.contains(total))
                .count()
        })
        .collect();
    let frames: Vec<usize> = logs
        .iter()
        .map(|log| {
            log.frames
                .iter()
                .filter(|at| **at >= start && **at <= end)
                .count()
        })
        .collect();
    let missed: usize = received.iter().map(|got| expected.len() - got).sum();
    json!({
        "clients": clients,
        "connected": logs.len(),
        "refused": refused,
        "failed": failed.values().sum::<usize>(),
        "failures": failed,
        "dropped": logs.iter().filter(|log| log.dropped).count(),
        "seconds": (end - start).as_secs_f64(),
        "ticks_expected": expected.len(),
        "ticks_by_clock": (end - start).as_secs_f64() / tick.as_secs_f64(),
        "longest_pause_between_ticks_ms": longest_pause.as_secs_f64() * 1e3,
        "ticks_min": received.iter().min().copied().unwrap_or(0),
        "ticks_max": received.iter().max().copied().unwrap_or(0),
        "frames_min": frames.iter().min().copied().unwrap_or(0),
        "frames_max": frames.iter().max().copied().unwrap_or(0),
        "clients_missing_a_tick": received.iter().filter(|got| **got < expected.len()).count(),
        "ticks_missed": missed,
        "seq_gaps": logs.iter().map(|log| log.seq_gaps).sum::<u64>(),
        "resets": logs.iter().map(|log| log.resets).sum::<u64>(),
        "updates_without_events_total": logs
            .iter()
            .flat_map(|log| &log.without_total)
            .filter(|at| **at >= start && **at <= end)
            .count(),
    })
    .to_string()
}
