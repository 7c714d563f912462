//! B3, the journal's group commit alone: simulated city events (decoded and validated
//! beforehand, untimed) are appended through the journal thread by several concurrent writers,
//! as the MQTT pipeline and the Open311 intake do; each append waits for its commit. Prints
//! one JSON line: events/s and journal bytes per event.
//!
//! `cargo run -p ioc-tests --release --example journal_bench -- <events> [batch] [data dir]`
//!
//! The data dir is left in place, so `scripts/bench.sh` reuses it for the replay figure (B8).

use ioc_ingest::deadletter::DeadLetter;
use ioc_ingest::intake::{DEFAULT_MAX_PAYLOAD_BYTES, Intake};
use ioc_ingest::journal::{self, Durability, Entry, JournalError, JournalSink, SqliteJournal};
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event};
use std::sync::Arc;
use std::time::Instant;

/// The engine binary's allocator, so the figures match `ioc serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writers appending at once (the MQTT pipeline, Open311 posts, alert transitions).
const WRITERS: usize = 4;

/// Drops what the journal committed: only the commit is measured.
struct Discard;

impl JournalSink for Discard {
    fn accepted(&mut self, _events: Vec<Event>, _last_seq: i64) {}
    fn rejected(&mut self, _records: Vec<DeadLetter>) {}
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).map_or(Ok(1_000_000), |n| n.parse())?;
    let batch: usize = args.get(2).map_or(Ok(2048), |n| n.parse())?;
    let dir = args.get(3).map_or_else(
        || std::env::temp_dir().join(format!("ioc-journal-bench-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&dir);

    // An hour of city time ending now, so every event is valid and none is in the future.
    let areas = Areas::hanoi();
    let now = chrono::Utc::now().timestamp_millis();
    let step = 3_600_000.0 / events as f64;
    let intake = Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(areas.clone())),
        DEFAULT_MAX_PAYLOAD_BYTES,
    );
    let mut city = ioc_sim::city::City::new(7, areas);
    // Built straight into the writers' chunks: a copy of 10 M decoded events on top of them
    // would not fit in this machine's memory.
    let mut entries = city
        .events(now - 3_600_000, step)
        .take(events)
        .flat_map(|event| intake.classify(&event.topic, &event.payload_bytes(), now));
    let mut chunks: Vec<Vec<Entry>> = Vec::with_capacity(events.div_ceil(batch.max(1)));
    loop {
        let chunk: Vec<Entry> = entries.by_ref().take(batch.max(1)).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }

    // The writers pop from the end: reversed, the chunks are committed in event-time order,
    // as a live stream would be. (In the other order nearly every event of the journal came
    // after the newest one and was late, and a restart on it skipped the windows: B8 measured
    // a replay without its polars work, until the sixth round.)
    chunks.reverse();

    let store = SqliteJournal::open(&dir, Durability::ProcessCrash, 1000)?;
    let (handle, thread) = journal::spawn(Box::new(store), Discard)?;
    let queue = Arc::new(std::sync::Mutex::new(chunks));
    let began = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (handle, queue) = (handle.clone(), Arc::clone(&queue));
        writers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                let Some(chunk) = next else {
                    return Ok::<(), JournalError>(());
                };
                handle.append(chunk).await?;
            }
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let seconds = began.elapsed().as_secs_f64();
    drop(handle);
    let _ = thread.join();
    let bytes: u64 = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("journal"))
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum();
    println!(
        "{{\"bench\":\"journal\",\"events\":{events},\"batch\":{batch},\"seconds\":{seconds:.3},\"events_per_sec\":{:.0},\"bytes_per_event\":{:.1},\"dir\":\"{}\"}}",
        events as f64 / seconds,
        bytes as f64 / events as f64,
        dir.display()
    );
    Ok(())
}
