//! Client commands and server frames, as JSON text frames.

use serde::Deserialize;
use serde_json::{Value, json};

/// A command from the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientOp {
    /// Start receiving a view.
    Subscribe {
        /// Client-chosen subscription id, echoed in every frame.
        id: String,
        /// View name.
        view: String,
        /// Area (area view, or a filter).
        #[serde(default)]
        area: Option<String>,
        /// Report status filter.
        #[serde(default)]
        status: Option<String>,
        /// Report category filter.
        #[serde(default)]
        service_code: Option<String>,
    },
    /// Stop a subscription.
    Unsubscribe {
        /// The subscription id.
        id: String,
    },
    /// Liveness check; answered with a pong.
    Ping,
}

/// Longest subscription id accepted.
const MAX_ID_LEN: usize = 128;

/// Parses a text frame; the error is the message of a `bad_request` frame, with the id when one
/// could be read.
pub fn parse_op(text: &str) -> Result<ClientOp, (Option<String>, String)> {
    let op: ClientOp = serde_json::from_str(text).map_err(|error| {
        let id = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
        (id, format!("cannot read command: {error}"))
    })?;
    // `deny_unknown_fields` does not reach a tagged variant without fields.
    if op == ClientOp::Ping
        && serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.as_object().map(serde_json::Map::len))
            .is_some_and(|fields| fields > 1)
    {
        return Err((None, "`ping` takes no other field".into()));
    }
    if let ClientOp::Subscribe { id, .. } | ClientOp::Unsubscribe { id } = &op
        && (id.is_empty() || id.len() > MAX_ID_LEN)
    {
        return Err((None, format!("`id` must be 1 to {MAX_ID_LEN} bytes")));
    }
    Ok(op)
}

/// An error frame.
pub fn error_frame(id: Option<&str>, code: &str, message: &str) -> Value {
    let mut frame = json!({"type": "error", "code": code, "message": message});
    if let (Some(id), Value::Object(map)) = (id, &mut frame) {
        map.insert("id".into(), json!(id));
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse_op(r#"{"op":"subscribe","id":"s2","view":"area","area":"hoan-kiem"}"#),
            Ok(ClientOp::Subscribe {
                id: "s2".into(),
                view: "area".into(),
                area: Some("hoan-kiem".into()),
                status: None,
                service_code: None
            })
        );
        assert_eq!(parse_op(r#"{"op":"ping"}"#), Ok(ClientOp::Ping));
        assert_eq!(
            parse_op(r#"{"op":"unsubscribe","id":"s1"}"#),
            Ok(ClientOp::Unsubscribe { id: "s1".into() })
        );
    }

    #[test]
    fn bad_commands_keep_their_id_when_readable() {
        assert!(
            matches!(parse_op(r#"{"op":"subscribe","id":"s9"}"#), Err((Some(id), _)) if id == "s9")
        );
        assert!(matches!(parse_op("not json"), Err((None, _))));
        assert!(matches!(parse_op(r#"{"op":"dance"}"#), Err((None, _))));
        assert!(matches!(parse_op(r#"{"op":"ping","x":1}"#), Err((None, _))));
    }
}
