//! Prometheus text exposition: one helper so every metric is written the same way.

use std::fmt::{Display, Write};

/// Appends one unlabelled metric with its `# HELP` and `# TYPE` lines.
pub fn write_metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
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
}
