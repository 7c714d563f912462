//! XML rendering of Open311 answers: a JSON value written as elements, with text escaped so
//! that any Unicode text (Vietnamese included) reads back byte for byte.

use serde_json::Value;

/// The element name of one item of a list called `list` (`services` → `service`).
fn item_name(list: &str) -> &str {
    match list {
        "services" => "service",
        "service_requests" => "request",
        "errors" => "error",
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        "values" => "value",
        "history" => "entry",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

/// Escapes text for element content and attribute values. `\r` is written as a character
/// reference because XML parsers turn a literal one into `\n`; characters XML 1.0 cannot hold
/// at all (other control characters, U+FFFE, U+FFFF) are dropped.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// Writes `value` as the content of element `name`.
fn element(name: &str, value: &Value, out: &mut String) {
    match value {
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Value::Array(items) => {
            open_tag(name, out);
            let item = item_name(name);
            for value in items {
                element(item, value, out);
            }
            close_tag(name, out);
        }
        Value::Object(map) => {
            open_tag(name, out);
            for (key, value) in map {
                element(key, value, out);
            }
            close_tag(name, out);
        }
        Value::String(text) => {
            open_tag(name, out);
            escape(text, out);
            close_tag(name, out);
        }
        Value::Bool(_) | Value::Number(_) => {
            open_tag(name, out);
            out.push_str(&value.to_string());
            close_tag(name, out);
        }
    }
}

/// A whole document whose root element is `root`; a list root names its items by
/// [`item_name`] (`service_requests` → `request`).
pub fn document(root: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    element(root, value, &mut out);
    out
}

/// Writes `<name>`.
fn open_tag(name: &str, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

/// Writes `</name>`.
fn close_tag(name: &str, out: &mut String) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_name_their_items_and_text_is_escaped() {
        let doc = document(
            "service_requests",
            &json!([{"service_request_id": "pa-1", "description": "<b>Ngập</b> & \"úng\"\r\n", "lat": 21.0, "media_url": null}]),
        );
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>\
             <service_request_id>pa-1</service_request_id>\
             <description>&lt;b&gt;Ngập&lt;/b&gt; &amp; &quot;úng&quot;&#13;\n</description>\
             <lat>21.0</lat><media_url/></request></service_requests>"
        );
    }

    #[test]
    fn characters_xml_cannot_hold_are_dropped() {
        let mut out = String::new();
        escape("a\u{1}b\u{FFFF}c", &mut out);
        assert_eq!(out, "abc");
    }
}
