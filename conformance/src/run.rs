//! Running cases against targets: cases that share a set-up share one server start, groups run
//! in parallel up to `jobs`, and every case yields a trace and a verdict.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::case::{Case, Setup};
use crate::client::{Endpoint, run_steps};
use crate::target::{Started, Target};
use crate::trace::{Trace, diff, find_in_order};

/// How long to wait for expected log lines after a case's steps.
const LOG_SETTLE: Duration = Duration::from_secs(2);

/// A case's verdict on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The trace met the expectation.
    Pass,
    /// It did not.
    Fail,
    /// The case does not apply to this target.
    NotApplicable,
}

/// One case on one target.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Rule ids.
    pub rules: Vec<String>,
    /// Target label.
    pub target: String,
    /// Verdict.
    pub status: Status,
    /// The normalized trace.
    pub trace: Vec<String>,
    /// Expected vs observed lines, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Why the case does not apply, or why it could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CaseResult {
    fn new(target: &dyn Target, case: &Case, status: Status, trace: Vec<String>) -> Self {
        Self {
            id: case.id.clone(),
            rules: case.rules.clone(),
            target: target.label(),
            status,
            trace,
            diff: None,
            note: None,
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// Runs `cases` on `target`, `jobs` set-up groups at a time; `progress` is called after each
/// case.
pub fn run_target(
    target: &dyn Target,
    cases: &[&Case],
    jobs: usize,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    let version = target.version();
    let mut results: Vec<CaseResult> = Vec::new();
    let mut groups: BTreeMap<String, (Setup, Vec<&Case>)> = BTreeMap::new();
    for case in cases {
        let na = if !case.applies_to(version) {
            Some(format!("does not apply to version {version}"))
        } else if !target.configurable() && (!case.setup.is_default() || case.needs_control()) {
            Some("needs a server set-up this target cannot be given".to_owned())
        } else {
            None
        };
        if let Some(note) = na {
            let r =
                CaseResult::new(target, case, Status::NotApplicable, Vec::new()).with_note(note);
            progress(&r);
            results.push(r);
            continue;
        }
        let key = if case.changes_server() {
            format!("{:?} for {}", case.setup, case.id)
        } else {
            format!("{:?}", case.setup)
        };
        groups
            .entry(key)
            .or_insert_with(|| (case.setup.clone(), Vec::new()))
            .1
            .push(case);
    }
    let queue = Mutex::new(groups.into_values().collect::<Vec<_>>());
    let done = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let Some((setup, group)) = next else { return };
                    for r in run_group(target, &setup, &group) {
                        progress(&r);
                        done.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                    }
                }
            });
        }
    });
    results.extend(done.into_inner().unwrap_or_else(|p| p.into_inner()));
    let order: BTreeMap<&str, usize> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    results.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    results
}

fn run_group(target: &dyn Target, setup: &Setup, cases: &[&Case]) -> Vec<CaseResult> {
    let started = target.start(setup);
    let mut out = Vec::new();
    match started {
        Err(crate::error::Error::SetupUnsupported(why)) => {
            for case in cases {
                out.push(
                    CaseResult::new(target, case, Status::NotApplicable, Vec::new()).with_note(
                        format!("this harness cannot build the set-up: it needs {why}"),
                    ),
                );
            }
        }
        Err(e) => {
            for case in cases {
                out.push(
                    CaseResult::new(
                        target,
                        case,
                        Status::Fail,
                        vec![format!("start: error: {e}")],
                    )
                    .with_note(e.to_string()),
                );
            }
        }
        Ok(Started::Refused { fatal, log }) => {
            let mut trace = Trace::default();
            for line in fatal {
                trace.push(format!("start: refused: {line}"));
            }
            for case in cases {
                // The whole log is there already: the server has exited.
                let expected = case
                    .expectation(target.version())
                    .map(|e| e.log.clone())
                    .unwrap_or_default();
                let found = find_in_order(&expected, &log);
                let log = expected.into_iter().zip(found).collect::<Vec<_>>();
                out.push(judge(target, case, trace.clone(), Some(log)));
            }
        }
        Ok(Started::Running(server)) => {
            let endpoint = Endpoint {
                addr: server.addr(),
            };
            for case in cases {
                let mark = server.log().map_or(0, |l| l.len());
                let trace = run_steps(&endpoint, &case.steps, Some(server.as_ref()));
                let log = server.log().map(|_| {
                    let expected = case
                        .expectation(target.version())
                        .map(|e| e.log.clone())
                        .unwrap_or_default();
                    let start = Instant::now();
                    loop {
                        let lines: Vec<String> = server
                            .log()
                            .unwrap_or_default()
                            .into_iter()
                            .skip(mark)
                            .collect();
                        let found = find_in_order(&expected, &lines);
                        if found.iter().all(|f| *f) || start.elapsed() > LOG_SETTLE {
                            break expected.into_iter().zip(found).collect::<Vec<_>>();
                        }
                        std::thread::sleep(Duration::from_millis(25));
                    }
                });
                out.push(judge(target, case, trace, log));
            }
        }
    }
    out
}

fn judge(
    target: &dyn Target,
    case: &Case,
    mut trace: Trace,
    log: Option<Vec<(String, bool)>>,
) -> CaseResult {
    let Some(expected) = case.expectation(target.version()) else {
        return CaseResult::new(target, case, Status::NotApplicable, trace.lines)
            .with_note("no expectation");
    };
    let mut difference = diff(&expected.trace, &trace.observations());
    trace.normalize_with(&expected.trace);
    if let Some(log) = log {
        let mut missing = String::new();
        for (line, found) in log {
            if found {
                trace.push(format!("log: {line}"));
            } else {
                trace.push(format!("log missing: {line}"));
                missing.push_str(&format!("- log: {line}\n"));
            }
        }
        if !missing.is_empty() {
            difference = Some(difference.unwrap_or_default() + &missing);
        }
    }
    let status = if difference.is_none() {
        Status::Pass
    } else {
        Status::Fail
    };
    CaseResult {
        diff: difference,
        ..CaseResult::new(target, case, status, trace.lines)
    }
}
