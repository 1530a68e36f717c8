//! Printing rules back as configuration text (`Display`), so that the profile's parser
//! reads back the same rules: quoting, the token length limit, trailing backslashes.

use std::fmt;
use std::fmt::Write as _;

use super::address::mask_prefix_len;
use super::dialect::dialect;
use super::load::{HbaConfig, IdentConfig};
use super::row::{AuthToken, HbaAddress, HbaRow, IdentRow};
use crate::profile::Profile;

/// Characters the tokenizer would split or strip on outside quotes. A backslash is
/// ordinary inside a line; only at the very end of a line does it join the next one, which
/// the row printers avoid (see [`end_row`]).
fn needs_quoting(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | ',' | '#' | '"')
}

/// The tokenizer's length limit also applies when it reads a closing quote, so a quoted
/// token holds one byte less than a bare one. Tokens shorter than the smallest limit (8.4's
/// 254 bytes) are quoted whole (but for a bare first character), for readability; longer
/// ones only from the first to the last character that needs it, so that any token that
/// parsed prints back within the limit.
const WHOLE_QUOTING_MAX_LEN: usize = 253;

/// Write a token so that the tokenizer gives back the same text and `quoted` flag.
///
/// `open_at`: the token ends its line, and the dialect's token limit is this many bytes.
/// The tokenizer checks its limit on the closing quote too, so a token that needs quoting
/// up to a character at or past the limit can only have been read from a quote left open
/// to the end of the line; it is printed the same way.
fn write_token(
    f: &mut impl fmt::Write,
    text: &str,
    quoted: bool,
    open_at: Option<usize>,
) -> fmt::Result {
    let from_start = quoted
        || text.is_empty()
        || (text.len() > 1 && text.starts_with('@'))
        || text.starts_with(needs_quoting);
    let last_special_end = text
        .char_indices()
        .rev()
        .find(|&(_, c)| needs_quoting(c))
        .map(|(i, c)| i + c.len_utf8());
    if !from_start && last_special_end.is_none() {
        return f.write_str(text);
    }
    // Unless the token is quoted, its first character stays bare so that it does not
    // count as quoted.
    let first_len = text.chars().next().map_or(0, char::len_utf8);
    let (start, end) = if text.len() <= WHOLE_QUOTING_MAX_LEN {
        (if from_start { 0 } else { first_len }, text.len())
    } else {
        let start = if from_start {
            0
        } else {
            text.find(needs_quoting).unwrap_or(0).max(first_len)
        };
        (start, last_special_end.unwrap_or(0).max(start))
    };
    if open_at.is_some_and(|max| end >= max) {
        return write!(
            f,
            "{}\"{}",
            &text[..start],
            text[start..].replace('"', "\"\"")
        );
    }
    write!(
        f,
        "{}\"{}\"{}",
        &text[..start],
        text[start..end].replace('"', "\"\""),
        &text[end..]
    )
}

fn write_list(f: &mut impl fmt::Write, toks: &[AuthToken]) -> fmt::Result {
    for (i, t) in toks.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write_token(f, &t.text, t.quoted, None)?;
    }
    Ok(())
}

/// What the row printers need to know of the dialect that will read the text back.
#[derive(Clone, Copy, Debug)]
struct PrintDialect {
    /// The token limit, if the last token of a row may be printed with its quote open.
    max_token_bytes: Option<usize>,
    line_continuation: bool,
}

impl PrintDialect {
    /// For a row printed on its own: readable by every profile, quotes always closed.
    const ANY: PrintDialect = PrintDialect {
        max_token_bytes: None,
        line_continuation: true,
    };

    fn of(profile: Profile) -> PrintDialect {
        let d = dialect(profile);
        PrintDialect {
            max_token_bytes: d.max_token_bytes,
            line_continuation: d.line_continuation,
        }
    }
}

/// Finishes a printed row: a trailing tab if it ends in a backslash that would otherwise
/// continue the line (15 and later; never after a quote left open, where a tab would be part
/// of the token and where the tokenizer could not have read a trailing backslash).
fn end_row(f: &mut impl fmt::Write, mut line: String, d: PrintDialect) -> fmt::Result {
    if d.line_continuation && line.ends_with('\\') {
        line.push('\t');
    }
    f.write_str(&line)
}

impl fmt::Display for HbaAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HbaAddress::All => f.write_str("all"),
            HbaAddress::SameHost => f.write_str("samehost"),
            HbaAddress::SameNet => f.write_str("samenet"),
            HbaAddress::Hostname(h) => {
                let kw = matches!(h.as_str(), "all" | "samehost" | "samenet");
                write_token(f, h, kw, None)
            }
            HbaAddress::Cidr { addr, mask } => match mask_prefix_len(*mask) {
                Some(len) => write!(f, "{addr}/{len}"),
                None => write!(f, "{addr}\t{mask}"),
            },
        }
    }
}

impl HbaRow {
    fn print(&self, f: &mut impl fmt::Write, d: PrintDialect) -> fmt::Result {
        let mut line = String::new();
        line.push_str(self.conn_type.keyword());
        line.push('\t');
        write_list(&mut line, &self.databases)?;
        line.push('\t');
        write_list(&mut line, &self.users)?;
        if let Some(a) = &self.address {
            write!(line, "\t{a}")?;
        }
        write!(line, "\t{}", self.method.name())?;
        for (i, (n, v)) in self.options.iter().enumerate() {
            line.push('\t');
            let open_at = d.max_token_bytes.filter(|_| i + 1 == self.options.len());
            write_token(&mut line, &format!("{n}={v}"), false, open_at)?;
        }
        end_row(f, line, d)
    }
}

impl fmt::Display for HbaRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.print(f, PrintDialect::ANY)
    }
}

/// The rows, one per line, as the configuration's profile reads them back.
impl fmt::Display for HbaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print_rows(f, self.profile, &self.rows, |r, f, d| r.print(f, d))
    }
}

/// Prints `rows`, one per line, for `profile` to read back.
fn print_rows<R>(
    f: &mut fmt::Formatter<'_>,
    profile: Profile,
    rows: &[R],
    print: impl Fn(&R, &mut fmt::Formatter<'_>, PrintDialect) -> fmt::Result,
) -> fmt::Result {
    let d = PrintDialect::of(profile);
    for r in rows {
        print(r, f, d)?;
        f.write_str("\n")?;
    }
    Ok(())
}

impl IdentRow {
    fn print(&self, f: &mut impl fmt::Write, d: PrintDialect) -> fmt::Result {
        let mut line = String::new();
        write_token(&mut line, &self.map, false, None)?;
        line.push('\t');
        write_token(
            &mut line,
            &self.system_user.text,
            self.system_user.quoted,
            None,
        )?;
        line.push('\t');
        let (pg_user, quoted) = (&self.pg_user.text, self.pg_user.quoted);
        write_token(&mut line, pg_user, quoted, d.max_token_bytes)?;
        end_row(f, line, d)
    }
}

impl fmt::Display for IdentRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.print(f, PrintDialect::ANY)
    }
}

/// The rows, one per line, as the configuration's profile reads them back.
impl fmt::Display for IdentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print_rows(f, self.profile, &self.rows, |r, f, d| r.print(f, d))
    }
}

#[cfg(test)]
mod tests;
