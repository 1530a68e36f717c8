//! Third-party target specs: what follows the product's name in `--target`.

use std::path::PathBuf;

use crate::case::Version;
use crate::error::Error;
use crate::target::backend::DEFAULT_BINDIR;
use crate::target::known_version;

/// A spec of a product in front of a PostgreSQL backend, `[:BINDIR][@VERSION]`.
pub struct WithBackend {
    /// The whole spec, as errors name the target (`pgbouncer:/usr/lib/postgresql/15/bin`).
    pub spec: String,
    /// The backend's BINDIR ([`DEFAULT_BINDIR`] when the spec names none).
    pub bindir: PathBuf,
    /// The version the spec names, when it names one.
    pub version: Option<Version>,
}

/// Parses what follows `product` in a target with a backend (``, `@15`, `:BINDIR`,
/// `:BINDIR@15`).
pub fn with_backend(product: &str, rest: &str) -> Result<WithBackend, Error> {
    let spec = format!("{product}{rest}");
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let (bindir, version) = match rest.rsplit_once('@') {
        Some((b, v)) => (b, Some(v)),
        None => (rest, None),
    };
    let bindir = if bindir.is_empty() {
        DEFAULT_BINDIR
    } else {
        bindir
    };
    let version = version.map(|v| known_version(&spec, v)).transpose()?;
    Ok(WithBackend {
        bindir: PathBuf::from(bindir),
        version,
        spec,
    })
}

/// Parses what follows `product` in a target with no backend (`` or `@VERSION`): the whole
/// spec, and the version it names or else `default`.
pub fn without_backend(
    product: &str,
    rest: &str,
    default: Version,
) -> Result<(String, Version), Error> {
    let spec = format!("{product}{rest}");
    let version = match rest.strip_prefix('@') {
        None if rest.is_empty() => default,
        Some(v) => known_version(&spec, v)?,
        None => return Err(Error::BadTarget(spec)),
    };
    Ok((spec, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_with_a_backend() {
        let s = with_backend("pgpool", "").expect("parses");
        assert_eq!(
            (s.spec.as_str(), s.bindir, s.version),
            ("pgpool", PathBuf::from(DEFAULT_BINDIR), None)
        );
        let s = with_backend("pgbouncer", ":/x/bin@18").expect("parses");
        assert_eq!(
            (s.spec.as_str(), s.bindir, s.version),
            (
                "pgbouncer:/x/bin@18",
                PathBuf::from("/x/bin"),
                Some(Version::Pg18)
            )
        );
        let s = with_backend("pgpool", "@15").expect("parses");
        assert_eq!(
            (s.bindir, s.version),
            (PathBuf::from(DEFAULT_BINDIR), Some(Version::Pg15))
        );
        let Err(Error::UnknownVersion { target, what, .. }) = with_backend("pgpool", ":/x@12")
        else {
            panic!("12 is not a known version");
        };
        assert_eq!(
            (target.as_str(), what.as_str()),
            ("pgpool:/x@12", "version \"12\"")
        );
    }

    #[test]
    fn specs_without_a_backend() {
        assert_eq!(
            without_backend("pgwire", "", Version::Pg15).expect("parses"),
            ("pgwire".to_owned(), Version::Pg15)
        );
        assert_eq!(
            without_backend("pg-gateway", "@18", Version::Pg15).expect("parses"),
            ("pg-gateway@18".to_owned(), Version::Pg18)
        );
        assert!(matches!(
            without_backend("pgwire", ":/x", Version::Pg15),
            Err(Error::BadTarget(spec)) if spec == "pgwire:/x"
        ));
        assert!(matches!(
            without_backend("pgwire", "@", Version::Pg15),
            Err(Error::UnknownVersion { what, .. }) if what == "version \"\""
        ));
    }
}
