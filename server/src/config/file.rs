//! Reading of PostgreSQL's configuration-file syntax (`postgresql.conf`):
//! the lexer and line grammar of `guc-file.l` (`ParseConfigFp`), the
//! `include`, `include_if_exists` and `include_dir` directives
//! (`ParseConfigFile`, `ParseConfigDirectory`, `GetConfFilesInDir`), and
//! PostgreSQL's exact error texts.  Also [`quote_value`] for writing values.
//!
//! The result is the flat list of `name = value` items in file order; the
//! caller applies them (last one wins) and validates values
//! (see `config::value`).

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// PostgreSQL's `CONF_FILE_MAX_DEPTH`: the top-level file is depth 0 and each
/// include level adds one; opening a file at a greater depth fails.
pub const CONF_FILE_MAX_DEPTH: u32 = 10;

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

/// `%m`: the OS's `strerror` text, without Rust's ` (os error N)` suffix.
fn os_error_text(err: &io::Error) -> String {
    let text = err.to_string();
    if let Some(code) = err.raw_os_error() {
        let suffix = format!(" (os error {code})");
        if let Some(stripped) = text.strip_suffix(&suffix) {
            return stripped.to_owned();
        }
    }
    text
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

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// Read the configuration file at `path` and everything it includes.
///
/// `path` is used as given (lexically canonicalised); PostgreSQL passes an
/// absolute path here.  On failure all errors are returned; like PostgreSQL,
/// no items are returned then.
pub fn parse_file(path: &Path, policy: &IncludePolicy) -> Result<ParsedConfig, ConfigFileErrors> {
    // (A blank name is left alone so that it is reported as such.)
    let path = if is_blank(path) {
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

// ---------------------------------------------------------------------------
// Lexer (the flex rules of guc-file.l)
// ---------------------------------------------------------------------------
//
//   \n                 end of line
//   [ \t\r]+           skipped
//   #.*                skipped (comment to end of line)
//   ID                 {LETTER}{LETTER_OR_DIGIT}*
//   QUALIFIED_ID       {ID}"."{ID}
//   STRING             \'([^'\\\n]|\\.|\'\')*\'
//   UNQUOTED_STRING    {LETTER}({LETTER_OR_DIGIT}|[-._:/])*
//   INTEGER            {SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}*
//   REAL               {SIGN}?{DIGIT}*"."{DIGIT}*{EXPONENT}?
//   =                  equals
//   .                  error token (one byte)
//
// with LETTER = [A-Za-z_\200-\377], UNIT_LETTER = [a-zA-Z], EXPONENT =
// [Ee]{SIGN}?{DIGIT}+.  Flex takes the longest match, ties going to the
// earlier rule.  Since every byte >= 0x80 is a LETTER, tokens never split a
// UTF-8 sequence.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Eol,
    Id,
    QualifiedId,
    String,
    UnquotedString,
    Integer,
    Real,
    Equals,
    Error,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: TokenKind,
    text: &'a [u8],
}

struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
    /// `ConfigFileLineno`: incremented when a newline is lexed.
    line: u32,
}

const fn is_letter(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

// (For the rules below.)
#[cfg(test)]
fn is_letter_or_digit(b: u8) -> bool {
    is_letter(b) || b.is_ascii_digit()
}

fn count_while(s: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    s.get(from..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| pred(b)).count())
}

// (The rule on its own: the tests check `longest_match` against it.)
#[cfg(test)]
fn match_id(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if is_letter(b) => 1 + count_while(s, 1, is_letter_or_digit),
        _ => 0,
    }
}

// (The rule on its own: the tests check `longest_match` against it.)
#[cfg(test)]
fn match_qualified_id(s: &[u8]) -> usize {
    let first = match_id(s);
    if first == 0 || s.get(first) != Some(&b'.') {
        return 0;
    }
    match s.get(first + 1..).map_or(0, match_id) {
        0 => 0,
        second => first + 1 + second,
    }
}

// (The rule on its own: the tests check `longest_match` against it.)
#[cfg(test)]
fn match_unquoted_string(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if is_letter(b) => {
            1 + count_while(s, 1, |b| {
                is_letter_or_digit(b) || matches!(b, b'-' | b'.' | b'_' | b':' | b'/')
            })
        }
        _ => 0,
    }
}

/// Longest prefix matching `'([^'\\\n]|\\.|'')*'`.
fn match_string(s: &[u8]) -> usize {
    if s.first() != Some(&b'\'') {
        return 0;
    }
    let mut longest = 0;
    let mut i = 1;
    loop {
        match s.get(i) {
            None | Some(b'\n') => break,
            Some(b'\'') => {
                // A closing quote ends a match here; a doubled quote goes on.
                longest = i + 1;
                if s.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    break;
                }
            }
            Some(b'\\') => match s.get(i + 1) {
                None | Some(b'\n') => break,
                Some(_) => i += 2,
            },
            Some(_) => i += 1,
        }
    }
    longest
}

fn sign_len(s: &[u8]) -> usize {
    usize::from(matches!(s.first(), Some(b'+' | b'-')))
}

fn match_integer(s: &[u8]) -> usize {
    let start = sign_len(s);
    let mut longest = 0;
    let digits = count_while(s, start, |b| b.is_ascii_digit());
    if digits > 0 {
        let end = start + digits;
        longest = end + count_while(s, end, |b| b.is_ascii_alphabetic());
    }
    if s.get(start..start + 2) == Some(b"0x") {
        let hex = count_while(s, start + 2, |b| b.is_ascii_hexdigit());
        if hex > 0 {
            let end = start + 2 + hex;
            longest = longest.max(end + count_while(s, end, |b| b.is_ascii_alphabetic()));
        }
    }
    longest
}

fn match_real(s: &[u8]) -> usize {
    let start = sign_len(s);
    let point = start + count_while(s, start, |b| b.is_ascii_digit());
    if s.get(point) != Some(&b'.') {
        return 0;
    }
    let end = point + 1 + count_while(s, point + 1, |b| b.is_ascii_digit());
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let exp_start = end + 1 + s.get(end + 1..).map_or(0, sign_len);
        let exp_digits = count_while(s, exp_start, |b| b.is_ascii_digit());
        if exp_digits > 0 {
            return exp_start + exp_digits;
        }
    }
    end
}

/// Byte classes for [`longest_match`]: one table lookup per byte instead of a chain of
/// comparisons (the lexer is the hottest loop when fuzzing).
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
/// `[-._:/]`, which UNQUOTED_STRING allows after its first letter.
const UNQUOTED_EXTRA: u8 = 4;
const BLANK: u8 = 8;

static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if is_letter(c) {
            table[b] |= LETTER;
        }
        if c.is_ascii_digit() {
            table[b] |= DIGIT;
        }
        if matches!(c, b'-' | b'.' | b'_' | b':' | b'/') {
            table[b] |= UNQUOTED_EXTRA;
        }
        if matches!(c, b' ' | b'\t' | b'\r') {
            table[b] |= BLANK;
        }
        b += 1;
    }
    table
};

/// Length of the prefix of `s` whose bytes are all in one of `classes`.
fn count_class(s: &[u8], classes: u8) -> usize {
    s.iter()
        .take_while(|&&b| BYTE_CLASS[usize::from(b)] & classes != 0)
        .count()
}

/// The longest of the rules' matches at the start of `s` (not empty, not starting with a
/// newline, blank or `#`), the earliest rule winning a tie; an error token of one byte if
/// none matches. Only the rules that can match the first byte are tried, and ID,
/// QUALIFIED_ID and UNQUOTED_STRING share one scan.
fn longest_match(s: &[u8]) -> (TokenKind, usize) {
    let Some(&first) = s.first() else {
        return (TokenKind::Error, 1);
    };
    if BYTE_CLASS[usize::from(first)] & LETTER != 0 {
        // UNQUOTED_STRING's bytes include ID's, and a QUALIFIED_ID is an ID, a dot and
        // an ID, so the unquoted match is at least as long as the other two.
        let id = 1 + count_class(&s[1..], LETTER | DIGIT);
        let unquoted = id + count_class(&s[id..], LETTER | DIGIT | UNQUOTED_EXTRA);
        let mut best = (TokenKind::Id, id);
        if unquoted > id && s[id] == b'.' {
            let second = match s.get(id + 1) {
                Some(&b) if BYTE_CLASS[usize::from(b)] & LETTER != 0 => {
                    1 + count_class(&s[id + 2..], LETTER | DIGIT)
                }
                _ => 0,
            };
            if second > 0 {
                best = (TokenKind::QualifiedId, id + 1 + second);
            }
        }
        if unquoted > best.1 {
            best = (TokenKind::UnquotedString, unquoted);
        }
        return best;
    }
    match first {
        b'\'' => match match_string(s) {
            0 => (TokenKind::Error, 1),
            len => (TokenKind::String, len),
        },
        b'=' => (TokenKind::Equals, 1),
        b'+' | b'-' | b'.' | b'0'..=b'9' => {
            let (integer, real) = (match_integer(s), match_real(s));
            if real > integer {
                (TokenKind::Real, real)
            } else if integer > 0 {
                (TokenKind::Integer, integer)
            } else {
                (TokenKind::Error, 1)
            }
        }
        _ => (TokenKind::Error, 1),
    }
}

impl<'a> Lexer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            pos: 0,
            line: 1,
        }
    }

    /// The next token, or `None` at end of input.
    fn next_token(&mut self) -> Option<Token<'a>> {
        loop {
            let rest = self.input.get(self.pos..)?;
            let &first = rest.first()?;
            match first {
                b'\n' => {
                    self.pos += 1;
                    self.line = self.line.saturating_add(1);
                    return Some(Token {
                        kind: TokenKind::Eol,
                        text: &rest[..1],
                    });
                }
                b' ' | b'\t' | b'\r' => {
                    self.pos += count_class(rest, BLANK);
                    continue;
                }
                b'#' => {
                    self.pos += count_while(rest, 0, |b| b != b'\n');
                    continue;
                }
                _ => {}
            }
            let (kind, len) = longest_match(rest);
            self.pos += len;
            return Some(Token {
                kind,
                text: &rest[..len],
            });
        }
    }
}

/// A token's text as C's `%s` would show it: up to the first NUL, with
/// invalid UTF-8 replaced.
fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// [`c_text`] of bytes already owned, reusing their allocation when they are valid UTF-8.
fn c_text_owned(mut bytes: Vec<u8>) -> String {
    if let Some(end) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(end);
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `DeescapeQuotedString`: strip the quotes of a STRING token, collapse
/// `''` and process backslash escapes (`\b \f \n \r \t`, 1-3 octal digits,
/// anything else stands for itself).
fn deescape_quoted_string(token: &[u8]) -> Vec<u8> {
    let inner = token
        .get(1..token.len().saturating_sub(1))
        .unwrap_or_default();
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&b) = inner.get(i) {
        match b {
            b'\\' => {
                i += 1;
                let Some(&c) = inner.get(i) else { break };
                match c {
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'0'..=b'7' => {
                        let digits = count_while(inner, i, |d| matches!(d, b'0'..=b'7')).min(3);
                        let value = inner[i..i + digits]
                            .iter()
                            .fold(0u32, |acc, d| (acc << 3) + u32::from(d - b'0'));
                        // C's (char) cast keeps the low byte.
                        out.push((value & 0xff) as u8);
                        i += digits - 1;
                    }
                    other => out.push(other),
                }
            }
            b'\'' if inner.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 1;
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Reader (ParseConfigFile / ParseConfigFp / ParseConfigDirectory)
// ---------------------------------------------------------------------------

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

struct Reader<'p> {
    policy: &'p IncludePolicy,
    items: Vec<ConfigItem>,
    notes: Vec<ConfigNote>,
    errors: Vec<ConfigFileError>,
}

/// True if `name` is empty or only blanks (`strspn(name, " \t\r\n")`).
fn is_blank(name: &Path) -> bool {
    name.as_os_str()
        .as_encoded_bytes()
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Lexical `canonicalize_path`: drop `.` components, duplicate and trailing
/// separators, and resolve `..` against preceding components.
fn canonicalize_path(path: &Path) -> PathBuf {
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
/// ones are taken relative to the including file's directory.
fn config_location(location: &Path, calling_file: Option<&Path>) -> PathBuf {
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

impl<'p> Reader<'p> {
    fn new(policy: &'p IncludePolicy) -> Self {
        Reader {
            policy,
            items: Vec::new(),
            notes: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn finish(self, top: PathBuf) -> Result<ParsedConfig, ConfigFileErrors> {
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
    fn parse_config_file(
        &mut self,
        location: &Path,
        strict: bool,
        calling_file: Option<&Path>,
        depth: u32,
    ) -> bool {
        if is_blank(location) {
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
        let path = config_location(location, calling_file);
        if let Some(caller) = calling_file.filter(|c| c.as_os_str() == path.as_os_str()) {
            self.errors.push(ConfigFileError::Recursion {
                file: caller.to_path_buf(),
            });
            return false;
        }
        let mut file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(source) if strict => {
                self.errors.push(ConfigFileError::OpenFile { path, source });
                return false;
            }
            Err(_) => {
                self.notes.push(ConfigNote::SkippedMissingFile { path });
                return true;
            }
        };
        let mut bytes = Vec::new();
        if let Err(source) = file.read_to_end(&mut bytes) {
            self.errors.push(ConfigFileError::ReadFile {
                path,
                line: 1,
                source,
            });
            return false;
        }
        let text = String::from_utf8_lossy(&bytes);
        self.parse_config_text(text.as_bytes(), &path, depth)
    }

    /// `ParseConfigFp`: parse the contents of `file`.
    fn parse_config_text(&mut self, input: &[u8], file: &Path, depth: u32) -> bool {
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
        if is_blank(location) {
            self.errors.push(ConfigFileError::EmptyDirectoryName {
                name: location.to_path_buf(),
            });
            return false;
        }
        let directory = config_location(location, Some(calling_file));
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
            let bytes = name.as_encoded_bytes();
            if bytes.len() < 6 || bytes.starts_with(b".") || !bytes.ends_with(b".conf") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ORIGIN: &str = "/etc/pg/postgresql.conf";

    fn parse(text: &str) -> Result<ParsedConfig, ConfigFileErrors> {
        parse_str(text, Path::new(ORIGIN), &IncludePolicy::NO_INCLUDES)
    }

    fn pairs(text: &str) -> Vec<(String, String, u32)> {
        match parse(text) {
            Ok(parsed) => parsed
                .items
                .into_iter()
                .map(|i| (i.name, i.value, i.line))
                .collect(),
            Err(e) => panic!("unexpected errors: {:?}", messages(&e)),
        }
    }

    fn messages(e: &ConfigFileErrors) -> Vec<String> {
        e.errors.iter().map(ToString::to_string).collect()
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(parsed) => panic!("expected errors, got {:?}", parsed.items),
            Err(e) => messages(&e),
        }
    }

    fn p(name: &str, value: &str, line: u32) -> (String, String, u32) {
        (name.to_owned(), value.to_owned(), line)
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "pgssl-config-file-test-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("create dir");
            }
            fs::write(&path, text).expect("write file");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn basic_lines() {
        let text = "# comment\n\
                    \n\
                    port = 5432\n\
                    listen_addresses='localhost'   # trailing comment\n\
                    SSL on\n\
                    ssl_min_protocol_version = TLSv1.2\n\
                    authentication_timeout = 60s\n\
                    shared_buffers 8MB\n\
                    deadlock = -1\n\
                    frac = 0.5\n\
                    pgssl.profile = strict\n\
                    log_line_prefix = '%m [%p] '\r\n\
                    \tpath = '/var/run/postgresql'\n\
                    tz = America/New_York\n\
                    hexval = 0x1F\n\
                    last=end";
        assert_eq!(
            pairs(text),
            vec![
                p("port", "5432", 3),
                p("listen_addresses", "localhost", 4),
                p("ssl", "on", 5),
                p("ssl_min_protocol_version", "TLSv1.2", 6),
                p("authentication_timeout", "60s", 7),
                p("shared_buffers", "8MB", 8),
                p("deadlock", "-1", 9),
                p("frac", "0.5", 10),
                p("pgssl.profile", "strict", 11),
                p("log_line_prefix", "%m [%p] ", 12),
                p("path", "/var/run/postgresql", 13),
                p("tz", "America/New_York", 14),
                p("hexval", "0x1F", 15),
                p("last", "end", 16),
            ]
        );
    }

    #[test]
    fn duplicates_kept_in_order_and_file_recorded() {
        let parsed = parse("a = 1\nA = 2\na = 3\n").expect("parses");
        let values: Vec<_> = parsed.items.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(values, ["1", "2", "3"]);
        assert!(parsed.items.iter().all(|i| i.name == "a"));
        assert!(parsed.items.iter().all(|i| i.file == Path::new(ORIGIN)));
        assert!(parsed.notes.is_empty());
    }

    #[test]
    fn quoted_string_escapes() {
        let cases = [
            (r"x = 'it''s'", "it's"),
            (r"x = 'a\'b'", "a'b"),
            (r"x = 'tab\there'", "tab\there"),
            (r"x = 'nl\nx\rcr'", "nl\nx\rcr"),
            (r"x = '\b\f'", "\u{8}\u{c}"),
            (r"x = 'back\\slash'", "back\\slash"),
            (r"x = '\101\1012'", "AA2"),
            (r"x = '\7x'", "\u{7}x"),
            (r"x = '\q\#'", "q#"),
            (r"x = ''", ""),
            (r"x = ''''", "'"),
            (r"x = 'a#b'", "a#b"),
            (r"x = 'ab\0cd'", "ab"), // C string: ends at the NUL
            ("x = 'caf\u{e9}'", "caf\u{e9}"),
            (r"x = '\303\251'", "\u{e9}"),
        ];
        for (line, want) in cases {
            assert_eq!(pairs(line), vec![p("x", want, 1)], "{line}");
        }
    }

    #[test]
    fn token_classes() {
        // Accepted value token kinds.
        assert_eq!(pairs("a = b_c9"), vec![p("a", "b_c9", 1)]);
        assert_eq!(pairs("a = .5"), vec![p("a", ".5", 1)]);
        assert_eq!(pairs("a = 5."), vec![p("a", "5.", 1)]);
        assert_eq!(pairs("a = ."), vec![p("a", ".", 1)]);
        assert_eq!(pairs("a = -1.5e-3"), vec![p("a", "-1.5e-3", 1)]);
        assert_eq!(pairs("a = +7kB"), vec![p("a", "+7kB", 1)]);
        assert_eq!(pairs("a = 0x1fz"), vec![p("a", "0x1fz", 1)]);
        assert_eq!(pairs("a = a.b.c"), vec![p("a", "a.b.c", 1)]);
        assert_eq!(pairs("a = x-y:z/w"), vec![p("a", "x-y:z/w", 1)]);
        assert_eq!(pairs("a = caf\u{e9}"), vec![p("a", "caf\u{e9}", 1)]);
        assert_eq!(pairs("\u{e9}t\u{e9} = 1"), vec![p("\u{e9}t\u{e9}", "1", 1)]);
        assert_eq!(pairs("a=b#c"), vec![p("a", "b", 1)]);
        assert_eq!(
            pairs("ext.setting value"),
            vec![p("ext.setting", "value", 1)]
        );
    }

    #[test]
    fn syntax_errors_match_postgres() {
        let f = ORIGIN;
        // "1e5" lexes as INTEGER "1e" then INTEGER "5".
        assert_eq!(
            errors("a = 1e5\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"5\""
            )]
        );
        // A qualified identifier is not a valid value.
        assert_eq!(
            errors("a = b.c\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"b.c\""
            )]
        );
        // Unquoted strings are not valid names.
        assert_eq!(
            errors("a.b.c = 1\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"a.b.c\""
            )]
        );
        // Missing value.
        assert_eq!(
            errors("x = 1\na =\nb = 2\n"),
            [format!(
                "syntax error in file \"{f}\" line 2, near end of line"
            )]
        );
        // Unterminated quote: the lone quote is an error token.
        assert_eq!(
            errors("a = 'abc\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"'\""
            )]
        );
        // Newlines cannot be inside quotes, not even escaped.
        assert_eq!(
            errors("a = 'x\\\ny'\n"),
            [
                format!("syntax error in file \"{f}\" line 1, near token \"'\""),
                format!("syntax error in file \"{f}\" line 2, near token \"'\""),
            ]
        );
        // Two values.
        assert_eq!(
            errors("a = b c\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"c\""
            )]
        );
        // Line not starting with a name.
        assert_eq!(
            errors("= 1\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"=\""
            )]
        );
        assert_eq!(
            errors("a = 1.5GB\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"GB\""
            )]
        );
        assert_eq!(
            errors("a = = 1\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"=\""
            )]
        );
        // Unquoted values must start with a letter or digit; the file name
        // "inc.conf" is a qualified identifier.
        assert_eq!(
            errors("dir = /tmp\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"/\""
            )]
        );
        assert_eq!(
            errors("include inc.conf\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"inc.conf\""
            )]
        );
        assert_eq!(
            errors("a = $x\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"$\""
            )]
        );
        assert_eq!(
            errors("a = 0X1F\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near token \"1F\""
            )]
        );
    }

    #[test]
    fn end_of_file_line_numbers_match_postgres() {
        let f = ORIGIN;
        // A value line at EOF without newline gets its own line number...
        assert_eq!(pairs("a = 1\nb = 2"), vec![p("a", "1", 1), p("b", "2", 2)]);
        // ...but a syntax error at EOF without newline is reported one line
        // early, exactly as PostgreSQL's ConfigFileLineno - 1 does.
        assert_eq!(
            errors("a = 1\nb ="),
            [format!(
                "syntax error in file \"{f}\" line 1, near end of line"
            )]
        );
        assert_eq!(
            errors("lonely"),
            [format!(
                "syntax error in file \"{f}\" line 0, near end of line"
            )]
        );
        assert_eq!(
            errors("lonely\n"),
            [format!(
                "syntax error in file \"{f}\" line 1, near end of line"
            )]
        );
    }

    #[test]
    fn all_errors_collected_and_summary() {
        let f = ORIGIN;
        let e = parse("a = \nok = 1\n'x' = 1\nb = c d\n").unwrap_err();
        assert_eq!(
            messages(&e),
            [
                format!("syntax error in file \"{f}\" line 1, near end of line"),
                format!("syntax error in file \"{f}\" line 3, near token \"'x'\""),
                format!("syntax error in file \"{f}\" line 4, near token \"d\""),
            ]
        );
        assert_eq!(
            e.to_string(),
            format!("configuration file \"{f}\" contains errors")
        );
        assert_eq!(e.sqlstate(), "F0000");
        assert_eq!(e.errors[0].sqlstate(), "42601");
    }

    #[test]
    fn too_many_syntax_errors() {
        let text = "!\n".repeat(150);
        let e = parse(&text).unwrap_err();
        assert_eq!(e.errors.len(), MAX_SYNTAX_ERRORS_PER_FILE + 1);
        assert_eq!(
            e.errors.last().map(ToString::to_string),
            Some(format!(
                "too many syntax errors found, abandoning file \"{ORIGIN}\""
            ))
        );
    }

    #[test]
    fn quote_value_round_trips() {
        let nasty = [
            "",
            "plain",
            "it's",
            "''",
            "'",
            "back\\slash\\",
            "\\n literal",
            "line1\nline2",
            "cr\rlf\r\n",
            "tab\there",
            "# not a comment",
            "a = b # c",
            "\u{1}\u{7}\u{1b}\u{7f}1",
            "\u{8}\u{c}",
            "caf\u{e9} \u{1f600}",
            "\\'\\''",
            "trailing space ",
            "0x1F",
        ];
        for s in nasty {
            let quoted = quote_value(s);
            let line = format!("k = {quoted}\n");
            assert_eq!(pairs(&line), vec![p("k", s, 1)], "{quoted}");
            assert!(!quoted[1..quoted.len() - 1].contains('\n'));
        }
        assert_eq!(quote_value("it's"), "'it''s'");
        assert_eq!(quote_value("a\\b"), "'a\\\\b'");
        // Only the part before a NUL is representable (C strings).
        assert_eq!(quote_value("ab\0cd"), "'ab'");
    }

    #[test]
    fn includes_disabled_policy() {
        let e = parse("a = 1\ninclude 'other.conf'\nb = 2\n").unwrap_err();
        assert_eq!(
            messages(&e),
            [format!(
                "include directive not allowed in file \"{ORIGIN}\" line 2: includes are disabled"
            )]
        );
        let e = parse("INCLUDE_DIR 'conf.d'").unwrap_err();
        assert!(matches!(
            e.errors[0],
            ConfigFileError::IncludesDisabled {
                directive: "include_dir",
                line: 1,
                ..
            }
        ));
    }

    #[test]
    fn include_file_relative_to_including_file() {
        let dir = TempDir::new();
        dir.write("sub/extra.conf", "b = 2\ninclude '../more.conf'\n");
        dir.write("more.conf", "c = 3");
        let main = dir.write(
            "postgresql.conf",
            "a = 1\ninclude 'sub/extra.conf'\nd = 4\nInclude_If_Exists 'missing.conf'\ne = 5\n",
        );
        let parsed = parse_file(&main, &IncludePolicy::default()).expect("parses");
        let got: Vec<_> = parsed
            .items
            .iter()
            .map(|i| (i.name.as_str(), i.value.as_str(), i.file.clone(), i.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "1", main.clone(), 1),
                ("b", "2", dir.0.join("sub/extra.conf"), 1),
                ("c", "3", dir.0.join("more.conf"), 1),
                ("d", "4", main.clone(), 3),
                ("e", "5", main.clone(), 5),
            ]
        );
        let missing = dir.0.join("missing.conf");
        assert_eq!(
            parsed.notes,
            vec![ConfigNote::SkippedMissingFile {
                path: missing.clone()
            }]
        );
        assert_eq!(
            parsed.notes[0].to_string(),
            format!(
                "skipping missing configuration file \"{}\"",
                missing.display()
            )
        );
    }

    #[test]
    fn parse_str_resolves_includes_relative_to_origin() {
        let dir = TempDir::new();
        dir.write("inc.conf", "b = 2\n");
        let origin = dir.0.join("virtual.conf");
        let parsed = parse_str(
            "a = 1\ninclude 'inc.conf'\n",
            &origin,
            &IncludePolicy::default(),
        )
        .expect("parses");
        let names: Vec<_> = parsed.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn missing_include_and_file_errors() {
        let dir = TempDir::new();
        let main = dir.write(
            "postgresql.conf",
            "include 'nope.conf'\nbad line here\ninclude_dir 'nodir'\n",
        );
        let e = parse_file(&main, &IncludePolicy::default()).unwrap_err();
        assert_eq!(
            messages(&e),
            [
                format!(
                    "could not open configuration file \"{}\": No such file or directory",
                    dir.0.join("nope.conf").display()
                ),
                format!(
                    "syntax error in file \"{}\" line 2, near token \"here\"",
                    main.display()
                ),
                format!(
                    "could not open configuration directory \"{}\": No such file or directory",
                    dir.0.join("nodir").display()
                ),
            ]
        );
        assert_eq!(e.errors[0].sqlstate(), "58P01");
        assert_eq!(
            e.to_string(),
            format!("configuration file \"{}\" contains errors", main.display())
        );

        let missing_top = dir.0.join("absent.conf");
        let e = parse_file(&missing_top, &IncludePolicy::default()).unwrap_err();
        assert_eq!(
            messages(&e),
            [format!(
                "could not open configuration file \"{}\": No such file or directory",
                missing_top.display()
            )]
        );
    }

    #[test]
    fn include_dir_order_and_filtering() {
        let dir = TempDir::new();
        dir.write("conf.d/b.conf", "x = b\n");
        dir.write("conf.d/a.conf", "x = a\n");
        dir.write("conf.d/B.conf", "x = B\n");
        dir.write("conf.d/.hidden.conf", "x = hidden\n");
        dir.write("conf.d/.conf", "x = dotconf\n");
        dir.write("conf.d/notes.txt", "x = txt\n");
        dir.write("conf.d/a.conf~", "x = backup\n");
        fs::create_dir_all(dir.0.join("conf.d/sub.conf")).expect("mkdir");
        let main = dir.write("postgresql.conf", "include_dir 'conf.d/'\n");
        let parsed = parse_file(&main, &IncludePolicy::default()).expect("parses");
        let values: Vec<_> = parsed.items.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(values, ["B", "a", "b"]);
        assert_eq!(parsed.items[0].file, dir.0.join("conf.d/B.conf"));
    }

    #[test]
    fn include_dir_stops_at_first_failing_file() {
        let dir = TempDir::new();
        dir.write("d/1.conf", "ok = 1\n");
        dir.write("d/2.conf", "broken\n");
        dir.write("d/3.conf", "also broken\n");
        let main = dir.write("postgresql.conf", "include_dir d\nafter = 1\nbad =\n");
        let e = parse_file(&main, &IncludePolicy::default()).unwrap_err();
        assert_eq!(
            messages(&e),
            [
                format!(
                    "syntax error in file \"{}\" line 1, near end of line",
                    dir.0.join("d/2.conf").display()
                ),
                format!(
                    "syntax error in file \"{}\" line 3, near end of line",
                    main.display()
                ),
            ]
        );
    }

    #[test]
    fn nesting_depth_and_recursion() {
        let dir = TempDir::new();
        // Direct recursion is detected.
        let main = dir.write("postgresql.conf", "include 'postgresql.conf'\n");
        let e = parse_file(&main, &IncludePolicy::default()).unwrap_err();
        assert_eq!(
            messages(&e),
            [format!(
                "configuration file recursion in \"{}\"",
                main.display()
            )]
        );
        // Indirect recursion runs into the depth limit.
        dir.write("a.conf", "include 'b.conf'\n");
        dir.write("b.conf", "include 'a.conf'\n");
        let e = parse_file(&dir.0.join("a.conf"), &IncludePolicy::default()).unwrap_err();
        // a.conf is depth 0, so the failing depth 11 is b.conf.
        let depth_error =
            "could not open configuration file \"b.conf\": maximum nesting depth exceeded";
        assert_eq!(messages(&e), [depth_error]);
        assert_eq!(e.errors[0].sqlstate(), "54000");

        // Depth 10 is allowed, 11 is not.
        for i in 0..11 {
            dir.write(
                &format!("n{i}.conf"),
                &format!("v{i} = {i}\ninclude 'n{}.conf'\n", i + 1),
            );
        }
        dir.write("n11.conf", "v11 = 11\n");
        let e = parse_file(&dir.0.join("n0.conf"), &IncludePolicy::default()).unwrap_err();
        assert_eq!(
            messages(&e),
            ["could not open configuration file \"n11.conf\": maximum nesting depth exceeded"]
        );
        dir.write("n10.conf", "v10 = 10\n");
        let parsed = parse_file(&dir.0.join("n0.conf"), &IncludePolicy::default()).expect("ok");
        assert_eq!(parsed.items.len(), 11);
        // A stricter policy.
        let shallow = IncludePolicy {
            max_depth: 2,
            follow_includes: true,
        };
        let e = parse_file(&dir.0.join("n0.conf"), &shallow).unwrap_err();
        assert_eq!(
            messages(&e),
            ["could not open configuration file \"n3.conf\": maximum nesting depth exceeded"]
        );
    }

    #[test]
    fn empty_names_and_directory_as_file() {
        let dir = TempDir::new();
        fs::create_dir_all(dir.0.join("adir")).expect("mkdir");
        let main = dir.write(
            "postgresql.conf",
            "include ''\ninclude_if_exists ' '\ninclude_dir ''\ninclude 'adir'\n",
        );
        let e = parse_file(&main, &IncludePolicy::default()).unwrap_err();
        assert_eq!(
            messages(&e),
            [
                "empty configuration file name: \"\"".to_owned(),
                "empty configuration file name: \" \"".to_owned(),
                "empty configuration directory name: \"\"".to_owned(),
                format!(
                    "input in flex scanner failed at file \"{}\" line 1",
                    dir.0.join("adir").display()
                ),
            ]
        );
    }

    /// xorshift64*: a tiny deterministic generator for the fuzz-style tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    #[test]
    fn random_input_never_panics_and_is_consistent() {
        #[rustfmt::skip]
        const ATOMS: &[&str] = &[
            "a", "Z", "_", "x", "e", "0", "7", "0x", ".", "-", "+", ":", "/", "=", " ", "\t",
            "\r", "\n", "#", "'", "''", "\\", "\\n", "\\101", "\\0", "\u{e9}", "$", "\0",
            "include", "include_dir", "ab.cd", "1.5", "kB",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5000 {
            let len = 1 + rng.next() % 16;
            let text: String = (0..len).map(|_| rng.pick(ATOMS)).collect();
            let lines = u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX);
            match parse(&text) {
                Ok(parsed) => {
                    for item in parsed.items {
                        assert!(item.line >= 1 && item.line <= lines + 1, "{text:?}");
                        assert_eq!(item.name, item.name.to_ascii_lowercase());
                    }
                }
                Err(e) => assert!(!e.errors.is_empty()),
            }
        }
    }

    #[test]
    fn random_strings_round_trip_through_quote_value() {
        #[rustfmt::skip]
        const PIECES: &[&str] = &[
            "a", "'", "''", "\\", "\\'", "\n", "\r", "\t", "#", "=", " ", "\u{1}", "\u{7f}",
            "7", "\u{e9}", "\u{1f600}", "\u{85}", "0x",
        ];
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let len = rng.next() % 12;
            let value: String = (0..len).map(|_| rng.pick(PIECES)).collect();
            let line = format!("setting = {}", quote_value(&value));
            assert_eq!(pairs(&line), vec![p("setting", &value, 1)], "{line:?}");
        }
    }

    #[test]
    fn blank_top_level_name() {
        let e = parse_file(Path::new(""), &IncludePolicy::default()).unwrap_err();
        assert_eq!(messages(&e), ["empty configuration file name: \"\""]);
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
            config_location(Path::new("x.conf"), Some(Path::new("postgresql.conf"))),
            Path::new("x.conf")
        );
        assert_eq!(
            config_location(Path::new("/abs/x.conf"), Some(Path::new("/etc/p.conf"))),
            Path::new("/abs/x.conf")
        );
    }

    /// Every rule tried on its own, the longest match kept (the first rule wins a tie):
    /// the specification [`longest_match`] is checked against.
    fn longest_match_reference(rest: &[u8]) -> (TokenKind, usize) {
        let first = rest[0];
        let candidates = [
            (TokenKind::Id, match_id(rest)),
            (TokenKind::QualifiedId, match_qualified_id(rest)),
            (TokenKind::String, match_string(rest)),
            (TokenKind::UnquotedString, match_unquoted_string(rest)),
            (TokenKind::Integer, match_integer(rest)),
            (TokenKind::Real, match_real(rest)),
            (TokenKind::Equals, usize::from(first == b'=')),
        ];
        let (kind, len) =
            candidates.into_iter().fold(
                (TokenKind::Error, 0),
                |best, c| {
                    if c.1 > best.1 { c } else { best }
                },
            );
        (kind, len.max(1))
    }

    #[test]
    fn longest_match_agrees_with_every_rule_tried_alone() {
        // Every string of up to 4 bytes over an alphabet with a byte of each class, and
        // pseudo-random longer ones.
        let alphabet = b"aZ_\xc3\x800x9.+-eE'\\:/=#\n ";
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = inputs
                .iter()
                .filter(|s| s.len() == inputs.last().map_or(0, Vec::len))
                .flat_map(|s| {
                    alphabet.iter().map(move |&b| {
                        let mut t = s.clone();
                        t.push(b);
                        t
                    })
                })
                .collect();
            inputs.extend(longer);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (state % 24) as usize + 1;
            let s = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            inputs.push(s);
        }
        for s in inputs.iter().filter(|s| !s.is_empty()) {
            for start in 0..s.len() {
                let rest = &s[start..];
                if matches!(rest[0], b'\n' | b' ' | b'\t' | b'\r' | b'#') {
                    continue;
                }
                assert_eq!(
                    longest_match(rest),
                    longest_match_reference(rest),
                    "{:?}",
                    String::from_utf8_lossy(rest)
                );
            }
        }
    }

    #[test]
    fn lexer_longest_match() {
        let kinds = |s: &str| {
            let mut lex = Lexer::new(s.as_bytes());
            std::iter::from_fn(|| lex.next_token())
                .map(|t| (t.kind, String::from_utf8_lossy(t.text).into_owned()))
                .collect::<Vec<_>>()
        };
        use TokenKind as K;
        let t = |k, s: &str| (k, s.to_owned());
        assert_eq!(kinds("abc"), [t(K::Id, "abc")]);
        assert_eq!(kinds("a.b"), [t(K::QualifiedId, "a.b")]);
        assert_eq!(kinds("a.b.c"), [t(K::UnquotedString, "a.b.c")]);
        assert_eq!(kinds("a."), [t(K::UnquotedString, "a.")]);
        assert_eq!(kinds("0x1F"), [t(K::Integer, "0x1F")]);
        assert_eq!(kinds("0xZ"), [t(K::Integer, "0xZ")]);
        assert_eq!(kinds("1.5e"), [t(K::Real, "1.5"), t(K::Id, "e")]);
        assert_eq!(kinds("-"), [t(K::Error, "-")]);
        assert_eq!(kinds("'a''"), [t(K::String, "'a'"), t(K::Error, "'")]);
        assert_eq!(kinds("'a'' b'"), [t(K::String, "'a'' b'")]);
        assert_eq!(kinds("'\\''"), [t(K::String, "'\\''")]);
        assert_eq!(kinds(" # c\n="), [t(K::Eol, "\n"), t(K::Equals, "=")]);
    }
}
