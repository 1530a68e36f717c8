//! File access for `@file` and the include directives: the [`IncludeResolver`] seam (real
//! files, none, or in-memory ones) and why a file could not be read ([`ResolveError`]).

use std::path::Path;

use crate::conffiles::{os_error_text, read_config_file};

/// Why an included file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    /// ENOENT (lets `include_if_exists` skip the file).
    pub not_found: bool,
    /// strerror text, e.g. `No such file or directory`.
    pub reason: String,
}

impl ResolveError {
    pub fn not_found() -> ResolveError {
        ResolveError {
            not_found: true,
            reason: "No such file or directory".to_string(),
        }
    }

    pub fn from_io(e: &std::io::Error) -> ResolveError {
        ResolveError {
            not_found: e.kind() == std::io::ErrorKind::NotFound,
            reason: os_error_text(e),
        }
    }
}

/// Reads files named by `@file`, `include`, `include_if_exists` and
/// `include_dir`. Paths are already absolute (resolved against the including
/// file's directory).
pub trait IncludeResolver {
    fn read_file(&self, path: &str) -> Result<String, ResolveError>;

    /// File names (not paths) in a directory; sub-directories excluded.
    fn list_dir(&self, _path: &str) -> Result<Vec<String>, ResolveError> {
        Err(ResolveError::not_found())
    }
}

/// Includes disabled: every referenced file "does not exist".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIncludes;

impl IncludeResolver for NoIncludes {
    fn read_file(&self, _path: &str) -> Result<String, ResolveError> {
        Err(ResolveError::not_found())
    }
}

/// Real filesystem access.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsResolver;

impl IncludeResolver for FsResolver {
    fn read_file(&self, path: &str) -> Result<String, ResolveError> {
        read_config_file(Path::new(path)).map_err(|e| ResolveError::from_io(&e.into_io()))
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, ResolveError> {
        let rd = std::fs::read_dir(path).map_err(|e| ResolveError::from_io(&e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| ResolveError::from_io(&e))?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
}

/// In-memory files for tests and fuzzing: closure from absolute path to contents.
pub struct FnResolver<F>(pub F);

impl<F> IncludeResolver for FnResolver<F>
where
    F: Fn(&str) -> Option<String>,
{
    fn read_file(&self, path: &str) -> Result<String, ResolveError> {
        (self.0)(path).ok_or_else(ResolveError::not_found)
    }
}
