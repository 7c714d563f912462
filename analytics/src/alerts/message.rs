//! The Vietnamese text of an alert: a template per rule type, overridable per rule.
//!
//! Placeholders: `{area}` (area name), `{source}`, `{metric}` (Vietnamese label), `{value}`,
//! `{threshold}`, `{duration}`, `{reference}` (baseline mean), `{category}`.

use super::duration::vietnamese;
use super::rules::{Condition, Metric, Rule};
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

/// The default template of a rule type.
fn template(condition: &Condition) -> &'static str {
    match condition {
        Condition::Threshold { above: true, .. } => {
            "{metric} tại {source} ({area}) là {value}, vượt ngưỡng {threshold} liên tục {duration}"
        }
        Condition::Threshold { above: false, .. } => {
            "{metric} tại {source} ({area}) là {value}, dưới ngưỡng {threshold} liên tục {duration}"
        }
        Condition::RateOfChange { .. } => {
            "{metric} tại {source} ({area}) thay đổi {value} trong {duration} (ngưỡng {threshold})"
        }
        Condition::Stale { .. } => "Cảm biến {source} ({area}) không gửi dữ liệu quá {duration}",
        Condition::ReportBurst { .. } => {
            "{value} phản ánh \"{category}\" trong bán kính {radius} m trong {duration} tại {area}"
        }
        Condition::Anomaly { .. } => {
            "{metric} tại {area} là {value}, bất thường so với mức thường lệ {reference} của khung giờ này"
        }
    }
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

/// Renders the message of an alert raised by `rule` for `subject`.
pub fn render(rule: &Rule, firing: &Firing, area_name: &str, subject: &str) -> String {
    let (metric, duration_ms, category, radius) = match &rule.condition {
        Condition::Threshold { metric, for_ms, .. } => (metric_label(metric), *for_ms, "", 0.0),
        Condition::RateOfChange {
            metric, within_ms, ..
        } => (metric_label(metric), *within_ms, "", 0.0),
        Condition::Stale { after_ms, .. } => (String::new(), *after_ms, "", 0.0),
        Condition::ReportBurst {
            within_ms,
            radius_m,
            ..
        } => (
            String::new(),
            *within_ms,
            subject.split('@').next().unwrap_or(subject),
            *radius_m,
        ),
        Condition::Anomaly {
            metric, window_ms, ..
        } => (metric_label(metric), *window_ms, "", 0.0),
    };
    let text = rule
        .message
        .as_deref()
        .unwrap_or_else(|| template(&rule.condition));
    text.replace("{area}", area_name)
        .replace("{source}", firing.source.as_deref().unwrap_or(subject))
        .replace("{metric}", &metric)
        .replace("{value}", &number(firing.value))
        .replace("{threshold}", &number(firing.threshold))
        .replace("{duration}", &vietnamese(duration_ms))
        .replace(
            "{reference}",
            &firing.reference.map(number).unwrap_or_default(),
        )
        .replace(
            "{category}",
            ioc_ingest::report::catalog::service(category).map_or(category, |s| s.name),
        )
        .replace("{radius}", &number(radius))
}
