//! Value models of the simulated sensors: what a traffic counter, an air-quality station, a flood
//! gauge, a noise meter and the public-service portal report at a given simulated moment.
//!
//! Hanoi's rhythm, in local time (Asia/Ho_Chi_Minh, UTC+7): rush hours 7–9 and 17–19, PM2.5 worst
//! at night and in winter (temperature inversions), ozone at midday, noise by day.

use serde_json::{Map, Value};

use crate::rng::Rng;
use crate::scenario::Scenarios;

/// Offset of Hanoi local time from UTC, in milliseconds.
const LOCAL_OFFSET_MS: i64 = 7 * 3_600_000;
/// Time constant of a flood gauge approaching its rain-driven level, in milliseconds (25 min).
const FLOOD_TAU_MS: f64 = 25.0 * 60_000.0;
/// Speed under which a traffic counter reports `congested`, km/h.
pub const CONGESTED_BELOW_KMH: f64 = 15.0;

/// The simulated moment as the value models see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Local hour of day, `0.0..24.0`.
    pub hour: f64,
    /// `1` in mid-January (cool dry winter), `-1` in mid-July (hot rainy summer).
    pub winter: f64,
}

impl Clock {
    /// The local clock at `ts_ms` (epoch milliseconds, UTC).
    pub fn at(ts_ms: i64) -> Self {
        let local = ts_ms + LOCAL_OFFSET_MS;
        let hour = local.rem_euclid(86_400_000) as f64 / 3_600_000.0;
        let days = local.div_euclid(86_400_000) as f64;
        // The epoch is 1 January, so the year fraction is the day count modulo a mean year.
        let year_fraction = (days / 365.2425).fract();
        let winter = (std::f64::consts::TAU * (year_fraction - 15.0 / 365.0)).cos();
        Self { hour, winter }
    }

    /// Daytime activity, 0 at night and 1 from about 7:00 to 21:00, smooth in between.
    pub fn day(self) -> f64 {
        sigmoid((self.hour - 6.0) / 0.6) * sigmoid((22.0 - self.hour) / 0.8)
    }

    /// Rush-hour strength: 1 at 8:00 and 18:00, about 0.4 at 7:00, 9:00, 17:00 and 19:00.
    pub fn rush(self) -> f64 {
        bump(self.hour, 8.0, 1.0) + bump(self.hour, 18.0, 1.0)
    }

    /// Sunshine, 0 at night and 1 at noon.
    pub fn sun(self) -> f64 {
        (std::f64::consts::PI * (self.hour - 6.0) / 12.0)
            .sin()
            .max(0.0)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn bump(x: f64, centre: f64, width: f64) -> f64 {
    (-((x - centre) / width).powi(2)).exp()
}

/// Rounds to `decimals` places, so payloads read like real sensor output.
fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

fn number(value: f64) -> Value {
    // Every model clamps its output, so the fallback never fires; it keeps the JSON valid anyway.
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// The fixed traits and running state of one sensor, drawn once from the seed.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Traffic counter on a road with a free-flow speed and a number of lanes.
    Traffic {
        /// Speed with an empty road, km/h.
        free_flow_kmh: f64,
        /// Lanes counted.
        lanes: f64,
        /// How busy this road is compared with the area's average.
        busyness: f64,
    },
    /// Air-quality station with a local background level and a slowly wandering weather factor.
    AirQuality {
        /// Typical PM2.5 at this station in an average season, µg/m³.
        base_pm25: f64,
        /// AR(1) state of the weather factor (log scale).
        drift: f64,
    },
    /// Flood gauge with its thresholds and current level.
    WaterLevel {
        /// Level at which the gauge warns, cm.
        alert_cm: f64,
        /// Level at which the street is dangerous, cm.
        danger_cm: f64,
        /// How much water this spot collects in heavy rain (about 0.5..1.5).
        susceptibility: f64,
        /// Current level, cm, and the time it was computed for.
        state: Option<(f64, i64)>,
    },
    /// Noise meter with a background level.
    Noise {
        /// Night-time background LAeq, dB(A).
        base_db: f64,
    },
    /// The public-service portal's dossier feed of one area.
    Dossier,
}

/// What a sensor's model needs to know about where it stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// 1 in the city centre, falling to 0 about 25 km out (rural districts).
    pub urbanity: f64,
}

impl Model {
    /// A traffic counter's traits.
    pub fn traffic(rng: &mut Rng, site: Site) -> Self {
        Model::Traffic {
            free_flow_kmh: rng.range(38.0, 48.0) + 20.0 * (1.0 - site.urbanity),
            lanes: (2 + rng.below(4)) as f64,
            busyness: rng.range(0.85, 1.1),
        }
    }

    /// An air-quality station's traits.
    pub fn air_quality(rng: &mut Rng, site: Site) -> Self {
        Model::AirQuality {
            base_pm25: rng.range(24.0, 30.0) + 14.0 * site.urbanity,
            drift: 0.0,
        }
    }

    /// A flood gauge's traits; low-lying central streets collect more water.
    pub fn water_level(rng: &mut Rng, site: Site) -> Self {
        let alert_cm = (rng.range(15.0, 30.0)).round();
        Model::WaterLevel {
            alert_cm,
            danger_cm: alert_cm + rng.range(15.0, 30.0).round(),
            susceptibility: rng.range(0.45, 1.15) + 0.35 * site.urbanity,
            state: None,
        }
    }

    /// A noise meter's traits.
    pub fn noise(rng: &mut Rng, site: Site) -> Self {
        Model::Noise {
            base_db: rng.range(44.0, 50.0) + 10.0 * site.urbanity,
        }
    }

    /// One reading at `ts_ms`; updates the model's running state.
    pub fn read(
        &mut self,
        rng: &mut Rng,
        ts_ms: i64,
        site: Site,
        scenarios: Scenarios,
        agency_suffix: &str,
    ) -> Map<String, Value> {
        let clock = Clock::at(ts_ms);
        match self {
            Model::Traffic {
                free_flow_kmh,
                lanes,
                busyness,
            } => traffic(
                rng,
                clock,
                site,
                scenarios,
                *free_flow_kmh,
                *lanes,
                *busyness,
            ),
            Model::AirQuality { base_pm25, drift } => {
                *drift = 0.9 * *drift + 0.12 * rng.normal();
                air_quality(rng, clock, site, scenarios, *base_pm25, *drift)
            }
            Model::WaterLevel {
                alert_cm,
                danger_cm,
                susceptibility,
                state,
            } => {
                let (alert, danger) = (*alert_cm, *danger_cm);
                let level = water_level(rng, ts_ms, scenarios, danger, *susceptibility, state);
                let mut values = Map::new();
                values.insert("level_cm".into(), number(round(level, 1)));
                values.insert("alert_cm".into(), number(alert));
                values.insert("danger_cm".into(), number(danger));
                values
            }
            Model::Noise { base_db } => noise(rng, clock, scenarios, *base_db),
            Model::Dossier => dossier(rng, agency_suffix),
        }
    }
}

/// Traffic demand of an area at this moment, 0 (empty roads) to about 1.3 (gridlock).
pub fn traffic_demand(clock: Clock, site: Site, scenarios: Scenarios) -> f64 {
    let mut demand = 0.05 + 0.42 * clock.day() + 0.55 * clock.rush();
    if scenarios.rush_hour {
        // An all-day jam (an event, a closed bridge): demand stays at rush level by day.
        demand += 0.25 + 0.3 * clock.day();
    }
    (demand * (0.7 + 0.3 * site.urbanity)).clamp(0.0, 1.3)
}

fn traffic(
    rng: &mut Rng,
    clock: Clock,
    site: Site,
    scenarios: Scenarios,
    free_flow_kmh: f64,
    lanes: f64,
    busyness: f64,
) -> Map<String, Value> {
    let demand = (traffic_demand(clock, site, scenarios) * busyness * (1.0 + 0.06 * rng.normal()))
        .clamp(0.0, 1.4);
    let speed = (free_flow_kmh * (1.0 - 0.88 * demand.powf(1.6)).max(0.06) + 1.8 * rng.normal())
        .clamp(3.0, 130.0);
    let occupancy = (0.02 + 0.72 * demand.min(1.3) + 0.03 * rng.normal()).clamp(0.0, 0.98);
    // Flow rises with demand until the road saturates, then falls as the queue stops moving.
    let flow_per_lane = 1.5 + 19.0 * demand.min(0.85) - 10.0 * (demand - 0.85).max(0.0);
    let intensity = (lanes * flow_per_lane + 1.5 * rng.normal()).max(0.0);
    let speed = round(speed, 1);
    let mut values = Map::new();
    values.insert("intensity".into(), number(round(intensity, 1)));
    values.insert("speed".into(), number(speed));
    values.insert("occupancy".into(), number(round(occupancy, 3)));
    values.insert("congested".into(), Value::Bool(speed < CONGESTED_BELOW_KMH));
    values
}

fn air_quality(
    rng: &mut Rng,
    clock: Clock,
    site: Site,
    scenarios: Scenarios,
    base_pm25: f64,
    drift: f64,
) -> Map<String, Value> {
    let season = 1.0 + 0.45 * clock.winter;
    // Night-time inversions trap particulates; the morning rush adds a second peak.
    let diurnal =
        1.0 + 0.3 * (std::f64::consts::TAU * (clock.hour - 1.0) / 24.0).cos() + 0.12 * clock.rush();
    let weather = drift.exp();
    let smog = if scenarios.pollution { 2.8 } else { 1.0 };
    let washout = if scenarios.flood { 0.6 } else { 1.0 };
    let pm25 = (base_pm25 * season * diurnal * weather * smog * washout).max(1.0);
    let pm10 = pm25 * rng.range(1.4, 1.7);
    let demand = traffic_demand(clock, site, scenarios);
    let no2 = ((12.0 + 38.0 * demand * (0.4 + 0.6 * site.urbanity))
        * weather.sqrt()
        * if scenarios.pollution { 1.8 } else { 1.0 })
    .max(1.0);
    let o3 = (12.0 + 75.0 * clock.sun() * (1.0 - 0.3 * clock.winter) + 4.0 * rng.normal()).max(1.0);
    let co = ((380.0 + 900.0 * demand * site.urbanity.max(0.3))
        * weather
        * if scenarios.pollution { 1.6 } else { 1.0 })
    .max(50.0);
    let so2 = (rng.range(5.0, 14.0) * if scenarios.pollution { 1.5 } else { 1.0 }).max(0.5);
    let temperature = 24.0 - 6.5 * clock.winter
        + 3.5 * (std::f64::consts::TAU * (clock.hour - 9.0) / 24.0).sin()
        + 0.6 * rng.normal()
        - if scenarios.flood { 3.0 } else { 0.0 };
    let humidity = if scenarios.flood {
        rng.range(0.92, 0.99)
    } else {
        (0.74 - 0.06 * clock.winter
            + 0.12 * (std::f64::consts::TAU * (clock.hour - 4.0) / 24.0).cos()
            + 0.04 * rng.normal())
        .clamp(0.25, 0.99)
    };
    let mut values = Map::new();
    values.insert("pm25".into(), number(round(pm25, 1)));
    values.insert("pm10".into(), number(round(pm10, 1)));
    values.insert("no2".into(), number(round(no2, 1)));
    values.insert("o3".into(), number(round(o3, 1)));
    values.insert("co".into(), number(round(co, 0)));
    values.insert("so2".into(), number(round(so2, 1)));
    values.insert("temperature".into(), number(round(temperature, 1)));
    values.insert("humidity".into(), number(round(humidity, 2)));
    values
}

/// Advances a gauge to `ts_ms` and returns its level: near dry normally, approaching a
/// rain-driven level (below or above danger, by site) with the `flood` scenario.
fn water_level(
    rng: &mut Rng,
    ts_ms: i64,
    scenarios: Scenarios,
    danger_cm: f64,
    susceptibility: f64,
    state: &mut Option<(f64, i64)>,
) -> f64 {
    let dry = 2.0 + 3.0 * susceptibility;
    let target = if scenarios.flood {
        danger_cm * (0.35 + 0.85 * susceptibility)
    } else {
        dry
    };
    let (previous, since) = state.unwrap_or((dry, ts_ms));
    let elapsed = (ts_ms - since).max(0) as f64;
    let approach = 1.0 - (-elapsed / FLOOD_TAU_MS).exp();
    let level = previous + (target - previous) * approach;
    *state = Some((level, ts_ms.max(since)));
    (level + 0.4 * rng.normal()).max(0.0)
}

fn noise(rng: &mut Rng, clock: Clock, scenarios: Scenarios, base_db: f64) -> Map<String, Value> {
    let jam = if scenarios.rush_hour {
        4.0 * clock.day()
    } else {
        0.0
    };
    let laeq = (base_db + 11.0 * clock.day() + 4.0 * clock.rush() + jam + 1.8 * rng.normal())
        .clamp(30.0, 105.0);
    let lamax = (laeq + rng.range(8.0, 20.0)).min(125.0);
    let mut values = Map::new();
    values.insert("laeq".into(), number(round(laeq, 1)));
    values.insert("lamax".into(), number(round(lamax, 1)));
    values
}

/// Public services an area's portal handles: name, online service level (2/3/4), agency.
const SERVICES: [(&str, u8, &str); 8] = [
    ("Đăng ký khai sinh", 4, "Phòng Tư pháp"),
    ("Đăng ký kết hôn", 3, "Phòng Tư pháp"),
    ("Chứng thực bản sao từ bản chính", 3, "Phòng Tư pháp"),
    (
        "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        3,
        "Phòng Quản lý đô thị",
    ),
    ("Đăng ký hộ kinh doanh", 4, "Phòng Tài chính - Kế hoạch"),
    (
        "Cấp giấy chứng nhận quyền sử dụng đất",
        2,
        "Văn phòng đăng ký đất đai",
    ),
    ("Đăng ký thường trú", 4, "Công an"),
    ("Cấp giấy phép bán lẻ rượu", 2, "Phòng Kinh tế"),
];

fn dossier(rng: &mut Rng, agency_suffix: &str) -> Map<String, Value> {
    let (service, level, agency) = SERVICES[rng.below(SERVICES.len())];
    let online_share = match level {
        4 => 0.75,
        3 => 0.45,
        _ => 0.12,
    };
    let channel = if rng.chance(online_share) {
        "online"
    } else {
        "offline"
    };
    let resolved = rng.chance(0.45);
    let mut values = Map::new();
    values.insert("service".into(), Value::String(service.to_string()));
    values.insert("channel".into(), Value::String(channel.to_string()));
    values.insert("level".into(), Value::from(level));
    values.insert(
        "stage".into(),
        Value::String(if resolved { "resolved" } else { "received" }.into()),
    );
    if resolved {
        values.insert("on_time".into(), Value::Bool(rng.chance(0.92)));
    }
    values.insert(
        "agency".into(),
        Value::String(format!("{agency} {agency_suffix}")),
    );
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-15 00:00 local time, in epoch ms.
    const JAN_15_LOCAL_MIDNIGHT: i64 = 1_768_410_000_000;

    #[test]
    fn clock_is_hanoi_local_time() {
        let clock = Clock::at(JAN_15_LOCAL_MIDNIGHT + 8 * 3_600_000);
        assert!((clock.hour - 8.0).abs() < 1e-9, "{clock:?}");
        assert!(clock.winter > 0.99, "{clock:?}");
        assert!(Clock::at(JAN_15_LOCAL_MIDNIGHT + 181 * 86_400_000).winter < -0.99);
        assert!(clock.rush() > 0.99 && clock.day() > 0.9);
        let night = Clock::at(JAN_15_LOCAL_MIDNIGHT + 3 * 3_600_000);
        assert!(night.day() < 0.05 && night.rush() < 0.01 && night.sun() == 0.0);
    }

    #[test]
    fn flood_gauge_rises_towards_its_rain_level_and_stays_dry_otherwise() {
        let mut rng = Rng::new(3);
        let site = Site { urbanity: 1.0 };
        let flood = Scenarios {
            flood: true,
            ..Scenarios::default()
        };
        let mut gauge = Model::water_level(&mut rng, site);
        let mut dry = gauge.clone();
        let level = |values: &Map<String, Value>| values["level_cm"].as_f64().unwrap_or(-1.0);
        let first = level(&gauge.read(&mut rng, 0, site, flood, ""));
        let after_hour = level(&gauge.read(&mut rng, 3_600_000, site, flood, ""));
        assert!(after_hour > first + 20.0, "{first} -> {after_hour}");
        let dry_level = level(&dry.read(&mut rng, 3_600_000, site, Scenarios::default(), ""));
        assert!((0.0..10.0).contains(&dry_level), "{dry_level}");
    }
}
