//! What a journal backend does: the one interface shared by the embedded SQLite journal and
//! the PostgreSQL journal of a cluster. The journal thread ([`super::spawn`]) drives a
//! `Box<dyn JournalStore>`; start-up replays through it.
//!
//! Sequence numbers: every stored event gets a journal sequence number (`seq`), strictly
//! increasing in commit order, so "everything after seq N" is a well-defined read for replay
//! and for followers tailing a shared journal. Dead-letter records have their own numbering.

use super::{Entry, JournalError, Outcome, Recovered};
use crate::event::Event;

/// A claim to write on behalf of one slot of a shared subscription (cluster mode): the
/// lease's slot number and the fencing epoch the writer holds. A backend that manages leases
/// refuses a commit whose fence is no longer current ([`JournalError::Fenced`]), so an
/// instance that was paused past its lease cannot commit for a slot another instance now owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fence {
    /// The slot (0-based).
    pub slot: u32,
    /// The lease epoch the writer was granted; it grows on every change of owner.
    pub epoch: i64,
}

/// A durable, ordered, deduplicating store of journal entries.
pub trait JournalStore: Send + 'static {
    /// Writes `entries` in one transaction (all or nothing) and returns one outcome per entry,
    /// in order. An event whose id is already stored is a [`Outcome::Duplicate`]. Every fence
    /// in `fences` must still be current, else nothing is written and the error is
    /// [`JournalError::Fenced`]; stores without leases accept any fence.
    fn append(
        &mut self,
        entries: &[Entry],
        received_ms: i64,
        fences: &[Fence],
    ) -> Result<Vec<Outcome>, JournalError>;

    /// The refusal counters, the kept dead-letter records and the compacted counts, read once
    /// at start before the events are replayed.
    fn recover(&mut self) -> Result<Recovered, JournalError>;

    /// Calls `each` with the stored events whose seq is above `after_seq`, in seq order, at
    /// most `chunk` at a time, with the seq of the last event of the chunk. Returns how many
    /// events were read.
    fn replay(
        &mut self,
        after_seq: i64,
        chunk: usize,
        each: &mut dyn FnMut(Vec<Event>, i64),
    ) -> Result<u64, JournalError>;

    /// Sequence number of the newest stored event (0 when there is none).
    fn last_event_seq(&mut self) -> Result<i64, JournalError>;

    /// Number of stored events.
    fn event_count(&mut self) -> Result<u64, JournalError>;
}
