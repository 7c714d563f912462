//! The alert rules file (TOML): parsing, checking, and the rules compiled in.
//!
//! Each `[[rule]]` table holds the keys every rule has (`id`, `type`, `severity`, `message`)
//! and the keys of its type, which are read into that type's spec (conditions/) and refused
//! there when the type has no such key. A bad file is refused at start with every problem
//! listed, each naming the line (of the rule, of the offending key, or of the syntax error) and
//! what is wrong, so an operator fixes it in one pass (README.md "Alerts").

use super::conditions::RuleSpec;
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

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

/// One checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, used in alerts and their ids.
    pub id: String,
    /// How urgent its alerts are.
    pub severity: Severity,
    /// Its type's keys, checked.
    pub spec: RuleSpec,
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

/// The keys every rule has, whatever its type.
#[derive(Debug, Deserialize)]
struct Common {
    id: String,
    #[serde(rename = "type")]
    type_name: String,
    severity: Severity,
    message: Option<String>,
}

impl Common {
    /// The keys read into [`Common`]; every other key of a rule is its type's.
    const KEYS: [&'static str; 4] = ["id", "type", "severity", "message"];
}

/// What is wrong with one rule, and where: `None` for the rule's own table.
type Refusal = (Option<Range<usize>>, String);

impl RuleSet {
    /// The rules compiled in.
    pub fn defaults() -> RuleSet {
        // The compiled-in file is checked by a unit test; an empty set is the safe fallback.
        RuleSet::parse(DEFAULT_RULES).unwrap_or_default()
    }

    /// Parses and checks a rules file.
    pub fn parse(text: &str) -> Result<RuleSet, RulesError> {
        let file = DeTable::parse(text).map_err(|error| RulesError {
            problems: vec![RuleProblem {
                line: error.span().map_or(1, |span| line_of(text, span.start)),
                message: error.message().trim().to_string(),
            }],
        })?;
        let mut problems = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for (key, value) in file.into_inner() {
            if key.get_ref() != "rule" {
                problems.push(RuleProblem {
                    line: line_of(text, key.span().start),
                    message: format!(
                        "unknown key `{}`: a rules file holds `[[rule]]` tables only",
                        key.get_ref()
                    ),
                });
                continue;
            }
            let line = line_of(text, value.span().start);
            let DeValue::Array(tables) = value.into_inner() else {
                problems.push(RuleProblem {
                    line,
                    message: "`rule` must be `[[rule]]` tables".into(),
                });
                continue;
            };
            for table in tables {
                let line = line_of(text, table.span().start);
                match read(table, &rules) {
                    Ok(rule) => rules.push(rule),
                    Err((at, message)) => problems.push(RuleProblem {
                        line: at.map_or(line, |span| line_of(text, span.start)),
                        message,
                    }),
                }
            }
        }
        // A stray key may come before the rules; the rules themselves are in file order.
        problems.sort_by_key(|problem| problem.line);
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

/// Reads and checks one `[[rule]]` table; `earlier` are the rules read before it.
fn read(table: Spanned<DeValue<'_>>, earlier: &[Rule]) -> Result<Rule, Refusal> {
    let span = table.span();
    let DeValue::Table(keys) = table.into_inner() else {
        return Err((None, "a rule must be a table".into()));
    };
    let named = keys
        .get("id")
        .and_then(|id| id.get_ref().as_str())
        .map(|id| format!("rule {id:?}: "))
        .unwrap_or_default();
    let (common, typed): (DeTable<'_>, DeTable<'_>) = keys
        .into_iter()
        .partition(|(key, _)| Common::KEYS.contains(&key.get_ref().as_ref()));
    let common = Common::deserialize(deserializer(common, &span))
        .map_err(|error| (error.span(), format!("{named}{}", explain(&error))))?;
    let id = common.id;
    if earlier.iter().any(|rule| rule.id == id) {
        return Err((None, format!("rule id {id:?} is used twice")));
    }
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err((
            None,
            format!("rule id {id:?} must be non-empty letters, digits, '-' or '_'"),
        ));
    }
    let type_name = common.type_name;
    let spec = RuleSpec::read(&type_name, deserializer(typed, &span))
        .ok_or_else(|| {
            (
                None,
                format!(
                    "rule {id:?}: unknown type {type_name:?} ({})",
                    RuleSpec::TYPES.join(", ")
                ),
            )
        })?
        .map_err(|error| {
            (
                error.span(),
                format!("rule {id:?} ({type_name}): {}", explain(&error)),
            )
        })?;
    spec.condition()
        .map_err(|message| (None, format!("rule {id:?}: {message}")))?;
    Ok(Rule {
        id,
        severity: common.severity,
        spec,
        message: common.message,
    })
}

/// A deserializer of some of a rule's keys; an error without a key of its own lies at the
/// rule's table.
fn deserializer<'i>(keys: DeTable<'i>, table: &Range<usize>) -> ValueDeserializer<'i> {
    ValueDeserializer::from(Spanned::new(table.clone(), DeValue::Table(keys)))
}

/// A deserialization error on one line, with the key it is about when that is not in its
/// message (`invalid type: string "20", expected f64 in `rise``).
fn explain(error: &toml::de::Error) -> String {
    error.to_string().trim().replace('\n', " ")
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

    /// A valid rule of each type, its table on line 1, without its last key on line 6.
    const ONE_OF_EACH: [(&str, &str); 5] = [
        (
            "threshold",
            "metric = \"noise.laeq\"\nabove = 70\nfor = \"15m\"\n",
        ),
        (
            "rate_of_change",
            "metric = \"water_level.level_cm\"\nrise = 20\nwithin = \"10m\"\n",
        ),
        (
            "stale",
            "kinds = [\"noise\"]\nafter = \"15m\"\nrecover_readings = 3\n",
        ),
        (
            "report_burst",
            "count = 5\nradius_m = 300\nwithin = \"30m\"\n",
        ),
        (
            "anomaly",
            "metric = \"traffic.speed\"\ndirection = \"below\"\nwindow = \"15m\"\n",
        ),
    ];

    /// A rule of `type_name` with its keys and then `extra` on line 8.
    fn rule_with(type_name: &str, keys: &str, extra: &str) -> String {
        format!(
            "[[rule]]\nid = \"r\"\ntype = \"{type_name}\"\nseverity = \"minor\"\n{keys}{extra}\n"
        )
    }

    #[test]
    fn a_key_no_type_has_is_refused_with_its_line_and_the_type() {
        for (type_name, keys) in ONE_OF_EACH {
            assert!(
                RuleSet::parse(&rule_with(type_name, keys, "")).is_ok(),
                "{type_name}"
            );
            let error = RuleSet::parse(&rule_with(type_name, keys, "colour = \"red\""))
                .expect_err("unknown key");
            assert_eq!(error.problems.len(), 1, "{error}");
            assert_eq!(error.problems[0].line, 8, "{error}");
            let message = &error.problems[0].message;
            assert!(message.contains("`colour`"), "{message}");
            assert!(
                message.contains(&format!("rule \"r\" ({type_name})")),
                "{message}"
            );
        }
    }

    #[test]
    fn a_key_of_another_type_is_refused_for_this_one() {
        let borrowed = [
            ("threshold", "within = \"5m\"", "`within`"),
            ("rate_of_change", "for = \"5m\"", "`for`"),
            ("stale", "metric = \"noise.laeq\"", "`metric`"),
            ("report_burst", "direction = \"above\"", "`direction`"),
            ("anomaly", "above = 3", "`above`"),
        ];
        for ((type_name, keys), (expected, extra, key)) in ONE_OF_EACH.into_iter().zip(borrowed) {
            assert_eq!(type_name, expected);
            let error =
                RuleSet::parse(&rule_with(type_name, keys, extra)).expect_err("borrowed key");
            assert_eq!(error.problems[0].line, 8, "{error}");
            let message = &error.problems[0].message;
            assert!(message.contains(key), "{message}");
            assert!(message.contains(&format!("({type_name})")), "{message}");
        }
    }

    #[test]
    fn every_refused_key_in_the_file_is_listed() {
        let text = format!(
            "{}\n{}",
            rule_with("stale", ONE_OF_EACH[2].1, "within = \"5m\""),
            rule_with("threshold", ONE_OF_EACH[0].1, "rise = 3").replace("\"r\"", "\"s\""),
        );
        let error = RuleSet::parse(&text).expect_err("two bad keys");
        let lines: Vec<usize> = error.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![8, 17], "{error}");
    }

    #[test]
    fn a_wrong_value_names_its_key_and_line() {
        let error = RuleSet::parse(&rule_with(
            "rate_of_change",
            "metric = \"water_level.level_cm\"\nrise = \"20\"\nwithin = \"10m\"\n",
            "",
        ))
        .expect_err("a string rise");
        assert_eq!(error.problems[0].line, 6, "{error}");
        assert!(error.problems[0].message.contains("`rise`"), "{error}");
    }

    #[test]
    fn keys_outside_the_rules_are_refused() {
        let error = RuleSet::parse(&format!(
            "{}rules = 3\n",
            rule_with("stale", ONE_OF_EACH[2].1, "")
        ))
        .expect_err("a key of the rule");
        // `rules = 3` after a `[[rule]]` header belongs to that rule.
        assert!(error.problems[0].message.contains("`rules`"), "{error}");
        let error = RuleSet::parse("title = \"x\"\n\n[[rule]]\nid = \"a\"\ntype = \"stale\"\nafter = \"5m\"\nseverity = \"minor\"\n")
            .expect_err("a top-level key");
        assert_eq!(error.problems[0].line, 1, "{error}");
        assert!(error.problems[0].message.contains("`title`"), "{error}");
    }

    /// `spec` written back to TOML holds the same keys and values as `table` (less the common
    /// keys) and reads back into the same spec.
    fn round_trips<S>(spec: &S, table: &toml::Table)
    where
        S: serde::Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        let written = toml::Table::try_from(spec).expect("serializable");
        let mut expected = table.clone();
        for key in Common::KEYS {
            expected.remove(key);
        }
        let keys = |table: &toml::Table| table.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&written), keys(&expected));
        for (key, value) in &expected {
            // `above = 200` is written back as `200.0`: the same number.
            let same = match (value.as_float(), value.as_integer(), &written[key]) {
                (_, Some(integer), toml::Value::Float(float)) => integer as f64 == *float,
                (Some(a), _, toml::Value::Float(b)) => a == *b,
                (_, _, other) => other == value,
            };
            assert!(same, "{key}: {value} written as {}", written[key]);
        }
        let text = toml::to_string(spec).expect("writable");
        let read: S = toml::from_str(&text).expect("readable");
        assert_eq!(&read, spec);
    }

    #[test]
    fn each_spec_round_trips_the_compiled_in_rules() {
        let rules = RuleSet::parse(DEFAULT_RULES).expect("default rules");
        let file: toml::Table = toml::from_str(DEFAULT_RULES).expect("toml");
        let tables = file["rule"].as_array().expect("[[rule]]");
        assert_eq!(tables.len(), rules.rules.len());
        let mut types: Vec<&str> = Vec::new();
        for (rule, table) in rules.rules.iter().zip(tables) {
            let table = table.as_table().expect("a table");
            assert_eq!(table["type"].as_str(), Some(rule.spec.type_name()));
            match &rule.spec {
                RuleSpec::Threshold(spec) => round_trips(spec, table),
                RuleSpec::RateOfChange(spec) => round_trips(spec, table),
                RuleSpec::Stale(spec) => round_trips(spec, table),
                RuleSpec::ReportBurst(spec) => round_trips(spec, table),
                RuleSpec::Anomaly(spec) => round_trips(spec, table),
            }
            types.push(rule.spec.type_name());
        }
        for type_name in RuleSpec::TYPES {
            assert!(
                types.contains(&type_name),
                "no {type_name} rule compiled in"
            );
        }
    }
}
