//! The journal's thread and the async handle producers use to reach it.

use super::{Entry, Fence, JournalError, JournalStore, Outcome};
use crate::deadletter::DeadLetter;
use crate::event::{Event, now_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// How many producer requests may wait for the journal thread.
const QUEUE_DEPTH: usize = 1024;

/// Most entries committed in one transaction; a larger backlog is split.
const MAX_ENTRIES_PER_COMMIT: usize = 8192;

/// Receives what the journal committed, in journal order, on the journal's thread.
///
/// Analytics implements it; a sink that blocks holds back the journal and so the
/// acknowledgements, which is the back-pressure the engine wants.
pub trait JournalSink: Send + 'static {
    /// Newly stored events (duplicates already removed) and the sequence number of the last
    /// one, so the sink can tell waiting writers how far it has got.
    fn accepted(&mut self, events: Vec<Event>, last_seq: i64);
    /// Newly stored dead-letter records.
    fn rejected(&mut self, records: Vec<DeadLetter>);
}

struct Request {
    entries: Vec<Entry>,
    /// The slot lease the writer holds, when it writes for a shared-subscription slot.
    fence: Option<Fence>,
    reply: oneshot::Sender<Result<Vec<Outcome>, JournalError>>,
}

/// Cheap, cloneable access to the journal thread.
#[derive(Clone)]
pub struct JournalHandle {
    requests: mpsc::Sender<Request>,
    healthy: Arc<AtomicBool>,
    committed: Arc<AtomicI64>,
}

impl JournalHandle {
    /// Writes the entries; resolves once they are committed (or the write failed).
    pub async fn append(&self, entries: Vec<Entry>) -> Result<Vec<Outcome>, JournalError> {
        self.append_fenced(entries, None).await
    }

    /// Writes the entries on behalf of a slot lease: refused with [`JournalError::Fenced`]
    /// when the lease has moved on, so nothing is written for a slot this instance lost.
    pub async fn append_fenced(
        &self,
        entries: Vec<Entry>,
        fence: Option<Fence>,
    ) -> Result<Vec<Outcome>, JournalError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request {
                entries,
                fence,
                reply,
            })
            .await
            .map_err(|_| JournalError::Closed)?;
        answer.await.map_err(|_| JournalError::Closed)?
    }

    /// The highest event sequence number committed so far. It moves before any reply is sent,
    /// so after [`JournalHandle::append`] returns it covers the entries written (and, for a
    /// duplicate, the earlier copy): a writer that waits until analytics has applied this seq
    /// reads its own write.
    pub fn committed_seq(&self) -> i64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Whether the last write succeeded: readiness goes red while the journal cannot write.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// Starts the journal thread; it runs until every handle is dropped.
pub fn spawn(
    mut store: Box<dyn JournalStore>,
    mut sink: impl JournalSink,
) -> Result<(JournalHandle, std::thread::JoinHandle<()>), JournalError> {
    let (requests, mut queue) = mpsc::channel::<Request>(QUEUE_DEPTH);
    let healthy = Arc::new(AtomicBool::new(true));
    let health = Arc::clone(&healthy);
    let committed = Arc::new(AtomicI64::new(store.last_event_seq()?));
    let high_water = Arc::clone(&committed);
    let thread = std::thread::Builder::new()
        .name("ioc-journal".into())
        .spawn(move || {
            while let Some(first) = queue.blocking_recv() {
                let mut batch = vec![first];
                let mut size = batch[0].entries.len();
                while size < MAX_ENTRIES_PER_COMMIT {
                    match queue.try_recv() {
                        Ok(next) => {
                            size += next.entries.len();
                            batch.push(next);
                        }
                        Err(_) => break,
                    }
                }
                commit(store.as_mut(), &mut sink, batch, &health, &high_water);
            }
        })
        .map_err(|error| JournalError::Directory {
            path: "journal thread".into(),
            source: Arc::new(error),
        })?;
    Ok((
        JournalHandle {
            requests,
            healthy,
            committed,
        },
        thread,
    ))
}

/// One transaction for every queued request; then the sink, then the replies. When the group
/// is refused because one request's slot lease is stale, each request is committed on its
/// own, so only the writer that lost its slot is refused.
fn commit(
    store: &mut dyn JournalStore,
    sink: &mut impl JournalSink,
    mut batch: Vec<Request>,
    health: &AtomicBool,
    high_water: &AtomicI64,
) {
    let mut fences: Vec<Fence> = batch.iter().filter_map(|r| r.fence).collect();
    fences.sort_unstable();
    fences.dedup();
    // The entries move into one list (no copies); each request keeps its count for the replies.
    let sizes: Vec<usize> = batch.iter().map(|r| r.entries.len()).collect();
    let entries: Vec<Entry> = batch
        .iter_mut()
        .flat_map(|r| std::mem::take(&mut r.entries))
        .collect();
    match store.append(&entries, now_ms(), &fences) {
        Ok(outcomes) => {
            health.store(true, Ordering::Relaxed);
            let mut events = Vec::new();
            let mut last_seq = None;
            let mut records = Vec::new();
            for (entry, outcome) in entries.into_iter().zip(&outcomes) {
                match (entry, outcome) {
                    (Entry::Event(event), Outcome::Stored(seq)) => {
                        last_seq = Some(*seq);
                        events.push(event);
                    }
                    (Entry::Rejected(mut record), Outcome::Stored(seq)) => {
                        record.seq = *seq;
                        records.push(record);
                    }
                    (_, Outcome::Duplicate) => {}
                }
            }
            if let Some(seq) = last_seq {
                sink.accepted(events, seq);
                high_water.fetch_max(seq, Ordering::AcqRel);
            }
            if !records.is_empty() {
                sink.rejected(records);
            }
            let mut outcomes = outcomes.into_iter();
            for (request, size) in batch.into_iter().zip(sizes) {
                let mine: Vec<Outcome> = outcomes.by_ref().take(size).collect();
                let _ = request.reply.send(Ok(mine));
            }
        }
        Err(JournalError::Fenced { .. }) if batch.len() > 1 => {
            // Give each request its entries back and try them one at a time.
            let mut entries = entries.into_iter();
            for (request, size) in batch.iter_mut().zip(sizes) {
                request.entries = entries.by_ref().take(size).collect();
            }
            for request in batch {
                commit(store, sink, vec![request], health, high_water);
            }
        }
        Err(error @ JournalError::Fenced { .. }) => {
            tracing::warn!(%error, "commit refused: the slot's lease has moved on");
            for request in batch {
                let _ = request.reply.send(Err(error.clone()));
            }
        }
        Err(error) => {
            health.store(false, Ordering::Relaxed);
            tracing::error!(%error, entries = entries.len(), "journal write failed; nothing acknowledged");
            for request in batch {
                let _ = request.reply.send(Err(error.clone()));
            }
        }
    }
}
