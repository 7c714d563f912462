//! RFC 4180 CSV of a dataset: a header row with the column names, then one line per row;
//! CRLF line ends, UTF-8, a field quoted when it holds a comma, a quote or a line break.

use ioc_analytics::open_data::Table;
use serde_json::Value;

/// The table as CSV text.
pub(crate) fn render(table: &Table) -> String {
    let mut out = String::new();
    let header: Vec<&str> = table.dataset.fields().iter().map(|f| f.name).collect();
    push_line(&mut out, header.into_iter().map(str::to_string));
    for row in &table.rows {
        push_line(&mut out, row.iter().map(cell));
    }
    out
}

fn push_line(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, text) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if text.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push_str("\r\n");
}

/// A value as CSV text: empty for null, the text itself for strings.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ioc_analytics::open_data::Dataset;
    use serde_json::json;

    #[test]
    fn quotes_only_what_needs_it_and_leaves_nulls_empty() {
        let table = Table {
            dataset: Dataset::AlertsDaily,
            rows: vec![vec![
                json!("ha-dong"),
                json!("2026-11-22T00:00:00+07:00"),
                json!("a \"b\", c"),
                Value::Null,
                json!(3),
            ]],
        };
        assert_eq!(
            render(&table),
            "area,period_start,kind,severity,count\r\nha-dong,2026-11-22T00:00:00+07:00,\"a \"\"b\"\", c\",,3\r\n"
        );
    }
}
