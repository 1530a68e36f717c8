//! Running cases against targets: cases that share a set-up share one server start, groups run
//! in parallel up to `jobs`, and every case yields a trace and a verdict.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::case::{Case, Expectation, Setup};
use crate::client::{Endpoint, run_steps};
use crate::error::Error;
use crate::target::{Started, Target};
use crate::trace::{
    Trace, diff, find_in_order, line_matches, matched_observations, unexpected_severe,
};

/// How long to wait for expected log lines after a case's steps.
const LOG_SETTLE: Duration = Duration::from_secs(2);

/// How long the log must stay unchanged, once every expected line is there, before the case's
/// window closes: a FATAL or ERROR the server writes as the client leaves belongs to this case,
/// not to the next one on the same server.
const LOG_QUIET: Duration = Duration::from_millis(150);

/// A case's verdict on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The trace met the expectation.
    Pass,
    /// It did not.
    Fail,
    /// The case does not apply to this target (its versions, or a set-up this target or
    /// user cannot be given).
    NotApplicable,
    /// The harness itself failed (test material, a tool, a server it could not start): no
    /// verdict on the target.
    Error,
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
    /// Why the case does not apply, or the harness's error.
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
        } else if !target.configurable() && case.needs_control() {
            Some("needs a server set-up this target cannot be given".to_owned())
        } else if !target.configurable() && case.setup.only_sets_timeout() {
            target.timeout_wait().is_none().then(|| {
                "needs the server's timeout, and the run gives no --wait SECONDS to wait for it"
                    .to_owned()
            })
        } else if !target.configurable() && !case.setup.is_default() {
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
        Err(Error::SetupUnsupported(why)) => {
            for case in cases {
                out.push(
                    CaseResult::new(target, case, Status::NotApplicable, Vec::new()).with_note(
                        format!("this harness cannot build the set-up: it needs {why}"),
                    ),
                );
            }
        }
        Err(e @ Error::Unmappable { .. }) => {
            for case in cases {
                out.push(
                    CaseResult::new(target, case, Status::NotApplicable, Vec::new())
                        .with_note(e.to_string()),
                );
            }
        }
        Err(e) => {
            for case in cases {
                out.push(
                    CaseResult::new(target, case, Status::Error, vec![format!("error: {e}")])
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
                // The whole log is there already: the server has exited. Its FATAL lines
                // are the trace's `start: refused:` lines, so none is unexpected here.
                let window = Window::of(&log, case.expectation(target.version()), false);
                out.push(judge(target, case, trace.clone(), Some(window)));
            }
        }
        Ok(Started::Running(server)) => {
            let endpoint = Endpoint {
                addr: server.addr(),
            };
            for case in cases {
                let mark = server.log().map_or(0, |l| l.len());
                let waiting = target
                    .timeout_wait()
                    .filter(|_| !target.configurable() && case.setup.only_sets_timeout());
                let steps = waiting.map(|secs| case.steps_waiting(secs));
                let steps = steps.as_deref().unwrap_or(&case.steps);
                let trace = run_steps(&endpoint, steps, Some(server.as_ref()));
                let log = server.log().map(|_| {
                    case_window(server.as_ref(), mark, case.expectation(target.version()))
                });
                out.push(judge(target, case, trace, log));
            }
        }
    }
    out
}

/// What the log showed in a case's window.
struct Window {
    /// Each expected line, with the log line that matched it, if one did.
    expected: Vec<(String, Option<String>)>,
    /// `FATAL`, `PANIC` and `ERROR` lines the expectation does not list.
    unexpected: Vec<String>,
    /// Lines matching one of the expectation's `log_absent` patterns.
    forbidden: Vec<String>,
}

impl Window {
    /// Judges the window's `lines` against `expectation`; `severe` also collects the
    /// unlisted FATAL, PANIC and ERROR lines.
    fn of(lines: &[String], expectation: Option<&Expectation>, severe: bool) -> Self {
        let (expected, absent): (&[String], &[String]) =
            expectation.map_or((&[], &[]), |e| (&e.log, &e.log_absent));
        let found = find_in_order(expected, lines);
        let message = |i: usize| crate::trace::log_message(&lines[i]).to_owned();
        let unexpected = if severe {
            unexpected_severe(lines, &found)
                .into_iter()
                .map(message)
                .collect()
        } else {
            Vec::new()
        };
        let forbidden = lines
            .iter()
            .map(|l| crate::trace::log_message(l))
            .filter(|m| absent.iter().any(|a| line_matches(a, m)))
            .map(str::to_owned)
            .collect();
        Window {
            expected: expected
                .iter()
                .zip(found)
                .map(|(e, f)| (e.clone(), f.map(message)))
                .collect(),
            unexpected,
            forbidden,
        }
    }
}

/// Waits for the case's expected log lines (up to [`LOG_SETTLE`]) and then for the log to be
/// quiet for [`LOG_QUIET`]; the window is every line written after `mark`.
fn case_window(
    server: &dyn crate::target::Running,
    mark: usize,
    expectation: Option<&Expectation>,
) -> Window {
    let expected = expectation.map_or(&[][..], |e| &e.log);
    let start = Instant::now();
    let mut seen = 0;
    let mut quiet_since = Instant::now();
    loop {
        let lines: Vec<String> = server
            .log()
            .unwrap_or_default()
            .into_iter()
            .skip(mark)
            .collect();
        if lines.len() != seen {
            seen = lines.len();
            quiet_since = Instant::now();
        }
        let complete = find_in_order(expected, &lines).iter().all(Option::is_some);
        if (complete && quiet_since.elapsed() >= LOG_QUIET) || start.elapsed() > LOG_SETTLE {
            return Window::of(&lines, expectation, true);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn judge(target: &dyn Target, case: &Case, mut trace: Trace, log: Option<Window>) -> CaseResult {
    let Some(expected) = case.expectation(target.version()) else {
        return CaseResult::new(target, case, Status::NotApplicable, trace.lines)
            .with_note("no expectation");
    };
    crate::normalize::parameter_status_order(&mut trace.lines);
    let observed = trace.observations();
    let mut difference = diff(
        &expected.trace,
        &matched_observations(&expected.trace, &observed),
    );
    if let Some(log) = log {
        let mut missing = String::new();
        for (line, seen) in log.expected {
            match seen {
                // What the log showed, not the expectation that matched it.
                Some(seen) => trace.push(format!("log: {seen}")),
                None => {
                    trace.push(format!("log missing: {line}"));
                    missing.push_str(&format!("- log: {line}\n"));
                }
            }
        }
        for line in log.unexpected {
            missing.push_str(&format!("+ log: {line}\n"));
            trace.push(format!("log unexpected: {line}"));
        }
        for line in log.forbidden {
            missing.push_str(&format!("+ log: {line} (listed as absent)\n"));
            trace.push(format!("log forbidden: {line}"));
        }
        if !missing.is_empty() {
            difference = Some(difference.unwrap_or_default() + &missing);
        }
    }
    trace.normalize();
    let status = if !trace.errors.is_empty() {
        Status::Error
    } else if difference.is_none() {
        Status::Pass
    } else {
        Status::Fail
    };
    let note = (!trace.errors.is_empty()).then(|| trace.errors.join("; "));
    CaseResult {
        diff: difference,
        note,
        ..CaseResult::new(target, case, status, trace.lines)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpListener};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::case::{Expectation, Version};
    use crate::target::Running;

    /// A target whose start is scripted.
    struct Fake {
        start: fn() -> Result<Started, Error>,
    }

    impl Target for Fake {
        fn label(&self) -> String {
            "fake-15".into()
        }
        fn version(&self) -> Version {
            Version::Pg15
        }
        fn configurable(&self) -> bool {
            true
        }
        fn start(&self, _setup: &Setup) -> Result<Started, Error> {
            (self.start)()
        }
    }

    /// A server that accepts connections into its backlog and whose log gains `LINES` after
    /// the first look (the mark before the case's steps).
    struct Logging {
        listener: TcpListener,
        looks: AtomicUsize,
    }

    const LINES: &[&str] = &[
        "2026-01-01 00:00:00.000 UTC [7] LOG:  connection received: host=127.0.0.1 port=40001",
        "2026-01-01 00:00:00.000 UTC [7] FATAL:  listed",
        "2026-01-01 00:00:00.000 UTC [7] ERROR:  not listed",
    ];

    impl Running for Logging {
        fn addr(&self) -> SocketAddr {
            self.listener.local_addr().expect("bound")
        }
        fn log(&self) -> Option<Vec<String>> {
            let n = self.looks.fetch_add(1, Ordering::Relaxed);
            Some(if n == 0 {
                Vec::new()
            } else {
                LINES.iter().map(|l| (*l).to_owned()).collect()
            })
        }
    }

    fn case(trace: &[&str], log: &[&str]) -> Case {
        let mut expect = BTreeMap::new();
        expect.insert(
            "all".to_owned(),
            Expectation {
                trace: trace.iter().map(|l| (*l).to_owned()).collect(),
                log: log.iter().map(|l| (*l).to_owned()).collect(),
                log_absent: Vec::new(),
            },
        );
        Case {
            id: "t/x".into(),
            rules: vec!["W1".into()],
            title: "x".into(),
            versions: None,
            setup: Setup::default(),
            steps: Vec::new(),
            expect,
            security: None,
        }
    }

    fn one(target: &dyn Target, case: &Case) -> CaseResult {
        run_target(target, &[case], 1, &|_| {}).remove(0)
    }

    #[test]
    fn a_wildcard_matches_but_the_observation_is_recorded() {
        let target = Fake {
            start: || {
                Ok(Started::Refused {
                    fatal: vec![
                        "FATAL:  could not load server certificate file \"server.crt\": no start line"
                            .into(),
                    ],
                    log: Vec::new(),
                })
            },
        };
        let r = one(
            &target,
            &case(
                &["start: refused: FATAL:  could not load server certificate file *"],
                &[],
            ),
        );
        assert_eq!(r.status, Status::Pass, "{:?}", r.diff);
        assert_eq!(
            r.trace,
            [
                "start: refused: FATAL:  could not load server certificate file \"server.crt\": no start line"
            ]
        );
    }

    #[test]
    fn harness_failures_are_errors_and_only_unsupported_set_ups_not_applicable() {
        let failing = Fake {
            start: || Err(Error::PkiFailed("no entropy".into())),
        };
        let r = one(&failing, &case(&[], &[]));
        assert_eq!(r.status, Status::Error);
        assert_eq!(
            r.trace,
            ["error: test PKI could not be generated: no entropy"]
        );
        let unsupported = Fake {
            start: || Err(Error::SetupUnsupported("root".into())),
        };
        assert_eq!(
            one(&unsupported, &case(&[], &[])).status,
            Status::NotApplicable
        );
    }

    #[test]
    fn log_lines_are_recorded_as_written_and_unlisted_errors_fail() {
        let server = Logging {
            listener: TcpListener::bind("127.0.0.1:0").expect("a port"),
            looks: AtomicUsize::new(0),
        };
        let window = || {
            server.looks.store(0, Ordering::Relaxed);
            let mark = server.log().map_or(0, |l| l.len());
            let expectation = Expectation {
                trace: Vec::new(),
                log: vec![
                    "LOG:  connection received: host=127.0.0.1 port=*".to_owned(),
                    "FATAL:  listed".to_owned(),
                ],
                log_absent: vec!["LOG:  incomplete startup packet".to_owned()],
            };
            case_window(&server, mark, Some(&expectation))
        };
        let w = window();
        assert_eq!(
            w.expected,
            [
                (
                    "LOG:  connection received: host=127.0.0.1 port=*".to_owned(),
                    Some("LOG:  connection received: host=127.0.0.1 port=40001".to_owned())
                ),
                (
                    "FATAL:  listed".to_owned(),
                    Some("FATAL:  listed".to_owned())
                ),
            ]
        );
        assert_eq!(w.unexpected, ["ERROR:  not listed"]);
        let target = Fake {
            start: || {
                Ok(Started::Refused {
                    fatal: Vec::new(),
                    log: Vec::new(),
                })
            },
        };
        let r = judge(&target, &case(&[], &[]), Trace::default(), Some(window()));
        assert_eq!(r.status, Status::Fail);
        assert_eq!(
            r.trace,
            [
                "log: LOG:  connection received: host=127.0.0.1 port=<port>",
                "log: FATAL:  listed",
                "log unexpected: ERROR:  not listed",
            ]
        );
        assert_eq!(r.diff.as_deref(), Some("+ log: ERROR:  not listed\n"));
    }

    #[test]
    fn a_line_listed_as_absent_fails_the_case_when_it_appears() {
        let lines: Vec<String> = LINES.iter().map(|l| (*l).to_owned()).collect();
        let absent = |patterns: &[&str]| Expectation {
            trace: Vec::new(),
            log: vec!["FATAL:  listed".to_owned(), "ERROR:  not listed".to_owned()],
            log_absent: patterns.iter().map(|p| (*p).to_owned()).collect(),
        };
        let quiet = Window::of(
            &lines,
            Some(&absent(&["LOG:  incomplete startup packet"])),
            true,
        );
        assert!(quiet.forbidden.is_empty());
        assert!(quiet.unexpected.is_empty());
        let loud = Window::of(
            &lines,
            Some(&absent(&["LOG:  connection received: *"])),
            true,
        );
        assert_eq!(
            loud.forbidden,
            ["LOG:  connection received: host=127.0.0.1 port=40001"]
        );
        let target = Fake {
            start: || {
                Ok(Started::Refused {
                    fatal: Vec::new(),
                    log: Vec::new(),
                })
            },
        };
        let r = judge(&target, &case(&[], &[]), Trace::default(), Some(loud));
        assert_eq!(r.status, Status::Fail);
        assert_eq!(
            r.trace.last().map(String::as_str),
            Some("log forbidden: LOG:  connection received: host=127.0.0.1 port=<port>")
        );
        assert_eq!(
            r.diff.as_deref(),
            Some(
                "+ log: LOG:  connection received: host=127.0.0.1 port=40001 (listed as absent)\n"
            )
        );
    }
}
