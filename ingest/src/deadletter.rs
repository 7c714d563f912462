//! Dead-letter records: every refused message with its reason, kept (bounded) for operators.

use crate::reject::Rejection;
use serde::{Deserialize, Serialize};

/// How many bytes of a refused payload are kept with its record.
pub const KEPT_PAYLOAD_BYTES: usize = 4096;

/// Default number of dead-letter records kept; older ones are dropped, their counts stay.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// One refused message, as stored, listed by `GET /api/deadletter` and published on
/// `ioc/deadletter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Journal-assigned sequence number (0 before it is stored).
    #[serde(default)]
    pub seq: i64,
    /// When the engine refused it, RFC 3339.
    pub at: String,
    /// The counted reason label.
    pub reason: crate::reject::Reason,
    /// What exactly was wrong.
    pub detail: String,
    /// Where it came from: the MQTT topic, or `http:<path>`.
    pub topic: String,
    /// The start of the payload as text (invalid UTF-8 replaced), at most
    /// [`KEPT_PAYLOAD_BYTES`].
    pub payload: String,
    /// The payload's full size in bytes.
    pub payload_bytes: usize,
}

impl DeadLetter {
    /// A record for a refused payload received now.
    pub fn new(rejection: &Rejection, topic: &str, payload: &[u8], at_ms: i64) -> Self {
        let kept = &payload[..payload.len().min(KEPT_PAYLOAD_BYTES)];
        Self {
            seq: 0,
            at: crate::event::format_ts(at_ms),
            reason: rejection.reason,
            detail: rejection.detail.clone(),
            topic: topic.to_string(),
            payload: String::from_utf8_lossy(kept).into_owned(),
            payload_bytes: payload.len(),
        }
    }
}
