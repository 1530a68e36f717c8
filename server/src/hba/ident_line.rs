//! pg_ident.conf rows from tokenized lines (`parse_ident_line`); [`parse_ident_str`] /
//! [`load_ident_file`].

use super::diagnostic::{Diagnostic, HbaError, LogLevel};
use super::dialect::{HbaDialect, dialect};
use super::load::{IdentLoad, RuleLoad, load_file};
use super::options::ParseOptions;
use super::pattern::PatternCompiler;
use super::row::{AuthToken, IdentRow};
use super::token::{TokenizedLine, tokenize_str};

/// `fields` are `tl`'s, moved out of it so that the tokens the row keeps are not copied.
fn parse_ident_line(
    tl: &TokenizedLine,
    fields: Vec<Vec<AuthToken>>,
    d: &'static HbaDialect,
    patterns: &dyn PatternCompiler,
) -> Result<IdentRow, (HbaError, bool)> {
    // (error, has CONTEXT line)
    let missing = || {
        if d.ident_missing_entry_with_location {
            (
                HbaError::IdentMissingEntryAt {
                    file: tl.file.to_string(),
                    line: tl.line,
                },
                false,
            )
        } else {
            (HbaError::IdentMissingEntry, true)
        }
    };
    let mut fields = fields.into_iter();
    let mut single = || -> Result<AuthToken, (HbaError, bool)> {
        let f = fields.next().ok_or_else(missing)?;
        if f.len() > 1 {
            return Err((HbaError::IdentMultipleValues, true));
        }
        f.into_iter().next().ok_or_else(missing)
    };
    let map = single()?;
    let mut system_user = single()?;
    let mut pg_user = single()?;
    system_user.compile(patterns).map_err(|e| (e, true))?;
    if d.ident_pg_user_keywords {
        pg_user.compile(patterns).map_err(|e| (e, true))?;
    }
    Ok(IdentRow {
        file: tl.file.to_string(),
        line: tl.line,
        map: map.text,
        system_user,
        pg_user,
    })
}

/// Parse pg_ident.conf text (same conventions as [`parse_hba_str`]).
pub fn parse_ident_str(text: &str, path: &str, opts: &ParseOptions<'_>) -> IdentLoad {
    let d = dialect(opts.profile);
    let (lines, mut diagnostics) = tokenize_str(text, path, opts);
    let mut rows = Vec::new();
    for mut tl in lines {
        if tl.error {
            continue;
        }
        let fields = std::mem::take(&mut tl.fields);
        match parse_ident_line(&tl, fields, d, opts.patterns) {
            Ok(r) => rows.push(r),
            Err((error, with_context)) => diagnostics.push(Diagnostic {
                level: LogLevel::Log,
                is_error: true,
                error,
                hint: None,
                context: with_context.then(|| (tl.file.to_string(), tl.line)),
            }),
        }
    }
    RuleLoad::new(opts.profile, path, rows, diagnostics)
}

/// Read pg_ident.conf from disk.
pub fn load_ident_file(path: &str, opts: &ParseOptions<'_>) -> IdentLoad {
    let prefix = dialect(opts.profile).ident_open_error_prefix;
    load_file(path, opts, prefix, parse_ident_str)
}

#[cfg(test)]
mod tests;
