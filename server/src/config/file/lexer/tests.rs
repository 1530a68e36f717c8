//! Tests of the lexer: the table-driven longest match against every rule tried alone.

use super::*;

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
