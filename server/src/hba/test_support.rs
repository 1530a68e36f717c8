//! What the parser's tests share: the file they parse as, parsing helpers, and in-memory
//! include resolvers.

use crate::hba::*;
use crate::profile::Profile;

pub(super) const PATH: &str = "/data/pg_hba.conf";

pub(super) fn hba(profile: Profile, text: &str) -> HbaLoad {
    parse_hba_str(text, PATH, &ParseOptions::new(profile))
}

/// Message of the first error-level diagnostic.
pub(super) fn err(profile: Profile, text: &str) -> String {
    let load = hba(profile, text);
    match load.errors().next() {
        Some(d) => d.message(),
        None => panic!(
            "expected an error for {text:?}, got rows {:?}",
            load.config.rows
        ),
    }
}

/// Every profile: the parser's rules that no release changed must hold for each.
pub(super) fn all_profiles() -> [Profile; 7] {
    Profile::ALL
}

pub(super) fn files(
    map: &'static [(&'static str, &'static str)],
) -> FnResolver<impl Fn(&str) -> Option<String>> {
    FnResolver(move |p: &str| {
        map.iter()
            .find(|(k, _)| *k == p)
            .map(|(_, v)| v.to_string())
    })
}

pub(super) struct DirResolver;
impl IncludeResolver for DirResolver {
    fn read_file(&self, path: &str) -> Result<String, ResolveError> {
        match path {
            "/data/conf.d/10-a.conf" => Ok("host all alice 10.0.0.1/32 trust\n".into()),
            "/data/conf.d/20-b.conf" => Ok("host all bob 10.0.0.2/32 reject\n".into()),
            _ => Err(ResolveError::not_found()),
        }
    }
    fn list_dir(&self, path: &str) -> Result<Vec<String>, ResolveError> {
        if path == "/data/conf.d" {
            Ok(vec![
                "20-b.conf".into(),
                ".hidden.conf".into(),
                "10-a.conf".into(),
                "notes.txt".into(),
            ])
        } else {
            Err(ResolveError {
                not_found: true,
                reason: "No such file or directory".into(),
            })
        }
    }
}
