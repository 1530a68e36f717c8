//! What loading a rules file gives, for pg_hba.conf and pg_ident.conf alike: the usable
//! rows ([`RuleSet`]) with every logged message ([`RuleLoad`]), and reading the top-level
//! file from disk.

use std::path::Path;

use super::diagnostic::{Diagnostic, HbaError, LogLevel, render_all};
use super::options::ParseOptions;
use super::row::{HbaRow, IdentRow};
use crate::conffiles::{os_error_text, read_config_file};
use crate::profile::Profile;

/// The usable rows of one file.
#[derive(Debug, Clone)]
pub struct RuleSet<R> {
    pub profile: Profile,
    pub path: String,
    pub rows: Vec<R>,
}

/// The usable rows of one pg_hba.conf.
pub type HbaConfig = RuleSet<HbaRow>;
/// The usable rows of one pg_ident.conf.
pub type IdentConfig = RuleSet<IdentRow>;

/// Result of loading a file: rows that parsed plus every logged message.
#[derive(Debug, Clone)]
pub struct RuleLoad<R> {
    pub config: RuleSet<R>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Result of loading pg_hba.conf.
pub type HbaLoad = RuleLoad<HbaRow>;
/// Result of loading pg_ident.conf.
pub type IdentLoad = RuleLoad<IdentRow>;

impl<R> RuleLoad<R> {
    /// `rows` of the file at `path`, read as `profile`, with what was logged.
    pub(super) fn new(
        profile: Profile,
        path: &str,
        rows: Vec<R>,
        diagnostics: Vec<Diagnostic>,
    ) -> RuleLoad<R> {
        RuleLoad {
            config: RuleSet {
                profile,
                path: path.to_string(),
                rows,
            },
            diagnostics,
        }
    }

    /// PostgreSQL would accept the file (no error-level diagnostics).
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(|d| d.is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error)
    }

    /// `Ok(config)` if the file loads, else the diagnostics.
    pub fn into_result(self) -> Result<RuleSet<R>, Vec<Diagnostic>> {
        if self.is_ok() {
            Ok(self.config)
        } else {
            Err(self.diagnostics)
        }
    }

    /// All messages as log text, one block per message.
    pub fn render_log(&self) -> String {
        render_all(&self.diagnostics)
    }
}

/// Reads the top-level file at `path` and parses it with `parse`; if it cannot be read,
/// no rows and `<open_error_prefix> "<path>": <reason>` (the profile's wording).
pub(super) fn load_file<R>(
    path: &str,
    opts: &ParseOptions<'_>,
    open_error_prefix: &'static str,
    parse: fn(&str, &str, &ParseOptions<'_>) -> RuleLoad<R>,
) -> RuleLoad<R> {
    match read_config_file(Path::new(path)) {
        Ok(text) => parse(&text, path, opts),
        Err(e) => {
            let failure = Diagnostic {
                level: LogLevel::Log,
                is_error: true,
                error: HbaError::CouldNotOpenTopFile {
                    prefix: open_error_prefix,
                    path: path.to_string(),
                    reason: os_error_text(&e.into_io()),
                },
                hint: None,
                context: None,
            };
            RuleLoad::new(opts.profile, path, Vec::new(), vec![failure])
        }
    }
}

#[cfg(test)]
mod tests;
