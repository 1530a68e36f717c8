//! `postgresql.conf` as a product mapping reads it: the settings a case's file sets (each
//! setting the mapping has no equivalent for refused with the product's reason), PostgreSQL's
//! spellings of Booleans and times, paths as PostgreSQL resolves them, and PostgreSQL's
//! defaults for what a mapping writes when a case leaves it unset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::case::Version;

/// PostgreSQL's `ssl_ciphers` default (every release from 13 to 18).
pub const POSTGRES_CIPHERS: &str = "HIGH:MEDIUM:+3DES:!aNULL";

/// PostgreSQL's defaults for what a mapping writes when a case leaves it unset.
pub struct PostgresDefaults {
    /// `ssl_ecdh_curve` (13 to 17) or `ssl_groups` (18), colon-separated.
    pub groups: &'static str,
}

impl PostgresDefaults {
    /// The defaults of PostgreSQL `version`.
    pub const fn of(version: Version) -> Self {
        Self {
            // PostgreSQL's default ssl_ecdh_curve (13 to 17) and ssl_groups (18).
            groups: if matches!(version, Version::Pg18) {
                "X25519:prime256v1"
            } else {
                "prime256v1"
            },
        }
    }
}

/// The settings `conf` (a postgresql.conf text) sets, the last value of each winning; a
/// setting not in `known` is refused with the reason `missing` gives for its name.
pub fn settings(
    conf: &str,
    known: &[&str],
    missing: fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for raw in conf.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = crate::setup::split_conf_line(line) else {
            return Err(format!(
                "the postgresql.conf line {line:?} is not a `name = value` setting"
            ));
        };
        let name = name.to_ascii_lowercase();
        if !known.contains(&name.as_str()) {
            return Err(missing(&name));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// `line` up to a `#` outside single quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// PostgreSQL's Boolean spellings.
pub fn boolean(name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Ok(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Ok(false),
        _ => Err(format!(
            "{name} = {value:?} is not a Boolean PostgreSQL would read the same way"
        )),
    }
}

/// The units of a time setting whose default unit is seconds that every mapping reads, each
/// with its length in milliseconds.
pub const TIME_UNITS: &[(&str, u64)] = &[
    ("", 1000),
    ("s", 1000),
    ("ms", 1),
    ("min", 60_000),
    ("h", 3_600_000),
];

/// A PostgreSQL time setting whose default unit is seconds (`2`, `1500ms`, `1min`), as its
/// number and the length of its unit (one of `units`) in milliseconds; what the product makes
/// of them (the rounding, a product too large) is its mapping's.
pub fn time(name: &str, value: &str, units: &[(&str, u64)]) -> Result<(u64, u64), String> {
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    let unit = value[digits.len()..].trim();
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{name} = {value:?} is not a whole number of time units"))?;
    let (_, ms) = units
        .iter()
        .find(|(u, _)| *u == unit)
        .ok_or_else(|| format!("{name} = {value:?} has a unit the mapping does not read"))?;
    Ok((n, *ms))
}

/// A path setting as PostgreSQL resolves it: relative to the data directory.
pub fn in_dir(dir: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_owned()
    } else {
        dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(name: &str) -> String {
        format!("no {name}")
    }

    #[test]
    fn the_last_value_wins_and_unknown_names_are_refused() {
        let conf = "SSL = on\n# comment\n\nssl = off  # comment\nssl_ciphers = 'A#B'\n";
        let s = settings(conf, &["ssl", "ssl_ciphers"], missing).expect("reads");
        assert_eq!(s["ssl"], "off");
        assert_eq!(s["ssl_ciphers"], "A#B");
        assert_eq!(s.len(), 2);
        assert_eq!(
            settings("ssl = on\nwal_level = minimal\n", &["ssl"], missing),
            Err("no wal_level".to_owned())
        );
        let why = settings("nonsense", &["ssl"], missing).expect_err("not a setting");
        assert!(why.contains("not a `name = value`"), "{why}");
    }

    #[test]
    fn postgres_spellings() {
        assert_eq!(boolean("ssl", "ON"), Ok(true));
        assert_eq!(boolean("ssl", "f"), Ok(false));
        let why = boolean("ssl", "maybe").expect_err("not a Boolean");
        assert!(why.contains("Boolean"), "{why}");
        assert_eq!(time("t", "1500ms", TIME_UNITS), Ok((1500, 1)));
        assert_eq!(time("t", "2", TIME_UNITS), Ok((2, 1000)));
        assert_eq!(time("t", "1 min", TIME_UNITS), Ok((1, 60_000)));
        let why = time("t", "2d", TIME_UNITS).expect_err("no days");
        assert!(why.contains("unit"), "{why}");
        let why = time("t", "s", TIME_UNITS).expect_err("no number");
        assert!(why.contains("whole number"), "{why}");
        assert_eq!(in_dir(Path::new("/d"), "x.crt"), PathBuf::from("/d/x.crt"));
        assert_eq!(
            in_dir(Path::new("/d"), "/abs/x.crt"),
            PathBuf::from("/abs/x.crt")
        );
    }

    #[test]
    fn defaults_by_version() {
        assert_eq!(PostgresDefaults::of(Version::Pg15).groups, "prime256v1");
        assert_eq!(
            PostgresDefaults::of(Version::Pg18).groups,
            "X25519:prime256v1"
        );
    }
}
