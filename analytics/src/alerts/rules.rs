//! The alert rules file (TOML): parsing, checking, and the rules compiled in.
//!
//! A bad file is refused at start with every problem listed, each naming the line of the rule
//! (or of the syntax error) and what is wrong, so an operator fixes it in one pass.

use super::duration::parse_duration_ms;
use ioc_ingest::Kind;
use serde::Deserialize;
use std::fmt;

/// The rules used when no `--rules` file is given (also the documented example).
pub const DEFAULT_RULES: &str = include_str!("default_rules.toml");

/// How bad an alert is, most urgent first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Life or property at risk now.
    Critical,
    /// Needs an operator soon.
    Major,
    /// Worth a look.
    Minor,
    /// Informational.
    Warning,
}

impl Severity {
    /// The snake_case name used in JSON and the rules file.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warning => "warning",
        }
    }
}

/// What a telemetry rule watches: a field of a kind, or a source's hourly VN_AQI.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A numeric field of one kind, e.g. `water_level.level_cm`.
    Field {
        /// The kind whose events carry the field.
        kind: Kind,
        /// The field name.
        field: String,
    },
    /// An air-quality station's hourly VN_AQI (NowCast for PM).
    Aqi,
}

impl Metric {
    /// Parses `aqi` or `<kind>.<field>`.
    fn parse(text: &str) -> Result<Metric, String> {
        if text == "aqi" {
            return Ok(Metric::Aqi);
        }
        let (kind, field) = text
            .split_once('.')
            .ok_or_else(|| format!("metric {text:?} is not `aqi` or `<kind>.<field>`"))?;
        let kind = Kind::parse(kind)
            .filter(|kind| Kind::TELEMETRY.contains(kind) && *kind != Kind::Dossier)
            .ok_or_else(|| format!("metric {text:?}: {kind:?} is not a sensor kind"))?;
        if field.is_empty() {
            return Err(format!("metric {text:?} has no field"));
        }
        Ok(Metric::Field {
            kind,
            field: field.to_string(),
        })
    }

    /// The kind whose events move this metric.
    pub fn kind(&self) -> Kind {
        match self {
            Metric::Field { kind, .. } => *kind,
            Metric::Aqi => Kind::AirQuality,
        }
    }

    /// The field name (`aqi` for the index).
    pub fn field(&self) -> &str {
        match self {
            Metric::Field { field, .. } => field,
            Metric::Aqi => "aqi",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Field { kind, field } => write!(f, "{kind}.{field}"),
            Metric::Aqi => f.write_str("aqi"),
        }
    }
}

/// Where a threshold lies.
#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// A fixed number.
    Fixed(f64),
    /// Another field of the same event (a gauge's own `danger_cm`).
    Field(String),
}

/// Which side of the baseline counts as anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Unusually high.
    Above,
    /// Unusually low.
    Below,
    /// Either.
    Both,
}

/// What a rule checks, with its parameters checked and in engine units (ms, metres).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The metric beyond a limit for a duration; clears back past `clear`.
    Threshold {
        /// What is watched, per source.
        metric: Metric,
        /// `true` for "above", `false` for "below".
        above: bool,
        /// The limit.
        limit: Limit,
        /// How far back past the limit the value must come to clear (hysteresis).
        clear_margin: f64,
        /// How long the value must stay beyond the limit before the alert is raised.
        for_ms: i64,
    },
    /// The metric rising by `rise` or more within `within_ms`.
    RateOfChange {
        /// What is watched, per source.
        metric: Metric,
        /// The rise that raises the alert (negative: a fall of that size).
        rise: f64,
        /// The look-back span.
        within_ms: i64,
        /// The change under which the alert clears, once it stayed there for `within_ms`.
        clear_rise: f64,
    },
    /// No reading from a source for `after_ms`.
    Stale {
        /// Kinds of sources watched.
        kinds: Vec<Kind>,
        /// Silence that raises the alert.
        after_ms: i64,
        /// Readings in a row that clear it (so a source that flickers raises one alert).
        recover_readings: u32,
    },
    /// At least `count` reports of one category within `radius_m` of each other in `within_ms`.
    ReportBurst {
        /// How many reports make a cluster.
        count: usize,
        /// Cluster radius in metres.
        radius_m: f64,
        /// Time span.
        within_ms: i64,
        /// Report categories watched (empty: all).
        categories: Vec<String>,
        /// The cluster clears when fewer than this many reports remain in its span.
        clear_count: usize,
    },
    /// The area's recent mean far from the same hour-of-week baseline.
    Anomaly {
        /// What is watched, per area.
        metric: Metric,
        /// Which side counts.
        direction: Direction,
        /// Deviation (in baseline standard deviations) that raises the alert.
        z: f64,
        /// Deviation under which it clears.
        clear_z: f64,
        /// Span of the recent mean.
        window_ms: i64,
        /// Weeks of baseline needed before the rule judges anything.
        min_weeks: u32,
        /// Floor of the baseline spread as a share of its mean, so a very regular past does
        /// not make every small change an anomaly.
        min_spread: f64,
    },
}

impl Condition {
    /// The rule type's name as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            Condition::Threshold { .. } => "threshold",
            Condition::RateOfChange { .. } => "rate_of_change",
            Condition::Stale { .. } => "stale",
            Condition::ReportBurst { .. } => "report_burst",
            Condition::Anomaly { .. } => "anomaly",
        }
    }
}

/// One checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, used in alerts and their ids.
    pub id: String,
    /// How urgent its alerts are.
    pub severity: Severity,
    /// What it checks.
    pub condition: Condition,
    /// Vietnamese message template overriding the default of its type.
    pub message: Option<String>,
}

/// A checked rules file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    /// The rules in file order.
    pub rules: Vec<Rule>,
}

/// Why a rules file was refused: every problem found, each with its line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct RulesError {
    /// The problems, in file order.
    pub problems: Vec<RuleProblem>,
}

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleProblem {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The file as written; checked into [`Rule`]s by [`RuleSet::parse`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
}

/// One `[[rule]]` table as written: every key of every type, checked per type afterwards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    severity: Severity,
    message: Option<String>,
    metric: Option<String>,
    above: Option<f64>,
    below: Option<f64>,
    above_field: Option<String>,
    below_field: Option<String>,
    clear: Option<f64>,
    clear_margin: Option<f64>,
    #[serde(rename = "for")]
    for_: Option<String>,
    rise: Option<f64>,
    clear_rise: Option<f64>,
    within: Option<String>,
    kinds: Option<Vec<String>>,
    after: Option<String>,
    recover_readings: Option<u32>,
    count: Option<usize>,
    clear_count: Option<usize>,
    radius_m: Option<f64>,
    categories: Option<Vec<String>>,
    direction: Option<Direction>,
    z: Option<f64>,
    clear_z: Option<f64>,
    window: Option<String>,
    min_weeks: Option<u32>,
    min_spread: Option<f64>,
}

impl RuleSet {
    /// The rules compiled in.
    pub fn defaults() -> RuleSet {
        // The compiled-in file is checked by a unit test; an empty set is the safe fallback.
        RuleSet::parse(DEFAULT_RULES).unwrap_or_default()
    }

    /// Parses and checks a rules file.
    pub fn parse(text: &str) -> Result<RuleSet, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|error| RulesError {
            problems: vec![RuleProblem {
                line: error.span().map_or(1, |span| line_of(text, span.start)),
                message: error.message().trim().to_string(),
            }],
        })?;
        let mut problems = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for spanned in file.rule {
            let line = line_of(text, spanned.span().start);
            let raw = spanned.into_inner();
            if rules.iter().any(|rule| rule.id == raw.id) {
                problems.push(RuleProblem {
                    line,
                    message: format!("rule id {:?} is used twice", raw.id),
                });
                continue;
            }
            match check(raw) {
                Ok(rule) => rules.push(rule),
                Err(message) => problems.push(RuleProblem { line, message }),
            }
        }
        if problems.is_empty() {
            Ok(RuleSet { rules })
        } else {
            Err(RulesError { problems })
        }
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// Checks one rule's keys against its type.
fn check(raw: RawRule) -> Result<Rule, String> {
    let id = raw.id.clone();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "rule id {id:?} must be non-empty letters, digits, '-' or '_'"
        ));
    }
    let context = |message: String| format!("rule {id:?}: {message}");
    let condition = match raw.kind.as_str() {
        "threshold" => threshold(&raw),
        "rate_of_change" => rate_of_change(&raw),
        "stale" => stale(&raw),
        "report_burst" => report_burst(&raw),
        "anomaly" => anomaly(&raw),
        other => Err(format!(
            "unknown type {other:?} (threshold, rate_of_change, stale, report_burst, anomaly)"
        )),
    }
    .map_err(context)?;
    Ok(Rule {
        id,
        severity: raw.severity,
        condition,
        message: raw.message,
    })
}

fn duration(value: &Option<String>, key: &str) -> Result<i64, String> {
    let text = value
        .as_deref()
        .ok_or_else(|| format!("`{key}` is required"))?;
    parse_duration_ms(text).map_err(|message| format!("`{key}`: {message}"))
}

fn optional_duration(value: &Option<String>, key: &str, default_ms: i64) -> Result<i64, String> {
    match value {
        Some(_) => duration(value, key),
        None => Ok(default_ms),
    }
}

fn metric(raw: &RawRule) -> Result<Metric, String> {
    Metric::parse(
        raw.metric
            .as_deref()
            .ok_or_else(|| "`metric` is required".to_string())?,
    )
}

fn finite(value: f64, key: &str) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("`{key}` must be a finite number"))
    }
}

fn threshold(raw: &RawRule) -> Result<Condition, String> {
    let metric = metric(raw)?;
    let (above, limit) = match (
        raw.above,
        raw.below,
        raw.above_field.as_ref(),
        raw.below_field.as_ref(),
    ) {
        (Some(value), None, None, None) => (true, Limit::Fixed(finite(value, "above")?)),
        (None, Some(value), None, None) => (false, Limit::Fixed(finite(value, "below")?)),
        (None, None, Some(field), None) => (true, Limit::Field(field.clone())),
        (None, None, None, Some(field)) => (false, Limit::Field(field.clone())),
        _ => {
            return Err(
                "give exactly one of `above`, `below`, `above_field`, `below_field`".into(),
            );
        }
    };
    let clear_margin = match (raw.clear, raw.clear_margin, &limit) {
        (Some(_), Some(_), _) => return Err("give `clear` or `clear_margin`, not both".into()),
        (Some(clear), None, Limit::Fixed(limit)) => {
            let clear = finite(clear, "clear")?;
            let margin = if above { limit - clear } else { clear - limit };
            if margin < 0.0 {
                return Err(format!(
                    "`clear` {clear} must lie on the normal side of the limit {limit}"
                ));
            }
            margin
        }
        (Some(_), None, Limit::Field(_)) => {
            return Err("with a field limit, use `clear_margin` instead of `clear`".into());
        }
        (None, Some(margin), _) if margin >= 0.0 && margin.is_finite() => margin,
        (None, Some(_), _) => return Err("`clear_margin` must be a number ≥ 0".into()),
        (None, None, _) => 0.0,
    };
    Ok(Condition::Threshold {
        metric,
        above,
        limit,
        clear_margin,
        for_ms: optional_duration(&raw.for_, "for", 0)?,
    })
}

fn rate_of_change(raw: &RawRule) -> Result<Condition, String> {
    let metric = metric(raw)?;
    let rise = finite(raw.rise.ok_or("`rise` is required")?, "rise")?;
    if rise == 0.0 {
        return Err("`rise` must not be 0".into());
    }
    let clear_rise = match raw.clear_rise {
        Some(value) => finite(value, "clear_rise")?,
        None => rise / 2.0,
    };
    if clear_rise.abs() > rise.abs() || clear_rise.signum() != rise.signum() {
        return Err("`clear_rise` must lie between 0 and `rise`".into());
    }
    let within_ms = duration(&raw.within, "within")?;
    Ok(Condition::RateOfChange {
        metric,
        rise,
        within_ms,
        clear_rise,
    })
}

fn stale(raw: &RawRule) -> Result<Condition, String> {
    let kinds = match &raw.kinds {
        None => vec![
            Kind::Traffic,
            Kind::AirQuality,
            Kind::WaterLevel,
            Kind::Noise,
        ],
        Some(names) => names
            .iter()
            .map(|name| {
                Kind::parse(name)
                    .filter(|kind| Kind::TELEMETRY.contains(kind))
                    .ok_or_else(|| format!("`kinds`: {name:?} is not a telemetry kind"))
            })
            .collect::<Result<_, _>>()?,
    };
    let recover_readings = raw.recover_readings.unwrap_or(3).max(1);
    Ok(Condition::Stale {
        kinds,
        after_ms: duration(&raw.after, "after")?,
        recover_readings,
    })
}

fn report_burst(raw: &RawRule) -> Result<Condition, String> {
    let count = raw.count.ok_or("`count` is required")?;
    if count < 2 {
        return Err("`count` must be at least 2".into());
    }
    let radius_m = finite(raw.radius_m.ok_or("`radius_m` is required")?, "radius_m")?;
    if radius_m <= 0.0 {
        return Err("`radius_m` must be positive".into());
    }
    let clear_count = raw.clear_count.unwrap_or(count.div_ceil(2));
    if clear_count == 0 || clear_count > count {
        return Err("`clear_count` must lie between 1 and `count`".into());
    }
    Ok(Condition::ReportBurst {
        count,
        radius_m,
        within_ms: duration(&raw.within, "within")?,
        categories: raw.categories.clone().unwrap_or_default(),
        clear_count,
    })
}

fn anomaly(raw: &RawRule) -> Result<Condition, String> {
    let metric = metric(raw)?;
    if metric == Metric::Aqi {
        return Err("anomaly rules watch a field, not `aqi`".into());
    }
    let z = finite(raw.z.unwrap_or(3.0), "z")?;
    if z <= 0.0 {
        return Err("`z` must be positive".into());
    }
    let clear_z = finite(raw.clear_z.unwrap_or(z - 1.0), "clear_z")?;
    if clear_z < 0.0 || clear_z > z {
        return Err("`clear_z` must lie between 0 and `z`".into());
    }
    Ok(Condition::Anomaly {
        metric,
        direction: raw.direction.unwrap_or(Direction::Both),
        z,
        clear_z,
        window_ms: optional_duration(&raw.window, "window", 15 * 60_000)?,
        min_weeks: raw.min_weeks.unwrap_or(2).max(1),
        min_spread: finite(raw.min_spread.unwrap_or(0.1), "min_spread")?.max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_rules_parse() {
        let rules = RuleSet::parse(DEFAULT_RULES).expect("default rules");
        assert_eq!(rules.rules.len(), 10);
        assert_eq!(RuleSet::defaults(), rules);
    }

    #[test]
    fn a_threshold_rule_is_read_in_engine_units() {
        let rules = RuleSet::parse(
            "[[rule]]\nid = \"pm\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 150\nclear = 130\nfor = \"10m\"\nseverity = \"major\"\n",
        )
        .expect("valid");
        assert_eq!(
            rules.rules[0].condition,
            Condition::Threshold {
                metric: Metric::Field {
                    kind: Kind::AirQuality,
                    field: "pm25".into()
                },
                above: true,
                limit: Limit::Fixed(150.0),
                clear_margin: 20.0,
                for_ms: 600_000,
            }
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error = RuleSet::parse("[[rule]]\nid = \"a\"\ntype = = \"x\"\n").expect_err("bad");
        assert_eq!(error.problems.len(), 1);
        assert_eq!(error.problems[0].line, 3);
    }

    #[test]
    fn every_bad_rule_is_listed_with_the_line_of_its_table() {
        let text = "\
[[rule]]
id = \"ok\"
type = \"stale\"
after = \"5m\"
severity = \"warning\"

[[rule]]
id = \"no-limit\"
type = \"threshold\"
metric = \"noise.laeq\"
severity = \"minor\"

[[rule]]
id = \"bad-type\"
type = \"sometimes\"
severity = \"minor\"

[[rule]]
id = \"ok\"
type = \"stale\"
after = \"5m\"
severity = \"warning\"
";
        let error = RuleSet::parse(text).expect_err("bad");
        let lines: Vec<usize> = error.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![7, 13, 18]);
        assert!(error.problems[0].message.contains("exactly one of `above`"));
        assert!(
            error.problems[1]
                .message
                .contains("unknown type \"sometimes\"")
        );
        assert!(error.problems[2].message.contains("used twice"));
    }

    #[test]
    fn unknown_keys_and_severities_are_refused() {
        let error = RuleSet::parse(
            "[[rule]]\nid = \"a\"\ntype = \"stale\"\nafter = \"5m\"\nseverity = \"urgent\"\n",
        )
        .expect_err("bad severity");
        assert_eq!(error.problems[0].line, 5);
        let error = RuleSet::parse(
            "[[rule]]\nid = \"a\"\ntype = \"stale\"\nafter = \"5m\"\nseverity = \"minor\"\nthreshold = 3\n",
        )
        .expect_err("unknown key");
        assert!(error.problems[0].message.contains("threshold"), "{error}");
    }

    #[test]
    fn bad_durations_and_metrics_are_explained() {
        let error = RuleSet::parse(
            "[[rule]]\nid = \"a\"\ntype = \"threshold\"\nmetric = \"weather.temp\"\nabove = 1\nseverity = \"minor\"\n",
        )
        .expect_err("bad metric");
        assert!(
            error.problems[0].message.contains("not a sensor kind"),
            "{error}"
        );
        let error = RuleSet::parse(
            "[[rule]]\nid = \"a\"\ntype = \"stale\"\nafter = \"five minutes\"\nseverity = \"minor\"\n",
        )
        .expect_err("bad duration");
        assert!(error.problems[0].message.contains("`after`"), "{error}");
    }
}
