//! How an event is stored as bytes in a journal row, shared by every backend so that a row
//! means the same thing in SQLite and in PostgreSQL.
//!
//! A body that starts with `{` is the JSON of the first journal format (data directories
//! written by earlier releases); newer formats start with a version byte below `{`, so one
//! reader opens every journal ever written.

use super::JournalError;
use crate::event::Event;

/// Appends the stored form of `event` to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) -> Result<(), JournalError> {
    serde_json::to_writer(out, event).map_err(|error| JournalError::Corrupt {
        seq: 0,
        message: error.to_string(),
    })
}

/// Reads an event back from its stored form; `seq` names the row in the error.
pub fn decode_event(seq: i64, body: &[u8]) -> Result<Event, JournalError> {
    serde_json::from_slice(body).map_err(|error| JournalError::Corrupt {
        seq,
        message: error.to_string(),
    })
}
