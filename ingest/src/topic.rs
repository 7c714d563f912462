//! The MQTT topic scheme: `{root}/{area}/{kind}/{source_id}` for telemetry and dossiers,
//! `{root}/{area}/report` for citizen reports; `{area}` may be `_` when the payload has
//! coordinates (docs/events.md "Topics").

use crate::event::Kind;

/// The topic level that stands for "area from the payload or its coordinates".
pub const ANY_AREA: &str = "_";

/// Topic on which the engine publishes every rejected message.
pub const DEADLETTER_TOPIC: &str = "ioc/deadletter";

/// Where alert transitions are published (docs/events.md "Topics"), one JSON alert per message.
pub const ALERTS_TOPIC: &str = "ioc/alerts";

/// What the topic of an incoming message says about it, borrowed from the topic's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo<'a> {
    /// The area named by the topic, `None` for `_`.
    pub area: Option<&'a str>,
    /// The kind named by the topic.
    pub kind: Kind,
    /// The source id level, absent on report topics.
    pub source: Option<&'a str>,
}

/// Why a topic could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not under the engine's root or the wrong number of levels.
    #[error("topic {0:?} does not follow {{root}}/{{area}}/{{kind}}/{{source}}")]
    Shape(String),
    /// The kind level names no known kind.
    #[error("unknown kind {0:?} in topic")]
    UnknownKind(String),
}

/// The engine's topic layout under one root (`city` by default, `--topic-root` to change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicScheme {
    root: String,
}

impl TopicScheme {
    /// A scheme under `root`, which must be a single topic level.
    pub fn new(root: impl Into<String>) -> Self {
        Self { root: root.into() }
    }

    /// The root level.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The filter that receives everything the engine ingests.
    pub fn subscription_filter(&self) -> String {
        format!("{}/#", self.root)
    }

    /// The topic a telemetry event of `kind` from `source` in `area` is published on.
    pub fn telemetry_topic(&self, area: &str, kind: Kind, source: &str) -> String {
        format!("{}/{area}/{kind}/{source}", self.root)
    }

    /// The topic citizen reports for `area` are published on.
    pub fn report_topic(&self, area: &str) -> String {
        format!("{}/{area}/report", self.root)
    }

    /// Reads area, kind and source from a topic.
    pub fn parse<'a>(&self, topic: &'a str) -> Result<TopicInfo<'a>, TopicError> {
        let shape = || TopicError::Shape(topic.to_string());
        let rest = strip_root(topic, &self.root)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(shape)?;
        let mut levels = Some(rest);
        let (Some(area), Some(kind_name), source, None) = (
            next_level(&mut levels),
            next_level(&mut levels),
            next_level(&mut levels),
            next_level(&mut levels),
        ) else {
            return Err(shape());
        };
        if area.is_empty() || source.is_some_and(str::is_empty) {
            return Err(shape());
        }
        let kind =
            Kind::parse(kind_name).ok_or_else(|| TopicError::UnknownKind(kind_name.to_string()))?;
        Ok(TopicInfo {
            area: (area != ANY_AREA).then_some(area),
            kind,
            source,
        })
    }
}

/// `topic` after `root`, when it starts with it. The root is a word or two, compared byte by
/// byte in place: `strip_prefix` called `memcmp` for every message's topic (B2's profile).
fn strip_root<'a>(topic: &'a str, root: &str) -> Option<&'a str> {
    let starts = topic.len() >= root.len()
        && topic
            .bytes()
            .zip(root.bytes())
            .all(|(have, want)| have == want);
    // The root is whole text, so the topic's byte after it starts a character.
    starts.then(|| topic.get(root.len()..)).flatten()
}

/// The next level of a topic, as `split('/')` gives them; `rest` is what follows, `None`
/// after the last level. Searching bytes for the separator costs less than `split`'s general
/// pattern machinery on levels this short, and every message's topic is read.
fn next_level<'a>(rest: &mut Option<&'a str>) -> Option<&'a str> {
    let text = (*rest)?;
    match text.bytes().position(|byte| byte == b'/') {
        Some(at) => {
            *rest = text.get(at + 1..);
            text.get(..at)
        }
        None => {
            *rest = None;
            Some(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_and_report_topics_parse() {
        let scheme = TopicScheme::new("city");
        assert_eq!(
            scheme.parse("city/hoan-kiem/air_quality/hn-aq-0042"),
            Ok(TopicInfo {
                area: Some("hoan-kiem"),
                kind: Kind::AirQuality,
                source: Some("hn-aq-0042")
            })
        );
        assert_eq!(
            scheme.parse("city/_/report"),
            Ok(TopicInfo {
                area: None,
                kind: Kind::Report,
                source: None
            })
        );
    }

    #[test]
    fn a_root_is_stripped_as_strip_prefix_strips_it() {
        for root in ["city", "thành-phố", "c", ""] {
            for topic in [
                "city/a/noise/x",
                "cit",
                "",
                "thành-phố/a/noise/x",
                "thành-phốx",
                "thành",
                "c/a",
                "xcity",
            ] {
                assert_eq!(
                    strip_root(topic, root),
                    topic.strip_prefix(root),
                    "{root} {topic}"
                );
            }
        }
    }

    #[test]
    fn foreign_roots_and_unknown_kinds_are_refused() {
        let scheme = TopicScheme::new("city");
        assert!(matches!(
            scheme.parse("town/a/noise/x"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            scheme.parse("cityx/a/noise/x"),
            Err(TopicError::Shape(_))
        ));
        for shape in [
            "city/a",
            "city/a/noise/x/y",
            "city//noise/x",
            "city/a/noise/",
        ] {
            assert!(
                matches!(scheme.parse(shape), Err(TopicError::Shape(_))),
                "{shape}"
            );
        }
        assert_eq!(
            scheme.parse("city/a/radiation/x"),
            Err(TopicError::UnknownKind("radiation".into()))
        );
    }

    #[test]
    fn levels_are_read_as_split_reads_them() {
        for topic in [
            "",
            "/",
            "//",
            "a",
            "a/",
            "/a",
            "a//b",
            "hà-nội/khí/x",
            "a/b/c/d/e",
            "ő/",
        ] {
            let mut rest = Some(topic);
            let mut levels = Vec::new();
            while let Some(level) = next_level(&mut rest) {
                levels.push(level);
            }
            assert_eq!(levels, topic.split('/').collect::<Vec<_>>(), "{topic:?}");
        }
    }
}
