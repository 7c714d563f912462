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
}
