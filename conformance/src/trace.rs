//! Traces: the normalized record of one case run, in the spirit of PostgreSQL's
//! `005_negotiate_encryption.pl` event lists, and their comparison with expectations.
//!
//! A trace is a list of lines:
//!
//! - `> ...` what the client did (`> write SSLRequest+StartupMessage`, `> tls`);
//! - `< ...` what the client observed (`< S`, `< tls TLSv1.3 TLS_AES_256_GCM_SHA384`,
//!   `< E FATAL 08P01 received unencrypted data after SSL request`, `< closed`, `< timeout`);
//! - `log: ...` / `log missing: ...` expected server log lines, found or not (targets that
//!   expose their log only);
//! - `start: refused: ...` when the server would not start with the case's set-up;
//! - `log unexpected: ...` a `FATAL`, `PANIC` or `ERROR` log line in the case's window that
//!   the expectation does not list;
//! - `log forbidden: ...` a log line in the window that the expectation lists as absent;
//! - `error: ...` a failure of the harness itself (the case's verdict is then an error).
//!
//! What is recorded is what was observed; the values that vary between runs, builds or TLS
//! libraries are normalized by the one table in [`crate::normalize`], after matching.

/// The normalized record of one case run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The lines, in order.
    pub lines: Vec<String>,
    /// Failures of the harness itself while carrying out the steps (also in `lines`, as
    /// `error:` lines).
    pub errors: Vec<String>,
}

impl Trace {
    /// Appends a line.
    pub fn push(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Appends a client action.
    pub fn sent(&mut self, what: impl AsRef<str>) {
        self.push(format!("> {}", what.as_ref()));
    }

    /// Appends an observation.
    pub fn saw(&mut self, what: impl AsRef<str>) {
        self.push(format!("< {}", what.as_ref()));
    }

    /// The observations (`<` lines, and `start:` lines) without their marker.
    pub fn observations(&self) -> Vec<&str> {
        observations(&self.lines)
    }

    /// The trace as text, one line each.
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

impl Trace {
    /// Records a failure of the harness itself (a file it could not write, a tool it could
    /// not run, test material it could not make): an `error:` line in the trace, and the
    /// case's verdict becomes an error rather than a pass or a fail.
    pub fn harness_error(&mut self, what: impl Into<String>) {
        let what = what.into();
        self.push(format!("error: {what}"));
        self.errors.push(what);
    }

    /// Applies the declared normalizations ([`crate::normalize`]) to every recorded line:
    /// what is recorded is what was observed, except for the values that table names.
    pub fn normalize(&mut self) {
        for line in &mut self.lines {
            *line = crate::normalize::line(line);
        }
    }
}

/// The ParameterStatus observation lines start with this (`ParameterStatus NAME=VALUE`).
pub const PARAMETER_STATUS: &str = "ParameterStatus ";

/// Whether an observation is a ParameterStatus report.
pub fn is_parameter_status(observation: &str) -> bool {
    observation.starts_with(PARAMETER_STATUS)
}

/// The name a ParameterStatus line reports (`ParameterStatus NAME=VALUE`).
fn parameter_name(line: &str) -> Option<&str> {
    line.strip_prefix(PARAMETER_STATUS)
        .map(|r| r.split_once('=').map_or(r, |(n, _)| n))
}

/// The observations an expectation is matched against: every observation except the
/// ParameterStatus reports of names the expectation does not list (a declared class of lines
/// an expectation may leave out; `cases/README.md`). An expectation that lists no
/// ParameterStatus line skips them all; one that lists `ParameterStatus application_name=…`
/// is matched against that report, wherever and however often it comes.
pub fn matched_observations<'a>(expected: &[String], observed: &[&'a str]) -> Vec<&'a str> {
    let listed: Vec<&str> = expected.iter().filter_map(|e| parameter_name(e)).collect();
    observed
        .iter()
        .copied()
        .filter(|o| parameter_name(o).is_none_or(|name| listed.contains(&name)))
        .collect()
}

/// The observations among trace `lines` (`<` lines, and `start:` lines) without their
/// marker: what [`Trace::observations`] gives, for a trace kept as lines (a `CaseResult`'s).
pub fn observations(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("< ")
                .or_else(|| l.starts_with("start: ").then_some(l.as_str()))
        })
        .collect()
}

/// Whether `actual` matches `expected`, where an `expected` ending in `*` matches any line
/// that starts with the rest.
pub fn line_matches(expected: &str, actual: &str) -> bool {
    match expected.strip_suffix('*') {
        Some(prefix) => actual.starts_with(prefix),
        None => expected == actual,
    }
}

/// Compares observations with the expected ones; `None` when they match, otherwise the
/// differing lines as a small unified listing.
pub fn diff(expected: &[String], actual: &[&str]) -> Option<String> {
    let same = expected.len() == actual.len()
        && expected.iter().zip(actual).all(|(e, a)| line_matches(e, a));
    if same {
        return None;
    }
    let mut out = String::new();
    let n = expected.len().max(actual.len());
    for i in 0..n {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) if line_matches(e, a) => out.push_str(&format!("  {a}\n")),
            (e, a) => {
                if let Some(e) = e {
                    out.push_str(&format!("- {e}\n"));
                }
                if let Some(a) = a {
                    out.push_str(&format!("+ {a}\n"));
                }
            }
        }
    }
    Some(out)
}

/// Finds `expected` lines in order within `log` (lines after their `[pid] ` prefix);
/// returns for each expected line the index of the log line it matched, if any.
pub fn find_in_order(expected: &[String], log: &[String]) -> Vec<Option<usize>> {
    let mut at = 0;
    expected
        .iter()
        .map(|e| {
            let found = log
                .get(at..)
                .unwrap_or_default()
                .iter()
                .position(|l| line_matches(e, log_message(l)))
                .map(|i| at + i);
            if let Some(i) = found {
                at = i + 1;
            }
            found
        })
        .collect()
}

/// The log severities a case's window may not show unless its expectation lists them.
pub const SEVERE: &[&str] = &["FATAL:", "PANIC:", "ERROR:"];

/// Indices of the `FATAL`, `PANIC` and `ERROR` lines of `log` that are not in `matched`.
pub fn unexpected_severe(log: &[String], matched: &[Option<usize>]) -> Vec<usize> {
    (0..log.len())
        .filter(|i| !matched.contains(&Some(*i)))
        .filter(|i| {
            let m = log_message(&log[*i]);
            SEVERE.iter().any(|s| m.starts_with(s))
        })
        .collect()
}

/// A server log line without its `%m [%p] ` prefix.
pub fn log_message(line: &str) -> &str {
    line.split_once("] ").map_or(line, |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_diffs() {
        assert!(line_matches("tls failed: *", "tls failed: alert x"));
        assert!(!line_matches("S", "N"));
        let e = vec!["S".to_owned(), "closed".to_owned()];
        assert_eq!(diff(&e, &["S", "closed"]), None);
        assert_eq!(diff(&e, &["N", "closed"]).unwrap(), "- S\n+ N\n  closed\n");
    }

    #[test]
    fn log_lines_found_in_order() {
        let log = vec![
            "2026-01-01 00:00:00.000 UTC [1] LOG:  a".to_owned(),
            "2026-01-01 00:00:00.000 UTC [1] LOG:  b".to_owned(),
        ];
        assert_eq!(
            find_in_order(&["LOG:  a".into(), "LOG:  b".into()], &log),
            [Some(0), Some(1)]
        );
        assert_eq!(
            find_in_order(&["LOG:  b".into(), "LOG:  a".into()], &log),
            [Some(1), None]
        );
    }

    #[test]
    fn severe_lines_not_expected_are_found() {
        let log: Vec<String> = [
            "2026-01-01 00:00:00.000 UTC [1] LOG:  a",
            "2026-01-01 00:00:00.000 UTC [1] FATAL:  expected one",
            "2026-01-01 00:00:00.000 UTC [1] DETAIL:  d",
            "2026-01-01 00:00:00.000 UTC [1] ERROR:  not expected",
            "2026-01-01 00:00:00.000 UTC [1] PANIC:  nor this",
            "2026-01-01 00:00:00.000 UTC [1] WARNING:  w",
        ]
        .map(String::from)
        .to_vec();
        let matched = find_in_order(&["FATAL:  expected one".into()], &log);
        assert_eq!(matched, [Some(1)]);
        assert_eq!(unexpected_severe(&log, &matched), [3, 4]);
        assert_eq!(unexpected_severe(&log, &[]), [1, 3, 4]);
    }

    #[test]
    fn parameter_status_lines_are_matched_only_when_listed() {
        let observed = ["AuthenticationOk", "ParameterStatus a=1", "ReadyForQuery"];
        let silent = vec!["AuthenticationOk".to_owned(), "ReadyForQuery".to_owned()];
        assert_eq!(
            matched_observations(&silent, &observed),
            ["AuthenticationOk", "ReadyForQuery"]
        );
        let listing = vec![
            "AuthenticationOk".to_owned(),
            "ParameterStatus a=*".to_owned(),
            "ReadyForQuery".to_owned(),
        ];
        assert_eq!(matched_observations(&listing, &observed), observed);
        assert_eq!(
            diff(&listing, &matched_observations(&listing, &observed)),
            None
        );
        // Only the listed names: another report is skipped, a listed one must match.
        let observed = [
            "ParameterStatus b=2",
            "ParameterStatus a=1",
            "ReadyForQuery",
        ];
        let one = vec!["ParameterStatus a=1".to_owned(), "ReadyForQuery".to_owned()];
        assert_eq!(diff(&one, &matched_observations(&one, &observed)), None);
        let wrong = vec!["ParameterStatus a=2".to_owned(), "ReadyForQuery".to_owned()];
        assert!(diff(&wrong, &matched_observations(&wrong, &observed)).is_some());
    }
}
