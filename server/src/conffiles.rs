//! What PostgreSQL's configuration files share, whatever their syntax (`conffiles.c` in 16
//! and later): the include nesting limit, `AbsoluteConfigLocation` with its lexical
//! `canonicalize_path`, the `include_dir` file filter, the blank-name check, and reading a
//! file with the OS error text PostgreSQL prints. Used by `postgresql.conf`
//! ([`crate::config`]) and by `pg_hba.conf` / `pg_ident.conf` ([`crate::hba`]); the
//! messages built from these stay with each file's own error type.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// PostgreSQL's `CONF_FILE_MAX_DEPTH`: the top-level file is depth 0 and each
/// include level (or `@file` in pg_hba.conf / pg_ident.conf) adds one; opening a file at a
/// greater depth fails.
pub const CONF_FILE_MAX_DEPTH: u32 = 10;

/// True if `name` is empty or only blanks (`strspn(name, " \t\r\n")`), which
/// PostgreSQL refuses as an include file or directory name.
pub fn is_blank_name(name: &[u8]) -> bool {
    name.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `GetConfFilesInDir`'s filter: a name of at least six bytes ending in `.conf` and not
/// starting with `.`.
pub fn is_conf_file_name(name: &[u8]) -> bool {
    name.len() >= 6 && !name.starts_with(b".") && name.ends_with(b".conf")
}

/// Lexical `canonicalize_path`: drop `.` components, duplicate and trailing
/// separators, and resolve `..` against preceding components.
pub fn canonicalize_path(path: &Path) -> PathBuf {
    if !path.components().any(|c| c == Component::ParentDir) {
        // Nothing to resolve: the components without `.` (what the general case below
        // computes), built without the intermediate list.
        let mut out = PathBuf::with_capacity(path.as_os_str().len());
        for component in path.components().filter(|c| *c != Component::CurDir) {
            out.push(component);
        }
        if out.as_os_str().is_empty() {
            out.push(".");
        }
        return out;
    }
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        PathBuf::from(".")
    } else {
        parts.iter().collect()
    }
}

/// `AbsoluteConfigLocation`: absolute locations are used as is; relative
/// ones are taken relative to the including file's directory (canonicalised).
pub fn absolute_config_location(location: &Path, calling_file: Option<&Path>) -> PathBuf {
    if location.is_absolute() {
        return location.to_path_buf();
    }
    match calling_file {
        Some(caller) => {
            let dir = caller.parent().unwrap_or_else(|| Path::new(""));
            canonicalize_path(&dir.join(location))
        }
        None => canonicalize_path(location),
    }
}

/// `%m`: the OS's `strerror` text, without Rust's ` (os error N)` suffix.
pub fn os_error_text(err: &io::Error) -> String {
    let text = err.to_string();
    if let Some(code) = err.raw_os_error() {
        let suffix = format!(" (os error {code})");
        if let Some(stripped) = text.strip_suffix(&suffix) {
            return stripped.to_owned();
        }
    }
    text
}

/// Why [`read_config_file`] failed: PostgreSQL words a failed open and a failed read
/// differently.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be opened.
    Open(io::Error),
    /// It was opened but could not be read (e.g. it is a directory).
    Read(io::Error),
}

impl ReadError {
    /// The OS error, whichever step failed.
    pub fn into_io(self) -> io::Error {
        match self {
            ReadError::Open(e) | ReadError::Read(e) => e,
        }
    }
}

/// A configuration file's contents, invalid UTF-8 replaced.
pub fn read_config_file(path: &Path) -> Result<String, ReadError> {
    let mut file = fs::File::open(path).map_err(ReadError::Open)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(ReadError::Read)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_including_file() {
        let caller = Some(Path::new("/data/pg_hba.conf"));
        let at = |l: &str| absolute_config_location(Path::new(l), caller);
        assert_eq!(at("/etc/x.conf"), Path::new("/etc/x.conf"));
        assert_eq!(at("x.conf"), Path::new("/data/x.conf"));
        assert_eq!(at("./a//b/../x.conf"), Path::new("/data/a/x.conf"));
        assert_eq!(at("../../../x"), Path::new("/x"));
        assert_eq!(
            absolute_config_location(Path::new("a/../../x"), None),
            Path::new("../x")
        );
    }

    #[test]
    fn include_dir_filter_and_blank_names() {
        assert!(is_conf_file_name(b"a.conf"));
        assert!(!is_conf_file_name(b".conf"));
        assert!(!is_conf_file_name(b".a.conf"));
        assert!(!is_conf_file_name(b"a.txt"));
        assert!(is_blank_name(b""));
        assert!(is_blank_name(b" \t\r\n"));
        assert!(!is_blank_name(b" x "));
    }

    #[test]
    fn canonical_paths() {
        assert_eq!(
            canonicalize_path(Path::new("/a/./b/../c//d/")),
            Path::new("/a/c/d")
        );
        assert_eq!(canonicalize_path(Path::new("a/../../b")), Path::new("../b"));
        assert_eq!(canonicalize_path(Path::new("/..")), Path::new("/"));
        assert_eq!(
            canonicalize_path(Path::new("./x.conf")),
            Path::new("x.conf")
        );
        assert_eq!(
            absolute_config_location(Path::new("x.conf"), Some(Path::new("postgresql.conf"))),
            Path::new("x.conf")
        );
        assert_eq!(
            absolute_config_location(Path::new("/abs/x.conf"), Some(Path::new("/etc/p.conf"))),
            Path::new("/abs/x.conf")
        );
    }
}
