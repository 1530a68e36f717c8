//! Divergences from PostgreSQL, classified: every failed case of a run becomes one
//! [`Divergence`] with a [`Class`] and one line on why it matters.
//!
//! The class comes from comparing the *shape* of the expected and observed traces (each
//! line reduced to what a client acts on: `E FATAL` without its code and text, `tls failed`
//! without the alert, a refused start without its message):
//! - same shape: **fidelity**, the same outcome with a different code, message or log line;
//! - a different shape where the case guards a security property (its `security` line) and
//!   the target got further than PostgreSQL (a start PostgreSQL refuses, an `S`, a TLS
//!   handshake, an authentication, a query answered, or a lower TLS version): **security**;
//! - any other different shape: **interoperability**, a client acts differently.

pub mod render;

use serde::Serialize;

use crate::case::{Case, Version};
use crate::run::{CaseResult, Status};
use crate::trace::{matched_observations, observations};
use crate::unstable::Unstable;

/// How much a divergence matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The target accepts what PostgreSQL refuses, where that protects something.
    Security,
    /// A real client would fail or act differently.
    Interoperability,
    /// The same outcome with a different message, code or log line.
    Fidelity,
}

impl Class {
    /// Every class, most serious first.
    pub const ALL: [Class; 3] = [Class::Security, Class::Interoperability, Class::Fidelity];

    /// The class's name as the report prints it.
    pub fn name(self) -> &'static str {
        match self {
            Class::Security => "security",
            Class::Interoperability => "interoperability",
            Class::Fidelity => "fidelity",
        }
    }
}

/// One failed case on one target, classified.
#[derive(Clone, Debug, Serialize)]
pub struct Divergence {
    /// The case id.
    pub case: String,
    /// The case's title.
    pub title: String,
    /// The class.
    pub class: Class,
    /// One line on why it matters.
    pub why: String,
    /// Expected against observed lines, as `run` prints them.
    pub diff: String,
}

/// A run on one target, as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    /// The target's label.
    pub target: String,
    /// What the target is (product, version, backend), when it says.
    pub describe: Option<String>,
    /// The version whose expectations judged it.
    pub version: String,
    /// Cases that passed.
    pub passed: usize,
    /// Every failed case, most serious class first, then by case order.
    pub divergences: Vec<Divergence>,
    /// Cases whose outcome varies from run to run on this target (`unstable.toml`), with the
    /// reason and the outcomes seen; this run's was one of them.
    pub unstable: Vec<(String, String)>,
    /// Cases not run, with the reason.
    pub not_applicable: Vec<(String, String)>,
    /// Harness errors, with the error.
    pub errors: Vec<(String, String)>,
}

impl TargetReport {
    /// Classifies `results` (one target's, judged as `version`) against `cases`; a case of
    /// `unstable` (entries for other targets are ignored) whose outcome was one of those seen
    /// is listed apart.
    pub fn new(
        target: String,
        describe: Option<String>,
        version: Version,
        cases: &[&Case],
        results: &[CaseResult],
        unstable: &[Unstable],
    ) -> Self {
        let mut report = TargetReport {
            target,
            describe,
            version: version.name().to_owned(),
            passed: 0,
            divergences: Vec::new(),
            unstable: Vec::new(),
            not_applicable: Vec::new(),
            errors: Vec::new(),
        };
        for r in results {
            let note = || r.note.clone().unwrap_or_default();
            let varies = unstable
                .iter()
                .filter(|u| u.case == r.id && u.target == report.target)
                .find(|u| u.admits(&observations(&r.trace)));
            if let Some(u) = varies.filter(|_| matches!(r.status, Status::Pass | Status::Fail)) {
                let seen: Vec<String> = u.seen.iter().map(|s| s.join(", ")).collect();
                report.unstable.push((
                    r.id.clone(),
                    format!("{} Seen: {}.", u.reason, seen.join("; or ")),
                ));
                continue;
            }
            match r.status {
                Status::Pass => report.passed += 1,
                Status::NotApplicable => report.not_applicable.push((r.id.clone(), note())),
                Status::Error => report.errors.push((r.id.clone(), note())),
                Status::Fail => {
                    if let Some(case) = cases.iter().find(|c| c.id == r.id) {
                        report.divergences.push(classify(case, r, version));
                    }
                }
            }
        }
        // Stable: within a class, the catalogue's order.
        report.divergences.sort_by_key(|d| d.class);
        report
    }

    /// How many divergences of `class` there are.
    pub fn count(&self, class: Class) -> usize {
        self.divergences.iter().filter(|d| d.class == class).count()
    }
}

/// What a client acts on in an observation line.
fn shape(line: &str) -> Option<String> {
    // DETAIL and HINT lines, and notices, carry text only.
    if line.starts_with("  ") || line.starts_with("N NOTICE") {
        return None;
    }
    if let Some(rest) = line.strip_prefix("E ") {
        // `E FATAL 28000 text` → `E FATAL`.
        return Some(format!("E {}", rest.split(' ').next().unwrap_or("")));
    }
    for prefix in [
        "start: refused",
        "tls failed",
        "psql failed",
        "v2 error",
        "write failed",
        "connect failed",
    ] {
        if line.starts_with(prefix) {
            return Some(prefix.to_owned());
        }
    }
    // `still open after 6 s`: how long the wait was is the case's, not the server's.
    if line.starts_with("still open after") {
        return Some("still open".to_owned());
    }
    if let Some(params) = line.strip_prefix("ParameterStatus ") {
        return Some(format!(
            "ParameterStatus {}",
            params.split('=').next().unwrap_or("")
        ));
    }
    Some(line.to_owned())
}

/// The shapes of `lines`, a refused start's several lines counted once.
fn shapes<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in lines.iter().filter_map(|l| shape(l.as_ref())) {
        if s == "start: refused" && out.last().is_some_and(|l| l == &s) {
            continue;
        }
        out.push(s);
    }
    out
}

/// Whether a shape is a step forward for the client: the server accepted something.
fn is_progress(shape: &str) -> bool {
    shape == "S"
        || shape == "AuthenticationOk"
        || shape == "ReadyForQuery"
        || shape.starts_with("tls TLS")
        || shape.starts_with("DataRow")
        || shape.starts_with("psql ok")
        // A connection kept past the wait that PostgreSQL's timeout closes within: the
        // client holds a slot longer than PostgreSQL lets it.
        || shape == "still open"
}

/// `tls TLSv1.2 …` → 2 (the minor version), for comparing what was negotiated.
fn tls_minor(shape: &str) -> Option<u32> {
    let version = shape.strip_prefix("tls TLSv1")?.split(' ').next()?;
    match version {
        "" => Some(0),
        v => v.strip_prefix('.')?.parse().ok(),
    }
}

/// Whether the target got further than PostgreSQL: it started where PostgreSQL refused, or
/// shows a step of progress PostgreSQL's trace lacks (a connection still open where
/// PostgreSQL closed it counts as one), or negotiated a lower TLS version.
fn got_further(expected: &[String], observed: &[String]) -> bool {
    let refused = |s: &[String]| s.iter().any(|l| l == "start: refused");
    if refused(expected) && !refused(observed) {
        return true;
    }
    let new_progress = observed
        .iter()
        .filter(|o| is_progress(o))
        .any(|o| !expected.iter().any(|e| same_progress(e, o)));
    let weaker = observed.iter().filter_map(|o| tls_minor(o)).min()
        < expected.iter().filter_map(|e| tls_minor(e)).min()
        && observed.iter().any(|o| tls_minor(o).is_some());
    new_progress || weaker
}

/// Two progress shapes count as the same step: a TLS handshake is one whatever it
/// negotiated, a data row one whatever it holds.
fn same_progress(expected: &str, observed: &str) -> bool {
    let step = |s: &str| -> String {
        if s.starts_with("tls TLS") {
            "tls".into()
        } else if s.starts_with("DataRow") {
            "DataRow".into()
        } else {
            s.split('*').next().unwrap_or(s).to_owned()
        }
    };
    step(expected) == step(observed)
}

/// The first line where two shape lists part.
fn first_difference<'a>(expected: &'a [String], observed: &'a [String]) -> (&'a str, &'a str) {
    let n = expected.len().max(observed.len());
    for i in 0..n {
        let e = expected.get(i).map_or("(nothing)", String::as_str);
        let o = observed.get(i).map_or("(nothing)", String::as_str);
        if e != o {
            return (e, o);
        }
    }
    ("(nothing)", "(nothing)")
}

/// The SQLSTATE of an `E SEVERITY CODE text` line.
fn sqlstate(line: &str) -> Option<&str> {
    let mut words = line.strip_prefix("E ")?.split(' ');
    words.next()?;
    words.next()
}

/// Classifies one failed case.
pub fn classify(case: &Case, result: &CaseResult, version: Version) -> Divergence {
    let expected: Vec<String> = case
        .expectation(version)
        .map(|e| e.trace.clone())
        .unwrap_or_default();
    let observed_all = observations(&result.trace);
    let observed: Vec<&str> = matched_observations(&expected, &observed_all);
    let (want, got) = (shapes(&expected), shapes(&observed));
    let (class, why) = if want == got {
        (Class::Fidelity, fidelity_why(&expected, &observed))
    } else if let Some(why) = case.security.as_ref().filter(|_| got_further(&want, &got)) {
        (Class::Security, why.clone())
    } else {
        let (e, o) = first_difference(&want, &got);
        (
            Class::Interoperability,
            format!(
                "PostgreSQL answers `{e}` where this target answers `{o}`: a client written against PostgreSQL takes another path"
            ),
        )
    };
    Divergence {
        case: case.id.clone(),
        title: case.title.clone(),
        class,
        why,
        diff: result.diff.clone().unwrap_or_default(),
    }
}

/// Why a same-shaped divergence matters: the SQLSTATE, the text, or only the log.
fn fidelity_why(expected: &[String], observed: &[&str]) -> String {
    let codes = |lines: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        lines.filter_map(sqlstate).map(str::to_owned).collect()
    };
    let want = codes(&mut expected.iter().map(String::as_str));
    let got = codes(&mut observed.iter().copied());
    if let Some((w, g)) = want.iter().zip(&got).find(|(w, g)| w != g) {
        return format!(
            "the same outcome, but SQLSTATE {g} where PostgreSQL sends {w}: a client that branches on the code (retry, report, fall back) branches differently"
        );
    }
    let same_text = expected.len() == observed.len()
        && expected
            .iter()
            .zip(observed)
            .all(|(e, o)| crate::trace::line_matches(e, o));
    if same_text {
        "the client sees what PostgreSQL sends; only the server log differs, which operators and log-based alerting read".into()
    } else {
        "the same outcome with other words: users and tools that show or match PostgreSQL's message text see another".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(lines: &[&str]) -> Vec<String> {
        shapes(lines)
    }

    #[test]
    fn shapes_keep_what_a_client_acts_on() {
        assert_eq!(
            s(&[
                "S",
                "tls TLSv1.3 TLS_AES_256_GCM_SHA384",
                "E FATAL 28000 no pg_hba.conf entry",
                "  DETAIL: x",
                "closed",
            ]),
            [
                "S",
                "tls TLSv1.3 TLS_AES_256_GCM_SHA384",
                "E FATAL",
                "closed"
            ]
        );
        assert_eq!(
            s(&["start: refused: FATAL:  a", "start: refused: DETAIL:  b"]),
            ["start: refused"]
        );
        assert_eq!(s(&["tls failed: alert unknown_ca"]), ["tls failed"]);
    }

    #[test]
    fn getting_further_than_postgres() {
        // Started where PostgreSQL refused (a world-readable key).
        assert!(got_further(
            &s(&["start: refused: FATAL:  private key file"]),
            &s(&["S", "tls TLSv1.3 X"])
        ));
        // Authenticated where PostgreSQL sent a FATAL.
        assert!(got_further(
            &s(&["S", "tls TLSv1.3 X", "E FATAL 28000 x", "closed"]),
            &s(&["S", "tls TLSv1.3 X", "AuthenticationOk", "ReadyForQuery"])
        ));
        // A lower TLS version than PostgreSQL negotiated.
        assert!(got_further(
            &s(&["S", "tls TLSv1.3 X"]),
            &s(&["S", "tls TLSv1.1 Y"])
        ));
        // Refusing earlier is not getting further.
        assert!(!got_further(
            &s(&["S", "tls TLSv1.3 X", "E FATAL 08P01 x", "closed"]),
            &s(&["E FATAL 08P01 x", "closed"])
        ));
        // Kept open where PostgreSQL's authentication_timeout closes the connection.
        assert!(got_further(
            &s(&["S", "closed"]),
            &s(&["S", "still open after 6 s"])
        ));
        // Closed with an error first, as PgBouncer does, is not.
        assert!(!got_further(
            &s(&["closed"]),
            &s(&["E FATAL 08P01 client_login_timeout", "closed"])
        ));
        // Another cipher at the same version is not weaker by this measure.
        assert!(!got_further(
            &s(&["S", "tls TLSv1.2 A"]),
            &s(&["S", "tls TLSv1.2 B"])
        ));
    }

    #[test]
    fn fidelity_names_the_code_or_the_text() {
        let expected = vec![
            "E FATAL 28000 no pg_hba.conf entry".to_owned(),
            "closed".to_owned(),
        ];
        assert!(
            fidelity_why(&expected, &["E FATAL 08P01 login rejected", "closed"])
                .contains("SQLSTATE 08P01 where PostgreSQL sends 28000")
        );
        assert!(
            fidelity_why(&expected, &["E FATAL 28000 other words", "closed"])
                .contains("other words")
        );
        assert!(
            fidelity_why(&expected, &["E FATAL 28000 no pg_hba.conf entry", "closed"])
                .contains("server log")
        );
    }
}
