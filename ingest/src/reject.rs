//! Why a message was refused: the reason labels of `ioc_rejected_total{reason=…}` and of the
//! dead-letter (docs/events.md "What is rejected").

use serde::{Deserialize, Serialize};

/// The reason a message was refused; its label is stable and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Payload larger than the configured limit (default 64 KiB).
    TooLarge,
    /// Payload is not valid UTF-8.
    InvalidUtf8,
    /// Payload is not JSON, or JSON of no accepted shape.
    MalformedJson,
    /// Topic does not follow the scheme.
    BadTopic,
    /// Kind (topic level or payload field) is not one the engine knows.
    UnknownKind,
    /// Area id is not in the areas file.
    UnknownArea,
    /// Coordinates fall outside the city's bounds.
    OutsideCity,
    /// A required field (time, a reading, a location) is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A number is NaN or infinite (including JSON numbers too large for a double).
    NonFinite,
    /// A number is outside the field's physical range.
    OutOfRange,
    /// `ts` lies more than the allowed skew (5 minutes) in the future.
    FutureTimestamp,
    /// SenML pack breaks RFC 8428 (label ending in `_`, `bver` above 10, bad name).
    InvalidSenml,
}

impl Reason {
    /// Every reason, in label order, so counters can list zeros too.
    pub const ALL: [Reason; 13] = [
        Reason::TooLarge,
        Reason::InvalidUtf8,
        Reason::MalformedJson,
        Reason::BadTopic,
        Reason::UnknownKind,
        Reason::UnknownArea,
        Reason::OutsideCity,
        Reason::MissingField,
        Reason::WrongType,
        Reason::NonFinite,
        Reason::OutOfRange,
        Reason::FutureTimestamp,
        Reason::InvalidSenml,
    ];

    /// The snake_case label used in metrics, the dead-letter and `ioc/deadletter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TooLarge => "too_large",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::MalformedJson => "malformed_json",
            Reason::BadTopic => "bad_topic",
            Reason::UnknownKind => "unknown_kind",
            Reason::UnknownArea => "unknown_area",
            Reason::OutsideCity => "outside_city",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::NonFinite => "non_finite",
            Reason::OutOfRange => "out_of_range",
            Reason::FutureTimestamp => "future_timestamp",
            Reason::InvalidSenml => "invalid_senml",
        }
    }

    /// Parses a label back into a reason.
    pub fn parse(label: &str) -> Option<Reason> {
        Reason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == label)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: the reason label plus a sentence for the operator reading the dead-letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    /// The counted reason.
    pub reason: Reason,
    /// What exactly was wrong, naming the field where there is one.
    pub detail: String,
}

impl Rejection {
    /// A rejection with a reason and a detail sentence.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}
