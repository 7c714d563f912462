//! The datasets, their columns with units, and the catalog that describes them. Every row of a
//! dataset has exactly its columns, in this order, in JSON and in CSV.

use serde::Serialize;

/// The licence every dataset is published under.
pub const LICENSE: &str = "CC-BY-4.0";

/// One column of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Column name, stable.
    pub name: &'static str,
    /// `string`, `datetime`, `integer`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Unit, empty for names and flags.
    pub unit: &'static str,
    /// What it holds.
    pub description: &'static str,
}

const fn field(
    name: &'static str,
    ty: &'static str,
    unit: &'static str,
    description: &'static str,
) -> Field {
    Field {
        name,
        ty,
        unit,
        description,
    }
}

const AREA: Field = field(
    "area",
    "string",
    "",
    "Area slug, or `city` for the whole city.",
);
const PERIOD: Field = field(
    "period_start",
    "datetime",
    "RFC 3339, UTC+07:00",
    "Start of the hour, local day or local month the row covers.",
);

/// Columns of `report-kpis`.
pub const REPORT_KPI_FIELDS: &[Field] = &[
    AREA,
    field(
        "agency",
        "string",
        "",
        "Agency the reports were assigned to, or `all` (every report, assigned or not).",
    ),
    PERIOD,
    field(
        "received",
        "integer",
        "reports",
        "Citizen reports received in the period.",
    ),
    field(
        "resolved",
        "integer",
        "reports",
        "Of those, resolved (so far).",
    ),
    field(
        "on_time_pct",
        "number",
        "%",
        "Resolved within the category's time limit, percent of resolved.",
    ),
    field(
        "median_hours_to_resolve",
        "number",
        "h",
        "Median time from receipt to resolution of the resolved reports.",
    ),
    field(
        "avg_rating",
        "number",
        "1-5",
        "Mean citizen rating of the rated reports.",
    ),
    field(
        "rated_4plus_pct",
        "number",
        "%",
        "Rated 4 or 5, percent of rated reports.",
    ),
    field(
        "suppressed",
        "boolean",
        "",
        "True when fewer reports than the threshold fall in the cell: its figures are then empty.",
    ),
];

/// Columns of `air-quality`.
pub const AIR_QUALITY_FIELDS: &[Field] = &[
    AREA,
    field(
        "station",
        "string",
        "",
        "Monitoring station id, or `all` for the area (or city) as a whole.",
    ),
    PERIOD,
    field(
        "aqi",
        "integer",
        "VN_AQI",
        "Vietnamese air quality index (Decision 1459/QĐ-TCMT): hourly with the PM NowCast for `every=hour`, of the period's means otherwise; an area's is its worst station's (configurable).",
    ),
    field(
        "band",
        "string",
        "",
        "Index band: good, moderate, poor, bad, very_bad, hazardous.",
    ),
    field("pm25", "number", "µg/m³", "Mean PM2.5 in the period."),
    field("pm10", "number", "µg/m³", "Mean PM10 in the period."),
    field("no2", "number", "µg/m³", "Mean NO2 in the period."),
    field("so2", "number", "µg/m³", "Mean SO2 in the period."),
    field("co", "number", "µg/m³", "Mean CO in the period."),
    field("o3", "number", "µg/m³", "Mean O3 in the period."),
];

/// Columns of `dossier-kpis`.
pub const DOSSIER_KPI_FIELDS: &[Field] = &[
    AREA,
    PERIOD,
    field(
        "received",
        "integer",
        "dossiers",
        "Public-service dossiers received.",
    ),
    field(
        "received_online",
        "integer",
        "dossiers",
        "Of those, received online.",
    ),
    field(
        "received_level4",
        "integer",
        "dossiers",
        "Of those, for level-4 services.",
    ),
    field(
        "resolved",
        "integer",
        "dossiers",
        "Dossiers resolved in the period.",
    ),
    field(
        "resolved_on_time",
        "integer",
        "dossiers",
        "Of those, resolved on time.",
    ),
    field(
        "online_pct",
        "number",
        "%",
        "Received online, percent of received.",
    ),
    field(
        "level4_pct",
        "number",
        "%",
        "Level-4 services, percent of received.",
    ),
    field(
        "on_time_pct",
        "number",
        "%",
        "Resolved on time, percent of resolved.",
    ),
    field("online_target_pct", "number", "%", "Target of online_pct."),
    field("level4_target_pct", "number", "%", "Target of level4_pct."),
    field(
        "on_time_target_pct",
        "number",
        "%",
        "Target of on_time_pct.",
    ),
    field(
        "online_meets_target",
        "boolean",
        "",
        "online_pct reaches its target.",
    ),
    field(
        "level4_meets_target",
        "boolean",
        "",
        "level4_pct reaches its target.",
    ),
    field(
        "on_time_meets_target",
        "boolean",
        "",
        "on_time_pct reaches its target.",
    ),
];

/// Columns of `alerts-daily`.
pub const ALERTS_FIELDS: &[Field] = &[
    AREA,
    PERIOD,
    field(
        "kind",
        "string",
        "",
        "Rule type: threshold, rate_of_change, stale, report_burst or anomaly.",
    ),
    field(
        "severity",
        "string",
        "",
        "critical, major, minor or warning.",
    ),
    field("count", "integer", "alerts", "Alerts raised in the period."),
];

/// A published dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// Citizen-report KPIs per area, agency and period.
    ReportKpis,
    /// VN_AQI and pollutant means per area, station and period.
    AirQuality,
    /// Public-service dossier indicators per area and period.
    DossierKpis,
    /// Alert counts per area, rule type, severity and period.
    AlertsDaily,
}

impl Dataset {
    /// Every dataset, in catalog order.
    pub const ALL: [Dataset; 4] = [
        Dataset::ReportKpis,
        Dataset::AirQuality,
        Dataset::DossierKpis,
        Dataset::AlertsDaily,
    ];

    /// The dataset id used in paths.
    pub fn id(self) -> &'static str {
        match self {
            Dataset::ReportKpis => "report-kpis",
            Dataset::AirQuality => "air-quality",
            Dataset::DossierKpis => "dossier-kpis",
            Dataset::AlertsDaily => "alerts-daily",
        }
    }

    /// Parses a dataset id.
    pub fn parse(id: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.id() == id)
    }

    /// Its columns.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Dataset::ReportKpis => REPORT_KPI_FIELDS,
            Dataset::AirQuality => AIR_QUALITY_FIELDS,
            Dataset::DossierKpis => DOSSIER_KPI_FIELDS,
            Dataset::AlertsDaily => ALERTS_FIELDS,
        }
    }

    /// Bucketing when the query names none: hours for air quality, days otherwise.
    pub fn default_every(self) -> super::Every {
        match self {
            Dataset::AirQuality => super::Every::Hour,
            _ => super::Every::Day,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Dataset::ReportKpis => {
                "Citizen report handling and satisfaction (phản ánh hiện trường)"
            }
            Dataset::AirQuality => "Air quality: VN_AQI and pollutant means",
            Dataset::DossierKpis => "Public-service dossiers: online, level-4 and on-time shares",
            Dataset::AlertsDaily => "Operations alerts raised",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Dataset::ReportKpis => {
                "Per area, per agency and for the city: reports received and resolved, share resolved on time, median hours to resolve, average citizen rating and share rated 4 or more. Cells with fewer reports than the threshold are suppressed."
            }
            Dataset::AirQuality => {
                "Per area and per monitoring station: the VN_AQI and its band with the pollutant means behind it."
            }
            Dataset::DossierKpis => {
                "Per area and for the city: the Resolution 17/NQ-CP indicators of public-service dossiers against their targets."
            }
            Dataset::AlertsDaily => {
                "Per area and for the city: how many alerts the operations center raised, by rule type and severity. No alert text."
            }
        }
    }
}

/// The catalog (`catalog.json`): every dataset with its columns, licence, update frequency
/// and formats.
pub fn catalog() -> serde_json::Value {
    let datasets: Vec<serde_json::Value> = Dataset::ALL
        .into_iter()
        .map(|dataset| {
            serde_json::json!({
                "id": dataset.id(),
                "title": dataset.title(),
                "description": dataset.description(),
                "license": LICENSE,
                "update_frequency": "continuous",
                "default_every": dataset.default_every().as_str(),
                "fields": dataset.fields(),
                "formats": ["json", "csv"],
            })
        })
        .collect();
    serde_json::json!({
        "title": "IOC open data",
        "description": "Aggregate, non-personal figures of the city's Intelligent Operations Center.",
        "license": LICENSE,
        "datasets": datasets,
    })
}
