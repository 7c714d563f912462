//! `report_burst` rules: citizen reports of one category clustering in space and time
//! (README.md "Alerts").

use super::super::message::Wording;
use super::super::trackers::{BurstShape, BurstTracker, Holding};
use super::Condition;
use super::values::{duration, finite};
use crate::snapshot::{self, SnapshotError};
use ioc_ingest::{Event, Kind};
use serde::{Deserialize, Serialize};

/// The keys of a `report_burst` rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBurstSpec {
    /// How many reports make a cluster.
    pub count: usize,
    /// Cluster radius in metres.
    pub radius_m: f64,
    /// Time span (a duration).
    pub within: String,
    /// Report categories watched (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// The cluster clears when fewer than this many reports remain (default: half of `count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_count: Option<usize>,
}

impl ReportBurstSpec {
    /// The type's name in the file.
    pub const TYPE: &'static str = "report_burst";

    /// Checks the keys into the condition, in engine units.
    pub(super) fn check(&self) -> Result<ReportBurst, String> {
        let count = self.count;
        if count < 2 {
            return Err("`count` must be at least 2".into());
        }
        let radius_m = finite(self.radius_m, "radius_m")?;
        if radius_m <= 0.0 {
            return Err("`radius_m` must be positive".into());
        }
        let clear_count = self.clear_count.unwrap_or(count.div_ceil(2));
        if clear_count == 0 || clear_count > count {
            return Err("`clear_count` must lie between 1 and `count`".into());
        }
        Ok(ReportBurst {
            shape: BurstShape {
                count,
                radius_m,
                within_ms: duration(&self.within, "within")?,
                clear_count,
            },
            categories: self.categories.clone().unwrap_or_default(),
            clusters: BurstTracker::default(),
        })
    }
}

/// A report-burst rule's condition: its parameters in engine units and the rule's clusters.
#[derive(Debug)]
pub(super) struct ReportBurst {
    /// Count, radius, span and clearing count.
    shape: BurstShape,
    /// Report categories watched (empty: all).
    categories: Vec<String>,
    clusters: BurstTracker,
}

impl Condition for ReportBurst {
    fn save_trackers(&self) -> Result<Vec<u8>, SnapshotError> {
        snapshot::encode(&self.clusters)
    }

    fn load_trackers(&mut self, saved: &[u8]) -> Result<(), SnapshotError> {
        self.clusters = snapshot::decode(saved)?;
        Ok(())
    }

    fn watches(&self, kind: Kind) -> bool {
        kind == Kind::Report
    }

    fn observe(&mut self, event: &Event, _aqi: Option<f64>, _now_ms: i64) {
        if event.kind != Kind::Report {
            return;
        }
        let (Some(lat), Some(lon), Some(category)) =
            (event.lat, event.lon, event.text("service_code"))
        else {
            return;
        };
        if self.categories.is_empty() || self.categories.iter().any(|c| c == category) {
            self.clusters
                .observe(category, &event.area, event.ts_ms, lat, lon, self.shape);
        }
    }

    fn check(&mut self, now_ms: i64) {
        self.clusters.check(now_ms, self.shape);
    }

    fn holdings(&mut self) -> Vec<(&str, &mut Holding)> {
        self.clusters
            .clusters
            .iter_mut()
            .map(|(subject, cluster)| (subject.as_str(), &mut cluster.holding))
            .collect()
    }

    fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding> {
        self.clusters
            .clusters
            .get_mut(subject)
            .map(|cluster| &mut cluster.holding)
    }

    fn missing_means_clear(&self) -> bool {
        true
    }

    fn alert_metric(&self, subject: &str) -> String {
        category(subject).to_string()
    }

    fn wording<'a>(&'a self, subject: &'a str) -> Wording<'a> {
        Wording {
            template: "{value} phản ánh \"{category}\" trong bán kính {radius} m trong {duration} tại {area}",
            metric: None,
            duration_ms: self.shape.within_ms,
            category: category(subject),
            radius_m: self.shape.radius_m,
        }
    }
}

/// The category of a cluster's subject (`<category>@<lat>,<lon>`).
fn category(subject: &str) -> &str {
    subject.split('@').next().unwrap_or(subject)
}
