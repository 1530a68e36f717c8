//! Reading of PostgreSQL's configuration-file syntax (`postgresql.conf`): the public
//! entry points ([`parse_file`], [`parse_str`]), what they return (items, notes), the
//! include policy, and [`quote_value`] for writing values. The work is in `lexer` (the
//! flex rules of `guc-file.l`), `reader` (the line grammar of `ParseConfigFp` and the
//! `include`, `include_if_exists` and `include_dir` directives of `ParseConfigFile` /
//! `ParseConfigDirectory`) and `error` (PostgreSQL's exact error texts); what all of
//! PostgreSQL's configuration files share is in [`crate::conffiles`].
//!
//! The result is the flat list of `name = value` items in file order; the
//! caller applies them (last one wins) and validates values
//! (see `config::value`).

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

mod error;
mod lexer;
mod reader;

pub use crate::conffiles::CONF_FILE_MAX_DEPTH;
pub use error::{ConfigFileError, ConfigFileErrors};

use crate::conffiles::{canonicalize_path, is_blank_name};
use reader::Reader;

/// After this many syntax errors in one file, the rest of it is abandoned.
pub const MAX_SYNTAX_ERRORS_PER_FILE: usize = 100;

/// How include directives are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncludePolicy {
    /// Deepest allowed include nesting (PostgreSQL: [`CONF_FILE_MAX_DEPTH`]).
    pub max_depth: u32,
    /// When false, every include directive is an error
    /// ([`ConfigFileError::IncludesDisabled`]) and the filesystem is never
    /// touched for it (for fuzzing [`parse_str`]).
    pub follow_includes: bool,
}

impl IncludePolicy {
    /// PostgreSQL's behaviour: includes followed, nesting depth 10.
    pub const POSTGRES: IncludePolicy = IncludePolicy {
        max_depth: CONF_FILE_MAX_DEPTH,
        follow_includes: true,
    };

    /// No include is ever opened.
    pub const NO_INCLUDES: IncludePolicy = IncludePolicy {
        max_depth: CONF_FILE_MAX_DEPTH,
        follow_includes: false,
    };
}

impl Default for IncludePolicy {
    fn default() -> Self {
        IncludePolicy::POSTGRES
    }
}

/// One `name = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigItem {
    /// Setting name, ASCII-lower-cased (names are case-insensitive).
    pub name: String,
    /// The value: an unquoted token verbatim, or a quoted string with its
    /// quotes removed and escapes processed.
    pub value: String,
    /// The file the line is in (as resolved for includes).
    pub file: PathBuf,
    /// 1-based line number.
    pub line: u32,
}

/// Something PostgreSQL logs at LOG level without failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigNote {
    /// `include_if_exists` named a file that could not be opened.
    SkippedMissingFile {
        /// The resolved path.
        path: PathBuf,
    },
}

impl fmt::Display for ConfigNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigNote::SkippedMissingFile { path } => write!(
                f,
                "skipping missing configuration file \"{}\"",
                path.display()
            ),
        }
    }
}

/// A successfully read configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedConfig {
    /// All items in order, including duplicates (later ones win).
    pub items: Vec<ConfigItem>,
    /// LOG-level notes, in the order they arose.
    pub notes: Vec<ConfigNote>,
}

/// Read the configuration file at `path` and everything it includes.
///
/// `path` is used as given (lexically canonicalised); PostgreSQL passes an
/// absolute path here.  On failure all errors are returned; like PostgreSQL,
/// no items are returned then.
pub fn parse_file(path: &Path, policy: &IncludePolicy) -> Result<ParsedConfig, ConfigFileErrors> {
    // (A blank name is left alone so that it is reported as such.)
    let path = if is_blank_name(path.as_os_str().as_encoded_bytes()) {
        path.to_path_buf()
    } else {
        canonicalize_path(path)
    };
    let mut reader = Reader::new(policy);
    reader.parse_config_file(&path, true, None, 0);
    reader.finish(path)
}

/// Parse `text` as if it were the contents of the file `origin` (which is
/// not opened): includes are resolved relative to `origin`'s directory, and
/// are only opened if `policy.follow_includes` is set.
pub fn parse_str(
    text: &str,
    origin: &Path,
    policy: &IncludePolicy,
) -> Result<ParsedConfig, ConfigFileErrors> {
    let origin = canonicalize_path(origin);
    let mut reader = Reader::new(policy);
    reader.parse_config_text(text.as_bytes(), &origin, 0);
    reader.finish(origin)
}

/// Quote `value` as a single-quoted configuration value that parses back to
/// `value`.
///
/// PostgreSQL values are C strings, so a NUL character ends the value: the
/// result represents the part of `value` before its first NUL.
pub fn quote_value(value: &str) -> String {
    let value = value.split('\0').next().unwrap_or_default();
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // Always three digits, so a following digit is not absorbed.
            c if c.is_ascii_control() => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\{:03o}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests;
