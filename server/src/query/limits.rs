//! The limits a query meets before and while the responder parses it, with PostgreSQL's
//! errors for each: the grammar's parser stack (bison's `memory exhausted`), the depth of an
//! expression (`stack depth limit exceeded`) and the length of a target list. Nothing a
//! client sends makes the responder recurse deeper than [`MAX_EXPR_DEPTH`].
//!
//! What PostgreSQL 15.18 (Debian) and 18.4 answer, probed live over the simple query
//! protocol; both went on to answer the next query in the same session every time:
//!
//! | query | PostgreSQL 15 and 18 |
//! |---|---|
//! | `SELECT` + `(`×N + `1` + `)`×N, N ≤ 9,993 | `1` |
//! | … N = 9,994 or 9,995 | 42601 `memory exhausted at or near ")"`, position of the first `)` |
//! | … N = 9,996 | 42601 `memory exhausted at or near "1"`, position of the `1` |
//! | … N ≥ 9,997 (1,000 fine, 10,000 and 100,000 fail) | 42601 `memory exhausted at or near "("`, position of the 9,997th `(` |
//! | `SELECT 1, ` + `(`×9,994 + `1` + `)`×9,994 | 42601 `memory exhausted at or near "1"` |
//! | `SELECT 'a'\|\|'a'\|\|…` (N terms) | fine to 4,092 (15) / 4,358 (18); then 54001 `stack depth limit exceeded`, HINT `Increase the configuration parameter "max_stack_depth" (currently 2048kB), after ensuring the platform's stack depth limit is adequate.`, no position |
//! | `SELECT 1,1,…` 1,664 items | one row of 1,664 columns |
//! | … 1,665 or 40,000 items | 54011 `target lists can have at most 1664 entries`, no position |
//!
//! The first is bison's: PostgreSQL's grammar (`src/backend/parser/gram.y`) leaves the parser
//! stack at bison's default `YYMAXDEPTH` of 10,000 entries, and `scanner_yyerror`
//! (`src/backend/parser/scan.l`) reports the overflow as a syntax error at the token being
//! read. The second is `check_stack_depth` (`src/backend/tcop/postgres.c` in 15,
//! `src/backend/utils/misc/stack_depth.c` in 18) against `max_stack_depth`, so where it
//! strikes depends on the build. The third is `MaxTupleAttributeNumber`
//! (`src/include/access/htup_details.h`), checked in `free_parsestate`
//! (`src/backend/parser/parse_node.c`) once the whole target list is transformed.

use crate::wire::{ErrorFields, Severity};

/// Bison's default `YYMAXDEPTH`, which PostgreSQL's grammar keeps: its parser stack holds at
/// most this many entries.
pub const YYMAXDEPTH: usize = 10_000;

/// Parser-stack entries under the first target-list item (`SELECT (` pushes its `(` onto
/// three); each later item sits on two more (`target_list ','`). Calibrated so that the
/// shapes in the table above overflow exactly where PostgreSQL's do.
const STACK_BASE_FIRST_ITEM: usize = 3;
const STACK_BASE_LATER_ITEM: usize = 5;

/// `MaxTupleAttributeNumber`: the most entries a target list may have.
pub const MAX_TARGET_LIST: usize = 1664;

/// The deepest expression tree the responder builds: pgssl's own documented stand-in for
/// PostgreSQL's `max_stack_depth`. A deeper one (a chain of more than 1,000 `||` terms, or
/// calls nested more than 1,000 deep) gets PostgreSQL's `stack depth limit exceeded`, worded
/// as PostgreSQL words it with the default `max_stack_depth` of 2MB. PostgreSQL 15 and 18
/// accept chains of about 4,000 here, but how many depends on their build; pgssl refuses
/// earlier so that evaluating the deepest tree it accepts stays far inside a Tokio worker's
/// 2 MiB stack even in a debug build (a unit test checks it on a 512 KiB thread).
pub const MAX_EXPR_DEPTH: usize = 1000;

/// `max_stack_depth`'s default, which the HINT quotes (pgssl has no such setting).
const MAX_STACK_DEPTH_DEFAULT: &str = "2048kB";

/// PostgreSQL's `check_stack_depth` error.
pub fn stack_depth_exceeded() -> ErrorFields {
    ErrorFields::new(Severity::Error, "54001", "stack depth limit exceeded").with_hint(format!(
        "Increase the configuration parameter \"max_stack_depth\" (currently {MAX_STACK_DEPTH_DEFAULT}), after ensuring the platform's stack depth limit is adequate."
    ))
}

/// PostgreSQL's error for a target list over [`MAX_TARGET_LIST`] entries.
pub fn too_many_columns() -> ErrorFields {
    ErrorFields::new(
        Severity::Error,
        "54011",
        format!("target lists can have at most {MAX_TARGET_LIST} entries"),
    )
}

/// Bison's `memory exhausted` at the token `near`, which starts at 1-based character
/// `position`.
fn memory_exhausted(near: &str, position: usize) -> ErrorFields {
    ErrorFields::new(
        Severity::Error,
        "42601",
        format!("memory exhausted at or near \"{near}\""),
    )
    .with_position(position)
}

/// Where PostgreSQL's parser stack would overflow on `query`, modelled on parentheses: each
/// open `(` holds one entry, a token inside needs one more, and closing a parenthesised
/// expression needs three (the expression, the `)` and the empty indirection after it).
/// The model is exact for the shapes in the module's table; other shapes deep enough to
/// matter (about 10,000 levels) fall to [`MAX_EXPR_DEPTH`] or are not queries pgssl answers.
/// One linear pass over the original text (for PostgreSQL's character positions), skipping
/// quoted strings, quoted identifiers and comments.
pub fn parser_stack_overflow(query: &str) -> Option<ErrorFields> {
    let chars: Vec<char> = query.chars().collect();
    let mut base = STACK_BASE_FIRST_ITEM;
    let mut depth = 0usize;
    let mut i = 0;
    let overflows = |base: usize, depth: usize, extra: usize| base + depth + extra >= YYMAXDEPTH;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        i += 1;
        match c {
            c if c.is_whitespace() => {}
            '(' => {
                depth += 1;
                if overflows(base, depth, 0) {
                    return Some(memory_exhausted("(", start + 1));
                }
            }
            ')' => {
                if depth > 0 && overflows(base, depth, 3) {
                    return Some(memory_exhausted(")", start + 1));
                }
                depth = depth.saturating_sub(1);
            }
            ',' => {
                if depth == 0 {
                    base = STACK_BASE_LATER_ITEM;
                }
            }
            '-' if chars.get(i) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i) == Some(&'*') => {
                // Comments nest, as in PostgreSQL's scanner.
                let mut open = 1usize;
                i += 1;
                while i < chars.len() && open > 0 {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        open += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        open -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            _ => {
                if c == '\'' || c == '"' {
                    // A doubled quote stays inside; an unterminated one runs to the end.
                    while i < chars.len() {
                        if chars[i] == c {
                            if chars.get(i + 1) == Some(&c) {
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        i += 1;
                    }
                } else if is_word(c) {
                    while i < chars.len() && is_word(chars[i]) {
                        i += 1;
                    }
                } else {
                    while i < chars.len() && is_operator(chars[i]) && is_operator(c) {
                        i += 1;
                    }
                }
                if overflows(base, depth, 1) {
                    let near: String = chars[start..i].iter().collect();
                    return Some(memory_exhausted(&near, start + 1));
                }
            }
        }
    }
    None
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '.'
}

fn is_operator(c: char) -> bool {
    "+-*/<>=~!@#%^&|`?".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> String {
        format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n))
    }

    fn fields(e: &ErrorFields) -> (&str, &str, Option<&str>) {
        (e.code(), e.message(), e.get(b'P'))
    }

    #[test]
    fn parentheses_overflow_where_postgresql_does() {
        assert_eq!(parser_stack_overflow(&nested(9_993)), None);
        let at = |n: usize| parser_stack_overflow(&nested(n)).expect("overflows");
        let e = at(9_994);
        assert_eq!(
            fields(&e),
            ("42601", "memory exhausted at or near \")\"", Some("10003"))
        );
        let e = at(9_995);
        assert_eq!(
            fields(&e),
            ("42601", "memory exhausted at or near \")\"", Some("10004"))
        );
        let e = at(9_996);
        assert_eq!(
            fields(&e),
            ("42601", "memory exhausted at or near \"1\"", Some("10004"))
        );
        for n in [9_997, 10_000, 100_000] {
            let e = at(n);
            assert_eq!(
                fields(&e),
                ("42601", "memory exhausted at or near \"(\"", Some("10004"))
            );
        }
        let later = format!("SELECT 1, {}1{}", "(".repeat(9_994), ")".repeat(9_994));
        let e = parser_stack_overflow(&later).expect("overflows");
        assert_eq!(
            fields(&e),
            ("42601", "memory exhausted at or near \"1\"", Some("10005"))
        );
    }

    #[test]
    fn quoted_and_commented_parentheses_do_not_count() {
        let deep = "(".repeat(20_000);
        assert_eq!(parser_stack_overflow(&format!("SELECT '{deep}'")), None);
        assert_eq!(parser_stack_overflow(&format!("SELECT \"{deep}\"")), None);
        assert_eq!(parser_stack_overflow(&format!("SELECT 1 -- {deep}")), None);
        assert_eq!(
            parser_stack_overflow(&format!("SELECT 1 /* /* {deep} */ {deep} */")),
            None
        );
    }
}
