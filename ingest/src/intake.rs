//! The intake: one path from raw message to journal entry for MQTT and HTTP alike.

use crate::deadletter::DeadLetter;
use crate::decode;
use crate::journal::Entry;
use crate::metrics::IntakeCounters;
use crate::reject::{Reason, Rejection};
use crate::topic::{TopicError, TopicScheme};
use crate::validate::Validator;
use std::sync::Arc;

/// Default largest payload accepted (docs/events.md "What is rejected"): 64 KiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Decodes and validates messages into journal entries.
#[derive(Debug, Clone)]
pub struct Intake {
    scheme: TopicScheme,
    validator: Validator,
    max_payload_bytes: usize,
    device_zone: chrono_tz::Tz,
    counters: Arc<IntakeCounters>,
}

impl Intake {
    /// An intake for topics under `scheme`, placing events with `validator`.
    pub fn new(scheme: TopicScheme, validator: Validator, max_payload_bytes: usize) -> Self {
        Self {
            scheme,
            validator,
            max_payload_bytes,
            device_zone: decode::DEFAULT_DEVICE_ZONE,
            counters: Arc::default(),
        }
    }

    /// Reads device times that carry no zone in `zone` instead of Hanoi's.
    pub fn with_device_zone(mut self, zone: chrono_tz::Tz) -> Self {
        self.device_zone = zone;
        self
    }

    /// The counters of what this intake (and its clones) accepted, for `/metrics`.
    pub fn counters(&self) -> Arc<IntakeCounters> {
        Arc::clone(&self.counters)
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
        let mut entries = Vec::with_capacity(1);
        self.classify_into(topic, payload, now_ms, &mut entries);
        entries
    }

    /// [`Intake::classify`] appending to `entries`: a batch of messages fills one vector
    /// instead of allocating one per message.
    pub fn classify_into(
        &self,
        topic: &str,
        payload: &[u8],
        now_ms: i64,
        entries: &mut Vec<Entry>,
    ) {
        let before = entries.len();
        if let Err(rejection) = self.push_events(topic, payload, now_ms, entries) {
            // A pack is refused whole: the events of it already pushed go again.
            entries.truncate(before);
            entries.push(Entry::Rejected(DeadLetter::new(
                &rejection, topic, payload, now_ms,
            )));
        }
    }

    /// Pushes the message's events onto `entries` (straight there: no vector per message), or
    /// says why the message is refused; on a refusal the caller takes back what was pushed.
    fn push_events(
        &self,
        topic: &str,
        payload: &[u8],
        now_ms: i64,
        entries: &mut Vec<Entry>,
    ) -> Result<(), Rejection> {
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
        if info.kind == crate::Kind::Report {
            entries.push(Entry::Event(self.report_of(payload, &info, now_ms)?));
            return Ok(());
        }
        let before = entries.len();
        // Each draft is validated as the decoder hands it on: moved once, never collected.
        let decoding = decode::decode_each(payload, &info, now_ms, self.device_zone, |draft| {
            entries.push(Entry::Event(self.validator.validate(draft, now_ms)?));
            Ok(())
        })?;
        if entries.len() == before {
            return Err(Rejection::new(
                Reason::MissingField,
                "payload holds no event",
            ));
        }
        // Counted once the whole message is accepted.
        for entry in &entries[before..] {
            if let Entry::Event(event) = entry {
                self.counters.record(event.kind, decoding.format, 1);
            }
        }
        self.counters.record_zoneless(decoding.zoneless as u64);
        Ok(())
    }

    /// A report on `{root}/{area}/report`: the Open311 fields, checked like an HTTP POST.
    fn report_of(
        &self,
        payload: &[u8],
        info: &crate::topic::TopicInfo<'_>,
        now_ms: i64,
    ) -> Result<crate::Event, Rejection> {
        let map = match decode::decode_object(payload)? {
            serde_json::Value::Object(map) => map,
            _ => {
                return Err(Rejection::new(
                    Reason::MalformedJson,
                    "a report payload must be a JSON object",
                ));
            }
        };
        let ts = map.get("ts").or_else(|| map.get("requested_datetime"));
        let ts_ms = match ts {
            None | Some(serde_json::Value::Null) => now_ms,
            Some(ts) => decode::parse_ts(ts, "ts")?,
        };
        let ts_ms = self.validator.check_ts(Some(ts_ms), now_ms)?;
        let event = crate::report::from_mqtt(&map, info.area, self.validator.areas(), ts_ms)?;
        self.counters.record(event.kind, decode::Format::Native, 1);
        Ok(event)
    }
}
