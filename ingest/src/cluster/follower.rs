//! The follower: tails the shared journal and hands every event, in sequence order, to this
//! instance's analytics, whichever instance wrote it. Own commits wake it at once; other
//! instances' commits are seen within one poll.

use crate::event::{Event, Kind};
use crate::journal::{JournalSink, JournalStore, PostgresJournal};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the journal is polled for other instances' commits.
const POLL: Duration = Duration::from_millis(50);

/// Events handed over per read.
const CHUNK: usize = 10_000;

/// Dead-letter records read per poll.
const DEAD_LETTER_CHUNK: usize = 1_000;

/// Ids of alert events this instance journaled (the ones whose insert won), kept until the
/// alert publisher has seen them applied.
const MINE_KEPT: usize = 10_000;

/// Where the journal starts being followed (what start-up replay already applied).
#[derive(Debug, Clone, Copy, Default)]
pub struct Position {
    /// Last event seq applied.
    pub event_seq: i64,
    /// Last dead-letter seq applied.
    pub dead_letter_seq: i64,
}

/// The running follower.
pub struct Follower {
    healthy: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Follower {
    /// Starts following after `from`, handing what it reads to `sink`.
    pub fn start(
        mut store: PostgresJournal,
        mut sink: impl JournalSink,
        from: Position,
        wake: Receiver<()>,
    ) -> std::io::Result<Self> {
        let healthy = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (health, stopping) = (Arc::clone(&healthy), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("ioc-follower".into())
            .spawn(move || {
                let mut at = from;
                while !stopping.load(Ordering::Relaxed) {
                    match read(&mut store, &mut sink, &mut at) {
                        Ok(0) => {
                            health.store(true, Ordering::Relaxed);
                            match wake.recv_timeout(POLL) {
                                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
                            }
                        }
                        Ok(_) => health.store(true, Ordering::Relaxed),
                        Err(error) => {
                            health.store(false, Ordering::Relaxed);
                            tracing::warn!(%error, "cannot read the shared journal; retrying");
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                }
            })?;
        Ok(Self { healthy, stop })
    }

    /// Whether the last read of the shared journal worked.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads what is new; returns how many records were handed over.
fn read(
    store: &mut PostgresJournal,
    sink: &mut impl JournalSink,
    at: &mut Position,
) -> Result<u64, crate::journal::JournalError> {
    let mut count = store.replay(at.event_seq, CHUNK, &mut |events, last| {
        at.event_seq = last;
        sink.accepted(events, last);
    })?;
    let records = store.dead_letters_after(at.dead_letter_seq, DEAD_LETTER_CHUNK)?;
    if let Some(last) = records.last() {
        at.dead_letter_seq = last.seq;
        count += records.len() as u64;
        sink.rejected(records);
    }
    Ok(count)
}

/// The journal thread's sink in cluster mode: analytics is fed by the follower, so this one
/// only wakes it and remembers which alert events this instance's inserts won.
pub struct OwnCommits {
    wake: SyncSender<()>,
    mine: Arc<Mutex<HashSet<String>>>,
}

impl OwnCommits {
    /// The sink, the follower's wake-up receiver, and the shared set of won alert event ids.
    pub fn new() -> (Self, Receiver<()>, Arc<Mutex<HashSet<String>>>) {
        let (wake, woken) = sync_channel(1);
        let mine = Arc::new(Mutex::new(HashSet::new()));
        (
            Self {
                wake,
                mine: Arc::clone(&mine),
            },
            woken,
            mine,
        )
    }
}

impl JournalSink for OwnCommits {
    fn accepted(&mut self, events: Vec<Event>, _last_seq: i64) {
        let alerts: Vec<String> = events
            .into_iter()
            .filter(|event| event.kind == Kind::Alert)
            .map(|event| event.id)
            .collect();
        if !alerts.is_empty() {
            let mut mine = self
                .mine
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if mine.len() > MINE_KEPT {
                mine.clear();
            }
            mine.extend(alerts);
        }
        let _ = self.wake.try_send(());
    }

    fn rejected(&mut self, _records: Vec<crate::deadletter::DeadLetter>) {
        let _ = self.wake.try_send(());
    }
}
