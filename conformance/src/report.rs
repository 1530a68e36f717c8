//! Reports of a run: a human summary table, JSON, and JUnit XML.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::run::{CaseResult, Status};

/// Counts over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that did not apply.
    pub not_applicable: usize,
    /// Cases the harness could not run (its own failure).
    pub errors: usize,
}

impl Summary {
    /// Counts `results`.
    pub fn of(results: &[CaseResult]) -> Self {
        let mut s = Self::default();
        for r in results {
            match r.status {
                Status::Pass => s.passed += 1,
                Status::Fail => s.failed += 1,
                Status::NotApplicable => s.not_applicable += 1,
                Status::Error => s.errors += 1,
            }
        }
        s
    }
}

/// The JSON report: `{"cases": [...], "summary": {...}}`.
pub fn json(results: &[CaseResult]) -> String {
    #[derive(Serialize)]
    struct Report<'a> {
        cases: &'a [CaseResult],
        summary: Summary,
    }
    serde_json::to_string_pretty(&Report {
        cases: results,
        summary: Summary::of(results),
    })
    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The human report: failures with their differing lines, then a case × target table and the
/// totals.
pub fn human(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for r in results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error))
    {
        let what = if r.status == Status::Fail {
            "FAIL"
        } else {
            "ERROR"
        };
        out.push_str(&format!("{what} {} on {}\n", r.id, r.target));
        if let Some(d) = &r.diff {
            for line in d.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(n) = &r.note {
            out.push_str(&format!("    note: {n}\n"));
        }
    }
    let mut targets: Vec<&str> = Vec::new();
    let mut rows: BTreeMap<&str, BTreeMap<&str, Status>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in results {
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
        if !rows.contains_key(r.id.as_str()) {
            order.push(&r.id);
        }
        rows.entry(&r.id).or_default().insert(&r.target, r.status);
    }
    let width = order.iter().map(|s| s.len()).max().unwrap_or(4).max(4);
    out.push_str(&format!("\n{:width$}", "case"));
    for t in &targets {
        out.push_str(&format!("  {t:>13}"));
    }
    out.push('\n');
    for id in order {
        out.push_str(&format!("{id:width$}"));
        for t in &targets {
            let cell = match rows[id].get(t) {
                Some(Status::Pass) => "pass",
                Some(Status::Fail) => "FAIL",
                Some(Status::NotApplicable) => "n/a",
                Some(Status::Error) => "ERROR",
                None => "",
            };
            out.push_str(&format!("  {cell:>13}"));
        }
        out.push('\n');
    }
    let s = Summary::of(results);
    out.push_str(&format!(
        "\n{} passed, {} failed, {} not applicable, {} harness errors\n",
        s.passed, s.failed, s.not_applicable, s.errors
    ));
    out
}

/// JUnit XML: one test suite per target, one test case per case.
pub fn junit(results: &[CaseResult]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("pgssl-conform");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for r in results {
        let suite = suites
            .entry(&r.target)
            .or_insert_with(|| TestSuite::new(r.target.clone()));
        let status = match r.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_description(r.diff.clone().unwrap_or_default());
                s
            }
            Status::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_description(r.note.clone().unwrap_or_default());
                s
            }
            Status::NotApplicable => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.note.clone().unwrap_or_default());
                s
            }
        };
        let mut case = TestCase::new(r.id.clone(), status);
        case.set_system_out(r.trace.join("\n"));
        suite.add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- {e} -->"))
}
