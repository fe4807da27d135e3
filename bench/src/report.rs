//! The report: one row per figure (scenario, case, figure, value, target, ratio), printed as a
//! Markdown table and written as JSON. Figures are reported, never asserted.

use std::time::Duration;

use serde::Serialize;

use crate::load::Stats;

/// One figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `S1` … `S6`.
    pub scenario: String,
    /// The case (`64 clients`, `100000 tasks`, …).
    pub case: String,
    /// What is measured.
    pub figure: String,
    /// Its value, with its unit.
    pub value: String,
    /// The target of docs/performance.md, if there is one.
    pub target: Option<String>,
    /// Whether the target is met.
    pub met: Option<bool>,
    /// Server / raw baseline, where there is one.
    pub ratio: Option<f64>,
}

/// Everything a run measured and checked.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The figures.
    pub rows: Vec<Row>,
    /// Remarks (skipped parts, the machine).
    pub notes: Vec<String>,
    /// The correctness checks after the run: (check, passed, detail).
    pub checks: Vec<(String, bool, String)>,
    /// 5xx answers seen by the load generator.
    pub server_errors: u64,
}

fn ms(value: f64) -> String {
    format!("{value:.1} ms")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl Report {
    fn push(&mut self, scenario: &str, case: &str, figure: &str, value: String) -> &mut Row {
        self.rows.push(Row {
            scenario: scenario.into(),
            case: case.into(),
            figure: figure.into(),
            value,
            target: None,
            met: None,
            ratio: None,
        });
        let last = self.rows.len() - 1;
        &mut self.rows[last]
    }

    /// A load run of one request kind, with its raw baseline when there is one.
    pub fn stats(
        &mut self,
        scenario: &str,
        case: &str,
        kind: &str,
        server: &Stats,
        raw: Option<&Stats>,
    ) {
        self.server_errors += server.server_errors;
        let clients_64 = case.starts_with("64 ");
        let clients_200 = case.starts_with("200 ");
        let row = self.push(
            scenario,
            case,
            &format!("{kind}/s"),
            format!("{:.0}", server.per_second),
        );
        if let Some(raw) = raw {
            let ratio = server.per_second / raw.per_second.max(1e-9);
            row.ratio = Some(ratio);
            if scenario == "S1" && clients_64 {
                row.target = Some("≥ 0.7 × raw".into());
                row.met = Some(ratio >= 0.7);
            }
        }
        if scenario == "S3" && kind == "all" && clients_64 {
            // 20 × the seed's ~141 req/s at 64 connections.
            row.target = Some("≥ 2,820 req/s (20 × the seed)".into());
            row.met = Some(server.per_second >= 2_820.0);
        }
        let (p50, p95, p99) = (server.p50_ms, server.p95_ms, server.p99_ms);
        self.push(
            scenario,
            case,
            &format!("{kind} p50 / p95"),
            format!("{} / {}", ms(p50), ms(p95)),
        );
        let row = self.push(scenario, case, &format!("{kind} p99"), ms(p99));
        if scenario == "S1" && clients_200 {
            row.target = Some("≤ 250 ms".into());
            row.met = Some(p99 <= 250.0);
        }
        // The targets are the mix's; the quiet board is a figure of its own.
        if scenario == "S3" && (kind == "all" || clients_64) && !case.starts_with("quiet") {
            row.target = Some("≤ 100 ms".into());
            row.met = Some(p99 <= 100.0);
        }
        let row = self.push(
            scenario,
            case,
            &format!("{kind} errors (5xx)"),
            format!(
                "{} of {} ({})",
                server.errors, server.requests, server.server_errors
            ),
        );
        if scenario == "S1" {
            row.target = Some("0".into());
            row.met = Some(server.errors == 0);
        }
        if let Some(statements) = server.statements_per_request {
            self.push(
                scenario,
                case,
                &format!("{kind} statements/request"),
                format!("{statements:.2}"),
            );
        }
        if let Some(raw) = raw {
            self.push(
                scenario,
                case,
                &format!("raw {kind}/s, p50 / p99"),
                format!(
                    "{:.0}, {} / {}",
                    raw.per_second,
                    ms(raw.p50_ms),
                    ms(raw.p99_ms)
                ),
            );
            if let Some(statements) = raw.statements_per_request {
                self.push(
                    scenario,
                    case,
                    &format!("raw {kind} statements"),
                    format!("{statements:.2}"),
                );
            }
        }
    }

    /// S4's delivery figures.
    #[allow(clippy::too_many_arguments)]
    pub fn fanout(
        &mut self,
        sockets: &str,
        targeted: bool,
        creates: usize,
        errors: u64,
        after_response: &mut [Duration],
        after_request: &mut [Duration],
        expected: u64,
        received: u64,
    ) {
        after_response.sort();
        after_request.sort();
        let case = format!("{sockets}, {creates} creates");
        let row = self.push(
            "S4",
            &case,
            "delivery p50 / p99, from the create's response (≤ commit → receipt)",
            format!(
                "{} / {}",
                ms(percentile(after_response, 0.5)),
                ms(percentile(after_response, 0.99))
            ),
        );
        // The target is the one room's; the many rooms are a figure of their own.
        if targeted {
            let p99 = percentile(after_response, 0.99);
            row.target = Some("p99 ≤ 50 ms".into());
            row.met = Some(p99 <= 50.0);
        }
        self.push(
            "S4",
            &case,
            "delivery p50 / p99, from the create's request (≥ commit → receipt)",
            format!(
                "{} / {}",
                ms(percentile(after_request, 0.5)),
                ms(percentile(after_request, 0.99))
            ),
        );
        let drops = expected.saturating_sub(received);
        let row = self.push(
            "S4",
            &case,
            "drops",
            format!("{drops} of {expected} (create errors {errors})"),
        );
        row.target = Some("0".into());
        row.met = Some(drops == 0);
    }

    /// A duration figure, with an optional `(target text, limit in ms)`.
    pub fn millis(
        &mut self,
        scenario: &str,
        case: &str,
        figure: &str,
        value: Duration,
        target: Option<(&str, f64)>,
    ) {
        let value_ms = value.as_secs_f64() * 1000.0;
        let row = self.push(scenario, case, figure, ms(value_ms));
        if let Some((text, limit)) = target {
            row.target = Some(text.into());
            row.met = Some(value_ms <= limit);
        }
    }

    /// Any other figure.
    pub fn value(
        &mut self,
        scenario: &str,
        case: &str,
        figure: &str,
        value: String,
        target: Option<(&str, bool)>,
    ) {
        let row = self.push(scenario, case, figure, value);
        if let Some((text, met)) = target {
            row.target = Some(text.into());
            row.met = Some(met);
        }
    }

    /// A remark.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Whether every correctness check passed.
    pub fn correct(&self) -> bool {
        self.checks.iter().all(|(_, passed, _)| *passed)
    }

    /// The Markdown table, the checks and the notes.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| scenario | case | figure | value | target | met | server/raw |\n|---|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                row.scenario,
                row.case,
                row.figure,
                row.value,
                row.target.as_deref().unwrap_or(""),
                row.met.map_or("", |met| if met { "yes" } else { "**no**" }),
                row.ratio.map_or(String::new(), |r| format!("{r:.2}")),
            ));
        }
        out.push_str("\nCorrectness after the run:\n");
        for (check, passed, detail) in &self.checks {
            out.push_str(&format!(
                "- {} {check}: {detail}\n",
                if *passed { "PASS" } else { "FAIL" }
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("\n{note}"));
        }
        out.push('\n');
        out
    }
}
