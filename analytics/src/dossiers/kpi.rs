//! Dossier KPIs as the views show them: counts, the three Resolution 17 ratios and whether
//! each meets its configured target.

use super::tally::DossierTally;
use serde::{Deserialize, Serialize};

/// Targets of the three indicators, percent (`[analytics.dossier_targets]`); defaults are
/// Resolution 17's: 20 % received online, 30 % level-4 services, 95 % resolved on time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DossierTargets {
    /// Share of received dossiers that came in online.
    pub online_pct: f64,
    /// Share of received dossiers for level-4 services.
    pub level4_pct: f64,
    /// Share of resolved dossiers resolved on time.
    pub on_time_pct: f64,
}

impl Default for DossierTargets {
    fn default() -> Self {
        Self {
            online_pct: 20.0,
            level4_pct: 30.0,
            on_time_pct: 95.0,
        }
    }
}

/// Whether each indicator reaches its target; `None` when the indicator has no data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct IndicatorFlags {
    /// `online_pct ≥ target`.
    pub online_pct: Option<bool>,
    /// `level4_pct ≥ target`.
    pub level4_pct: Option<bool>,
    /// `on_time_pct ≥ target`.
    pub on_time_pct: Option<bool>,
}

/// The dossier KPIs of an area or the city.
///
/// `online_pct` = received online ÷ received, `level4_pct` = received at level 4 ÷ received,
/// `on_time_pct` = resolved on time ÷ resolved, all percent rounded to 2 decimals; a ratio
/// with nothing to divide by is `null`, never 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DossierKpi {
    /// Dossiers received.
    pub received: u64,
    /// Received online.
    pub received_online: u64,
    /// Received for a level-4 service.
    pub received_level4: u64,
    /// Dossiers resolved.
    pub resolved: u64,
    /// Resolved on time.
    pub resolved_on_time: u64,
    /// Percent of received that came online.
    pub online_pct: Option<f64>,
    /// Percent of received at level 4.
    pub level4_pct: Option<f64>,
    /// Percent of resolved that were on time.
    pub on_time_pct: Option<f64>,
    /// Each indicator against its target.
    pub meets_target: IndicatorFlags,
}

impl DossierKpi {
    /// The KPIs of a tally judged against `targets`.
    pub fn of(tally: DossierTally, targets: &DossierTargets) -> Self {
        let online_pct = percent(tally.received_online, tally.received);
        let level4_pct = percent(tally.received_level4, tally.received);
        let on_time_pct = percent(tally.resolved_on_time, tally.resolved);
        Self {
            received: tally.received,
            received_online: tally.received_online,
            received_level4: tally.received_level4,
            resolved: tally.resolved,
            resolved_on_time: tally.resolved_on_time,
            online_pct,
            level4_pct,
            on_time_pct,
            meets_target: IndicatorFlags {
                online_pct: online_pct.map(|pct| pct >= targets.online_pct),
                level4_pct: level4_pct.map(|pct| pct >= targets.level4_pct),
                on_time_pct: on_time_pct.map(|pct| pct >= targets.on_time_pct),
            },
        }
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| crate::views::round2(100.0 * part as f64 / whole as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dossiers::DossierBook;
    use ioc_ingest::{Event, Kind};
    use serde_json::{Map, Value, json};

    fn dossier(area: &str, n: usize, values: Value) -> Event {
        Event {
            id: format!("d-{area}-{n}"),
            source: "dvc".into(),
            kind: Kind::Dossier,
            area: area.into(),
            ts_ms: 1_000 * n as i64,
            lat: None,
            lon: None,
            values: values.as_object().cloned().unwrap_or_else(Map::new).into(),
        }
    }

    fn received(channel: &str, level: u8) -> Value {
        json!({"service": "hộ tịch", "channel": channel, "level": level, "stage": "received"})
    }

    fn resolved(on_time: bool) -> Value {
        json!({"service": "hộ tịch", "channel": "offline", "level": 3, "stage": "resolved",
            "on_time": on_time})
    }

    /// 10 received (3 online, 2 of them level 4, plus 1 offline level 4) and 8 resolved (7 on
    /// time): online 30 %, level-4 30 %, on time 87.5 %.
    fn ten_in_hoan_kiem() -> DossierBook {
        let mut book = DossierBook::default();
        let mut values = vec![
            received("online", 4),
            received("online", 4),
            received("online", 3),
            received("offline", 4),
        ];
        values.extend((0..6).map(|_| received("offline", 2)));
        values.extend((0..7).map(|_| resolved(true)));
        values.push(resolved(false));
        for (n, v) in values.into_iter().enumerate() {
            book.apply(&dossier("hoan-kiem", n, v));
        }
        book
    }

    #[test]
    fn ten_dossiers_give_hand_computed_percentages_and_flags() {
        let book = ten_in_hoan_kiem();
        let kpi = DossierKpi::of(book.area("hoan-kiem"), &DossierTargets::default());
        assert_eq!((kpi.received, kpi.resolved), (10, 8));
        assert_eq!(kpi.online_pct, Some(30.0));
        assert_eq!(kpi.level4_pct, Some(30.0));
        assert_eq!(kpi.on_time_pct, Some(87.5));
        assert_eq!(
            kpi.meets_target,
            IndicatorFlags {
                online_pct: Some(true),
                level4_pct: Some(true),
                on_time_pct: Some(false),
            }
        );
        assert_eq!(book.city(), book.area("hoan-kiem"));
        let strict = DossierTargets {
            online_pct: 30.01,
            level4_pct: 30.0,
            on_time_pct: 87.5,
        };
        let flags = DossierKpi::of(book.area("hoan-kiem"), &strict).meets_target;
        assert_eq!(
            (flags.online_pct, flags.level4_pct, flags.on_time_pct),
            (Some(false), Some(true), Some(true))
        );
    }

    #[test]
    fn no_data_is_null_not_zero() {
        let book = ten_in_hoan_kiem();
        let empty = DossierKpi::of(book.area("ba-dinh"), &DossierTargets::default());
        assert_eq!(empty.received, 0);
        assert_eq!((empty.online_pct, empty.on_time_pct), (None, None));
        assert_eq!(empty.meets_target, IndicatorFlags::default());
        let json = serde_json::to_value(empty).unwrap_or_default();
        assert_eq!(json["online_pct"], Value::Null);
        let mut only_resolved = DossierBook::default();
        only_resolved.apply(&dossier("ba-dinh", 0, resolved(true)));
        let kpi = DossierKpi::of(only_resolved.area("ba-dinh"), &DossierTargets::default());
        assert_eq!((kpi.online_pct, kpi.on_time_pct), (None, Some(100.0)));
    }

    #[test]
    fn other_kinds_do_not_count() {
        let mut book = DossierBook::default();
        let mut event = dossier("ba-dinh", 0, received("online", 4));
        event.kind = Kind::Noise;
        book.apply(&event);
        assert_eq!(book.city(), crate::dossiers::DossierTally::default());
    }
}
