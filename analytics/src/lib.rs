//! Analytics of the IOC engine: polars micro-batches into mergeable window partials, VN_AQI
//! and traffic/flood/noise figures, and the live views built from them.
//!
//! Data flow: the journal commits a batch → [`engine::AnalyticsSink`] → worker thread →
//! [`state::State::admit`] (counts, lateness) → [`batch::aggregate`] (polars) →
//! [`state::State::merge`] (windows) → [`views`] on request.

pub mod alerts;
pub mod aqi;
pub mod batch;
pub mod config;
pub mod dossiers;
pub mod engine;
pub mod history;
pub mod hourly;
pub mod open_data;
pub mod partial;
pub mod ranking;
pub mod rate;
pub mod reports;
pub mod sketch;
pub mod slots;
pub mod snapshot;
pub mod state;
pub mod views;
pub mod windows;
mod worker_queue;

pub use config::AnalyticsConfig;
pub use engine::{Analytics, AnalyticsError, AnalyticsSink, MetricsSnapshot};
pub use views::{ViewError, ViewName, ViewRequest};
