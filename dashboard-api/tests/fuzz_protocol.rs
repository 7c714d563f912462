//! Property tests of the live-view protocol's pure parts: the command parser never panics, and
//! for any two documents a client applying the server's merge patch to the old one gets exactly
//! the new one (the guarantee behind "snapshot + patches == REST data").

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_dashboard_api::patch::{apply, diff, normalize};
use ioc_dashboard_api::ws::parse_op;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-e]", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Cases per property: `default` in CI, `PROPTEST_CASES` for a longer run (see the README).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1024)))]

    #[test]
    fn a_patch_turns_the_old_document_into_the_new_one(old in json_value(), new in json_value()) {
        let (old, new) = (normalize(old), normalize(new));
        let mut client = old.clone();
        if let Some(patch) = diff(&old, &new) {
            apply(&mut client, &patch);
        }
        prop_assert_eq!(client, new);
    }

    #[test]
    fn the_command_parser_never_panics_on_text(text in ".{0,200}") {
        let _ = parse_op(&text);
    }

    #[test]
    fn the_command_parser_never_panics_on_json(value in json_value(), op in prop_oneof![Just("subscribe"), Just("unsubscribe"), Just("ping"), Just("x")]) {
        let mut command = json!({"op": op});
        if let (Value::Object(c), Value::Object(extra)) = (&mut command, value) {
            c.extend(extra);
        }
        let _ = parse_op(&command.to_string());
    }
}
