//! The reader (`ParseConfigFile`, `ParseConfigFp`, `ParseConfigDirectory`): the
//! `name [=] value` line grammar over the lexer's tokens, and the `include`,
//! `include_if_exists` and `include_dir` directives with their nesting and recursion
//! checks.

use std::fs;
use std::path::{Path, PathBuf};

use super::lexer::{Lexer, Token, TokenKind, c_text, c_text_owned, deescape_quoted_string};
use super::{
    ConfigFileError, ConfigFileErrors, ConfigItem, ConfigNote, IncludePolicy,
    MAX_SYNTAX_ERRORS_PER_FILE, ParsedConfig,
};
use crate::conffiles::{
    ReadError, absolute_config_location, canonicalize_path, is_blank_name, is_conf_file_name,
    read_config_file,
};

/// A well-formed `name [=] value` line.
struct Line<'a> {
    name: Token<'a>,
    value: Token<'a>,
    /// The value was followed by end of input rather than a newline.
    at_eof: bool,
}

/// Parse the rest of a line starting with `first` (not EOL).  On error,
/// returns the token at which parsing failed (`None` for end of input).
fn parse_line<'a>(lex: &mut Lexer<'a>, first: Token<'a>) -> Result<Line<'a>, Option<Token<'a>>> {
    if !matches!(first.kind, TokenKind::Id | TokenKind::QualifiedId) {
        return Err(Some(first));
    }
    let mut token = lex.next_token();
    if token.is_some_and(|t| t.kind == TokenKind::Equals) {
        token = lex.next_token();
    }
    let value = match token {
        Some(t)
            if matches!(
                t.kind,
                TokenKind::Id
                    | TokenKind::String
                    | TokenKind::Integer
                    | TokenKind::Real
                    | TokenKind::UnquotedString
            ) =>
        {
            t
        }
        other => return Err(other),
    };
    let at_eof = match lex.next_token() {
        None => true,
        Some(t) if t.kind == TokenKind::Eol => false,
        other => return Err(other),
    };
    Ok(Line {
        name: first,
        value,
        at_eof,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Include,
    IncludeIfExists,
    IncludeDir,
}

impl Directive {
    fn from_name(name: &str) -> Option<Directive> {
        match name {
            "include" => Some(Directive::Include),
            "include_if_exists" => Some(Directive::IncludeIfExists),
            "include_dir" => Some(Directive::IncludeDir),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Directive::Include => "include",
            Directive::IncludeIfExists => "include_if_exists",
            Directive::IncludeDir => "include_dir",
        }
    }
}

pub(super) struct Reader<'p> {
    policy: &'p IncludePolicy,
    items: Vec<ConfigItem>,
    notes: Vec<ConfigNote>,
    errors: Vec<ConfigFileError>,
}

impl<'p> Reader<'p> {
    pub(super) fn new(policy: &'p IncludePolicy) -> Self {
        Reader {
            policy,
            items: Vec::new(),
            notes: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub(super) fn finish(self, top: PathBuf) -> Result<ParsedConfig, ConfigFileErrors> {
        if self.errors.is_empty() {
            Ok(ParsedConfig {
                items: self.items,
                notes: self.notes,
            })
        } else {
            Err(ConfigFileErrors {
                file: top,
                errors: self.errors,
                notes: self.notes,
            })
        }
    }

    /// `ParseConfigFile`.  Returns false if an error was recorded.
    pub(super) fn parse_config_file(
        &mut self,
        location: &Path,
        strict: bool,
        calling_file: Option<&Path>,
        depth: u32,
    ) -> bool {
        if is_blank_name(location.as_os_str().as_encoded_bytes()) {
            self.errors.push(ConfigFileError::EmptyFileName {
                name: location.to_path_buf(),
            });
            return false;
        }
        if depth > self.policy.max_depth {
            self.errors.push(ConfigFileError::NestingDepthExceeded {
                file: location.to_path_buf(),
            });
            return false;
        }
        let path = absolute_config_location(location, calling_file);
        if let Some(caller) = calling_file.filter(|c| c.as_os_str() == path.as_os_str()) {
            self.errors.push(ConfigFileError::Recursion {
                file: caller.to_path_buf(),
            });
            return false;
        }
        let text = match read_config_file(&path) {
            Ok(text) => text,
            Err(ReadError::Open(source)) if strict => {
                self.errors.push(ConfigFileError::OpenFile { path, source });
                return false;
            }
            Err(ReadError::Open(_)) => {
                self.notes.push(ConfigNote::SkippedMissingFile { path });
                return true;
            }
            Err(ReadError::Read(source)) => {
                self.errors.push(ConfigFileError::ReadFile {
                    path,
                    line: 1,
                    source,
                });
                return false;
            }
        };
        self.parse_config_text(text.as_bytes(), &path, depth)
    }

    /// `ParseConfigFp`: parse the contents of `file`.
    pub(super) fn parse_config_text(&mut self, input: &[u8], file: &Path, depth: u32) -> bool {
        let mut lex = Lexer::new(input);
        let mut ok = true;
        let mut syntax_errors = 0;
        while let Some(first) = lex.next_token() {
            if first.kind == TokenKind::Eol {
                continue;
            }
            match parse_line(&mut lex, first) {
                Ok(line) => {
                    if line.at_eof {
                        // Treat EOF like a newline for line numbering.
                        lex.line = lex.line.saturating_add(1);
                    }
                    let line_no = lex.line.saturating_sub(1);
                    if !self.process_line(&line, file, line_no, depth) {
                        ok = false;
                    }
                    if line.at_eof {
                        break;
                    }
                }
                Err(bad) => {
                    ok = false;
                    self.errors.push(match bad {
                        Some(token) if token.kind != TokenKind::Eol => {
                            ConfigFileError::SyntaxNearToken {
                                file: file.to_path_buf(),
                                line: lex.line,
                                token: c_text(token.text),
                            }
                        }
                        _ => ConfigFileError::SyntaxNearEndOfLine {
                            file: file.to_path_buf(),
                            line: lex.line.saturating_sub(1),
                        },
                    });
                    syntax_errors += 1;
                    if syntax_errors >= MAX_SYNTAX_ERRORS_PER_FILE {
                        self.errors.push(ConfigFileError::TooManySyntaxErrors {
                            file: file.to_path_buf(),
                        });
                        break;
                    }
                    // Resynchronise at the next end of line.
                    let mut token = bad;
                    while let Some(t) = token {
                        if t.kind == TokenKind::Eol {
                            break;
                        }
                        token = lex.next_token();
                    }
                    if token.is_none() {
                        break;
                    }
                }
            }
        }
        ok
    }

    /// Handle one well-formed line: a directive or an item.
    fn process_line(&mut self, line: &Line<'_>, file: &Path, line_no: u32, depth: u32) -> bool {
        let mut name = c_text(line.name.text);
        name.make_ascii_lowercase();
        let value = if line.value.kind == TokenKind::String {
            c_text_owned(deescape_quoted_string(line.value.text))
        } else {
            c_text(line.value.text)
        };
        let Some(directive) = Directive::from_name(&name) else {
            self.items.push(ConfigItem {
                name,
                value,
                file: file.to_path_buf(),
                line: line_no,
            });
            return true;
        };
        if !self.policy.follow_includes {
            self.errors.push(ConfigFileError::IncludesDisabled {
                directive: directive.name(),
                file: file.to_path_buf(),
                line: line_no,
            });
            return false;
        }
        let target = Path::new(&value);
        match directive {
            Directive::Include => self.parse_config_file(target, true, Some(file), depth + 1),
            Directive::IncludeIfExists => {
                self.parse_config_file(target, false, Some(file), depth + 1)
            }
            Directive::IncludeDir => self.parse_config_directory(target, file, depth + 1),
        }
    }

    /// `ParseConfigDirectory` + `GetConfFilesInDir`: every `*.conf` file
    /// (not starting with `.`, not a directory) in byte order of name;
    /// stops at the first file with errors, as PostgreSQL does.
    fn parse_config_directory(&mut self, location: &Path, calling_file: &Path, depth: u32) -> bool {
        if is_blank_name(location.as_os_str().as_encoded_bytes()) {
            self.errors.push(ConfigFileError::EmptyDirectoryName {
                name: location.to_path_buf(),
            });
            return false;
        }
        let directory = absolute_config_location(location, Some(calling_file));
        let entries = match fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(source) => {
                self.errors.push(ConfigFileError::OpenDirectory {
                    path: directory,
                    source,
                });
                return false;
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(source) => {
                    self.errors.push(ConfigFileError::ReadDirectory {
                        path: directory,
                        source,
                    });
                    return false;
                }
            };
            let name = entry.file_name();
            if !is_conf_file_name(name.as_encoded_bytes()) {
                continue;
            }
            let path = canonicalize_path(&directory.join(&name));
            let is_dir = match entry.file_type() {
                Ok(kind) if kind.is_symlink() => fs::metadata(&path).map(|m| m.is_dir()),
                Ok(kind) => Ok(kind.is_dir()),
                Err(_) => fs::metadata(&path).map(|m| m.is_dir()),
            };
            match is_dir {
                Ok(true) => {}
                Ok(false) => files.push(path),
                Err(source) => {
                    self.errors.push(ConfigFileError::StatFile { path, source });
                    return false;
                }
            }
        }
        files.sort_by(|a, b| {
            a.as_os_str()
                .as_encoded_bytes()
                .cmp(b.as_os_str().as_encoded_bytes())
        });
        for path in files {
            if !self.parse_config_file(&path, true, Some(calling_file), depth) {
                return false;
            }
        }
        true
    }
}
