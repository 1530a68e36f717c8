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
//! - `start: refused: ...` when the server would not start with the case's set-up.
//!
//! What varies between runs or libraries is normalized before it is recorded: ports, pids,
//! keys, and OpenSSL's reason strings where the expectation ends in `*`.

/// The normalized record of one case run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The lines, in order.
    pub lines: Vec<String>,
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
        self.lines
            .iter()
            .filter_map(|l| {
                l.strip_prefix("< ")
                    .or_else(|| l.starts_with("start: ").then_some(l.as_str()))
            })
            .collect()
    }

    /// The trace as text, one line each.
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

impl Trace {
    /// Replaces library-defined tails by the expectation's wildcard: an observation that matches
    /// an expected line ending in `*` is recorded as that line, so traces (and snapshots, and
    /// the differential) do not depend on the OpenSSL version's reason texts.
    pub fn normalize_with(&mut self, expected: &[String]) {
        let mut i = 0;
        for line in &mut self.lines {
            let (marker, body) = if let Some(b) = line.strip_prefix("< ") {
                ("< ", b)
            } else if line.starts_with("start: ") {
                ("", line.as_str())
            } else {
                continue;
            };
            if let Some(e) = expected.get(i) {
                if e.ends_with('*') && line_matches(e, body) {
                    *line = format!("{marker}{e}");
                }
            }
            i += 1;
        }
    }
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
/// returns for each expected line whether it was found.
pub fn find_in_order(expected: &[String], log: &[String]) -> Vec<bool> {
    let mut at = 0;
    expected
        .iter()
        .map(|e| {
            match log[at.min(log.len())..]
                .iter()
                .position(|l| line_matches(e, log_message(l)))
            {
                Some(i) => {
                    at += i + 1;
                    true
                }
                None => false,
            }
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
            [true, true]
        );
        assert_eq!(
            find_in_order(&["LOG:  b".into(), "LOG:  a".into()], &log),
            [true, false]
        );
    }
}
