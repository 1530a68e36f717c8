//! The errors of reading configuration files, as values: each [`ConfigFileError`] is one
//! LOG record with PostgreSQL's text and SQLSTATE, [`ConfigFileErrors`] their summary.

use std::io;
use std::path::PathBuf;

use super::ConfigNote;
use crate::conffiles::os_error_text;

/// One problem found while reading configuration files.  `Display` is
/// PostgreSQL's message text (logged at LOG level, one per error).
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// A line whose tokens do not form `name [=] value`.
    #[error("syntax error in file \"{}\" line {line}, near token \"{token}\"", .file.display())]
    SyntaxNearToken {
        /// File containing the error.
        file: PathBuf,
        /// Line of the offending token.
        line: u32,
        /// The offending token's text.
        token: String,
    },
    /// A line that ended (or the file ended) too early.  As in PostgreSQL,
    /// `line` is one less than the current line when the file ends without a
    /// final newline (so it can be 0).
    #[error("syntax error in file \"{}\" line {line}, near end of line", .file.display())]
    SyntaxNearEndOfLine {
        /// File containing the error.
        file: PathBuf,
        /// Line number as PostgreSQL reports it.
        line: u32,
    },
    /// The 100th syntax error in a file; the rest of it was skipped.
    #[error("too many syntax errors found, abandoning file \"{}\"", .file.display())]
    TooManySyntaxErrors {
        /// The abandoned file.
        file: PathBuf,
    },
    /// A configuration file could not be opened.
    #[error("could not open configuration file \"{}\": {}", .path.display(), os_error_text(.source))]
    OpenFile {
        /// The resolved path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A configuration file was opened but could not be read (e.g. it is a
    /// directory); PostgreSQL's scanner reports this as a flex failure.
    #[error("input in flex scanner failed at file \"{}\" line {line}", .path.display())]
    ReadFile {
        /// The resolved path.
        path: PathBuf,
        /// Line being read (1: files are read whole).
        line: u32,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An `include_dir` directory could not be opened.
    #[error("could not open configuration directory \"{}\": {}", .path.display(), os_error_text(.source))]
    OpenDirectory {
        /// The resolved directory path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading an `include_dir` directory's entries failed.
    #[error("could not read directory \"{}\": {}", .path.display(), os_error_text(.source))]
    ReadDirectory {
        /// The resolved directory path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An entry of an `include_dir` directory could not be examined (e.g. a
    /// dangling symlink).
    #[error("could not stat file \"{}\": {}", .path.display(), os_error_text(.source))]
    StatFile {
        /// The entry's path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Include nesting deeper than the policy's `max_depth`.
    #[error("could not open configuration file \"{}\": maximum nesting depth exceeded", .file.display())]
    NestingDepthExceeded {
        /// The file name as written in the directive.
        file: PathBuf,
    },
    /// A file that includes itself directly.
    #[error("configuration file recursion in \"{}\"", .file.display())]
    Recursion {
        /// The including (and included) file.
        file: PathBuf,
    },
    /// `include` / `include_if_exists` with an all-blank file name.
    #[error("empty configuration file name: \"{}\"", .name.display())]
    EmptyFileName {
        /// The name as written.
        name: PathBuf,
    },
    /// `include_dir` with an all-blank directory name.
    #[error("empty configuration directory name: \"{}\"", .name.display())]
    EmptyDirectoryName {
        /// The name as written.
        name: PathBuf,
    },
    /// An include directive while [`IncludePolicy::follow_includes`] is off
    /// (not a PostgreSQL condition).
    #[error("{directive} directive not allowed in file \"{}\" line {line}: includes are disabled", .file.display())]
    IncludesDisabled {
        /// `include`, `include_if_exists` or `include_dir`.
        directive: &'static str,
        /// File containing the directive.
        file: PathBuf,
        /// Line of the directive.
        line: u32,
    },
}

impl ConfigFileError {
    /// The SQLSTATE PostgreSQL attaches to this report.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            ConfigFileError::SyntaxNearToken { .. }
            | ConfigFileError::SyntaxNearEndOfLine { .. } => {
                "42601" // syntax_error
            }
            ConfigFileError::TooManySyntaxErrors { .. }
            | ConfigFileError::NestingDepthExceeded { .. } => "54000", // program_limit_exceeded
            ConfigFileError::Recursion { .. }
            | ConfigFileError::EmptyFileName { .. }
            | ConfigFileError::EmptyDirectoryName { .. }
            | ConfigFileError::IncludesDisabled { .. } => "22023", // invalid_parameter_value
            ConfigFileError::ReadFile { .. } => "XX000", // elog(): internal_error
            ConfigFileError::OpenFile { source, .. }
            | ConfigFileError::OpenDirectory { source, .. }
            | ConfigFileError::ReadDirectory { source, .. }
            | ConfigFileError::StatFile { source, .. } => sqlstate_for_file_access(source),
        }
    }
}

/// All errors from reading a configuration, reported after them by
/// PostgreSQL as `configuration file "%s" contains errors` (FATAL at
/// postmaster start).  `file` is the top-level file.
#[derive(Debug, thiserror::Error)]
#[error("configuration file \"{}\" contains errors", .file.display())]
pub struct ConfigFileErrors {
    /// The top-level configuration file.
    pub file: PathBuf,
    /// Every error, in the order PostgreSQL would log them.
    pub errors: Vec<ConfigFileError>,
    /// LOG-level notes gathered before giving up.
    pub notes: Vec<ConfigNote>,
}

impl ConfigFileErrors {
    /// SQLSTATE of the summary (`config_file_error`).
    pub fn sqlstate(&self) -> &'static str {
        "F0000"
    }
}
/// `errcode_for_file_access`.
fn sqlstate_for_file_access(err: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match err.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => "42501",
        K::NotFound => "58P01",
        K::AlreadyExists => "58P02",
        K::NotADirectory | K::IsADirectory | K::DirectoryNotEmpty => "42809",
        K::StorageFull => "53100",
        K::OutOfMemory => "53200",
        _ => match err.raw_os_error() {
            // Linux errno values without a stable ErrorKind in Rust 1.85.
            Some(5) if cfg!(target_os = "linux") => "58030", // EIO
            Some(23 | 24) if cfg!(target_os = "linux") => "53000", // ENFILE, EMFILE
            Some(36) if cfg!(target_os = "linux") => "58P03", // ENAMETOOLONG
            _ => "XX000",
        },
    }
}
