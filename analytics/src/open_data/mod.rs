//! Open data: the aggregate, non-personal figures the engine publishes to everyone —
//! citizen-report KPIs, air quality, public-service dossier indicators and alert counts per
//! area and period — plus the per-area observations served to NGSI-LD consumers.
//!
//! Only counts, ratios and means leave this module: never a report's text, reporter, photo or
//! place. Report cells with fewer reports than a threshold are suppressed.

mod air;
mod alerts;
pub mod catalog;
mod dossiers;
pub mod ngsi;
pub mod period;
mod report_kpis;
mod series;

pub use catalog::{Dataset, Field, catalog};
pub use ngsi::{EntityType, Observation};
pub use period::Every;
pub use series::OpenDataBook;

use crate::engine::Analytics;
use serde_json::Value;

/// The area value of city-wide rows.
pub const CITY: &str = "city";

/// The agency value of rows over every report.
pub const ALL: &str = "all";

/// Why a dataset query cannot be answered (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenDataError {
    /// A query field is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
}

/// What a dataset query asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenDataQuery {
    /// Start of the range, epoch ms, inclusive (aligned to the start of its period).
    pub from_ms: i64,
    /// End of the range, epoch ms, exclusive.
    pub to_ms: i64,
    /// One area slug or `city`; `None` = every area and the city.
    pub area: Option<String>,
    /// Bucketing.
    pub every: Every,
}

/// Longest range of an hourly query: hourly rows are kept for this many days.
pub const MAX_HOURLY_DAYS: i64 = 35;

const DAY_MS: i64 = 24 * 3_600_000;

impl OpenDataQuery {
    /// Checks the raw query fields of `dataset`. Without `to` the range ends now; without
    /// `from` it starts a day (hourly), 30 local days (daily, whole range) or 12 months
    /// (monthly) before `to`.
    pub fn parse(
        dataset: Dataset,
        from: Option<&str>,
        to: Option<&str>,
        area: Option<&str>,
        every: Option<&str>,
        known_area: impl Fn(&str) -> bool,
        now_ms: i64,
    ) -> Result<Self, OpenDataError> {
        let bad = |text: String| Err(OpenDataError::BadRequest(text));
        let every = match every {
            None | Some("") => dataset.default_every(),
            Some(text) => match Every::parse(text) {
                Some(every) => every,
                None => return bad(format!("every={text:?}: use hour, day, month or all")),
            },
        };
        let time = |name: &str, text: Option<&str>| -> Result<Option<i64>, OpenDataError> {
            match text {
                None | Some("") => Ok(None),
                Some(text) => period::parse_time(text).map(Some).ok_or_else(|| {
                    OpenDataError::BadRequest(format!(
                        "{name}={text:?} is neither RFC 3339 (2026-11-22T09:00:00+07:00) nor a date (2026-11-22)"
                    ))
                }),
            }
        };
        let to_ms = time("to", to)?.unwrap_or(now_ms);
        let from_ms = match time("from", from)? {
            Some(from) => from,
            None => match every {
                Every::Hour => to_ms - DAY_MS,
                Every::Day | Every::All => period::day_start(to_ms) - 29 * DAY_MS,
                Every::Month => period::month_start(to_ms - 335 * DAY_MS),
            },
        };
        let from_ms = match every {
            Every::All => from_ms,
            other => period::period_start(from_ms, other, from_ms),
        };
        if to_ms <= from_ms {
            return bad("`to` must be after `from`".into());
        }
        if every == Every::Hour && to_ms - from_ms > MAX_HOURLY_DAYS * DAY_MS {
            return bad(format!(
                "hourly rows span at most {MAX_HOURLY_DAYS} days: narrow from/to or use every=day"
            ));
        }
        let area = match area {
            None | Some("") => None,
            Some(CITY) => Some(CITY.to_string()),
            Some(slug) if known_area(slug) => Some(slug.to_string()),
            Some(slug) => return bad(format!("unknown area {slug:?}")),
        };
        Ok(Self {
            from_ms,
            to_ms,
            area,
            every,
        })
    }

    /// Whether `ts_ms` falls in the range.
    fn covers(&self, ts_ms: i64) -> bool {
        ts_ms >= self.from_ms && ts_ms < self.to_ms
    }

    /// Whether rows of `area` are wanted.
    fn wants(&self, area: &str) -> bool {
        self.area.as_deref().is_none_or(|wanted| wanted == area)
    }

    /// The start of the period holding `ts_ms`.
    fn period_of(&self, ts_ms: i64) -> i64 {
        period::period_start(ts_ms, self.every, self.from_ms)
    }
}

/// Settings of the published figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    /// Report cells with fewer reports than this are suppressed (default 5).
    pub min_cell_reports: u64,
}

impl Default for Publication {
    fn default() -> Self {
        Self {
            min_cell_reports: 5,
        }
    }
}

/// A dataset's answer: rows in the dataset's column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The dataset.
    pub dataset: Dataset,
    /// Rows, each with one value per column of [`Dataset::fields`].
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The rows as JSON objects keyed by column name.
    pub fn json_rows(&self) -> Vec<Value> {
        let fields = self.dataset.fields();
        self.rows
            .iter()
            .map(|row| {
                Value::Object(
                    fields
                        .iter()
                        .zip(row)
                        .map(|(field, value)| (field.name.to_string(), value.clone()))
                        .collect(),
                )
            })
            .collect()
    }
}

/// Sort key that puts the city before the areas.
fn area_order(area: &str) -> (bool, &str) {
    (area != CITY, area)
}

impl Analytics {
    /// The rows of `dataset` for `query` (blocking: reads the state under its lock; call off
    /// the async runtime). `now_ms` only decides what is overdue.
    pub fn open_data(
        &self,
        dataset: Dataset,
        query: &OpenDataQuery,
        publication: Publication,
        now_ms: i64,
    ) -> Table {
        let state = self.lock();
        let rows = match dataset {
            Dataset::ReportKpis => report_kpis::rows(
                &state.reports.register,
                query,
                publication.min_cell_reports,
                now_ms,
            ),
            Dataset::AirQuality => {
                air::rows(&state.telemetry.open_data, query, state.config.area_aqi)
            }
            Dataset::DossierKpis => dossiers::rows(
                &state.telemetry.open_data,
                query,
                &state.config.dossier_targets,
            ),
            Dataset::AlertsDaily => alerts::rows(&state.alerts.book, query),
        };
        Table { dataset, rows }
    }

    /// Whether `id` is one of the deployment's areas.
    pub fn is_area(&self, id: &str) -> bool {
        self.lock().areas.get(id).is_some()
    }

    /// The current per-area observations of one NGSI-LD entity type (or every type), in
    /// (type, area) order (blocking).
    pub fn observations(&self, entity_type: Option<EntityType>) -> Vec<Observation> {
        // Observations are window means: fold in the readings waiting for their micro-batch.
        self.flush_windows();
        ngsi::observations(&self.lock(), entity_type)
    }
}
