//! Accepted differences between the reference server and real PostgreSQL: one reviewed file,
//! `conformance/accepted-differences.toml`, each entry with its reason.

use serde::Deserialize;

use crate::error::Error;

/// One accepted difference.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// The case id.
    pub case: String,
    /// The real-PostgreSQL target label, which names the build: `postgres-15` (the npm
    /// build), `postgres-15-debian` (Debian's).
    pub target: String,
    /// Why it is accepted.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    difference: Vec<Difference>,
}

/// The accepted differences, compiled in.
pub fn load() -> Result<Vec<Difference>, Error> {
    let text = include_str!("../accepted-differences.toml");
    let file: File = toml::from_str(text).map_err(|e| Error::CaseFile {
        file: "accepted-differences.toml".into(),
        message: e.to_string(),
    })?;
    Ok(file.difference)
}
