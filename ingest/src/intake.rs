//! The intake: one path from raw message to journal entry for MQTT and HTTP alike.

use crate::deadletter::DeadLetter;
use crate::decode;
use crate::journal::Entry;
use crate::reject::{Reason, Rejection};
use crate::topic::{TopicError, TopicScheme};
use crate::validate::Validator;

/// Default largest payload accepted (DESIGN §2): 64 KiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Decodes and validates messages into journal entries.
#[derive(Debug, Clone)]
pub struct Intake {
    scheme: TopicScheme,
    validator: Validator,
    max_payload_bytes: usize,
}

impl Intake {
    /// An intake for topics under `scheme`, placing events with `validator`.
    pub fn new(scheme: TopicScheme, validator: Validator, max_payload_bytes: usize) -> Self {
        Self {
            scheme,
            validator,
            max_payload_bytes,
        }
    }

    /// The topic scheme.
    pub fn scheme(&self) -> &TopicScheme {
        &self.scheme
    }

    /// The validator (and through it the areas).
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Turns one message into journal entries: its events, or one dead-letter record.
    ///
    /// A SenML pack holding one bad record is refused whole, so a sender never has half a pack
    /// counted.
    pub fn classify(&self, topic: &str, payload: &[u8], now_ms: i64) -> Vec<Entry> {
        match self.events_of(topic, payload, now_ms) {
            Ok(events) => events.into_iter().map(Entry::Event).collect(),
            Err(rejection) => {
                vec![Entry::Rejected(DeadLetter::new(
                    &rejection, topic, payload, now_ms,
                ))]
            }
        }
    }

    fn events_of(
        &self,
        topic: &str,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Vec<crate::Event>, Rejection> {
        if payload.len() > self.max_payload_bytes {
            return Err(Rejection::new(
                Reason::TooLarge,
                format!(
                    "payload of {} bytes exceeds the {} byte limit",
                    payload.len(),
                    self.max_payload_bytes
                ),
            ));
        }
        let info = self.scheme.parse(topic).map_err(|error| match error {
            TopicError::Shape(_) => Rejection::new(Reason::BadTopic, error.to_string()),
            TopicError::UnknownKind(_) => Rejection::new(Reason::UnknownKind, error.to_string()),
        })?;
        let drafts = decode::decode(payload, &info, now_ms)?;
        if drafts.is_empty() {
            return Err(Rejection::new(
                Reason::MissingField,
                "payload holds no event",
            ));
        }
        drafts
            .into_iter()
            .map(|draft| self.validator.validate(draft, now_ms))
            .collect()
    }
}
