//! Cases whose outcome on a third-party product varies from run to run: one reviewed file,
//! `conformance/unstable.toml`, each entry naming the case, the target, every observation
//! list seen and why. A run's observations must still be one of those seen (the test checks
//! it), but the case is not snapshotted and the divergence report lists it apart, so a
//! committed report does not change with the race.

use serde::Deserialize;

use crate::error::Error;

/// One case whose outcome varies on one target.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unstable {
    /// The case id.
    pub case: String,
    /// The target label (`pgbouncer-15`).
    pub target: String,
    /// Every observation list (`<` lines without the marker) seen on the target.
    pub seen: Vec<Vec<String>>,
    /// What varies, and why.
    pub reason: String,
}

impl Unstable {
    /// Whether `observed` is one of the outcomes seen.
    pub fn admits(&self, observed: &[&str]) -> bool {
        self.seen
            .iter()
            .any(|s| s.len() == observed.len() && s.iter().zip(observed).all(|(a, b)| a == b))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    unstable: Vec<Unstable>,
}

/// The entries, compiled in.
pub fn load() -> Result<Vec<Unstable>, Error> {
    let text = include_str!("../unstable.toml");
    let file: File = toml::from_str(text).map_err(|e| Error::CaseFile {
        file: "unstable.toml".into(),
        message: e.to_string(),
    })?;
    Ok(file.unstable)
}
