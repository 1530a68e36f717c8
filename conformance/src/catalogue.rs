//! The case catalogue: the TOML files of `conformance/cases/`, compiled into the binary so a
//! run needs no files beside it, parsed and checked once.

use std::collections::HashSet;

use crate::case::{Case, CaseFile};
use crate::error::Error;

/// The case files, by name.
pub const FILES: &[(&str, &str)] = &[
    (
        "negotiation.toml",
        include_str!("../cases/negotiation.toml"),
    ),
    ("startup.toml", include_str!("../cases/startup.toml")),
    ("cancel.toml", include_str!("../cases/cancel.toml")),
    ("tls.toml", include_str!("../cases/tls.toml")),
    ("direct_ssl.toml", include_str!("../cases/direct_ssl.toml")),
    ("session.toml", include_str!("../cases/session.toml")),
    ("files.toml", include_str!("../cases/files.toml")),
    ("reload.toml", include_str!("../cases/reload.toml")),
    ("unix.toml", include_str!("../cases/unix.toml")),
    ("trace.toml", include_str!("../cases/trace.toml")),
    ("hba.toml", include_str!("../cases/hba.toml")),
    ("ssltests.toml", include_str!("../cases/ssltests.toml")),
    ("timeout.toml", include_str!("../cases/timeout.toml")),
];

/// Every case, in file order, checked for well-formedness and unique ids.
pub fn load() -> Result<Vec<Case>, Error> {
    let mut cases = Vec::new();
    let mut ids = HashSet::new();
    for (name, text) in FILES {
        let file: CaseFile = toml::from_str(text).map_err(|e| Error::CaseFile {
            file: (*name).to_owned(),
            message: e.to_string(),
        })?;
        for case in file.cases {
            case.validate()?;
            if !ids.insert(case.id.clone()) {
                return Err(Error::DuplicateCase(case.id));
            }
            cases.push(case);
        }
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SPEC_RULES;

    #[test]
    fn catalogue_loads_and_names_only_known_rules() {
        let cases = load().unwrap();
        assert!(!cases.is_empty());
        for case in &cases {
            for rule in &case.rules {
                assert!(
                    SPEC_RULES.iter().any(|r| r.id == rule),
                    "case {} names unknown rule {rule}",
                    case.id
                );
            }
        }
    }
}

#[cfg(test)]
mod schema_tests {
    /// `cases/schema.json` is generated from the case types; regenerate it with
    /// `pgssl-conform schema > conformance/cases/schema.json` when they change.
    #[test]
    fn committed_schema_is_current() {
        let committed = include_str!("../cases/schema.json");
        assert_eq!(
            committed,
            crate::case::schema(),
            "conformance/cases/schema.json is stale: run pgssl-conform schema > conformance/cases/schema.json"
        );
    }
}
