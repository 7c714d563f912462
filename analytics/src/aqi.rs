//! VN_AQI per Decision 1459/QĐ-TCMT (2019): sub-indices by linear interpolation between
//! breakpoints, AQI = the largest sub-index, rounded; the 12-hour NowCast for hourly PM.

use serde::Serialize;

/// Index levels shared by every pollutant's breakpoint row.
const INDEX_LEVELS: [f64; 8] = [0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0];

/// A pollutant VN_AQI has breakpoints for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pollutant {
    /// Fine particles, µg/m³.
    Pm25,
    /// Coarse particles, µg/m³.
    Pm10,
    /// Nitrogen dioxide, µg/m³.
    No2,
    /// Sulphur dioxide, µg/m³.
    So2,
    /// Carbon monoxide, µg/m³.
    Co,
    /// Ozone (1-hour), µg/m³.
    O3,
}

impl Pollutant {
    /// Every pollutant with the field name it is read from.
    pub const ALL: [(Pollutant, &'static str); 6] = [
        (Pollutant::Pm25, "pm25"),
        (Pollutant::Pm10, "pm10"),
        (Pollutant::No2, "no2"),
        (Pollutant::So2, "so2"),
        (Pollutant::Co, "co"),
        (Pollutant::O3, "o3"),
    ];

    /// The place in [`Pollutant::ALL`] of the pollutant read from field `name`, if any.
    ///
    /// A match on the name, not a search of the table: every field of every air-quality
    /// reading is asked, three times (the hourly means and two open-data series). A test holds
    /// it to the table.
    pub fn place_of_field(name: &str) -> Option<usize> {
        match name {
            "pm25" => Some(0),
            "pm10" => Some(1),
            "no2" => Some(2),
            "so2" => Some(3),
            "co" => Some(4),
            "o3" => Some(5),
            _ => None,
        }
    }

    /// Concentration breakpoints (µg/m³) matching [`INDEX_LEVELS`].
    fn breakpoints(self) -> [f64; 8] {
        match self {
            Pollutant::Pm25 => [0.0, 25.0, 50.0, 80.0, 150.0, 250.0, 350.0, 500.0],
            Pollutant::Pm10 => [0.0, 50.0, 150.0, 250.0, 350.0, 420.0, 500.0, 600.0],
            Pollutant::No2 => [0.0, 100.0, 200.0, 700.0, 1200.0, 2350.0, 3100.0, 3850.0],
            Pollutant::So2 => [0.0, 125.0, 350.0, 550.0, 800.0, 1600.0, 2100.0, 2630.0],
            Pollutant::Co => [
                0.0, 10_000.0, 30_000.0, 45_000.0, 60_000.0, 90_000.0, 120_000.0, 150_000.0,
            ],
            Pollutant::O3 => [0.0, 160.0, 200.0, 300.0, 400.0, 800.0, 1000.0, 1200.0],
        }
    }
}

/// The sub-index of one concentration (unrounded); concentrations above the top breakpoint
/// are capped at 500, negative or non-finite ones give `None`.
pub fn sub_index(pollutant: Pollutant, concentration: f64) -> Option<f64> {
    if !concentration.is_finite() || concentration < 0.0 {
        return None;
    }
    let bp = pollutant.breakpoints();
    for i in 0..bp.len() - 1 {
        let (lo, hi) = (bp[i], bp[i + 1]);
        if concentration <= hi {
            let (ilo, ihi) = (INDEX_LEVELS[i], INDEX_LEVELS[i + 1]);
            return Some(ilo + (ihi - ilo) * (concentration - lo) / (hi - lo));
        }
    }
    Some(500.0)
}

/// VN_AQI from concentrations: the rounded largest sub-index; `None` without PM2.5 or PM10.
pub fn aqi(concentrations: &[(Pollutant, f64)]) -> Option<u32> {
    let has_pm = concentrations
        .iter()
        .any(|(p, _)| matches!(p, Pollutant::Pm25 | Pollutant::Pm10));
    if !has_pm {
        return None;
    }
    concentrations
        .iter()
        .filter_map(|(p, c)| sub_index(*p, *c))
        .reduce(f64::max)
        // Means of many readings carry float noise (55.7 averaged can come out 55.6999…): drop
        // it below a millionth before rounding, so a value on a half (109.5) rounds up as the
        // Decision's worked example does.
        .map(|index| ((index * 1e6).round() / 1e6).round() as u32)
}

/// NowCast over the last 12 hourly means, newest first (`None` for a missing hour):
/// w = max(0.5, Cmin/Cmax), NowCast = Σ wⁱ⁻¹·cᵢ / Σ wⁱ⁻¹ over the hours present. Needs at least
/// 2 of the 3 most recent hours.
pub fn nowcast(hourly_newest_first: &[Option<f64>]) -> Option<f64> {
    // Slices, not copies: this runs for every air-quality reading (B2 profile).
    let hours = &hourly_newest_first[..hourly_newest_first.len().min(12)];
    if hours.iter().take(3).filter(|h| h.is_some()).count() < 2 {
        return None;
    }
    let present = || hours.iter().flatten().copied();
    let c_max = present().fold(f64::NEG_INFINITY, f64::max);
    let c_min = present().fold(f64::INFINITY, f64::min);
    let w = if c_max > 0.0 {
        (c_min / c_max).max(0.5)
    } else {
        1.0
    };
    let (mut numerator, mut denominator) = (0.0, 0.0);
    for (i, hour) in hours.iter().enumerate() {
        if let Some(c) = hour {
            let weight = w.powi(i as i32);
            numerator += weight * c;
            denominator += weight;
        }
    }
    (denominator > 0.0).then(|| numerator / denominator)
}

/// A VN_AQI band with its names and color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Level {
    /// Stable key: `good`, `moderate`, `poor`, `bad`, `very_bad`, `hazardous`.
    pub key: &'static str,
    /// Vietnamese name.
    pub name_vi: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Display color.
    pub color: &'static str,
}

/// The band an AQI value falls in.
pub fn level(aqi: u32) -> Level {
    let (key, name_vi, name_en, color) = match aqi {
        0..=50 => ("good", "Tốt", "Good", "#00E400"),
        51..=100 => ("moderate", "Trung bình", "Moderate", "#FFFF00"),
        101..=150 => ("poor", "Kém", "Poor", "#FF7E00"),
        151..=200 => ("bad", "Xấu", "Bad", "#FF0000"),
        201..=300 => ("very_bad", "Rất xấu", "Very bad", "#8F3F97"),
        _ => ("hazardous", "Nguy hại", "Hazardous", "#7E0023"),
    };
    Level {
        key,
        name_vi,
        name_en,
        color,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_worked_examples() {
        // Decision 1459 worked checks: NowCast PM2.5 20.3 → 41; daily PM2.5 55.7 → 110.
        assert_eq!(aqi(&[(Pollutant::Pm25, 20.3)]), Some(41));
        assert_eq!(aqi(&[(Pollutant::Pm25, 55.7)]), Some(110));
    }

    #[test]
    fn float_noise_in_averages_does_not_move_the_rounding() {
        let mut sum = 0.0;
        for _ in 0..6 {
            sum += 55.7;
        }
        let mean = sum / 6.0;
        assert_ne!(mean, 55.7, "the mean carries float noise");
        assert_eq!(aqi(&[(Pollutant::Pm25, mean)]), Some(110));
        assert_eq!(aqi(&[(Pollutant::Pm25, 55.7 - 1e-12)]), Some(110));
    }

    #[test]
    fn each_field_name_gives_its_place_in_the_table() {
        for (place, (_, field)) in Pollutant::ALL.iter().enumerate() {
            assert_eq!(Pollutant::place_of_field(field), Some(place), "{field}");
        }
        for other in ["pm2.5", "PM25", "temperature", "humidity", "", "o"] {
            assert_eq!(Pollutant::place_of_field(other), None, "{other}");
        }
    }

    #[test]
    fn every_breakpoint_maps_to_its_index_level() {
        for (pollutant, _) in Pollutant::ALL {
            for (c, i) in pollutant.breakpoints().iter().zip(INDEX_LEVELS) {
                assert_eq!(sub_index(pollutant, *c), Some(i), "{pollutant:?} at {c}");
            }
        }
        assert_eq!(sub_index(Pollutant::Pm25, 900.0), Some(500.0));
        assert_eq!(sub_index(Pollutant::Pm25, -1.0), None);
    }

    #[test]
    fn aqi_needs_particles_and_takes_the_worst() {
        assert_eq!(aqi(&[(Pollutant::No2, 150.0)]), None);
        // PM10 100 → 75; NO2 450 → 125.
        assert_eq!(
            aqi(&[(Pollutant::Pm10, 100.0), (Pollutant::No2, 450.0)]),
            Some(125)
        );
    }

    #[test]
    fn nowcast_weights_recent_hours() {
        // Constant concentration: NowCast equals it.
        assert_eq!(nowcast(&[Some(30.0); 12]), Some(30.0));
        // w = max(0.5, 10/40) = 0.5: (40 + 0.5·10) / 1.5 = 30.
        assert_eq!(nowcast(&[Some(40.0), Some(10.0)]), Some(30.0));
        // Two of the three latest hours missing.
        assert_eq!(nowcast(&[Some(40.0), None, None, Some(10.0)]), None);
    }

    #[test]
    fn bands_have_vietnamese_names_and_colors() {
        assert_eq!(level(41).name_vi, "Tốt");
        assert_eq!(level(110).color, "#FF7E00");
        assert_eq!(level(350).key, "hazardous");
    }
}
