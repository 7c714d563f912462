//! The Vietnamese text of an alert: a template per rule type (each condition gives its own
//! [`Wording`]), overridable per rule.
//!
//! Placeholders: `{area}` (area name), `{source}`, `{metric}` (Vietnamese label), `{value}`,
//! `{threshold}`, `{duration}`, `{reference}` (baseline mean), `{category}`, `{radius}`.

use super::duration::vietnamese;
use super::metric::Metric;
use super::trackers::Firing;

/// The Vietnamese label of a metric.
pub fn metric_label(metric: &Metric) -> String {
    let label = match metric.field() {
        "aqi" => "Chỉ số chất lượng không khí (VN_AQI)",
        "pm25" => "Nồng độ bụi PM2.5",
        "pm10" => "Nồng độ bụi PM10",
        "no2" => "Nồng độ NO2",
        "so2" => "Nồng độ SO2",
        "co" => "Nồng độ CO",
        "o3" => "Nồng độ O3",
        "level_cm" => "Mực nước",
        "speed" => "Tốc độ giao thông",
        "intensity" => "Lưu lượng giao thông",
        "occupancy" => "Mật độ chiếm dụng làn",
        "laeq" => "Độ ồn LAeq",
        "lamax" => "Độ ồn cực đại",
        other => return other.to_string(),
    };
    label.to_string()
}

/// What an alert's text says about its rule, besides the numbers of its firing.
#[derive(Debug, Clone)]
pub struct Wording<'a> {
    /// The rule type's default template, used when the rule has no `message` of its own.
    pub template: &'static str,
    /// `{metric}`: the metric watched, if the rule watches one.
    pub metric: Option<&'a Metric>,
    /// `{duration}`: the rule's span, ms.
    pub duration_ms: i64,
    /// `{category}`: the report category (service code), if any.
    pub category: &'a str,
    /// `{radius}`: the cluster radius, metres.
    pub radius_m: f64,
}

/// Numbers as an operator reads them: no trailing `.0`, at most one decimal.
fn number(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// Renders the message of an alert about `subject`: the rule's own `message` template, or else
/// its type's.
pub fn render(
    message: Option<&str>,
    wording: &Wording<'_>,
    firing: &Firing,
    area_name: &str,
    subject: &str,
) -> String {
    let metric = wording.metric.map(metric_label).unwrap_or_default();
    let category = wording.category;
    let text = message.unwrap_or(wording.template);
    text.replace("{area}", area_name)
        .replace("{source}", firing.source.as_deref().unwrap_or(subject))
        .replace("{metric}", &metric)
        .replace("{value}", &number(firing.value))
        .replace("{threshold}", &number(firing.threshold))
        .replace("{duration}", &vietnamese(wording.duration_ms))
        .replace(
            "{reference}",
            &firing.reference.map(number).unwrap_or_default(),
        )
        .replace(
            "{category}",
            ioc_ingest::report::catalog::service(category).map_or(category, |s| s.name),
        )
        .replace("{radius}", &number(wording.radius_m))
}
