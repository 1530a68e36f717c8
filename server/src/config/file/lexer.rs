//! The lexer of `guc-file.l`: its flex rules as a longest-match scanner over bytes, and
//! the text of tokens (`%s` up to a NUL, `DeescapeQuotedString`).

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
pub(super) enum TokenKind {
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
pub(super) struct Token<'a> {
    pub(super) kind: TokenKind,
    pub(super) text: &'a [u8],
}

pub(super) struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
    /// `ConfigFileLineno`: incremented when a newline is lexed.
    pub(super) line: u32,
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
    pub(super) fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            pos: 0,
            line: 1,
        }
    }

    /// The next token, or `None` at end of input.
    pub(super) fn next_token(&mut self) -> Option<Token<'a>> {
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
pub(super) fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// [`c_text`] of bytes already owned, reusing their allocation when they are valid UTF-8.
pub(super) fn c_text_owned(mut bytes: Vec<u8>) -> String {
    if let Some(end) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(end);
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `DeescapeQuotedString`: strip the quotes of a STRING token, collapse
/// `''` and process backslash escapes (`\b \f \n \r \t`, 1-3 octal digits,
/// anything else stands for itself).
pub(super) fn deescape_quoted_string(token: &[u8]) -> Vec<u8> {
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

#[cfg(test)]
mod tests;
