//! The probe's findings: an id, a severity, what was observed and one line on why it
//! matters; and the exit status the worst of them gives.

use serde::Serialize;

/// How much a finding matters, least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fact about the server, nothing to fix.
    Info,
    /// A weakness or a difference from PostgreSQL that rarely matters.
    Low,
    /// A weakness a client or an attacker can run into.
    Medium,
    /// Confidentiality or integrity is at stake.
    High,
}

impl Severity {
    /// The word used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    /// The process exit status when this is the worst finding (see [`exit`]).
    pub fn exit_status(self) -> u8 {
        match self {
            Self::Info => exit::INFO,
            Self::Low => exit::LOW,
            Self::Medium => exit::MEDIUM,
            Self::High => exit::HIGH,
        }
    }
}

/// The probe's exit statuses.
///
/// | status | meaning |
/// |---|---|
/// | 0 | report written; the worst finding is `info` |
/// | 10, 11, 12 | report written; the worst finding is `low`, `medium`, `high` |
/// | 2 | bad input or a harness failure (a `--target` that does not start, an unreadable `--ca`) |
/// | 20 | the target is unreachable (one line says why) |
/// | 21 | the target does not speak the PostgreSQL protocol (one line says what it sent) |
pub mod exit {
    /// Worst finding `info`.
    pub const INFO: u8 = 0;
    /// Bad input or a harness failure.
    pub const USAGE: u8 = 2;
    /// Worst finding `low`.
    pub const LOW: u8 = 10;
    /// Worst finding `medium`.
    pub const MEDIUM: u8 = 11;
    /// Worst finding `high`.
    pub const HIGH: u8 = 12;
    /// Nothing accepts connections there.
    pub const UNREACHABLE: u8 = 20;
    /// Something answers, but not as a PostgreSQL server.
    pub const NOT_POSTGRES: u8 = 21;
}

/// One thing the probe established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Further lines of the observation (a chain's certificates, a list of suites).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
    /// One line on why it matters.
    pub explanation: String,
    /// A stable dotted id, e.g. `tls.versions`.
    pub id: String,
    /// What the server did.
    pub observation: String,
    /// How much it matters.
    pub severity: Severity,
}

impl Finding {
    /// A finding without detail lines.
    pub fn new(
        id: &str,
        severity: Severity,
        observation: impl Into<String>,
        explanation: impl Into<String>,
    ) -> Self {
        Self {
            detail: Vec::new(),
            explanation: explanation.into(),
            id: id.to_owned(),
            observation: observation.into(),
            severity,
        }
    }

    /// The finding with detail lines.
    pub fn with_detail(mut self, detail: Vec<String>) -> Self {
        self.detail = detail;
        self
    }
}

/// The worst severity among `findings` (`info` when there are none).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_from_info_to_high() {
        assert!(Severity::Info < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::Medium < Severity::High);
    }

    #[test]
    fn the_worst_finding_decides_the_exit_status() {
        let f = |s| Finding::new("x", s, "o", "e");
        assert_eq!(worst(&[]), Severity::Info);
        assert_eq!(worst(&[]).exit_status(), 0);
        let all = [f(Severity::Low), f(Severity::High), f(Severity::Info)];
        assert_eq!(worst(&all), Severity::High);
        assert_eq!(worst(&all).exit_status(), 12);
        assert_eq!(worst(&all[..1]).exit_status(), 10);
        assert_eq!(
            worst(&[f(Severity::Medium), f(Severity::Low)]).exit_status(),
            11
        );
    }

    #[test]
    fn exit_statuses_are_distinct() {
        let mut all = [
            exit::INFO,
            exit::USAGE,
            exit::LOW,
            exit::MEDIUM,
            exit::HIGH,
            exit::UNREACHABLE,
            exit::NOT_POSTGRES,
        ];
        all.sort_unstable();
        let before = all.len();
        let mut v = all.to_vec();
        v.dedup();
        assert_eq!(v.len(), before);
    }
}
