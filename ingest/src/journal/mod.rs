//! The journal: the engine's source of truth (docs/guarantees.md). Every accepted event and every
//! dead-letter record is written here, group-committed, before anything is acknowledged.
//!
//! A store ([`JournalStore`]: the embedded [`SqliteJournal`], or PostgreSQL for a cluster) is
//! synchronous and lives on its own thread behind a [`JournalHandle`]; producers (the MQTT
//! pipeline, the HTTP intake) send batches and wait for the commit. Requests that queue up
//! while a transaction runs are committed together.

pub mod codec;
pub mod compaction;
mod handle;
mod id_filter;
pub mod postgres;
mod sqlite;
mod store;

pub use self::postgres::PostgresJournal;
pub use handle::{JournalHandle, JournalSink, PendingCommit, spawn};
pub use sqlite::{Durability, SqliteJournal};
pub use store::{Fence, JournalStore};

use crate::deadletter::DeadLetter;
use crate::event::Event;
use crate::reject::Reason;
use std::collections::BTreeMap;

/// Something to write to the journal.
#[derive(Debug, Clone)]
pub enum Entry {
    /// An accepted event; a duplicate id is not stored twice.
    Event(Event),
    /// A refused message.
    Rejected(DeadLetter),
}

/// What became of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored under this sequence number.
    Stored(i64),
    /// An event whose id was already in the journal; nothing written.
    Duplicate,
}

/// What the journal holds at start, for replay.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Refusals counted so far, by reason.
    pub rejected: BTreeMap<Reason, u64>,
    /// The most recent dead-letter records, oldest first.
    pub dead_letters: Vec<DeadLetter>,
    /// Events moved to the Parquet archive, by area and kind: they still count in the
    /// lifetime totals although their rows have left the journal.
    pub compacted: BTreeMap<(String, crate::Kind), u64>,
    /// The highest seq of an event that left the journal's rows (compaction; 0 when none):
    /// every event the journal no longer holds has a seq at most this.
    pub compacted_through: i64,
}

/// Why the journal could not do what was asked. Storage errors are the operator's to fix
/// (disk full, permissions); the write can be retried once they are.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// The database refused an operation (disk full, locked, I/O error).
    #[error("journal storage error: {0}")]
    Storage(String),
    /// The data directory could not be prepared.
    #[error("journal directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::sync::Arc<std::io::Error>,
    },
    /// A stored row could not be decoded (the file was edited or is from a newer version).
    #[error("journal row {seq} is unreadable: {message}")]
    Corrupt {
        /// Sequence number of the row.
        seq: i64,
        /// Decoder message.
        message: String,
    },
    /// The journal thread is gone (the engine is shutting down).
    #[error("journal is closed")]
    Closed,
    /// A commit for a slot whose lease has passed to another instance (cluster mode): the
    /// batch must not be written or acknowledged; the slot's new owner receives it again.
    #[error("slot {slot} is no longer ours (lease epoch {epoch} superseded)")]
    Fenced {
        /// The slot.
        slot: u32,
        /// The epoch this instance held.
        epoch: i64,
    },
}

impl JournalError {
    /// Whether trying the same write again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, JournalError::Storage(_) | JournalError::Closed)
    }
}

impl From<rusqlite::Error> for JournalError {
    fn from(error: rusqlite::Error) -> Self {
        JournalError::Storage(error.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for JournalError {
    fn from(error: rusqlite::types::FromSqlError) -> Self {
        JournalError::Storage(error.to_string())
    }
}
