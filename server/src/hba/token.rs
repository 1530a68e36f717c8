//! The tokenizer (`tokenize_auth_file`, `next_token`, `next_field_expand`): logical lines,
//! quoting, comments, continuations, and `@file` / `include*` expansion.

use std::path::Path;
use std::rc::Rc;

use super::diagnostic::{Diagnostic, HbaError, LogLevel};
use super::dialect::{AtFileErrorStyle, HbaDialect, dialect};
use super::include::IncludeResolver;
use super::options::ParseOptions;
use super::row::AuthToken;
use crate::conffiles::{
    CONF_FILE_MAX_DEPTH, absolute_config_location, canonicalize_path, is_blank_name,
    is_conf_file_name,
};

/// One logical line after tokenizing (continuations joined, `@file` expanded).
#[derive(Debug, Clone)]
pub struct TokenizedLine {
    /// Shared by the lines of one file.
    pub file: Rc<str>,
    pub line: usize,
    pub raw: String,
    pub fields: Vec<Vec<AuthToken>>,
    /// An error was already logged for this line; it is skipped by the parser.
    pub error: bool,
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r'
}

/// [`TOKEN_BYTE`]: a byte `next_token` adds to the token as it is, outside quotes (not NUL,
/// a blank, `#`, `,` or `"`).
const PLAIN: u8 = 1;
/// Such a byte inside quotes (not NUL or `"`).
const PLAIN_IN_QUOTES: u8 = 2;

/// Byte classes for `next_token`: one table lookup per byte of a token instead of the
/// comparisons of its general path.
static TOKEN_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c != 0 && c != b'"' {
            table[b] |= PLAIN_IN_QUOTES;
            if !matches!(c, b' ' | b'\t' | b'\r' | b'#' | b',') {
                table[b] |= PLAIN;
            }
        }
        b += 1;
    }
    table
};

/// A token's bytes as text. They are valid UTF-8 unless the length limit cut a character,
/// so the standard library's validator goes first (much faster than the lossy decoder).
pub(super) fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// What [`Tokenizer::next_token`] found besides the text (left in `Tokenizer::token`).
struct RawToken {
    initial_quote: bool,
    terminating_comma: bool,
}

struct Tokenizer<'r> {
    d: &'static HbaDialect,
    resolver: &'r dyn IncludeResolver,
    diags: Vec<Diagnostic>,
    /// The current token's dequoted bytes (reused for every token).
    token: Vec<u8>,
}

impl Tokenizer<'_> {
    fn error(&mut self, error: HbaError, context: Option<(&str, usize)>) {
        self.diags.push(Diagnostic {
            level: LogLevel::Log,
            is_error: true,
            error,
            hint: None,
            context: context.map(|(f, l)| (f.to_string(), l)),
        });
    }

    /// `tokenize_auth_file`: appends the file's non-empty lines to `out`.
    fn tokenize(&mut self, file: &str, text: &str, depth: u32, out: &mut Vec<TokenizedLine>) {
        let mut phys = text.split_inclusive('\n');
        let mut line_number = 1usize;
        // One buffer for the whole file: a logical line is copied into it (its continuations
        // joined, cut at a NUL) and tokenized from there.
        let mut buf = String::new();
        let file_name: Rc<str> = Rc::from(file);
        loop {
            buf.clear();
            let mut got_any = false;
            let mut last_backslash = 0usize;
            let mut continuations = 0usize;
            for p in phys.by_ref() {
                got_any = true;
                buf.push_str(p);
                if let Some(nul) = buf.find('\0') {
                    buf.truncate(nul);
                }
                while buf.ends_with('\n') || buf.ends_with('\r') {
                    buf.pop();
                }
                if self.d.line_continuation && buf.len() > last_backslash && buf.ends_with('\\') {
                    buf.pop();
                    last_backslash = buf.len();
                    continuations += 1;
                    continue;
                }
                break;
            }
            if !got_any {
                break;
            }
            self.tokenize_line(&file_name, &buf, line_number, depth, out);
            line_number += continuations + 1;
        }
    }

    fn tokenize_line(
        &mut self,
        file_name: &Rc<str>,
        buf: &str,
        line: usize,
        depth: u32,
        out: &mut Vec<TokenizedLine>,
    ) {
        let file = &**file_name;
        let bytes = buf.as_bytes();
        let mut pos = 0usize;
        let mut fields: Vec<Vec<AuthToken>> = Vec::new();
        let mut error = false;
        while pos < bytes.len() && !error {
            let field = self.next_field(file, line, bytes, &mut pos, depth, &mut error);
            if !field.is_empty() {
                if fields.is_empty() {
                    // Room for a pg_hba.conf row with a few options, in one allocation.
                    fields.reserve_exact(8);
                }
                fields.push(field);
            }
        }
        if fields.is_empty() && !error {
            return;
        }
        if !error && self.d.includes_allowed && fields.len() == 2 {
            let first = fields[0].first().map(|t| t.text.as_str()).unwrap_or("");
            let second = fields[1]
                .first()
                .map(|t| t.text.clone())
                .unwrap_or_default();
            let ctx = (file, line);
            match first {
                "include" => {
                    if self.include_file(file, &second, depth + 1, false, ctx, out) {
                        return;
                    }
                    error = true;
                }
                "include_if_exists" => {
                    if self.include_file(file, &second, depth + 1, true, ctx, out) {
                        return;
                    }
                    error = true;
                }
                "include_dir" => {
                    if self.include_dir(file, &second, depth + 1, ctx, out) {
                        return;
                    }
                    error = true;
                }
                _ => {}
            }
        }
        out.push(TokenizedLine {
            file: Rc::clone(file_name),
            line,
            raw: buf.to_string(),
            fields,
            error,
        });
    }

    /// `next_token`: `Ok(None)` at end of line or comment. The token's text is left in
    /// `self.token`.
    fn next_token(&mut self, line: &[u8], pos: &mut usize) -> Result<Option<RawToken>, ()> {
        let at = |i: usize| line.get(i).copied().unwrap_or(0);
        let mut c = at(*pos);
        *pos += 1;
        while c != 0 && (is_blank(c) || c == b',') {
            c = at(*pos);
            *pos += 1;
        }
        let mut buf = std::mem::take(&mut self.token);
        buf.clear();
        let (mut in_quote, mut was_quote, mut saw_quote) = (false, false, false);
        let (mut initial_quote, mut terminating_comma) = (false, false);
        while c != 0 && (!is_blank(c) || in_quote) {
            // A run of bytes that are taken as they are goes in at once, up to the length
            // limit (the byte that reaches it takes the path below).
            let plain = if in_quote { PLAIN_IN_QUOTES } else { PLAIN };
            if TOKEN_BYTE[usize::from(c)] & plain != 0 {
                let start = *pos - 1;
                let run = line[start..]
                    .iter()
                    .take_while(|&&b| TOKEN_BYTE[usize::from(b)] & plain != 0)
                    .count();
                let room = self
                    .d
                    .max_token_bytes
                    .map_or(run, |max| max.saturating_sub(buf.len()));
                let take = run.min(room);
                if take > 0 {
                    buf.extend_from_slice(&line[start..start + take]);
                    was_quote = false;
                    c = at(start + take);
                    *pos = start + take + 1;
                    continue;
                }
            }
            if c == b'#' && !in_quote {
                // The rest of the line is a comment.
                let rest = line.get(*pos..).unwrap_or_default();
                *pos += rest.iter().position(|&b| b == 0).unwrap_or(rest.len()) + 1;
                break;
            }
            if self.d.max_token_bytes.is_some_and(|max| buf.len() >= max) {
                // 8.4 and 15 log this without a CONTEXT line.
                self.error(HbaError::TokenTooLong(lossy(&buf)), None);
                self.token = buf;
                *pos = line.len();
                return Err(());
            }
            if c == b',' && !in_quote {
                terminating_comma = true;
                break;
            }
            if c != b'"' || was_quote {
                buf.push(c);
            }
            if in_quote && c == b'"' {
                was_quote = !was_quote;
            } else {
                was_quote = false;
            }
            if c == b'"' {
                in_quote = !in_quote;
                saw_quote = true;
                if buf.is_empty() {
                    initial_quote = true;
                }
            }
            c = at(*pos);
            *pos += 1;
        }
        *pos -= 1;
        let found = saw_quote || !buf.is_empty();
        self.token = buf;
        Ok(found.then_some(RawToken {
            initial_quote,
            terminating_comma,
        }))
    }

    /// `next_field_expand`: one field (comma list), with `@file` expansion.
    fn next_field(
        &mut self,
        file: &str,
        line_no: usize,
        line: &[u8],
        pos: &mut usize,
        depth: u32,
        error: &mut bool,
    ) -> Vec<AuthToken> {
        let mut tokens = Vec::new();
        loop {
            let tok = match self.next_token(line, pos) {
                Err(()) => {
                    *error = true;
                    break;
                }
                Ok(None) => break,
                Ok(Some(t)) => t,
            };
            let text = &self.token;
            if !tok.initial_quote && text.len() > 1 && text[0] == b'@' {
                let inc = lossy(&text[1..]);
                match self.expand_file(file, &inc, depth + 1, (file, line_no)) {
                    Some(mut more) => tokens.append(&mut more),
                    None => *error = true,
                }
            } else {
                tokens.push(AuthToken::new(lossy(text), tok.initial_quote));
            }
            if !tok.terminating_comma || *error {
                break;
            }
        }
        tokens
    }

    /// `AbsoluteConfigLocation` of the file `inc` named in `outer`, or `None` (logged) if
    /// opening it at `depth` would exceed the nesting limit.
    fn nested_location(
        &mut self,
        outer: &str,
        inc: &str,
        depth: u32,
        ctx: (&str, usize),
    ) -> Option<String> {
        let full = include_location(inc, outer);
        if depth > CONF_FILE_MAX_DEPTH {
            self.error(HbaError::NestingTooDeep(full), Some(ctx));
            return None;
        }
        Some(full)
    }

    /// `tokenize_expand_file`: all tokens of an `@file`, flattened.
    fn expand_file(
        &mut self,
        outer: &str,
        inc: &str,
        depth: u32,
        ctx: (&str, usize),
    ) -> Option<Vec<AuthToken>> {
        let full = self.nested_location(outer, inc, depth, ctx)?;
        let text = match self.resolver.read_file(&full) {
            Ok(t) => t,
            Err(e) => {
                let err = match self.d.at_file_error {
                    AtFileErrorStyle::Generic => HbaError::CouldNotOpenFile {
                        path: full,
                        reason: e.reason,
                    },
                    AtFileErrorStyle::Secondary => HbaError::SecondaryFileOpen {
                        inc: inc.to_string(),
                        full,
                        reason: e.reason,
                    },
                };
                self.error(err, Some(ctx));
                return None;
            }
        };
        let mut lines = Vec::new();
        self.tokenize(&full, &text, depth, &mut lines);
        let mut tokens = Vec::new();
        for l in lines {
            if l.error {
                return None;
            }
            for f in l.fields {
                tokens.extend(f);
            }
        }
        Some(tokens)
    }

    /// `tokenize_include_file`; true on success (or skipped missing file).
    fn include_file(
        &mut self,
        outer: &str,
        inc: &str,
        depth: u32,
        missing_ok: bool,
        ctx: (&str, usize),
        out: &mut Vec<TokenizedLine>,
    ) -> bool {
        let Some(full) = self.nested_location(outer, inc, depth, ctx) else {
            return false;
        };
        match self.resolver.read_file(&full) {
            Ok(text) => {
                self.tokenize(&full, &text, depth, out);
                true
            }
            Err(e) if e.not_found && missing_ok => {
                self.diags.push(Diagnostic {
                    level: LogLevel::Log,
                    is_error: false,
                    error: HbaError::SkippingMissingFile(full),
                    hint: None,
                    context: Some((ctx.0.to_string(), ctx.1)),
                });
                true
            }
            Err(e) => {
                self.error(
                    HbaError::CouldNotOpenFile {
                        path: full,
                        reason: e.reason,
                    },
                    Some(ctx),
                );
                false
            }
        }
    }

    /// `include_dir`: every `*.conf` (not hidden) in name order.
    fn include_dir(
        &mut self,
        outer: &str,
        dir: &str,
        depth: u32,
        ctx: (&str, usize),
        out: &mut Vec<TokenizedLine>,
    ) -> bool {
        if is_blank_name(dir.as_bytes()) {
            self.error(HbaError::EmptyDirectoryName(dir.to_string()), Some(ctx));
            return false;
        }
        let full_dir = include_location(dir, outer);
        let names = match self.resolver.list_dir(&full_dir) {
            Ok(n) => n,
            Err(e) => {
                self.error(
                    HbaError::CouldNotOpenDirectory {
                        path: full_dir,
                        reason: e.reason,
                    },
                    Some(ctx),
                );
                return false;
            }
        };
        let mut files: Vec<String> = names
            .into_iter()
            .filter(|n| is_conf_file_name(n.as_bytes()))
            .map(|n| path_text(&canonicalize_path(Path::new(&format!("{full_dir}/{n}")))))
            .collect();
        files.sort();
        let mut ok = true;
        for f in files {
            ok &= self.include_file(outer, &f, depth, false, ctx, out);
        }
        ok
    }
}

/// Tokenize a whole file (exposed for tests and the fuzz target).
pub fn tokenize_str(
    text: &str,
    path: &str,
    opts: &ParseOptions<'_>,
) -> (Vec<TokenizedLine>, Vec<Diagnostic>) {
    let mut tk = Tokenizer {
        d: dialect(opts.profile),
        resolver: opts.resolver,
        diags: Vec::new(),
        token: Vec::new(),
    };
    // (A guess that saves the first few regrowths of a short file.)
    let mut lines = Vec::with_capacity(8);
    tk.tokenize(path, text, 0, &mut lines);
    (lines, tk.diags)
}

/// `AbsoluteConfigLocation` of `location` named in `calling_file`. A relative location
/// that cancels out entirely (`..` in a file of a relative data directory `data`) is the
/// empty path here, as it has always been for these files, where `canonicalize_path` says
/// `.` (PostgreSQL never gets there: its data directory is made absolute first).
fn include_location(location: &str, calling_file: &str) -> String {
    let path = absolute_config_location(Path::new(location), Some(Path::new(calling_file)));
    if path == Path::new(".") {
        String::new()
    } else {
        path_text(&path)
    }
}

/// A path built from text as text again (it is valid UTF-8, being made of `str`s).
fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests;
