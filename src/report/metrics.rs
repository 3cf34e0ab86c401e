//! Prometheus text-format metrics of the last run, for node_exporter's textfile
//! collector: one gauge family per figure, labelled by tenant, with HELP and TYPE
//! lines and label values escaped as the exposition format requires.

use crate::core::clock::unix_secs;
use crate::report::run::RunReport;
use std::fmt::Write;
use std::time::SystemTime;

/// Prefix of every metric name.
pub const PREFIX: &str = "influx_tenant_migrate";

const LAST_SUCCESS: &str = "influx_tenant_migrate_last_success_timestamp_seconds";

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The last success time in a previous metrics file, so a failed run keeps it.
pub fn last_success(previous: &str) -> Option<f64> {
    previous.lines().find_map(|l| {
        let rest = l.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {PREFIX}_{name} {help}");
        let _ = writeln!(self.0, "# TYPE {PREFIX}_{name} gauge");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let _ = write!(self.0, "{PREFIX}_{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(val));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }
}

/// Renders the metrics of a run. `previous_success` is the last success time of an
/// earlier run, kept when this one failed.
pub fn render(r: &RunReport, previous_success: Option<f64>) -> String {
    let mut o = Out(String::new());
    let finished = unix_secs(SystemTime::now());
    let ok = r.exit_code == 0;
    o.family(
        "last_run_timestamp_seconds",
        "When the last run finished, Unix time.",
    );
    o.sample("last_run_timestamp_seconds", &[], finished);
    o.family(
        "last_run_success",
        "1 if the last run copied and verified everything planned (only copied, with --no-verify), else 0.",
    );
    o.sample("last_run_success", &[], if ok { 1.0 } else { 0.0 });
    let success = if ok { Some(finished) } else { previous_success };
    if let Some(t) = success {
        o.family(
            "last_success_timestamp_seconds",
            "When a run last finished without failures, Unix time.",
        );
        o.sample("last_success_timestamp_seconds", &[], t);
    }
    o.family("last_run_duration_seconds", "Wall time of the last run.");
    o.sample("last_run_duration_seconds", &[], r.elapsed_secs);
    let failures = r.summary.as_ref().map_or(0, |s| s.failures.len());
    o.family(
        "last_run_failures",
        "Chunks the last run could not copy (see the failure report).",
    );
    o.sample("last_run_failures", &[], failures as f64);
    if let Some(v) = r.summary.as_ref().and_then(|s| s.verification.as_ref()) {
        o.family(
            "last_run_verify_mismatches",
            "Measurements whose counts or sums differed in the last run's verification.",
        );
        o.sample("last_run_verify_mismatches", &[], v.mismatches.len() as f64);
    }
    if r.tenants.is_empty() {
        return o.0;
    }
    o.family(
        "last_run_points_copied",
        "Points the server reported written in the last run, per tenant (open chunks included).",
    );
    for (t, x) in &r.tenants {
        o.sample(
            "last_run_points_copied",
            &[("tenant", t)],
            x.run.points_copied as f64,
        );
    }
    o.family(
        "ledger_points",
        "Points recorded as copied in the ledger, per tenant, all runs.",
    );
    for (t, x) in &r.tenants {
        o.sample("ledger_points", &[("tenant", t)], x.ledger.points as f64);
    }
    o.family(
        "chunks",
        "Chunks per tenant by state: done and verified from the ledger after the last run; copied and failed in the last run.",
    );
    for (t, x) in &r.tenants {
        for (state, v) in [
            ("done", x.ledger.done),
            ("verified", x.ledger.verified),
            ("copied", x.run.chunks_copied),
            ("failed", x.run.chunks_failed),
        ] {
            o.sample("chunks", &[("tenant", t), ("state", state)], v as f64);
        }
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backslashes, quotes and newlines in label values are escaped; others are kept.
    #[test]
    fn label_escaping() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny ü,="), "x\\ny ü,=");
    }

    /// The last success time is read back from a previous file.
    #[test]
    fn previous_success() {
        let text = format!("# HELP {LAST_SUCCESS} x\n{LAST_SUCCESS} 1700000000.5\n");
        assert_eq!(last_success(&text), Some(1_700_000_000.5));
        assert_eq!(last_success(""), None);
        assert_eq!(last_success(&format!("{LAST_SUCCESS}_other 5\n")), None);
    }
}
