//! Prometheus text exposition: one helper so every metric is written the same way.

use std::fmt::{Display, Write};

/// Appends one unlabelled metric with its `# HELP` and `# TYPE` lines.
pub fn write_metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// Appends one metric with labels: `# HELP`, `# TYPE`, then a sample per row, each row's labels
/// as `name="value"` pairs (values are label-escaped).
pub fn write_labelled(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    rows: &[(Vec<(&str, &str)>, String)],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in rows {
        let labels: Vec<String> = labels
            .iter()
            .map(|(key, text)| format!("{key}=\"{}\"", escape_label(text)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// Appends a histogram: cumulative `_bucket{le=…}` samples (the last `+Inf`), `_sum`, `_count`.
pub fn write_histogram(
    out: &mut String,
    name: &str,
    help: &str,
    buckets: &[(f64, u64)],
    sum: f64,
    count: u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (bound, cumulative) in buckets {
        let le = if bound.is_infinite() {
            "+Inf".to_string()
        } else {
            bound.to_string()
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

/// Escapes a label value as the exposition format requires (backslash, quote, newline).
fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_three_lines() {
        let mut out = String::new();
        write_metric(&mut out, "ioc_x_total", "counter", "Xs seen.", 7);
        assert_eq!(
            out,
            "# HELP ioc_x_total Xs seen.\n# TYPE ioc_x_total counter\nioc_x_total 7\n"
        );
    }

    #[test]
    fn labelled_samples_are_escaped() {
        let mut out = String::new();
        let rows = vec![(vec![("kind", "noise"), ("note", "a\"b")], "3".to_string())];
        write_labelled(&mut out, "ioc_y_total", "counter", "Ys.", &rows);
        assert_eq!(
            out,
            "# HELP ioc_y_total Ys.\n# TYPE ioc_y_total counter\nioc_y_total{kind=\"noise\",note=\"a\\\"b\"} 3\n"
        );
    }

    #[test]
    fn histograms_end_with_inf_sum_and_count() {
        let mut out = String::new();
        write_histogram(
            &mut out,
            "ioc_z_seconds",
            "Zs.",
            &[(0.5, 1), (f64::INFINITY, 2)],
            1.25,
            2,
        );
        assert_eq!(
            out,
            "# HELP ioc_z_seconds Zs.\n# TYPE ioc_z_seconds histogram\n\
             ioc_z_seconds_bucket{le=\"0.5\"} 1\nioc_z_seconds_bucket{le=\"+Inf\"} 2\n\
             ioc_z_seconds_sum 1.25\nioc_z_seconds_count 2\n"
        );
    }
}
