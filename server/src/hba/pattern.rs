//! `/regex` tokens: how pg_hba.conf and pg_ident.conf patterns are compiled
//! ([`PatternCompiler`]), by the regex crate with PostgreSQL's error texts, each time
//! ([`CompileEach`]) or once per pattern ([`RegexCache`]).
//!
//! The parser reaches the regex engine only through a [`PatternCompiler`] in its
//! `ParseOptions`, so a caller that passes its own (the `hba_literal` fuzz target, whose
//! inputs hold no patterns) does not link the engine's compiler at all.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;

/// A compiled pattern, or `pg_regerror`'s text for why it does not compile.
pub type CompiledPattern = Result<Arc<Regex>, String>;

/// Compiles the pattern of a `/regex` token (the text after the slash).
pub trait PatternCompiler {
    fn compile(&self, pattern: &str) -> CompiledPattern;
}

/// Every pattern compiled anew (what `ParseOptions::new` uses).
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileEach;

impl PatternCompiler for CompileEach {
    fn compile(&self, pattern: &str) -> CompiledPattern {
        compile_regex(pattern)
    }
}

/// Compiled patterns by pattern text (errors too), to share between parses.
///
/// Compiling is by far the most expensive step of parsing a `/regex` token, and the same
/// patterns come back when a file printed from parsed rows is parsed again, or a file is
/// read as both pg_hba.conf and pg_ident.conf. Parses given one cache (through
/// `ParseOptions::with_patterns`) compile each pattern once; the tokens share the compiled
/// regex, including its search caches. The cache grows with the number of distinct
/// patterns and is freed with it.
#[derive(Default)]
pub struct RegexCache {
    patterns: RefCell<HashMap<Box<str>, CompiledPattern>>,
}

impl RegexCache {
    pub fn new() -> RegexCache {
        RegexCache::default()
    }

    /// How many distinct patterns it holds.
    pub fn len(&self) -> usize {
        self.patterns.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PatternCompiler for RegexCache {
    fn compile(&self, pattern: &str) -> CompiledPattern {
        if let Some(hit) = self.patterns.borrow().get(pattern) {
            return hit.clone();
        }
        let result = compile_regex(pattern);
        self.patterns
            .borrow_mut()
            .insert(pattern.into(), result.clone());
        result
    }
}

impl fmt::Debug for RegexCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexCache")
            .field("patterns", &self.len())
            .finish()
    }
}

/// `Regex::new(pattern)`, with a regex crate error translated by [`pg_regerror`].
fn compile_regex(pattern: &str) -> CompiledPattern {
    Regex::new(pattern)
        .map(Arc::new)
        .map_err(|e| pg_regerror(&e))
}

/// Translate a `regex` crate error into the closest Spencer `pg_regerror` text.
fn pg_regerror(e: &regex::Error) -> String {
    let s = e.to_string();
    let table: &[(&str, &str)] = &[
        ("unclosed group", "parentheses () not balanced"),
        ("unopened group", "parentheses () not balanced"),
        ("unclosed character class", "brackets [] not balanced"),
        ("empty character class", "brackets [] not balanced"),
        ("unclosed counted repetition", "braces {} not balanced"),
        ("invalid character class range", "invalid character range"),
        (
            "repetition operator missing expression",
            "quantifier operand invalid",
        ),
        (
            "repetition quantifier expects a valid decimal",
            "invalid repetition count(s)",
        ),
        (
            "invalid repetition count range",
            "invalid repetition count(s)",
        ),
        (
            "backreferences are not supported",
            "invalid backreference number",
        ),
        ("incomplete escape sequence", "invalid escape \\ sequence"),
        ("unrecognized escape sequence", "invalid escape \\ sequence"),
        (
            "look-around",
            "invalid regular expression: look-around is not supported",
        ),
        ("exceeds size limit", "regular expression is too complex"),
    ];
    for (needle, text) in table {
        if s.contains(needle) {
            return (*text).to_string();
        }
    }
    s.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: ").map(str::to_string))
        .unwrap_or_else(|| "invalid regular expression".to_string())
}
