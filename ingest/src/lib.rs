//! Ingest side of the IOC engine: the event model, the topic scheme, payload decoders,
//! validation, the durable journal with its dead-letter, and the MQTT subscriber.
//!
//! Data flow: a message arrives (MQTT or HTTP) → [`decode`] → [`validate`] → [`journal`]
//! (deduplicated, group-committed) → acknowledged → handed to analytics.

pub mod area;
mod bytewise;
pub mod cluster;
pub mod deadletter;
pub mod decode;
pub mod duration_setting;
pub mod event;
pub mod fields;
pub mod intake;
pub mod journal;
pub mod metrics;
pub mod mqtt;
pub mod reject;
pub mod report;
pub mod topic;
pub mod validate;

pub use area::{Area, Areas};
pub use event::{Event, Kind, Values};
pub use reject::{Reason, Rejection};
