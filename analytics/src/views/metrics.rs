//! Per-area figures derived from windows and sources: AQI, congestion, flood, noise.

use crate::aqi::{self, Pollutant};
use crate::hourly::{AqiBasis, HourlyAir, HourlyAqi};
use crate::state::{LAEQ_ENERGY, State};
use crate::windows::WINDOWS;
use ioc_ingest::Kind;
use serde_json::Value;

/// Width of the "5m" window.
const FIVE_MIN_MS: i64 = WINDOWS[1].1;
/// Width of the "60m" window.
const HOUR_MS: i64 = WINDOWS[3].1;

/// The figures an area shows in the overview and its own view.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AreaMetrics {
    pub aqi: Option<u32>,
    pub pm25_1h: Option<f64>,
    pub traffic_speed_5m: Option<f64>,
    pub congestion: Option<f64>,
    pub congested_sensors: u64,
    pub water_level_max_cm: Option<f64>,
    pub gauges_alert: u64,
    pub gauges_danger: u64,
    pub laeq_5m: Option<f64>,
    pub laeq_1h: Option<f64>,
    pub noise_limit_db: f64,
    pub noise_over_limit: Option<bool>,
    pub aqi_basis: Option<AqiBasis>,
    pub aqi_daily: Option<u32>,
}

/// Computes the figures of one area (or the city with [`crate::windows::CITY`]).
pub(crate) fn area_metrics(state: &State, area: &str) -> AreaMetrics {
    let telemetry = &state.telemetry;
    let hourly = |field: &str| {
        telemetry
            .window(area, Kind::AirQuality, field, HOUR_MS)
            .mean()
    };
    let concentrations: Vec<(Pollutant, f64)> = Pollutant::ALL
        .into_iter()
        .filter_map(|(pollutant, field)| hourly(field).map(|c| (pollutant, c)))
        .collect();
    let speed_5m = telemetry
        .window(area, Kind::Traffic, "speed", FIVE_MIN_MS)
        .mean();
    let in_area = |kind: Kind| {
        telemetry
            .sources_in(|s| s.kind == kind && (s.area == area || area == crate::windows::CITY))
            .into_iter()
    };
    let free_flows: Vec<f64> = in_area(Kind::Traffic)
        .map(|s| free_flow(state, s))
        .collect();
    let congestion = match (speed_5m, free_flows.is_empty()) {
        (Some(speed), false) => {
            let free = free_flows.iter().sum::<f64>() / free_flows.len() as f64;
            (free > 0.0).then(|| (1.0 - speed / free).clamp(0.0, 1.0))
        }
        _ => None,
    };
    // Congested: the sensor says so, or its last speed is under the configured share of its
    // free-flow speed.
    let congested_sensors = in_area(Kind::Traffic)
        .filter(|s| {
            s.values.get("congested").and_then(Value::as_bool) == Some(true)
                || s.values
                    .get("speed")
                    .and_then(Value::as_f64)
                    .is_some_and(|speed| {
                        speed < state.config.congested_speed_ratio * free_flow(state, s)
                    })
        })
        .count() as u64;
    let mut water_level_max_cm: Option<f64> = None;
    let (mut gauges_alert, mut gauges_danger) = (0, 0);
    for gauge in in_area(Kind::WaterLevel) {
        let number = |field: &str| gauge.values.get(field).and_then(Value::as_f64);
        let Some(level) = number("level_cm") else {
            continue;
        };
        water_level_max_cm = Some(water_level_max_cm.map_or(level, |m| m.max(level)));
        if number("danger_cm").is_some_and(|danger| level > danger) {
            gauges_danger += 1;
        } else if number("alert_cm").is_some_and(|alert| level > alert) {
            gauges_alert += 1;
        }
    }
    let stations: Vec<&HourlyAir> = in_area(Kind::AirQuality)
        .filter_map(|s| telemetry.hourly_air.get(&s.id))
        .collect();
    let station_hours: Vec<HourlyAqi> = stations.iter().filter_map(|s| s.hourly_aqi()).collect();
    let daily: Vec<u32> = stations.iter().filter_map(|s| s.daily_aqi()).collect();
    let combine = |values: Vec<u32>| state.config.area_aqi.combine(values);
    let station_aqi = combine(station_hours.iter().map(|h| h.aqi).collect());
    let basis = if station_hours
        .iter()
        .any(|h| h.basis == AqiBasis::CurrentHour)
    {
        AqiBasis::CurrentHour
    } else {
        AqiBasis::Nowcast
    };
    let laeq = |width: i64| {
        telemetry
            .window(area, Kind::Noise, LAEQ_ENERGY, width)
            .mean()
            .filter(|energy| *energy > 0.0)
            .map(|energy| 10.0 * energy.log10())
    };
    let (noise_limit_db, _) = state
        .config
        .noise_limits
        .at(telemetry.max_ts.unwrap_or_else(ioc_ingest::event::now_ms));
    let laeq_5m = laeq(FIVE_MIN_MS);
    AreaMetrics {
        // Stations' hourly indices when there are any; else the area's hourly window.
        aqi: station_aqi.or_else(|| aqi::aqi(&concentrations)),
        aqi_basis: station_aqi.map(|_| basis),
        aqi_daily: combine(daily),
        laeq_1h: laeq(HOUR_MS),
        noise_limit_db,
        noise_over_limit: laeq_5m.map(|l| l > noise_limit_db),
        pm25_1h: hourly("pm25"),
        traffic_speed_5m: speed_5m,
        congestion,
        congested_sensors,
        water_level_max_cm,
        gauges_alert,
        gauges_danger,
        laeq_5m,
    }
}

/// A sensor's free-flow speed: configured, else the 95th percentile of its speeds, else the
/// default.
fn free_flow(state: &State, source: &crate::state::SourceState) -> f64 {
    state
        .config
        .free_flow_kmh
        .get(&source.id)
        .copied()
        .or_else(|| source.speeds.quantile(0.95))
        .unwrap_or(state.config.default_free_flow_kmh)
}
