//! The fields each kind accepts and their valid ranges (docs/events.md "Kinds and fields").
//!
//! Ranges are physical plausibility bounds, not alert thresholds: a value outside them is a
//! broken sensor or a hostile sender, and goes to the dead-letter as `out_of_range`.

use crate::event::Kind;

/// What a field may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// A finite number within `[min, max]`.
    Number {
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// One of a few integers.
    Choice(&'static [i64]),
    /// `true` or `false`.
    Bool,
    /// A non-empty text of at most 200 characters, from `allowed` when that is set.
    Text(Option<&'static [&'static str]>),
}

/// One accepted field of a kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// Native field name.
    pub name: &'static str,
    /// What it may hold.
    pub ty: FieldType,
    /// Whether every event of the kind must carry it.
    pub required: bool,
}

const fn number(name: &'static str, min: f64, max: f64) -> FieldSpec {
    FieldSpec {
        name,
        ty: FieldType::Number { min, max },
        required: false,
    }
}

const fn required(spec: FieldSpec) -> FieldSpec {
    FieldSpec {
        required: true,
        ..spec
    }
}

/// Concentrations above this (µg/m³) are no sensor reading; CO's top breakpoint is 150,000.
const MAX_CONCENTRATION: f64 = 1_000_000.0;

const TRAFFIC: &[FieldSpec] = &[
    number("intensity", 0.0, 10_000.0),
    number("speed", 0.0, 300.0),
    number("occupancy", 0.0, 1.0),
    FieldSpec {
        name: "congested",
        ty: FieldType::Bool,
        required: false,
    },
];

const AIR_QUALITY: &[FieldSpec] = &[
    number("pm25", 0.0, MAX_CONCENTRATION),
    number("pm10", 0.0, MAX_CONCENTRATION),
    number("no2", 0.0, MAX_CONCENTRATION),
    number("o3", 0.0, MAX_CONCENTRATION),
    number("co", 0.0, MAX_CONCENTRATION),
    number("so2", 0.0, MAX_CONCENTRATION),
    number("temperature", -60.0, 70.0),
    number("humidity", 0.0, 1.0),
];

const WATER_LEVEL: &[FieldSpec] = &[
    required(number("level_cm", -1_000.0, 10_000.0)),
    number("alert_cm", -1_000.0, 10_000.0),
    number("danger_cm", -1_000.0, 10_000.0),
];

const NOISE: &[FieldSpec] = &[
    required(number("laeq", 0.0, 200.0)),
    number("lamax", 0.0, 200.0),
];

const DOSSIER: &[FieldSpec] = &[
    FieldSpec {
        name: "service",
        ty: FieldType::Text(None),
        required: true,
    },
    FieldSpec {
        name: "channel",
        ty: FieldType::Text(Some(&["online", "offline"])),
        required: true,
    },
    FieldSpec {
        name: "level",
        ty: FieldType::Choice(&[2, 3, 4]),
        required: true,
    },
    FieldSpec {
        name: "stage",
        ty: FieldType::Text(Some(&["received", "resolved"])),
        required: true,
    },
    FieldSpec {
        name: "on_time",
        ty: FieldType::Bool,
        required: false,
    },
    FieldSpec {
        name: "agency",
        ty: FieldType::Text(None),
        required: false,
    },
];

/// The fields a telemetry or dossier kind accepts; empty for kinds validated elsewhere.
pub fn specs(kind: Kind) -> &'static [FieldSpec] {
    match kind {
        Kind::Traffic => TRAFFIC,
        Kind::AirQuality => AIR_QUALITY,
        Kind::WaterLevel => WATER_LEVEL,
        Kind::Noise => NOISE,
        Kind::Dossier => DOSSIER,
        Kind::Report | Kind::ReportUpdate | Kind::Alert => &[],
    }
}
