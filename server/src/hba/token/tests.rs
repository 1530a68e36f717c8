//! Tests of the tokenizer: quoting, lists, `@file`, continuations, includes, limits.

use super::{Tokenizer, is_blank, lossy};
use crate::hba::test_support::*;
use crate::hba::*;
use crate::profile::Profile;

#[test]
fn regex_cache_gives_the_same_answers() {
    let text = "m /^(.*)@EXAMPLE$ \\1\nm /(bad x\nm /^(.*)@EXAMPLE$ y\n";
    let cache = crate::hba::pattern::RegexCache::new();
    let uncached = parse_ident_str(text, PATH, &ParseOptions::new(Profile::Pg18));
    for _ in 0..2 {
        let opts = ParseOptions::with_patterns(Profile::Pg18, &cache);
        let load = parse_ident_str(text, PATH, &opts);
        assert_eq!(load.diagnostics, uncached.diagnostics);
        assert_eq!(
            load.diagnostics[0].message(),
            "invalid regular expression \"(bad\": parentheses () not balanced"
        );
        assert_eq!(load.config.rows.len(), 2);
        for (a, b) in load.config.rows.iter().zip(&uncached.config.rows) {
            assert!(a.same_rule(b));
        }
        // One compiled program for both rows.
        let (a, b) = (&load.config.rows[0], &load.config.rows[1]);
        assert!(std::ptr::eq(
            a.system_user.regex().unwrap(),
            b.system_user.regex().unwrap()
        ));
        assert_eq!(
            crate::hba::map_identity(&load.config, "m", "joe@EXAMPLE", "joe", false),
            Ok(true)
        );
    }
    assert_eq!(cache.len(), 2);
}

/// `next_token` as it was written first, byte by byte after PostgreSQL's C: the
/// reference for the table-driven one. `Err` carries the too-long prefix.
#[allow(clippy::type_complexity)]
fn next_token_reference(
    line: &[u8],
    pos: &mut usize,
    max_token_bytes: Option<usize>,
) -> Result<Option<(Vec<u8>, bool, bool)>, Vec<u8>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut c = at(*pos);
    *pos += 1;
    while c != 0 && (is_blank(c) || c == b',') {
        c = at(*pos);
        *pos += 1;
    }
    let mut buf: Vec<u8> = Vec::new();
    let (mut in_quote, mut was_quote, mut saw_quote) = (false, false, false);
    let (mut initial_quote, mut terminating_comma) = (false, false);
    while c != 0 && (!is_blank(c) || in_quote) {
        if c == b'#' && !in_quote {
            while c != 0 {
                c = at(*pos);
                *pos += 1;
            }
            break;
        }
        if max_token_bytes.is_some_and(|max| buf.len() >= max) {
            *pos = line.len();
            return Err(buf);
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
    Ok((saw_quote || !buf.is_empty()).then_some((buf, initial_quote, terminating_comma)))
}

#[test]
fn next_token_agrees_with_the_reference() {
    let alphabet = b"ab\xc3\xa9 \t\r,#\"=/@\\";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let len = (next() % 40) as usize + if round % 50 == 0 { 250 } else { 0 };
        let line: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        for profile in all_profiles() {
            let d = dialect(profile);
            let mut tk = Tokenizer {
                d,
                resolver: &NoIncludes,
                diags: Vec::new(),
                token: Vec::new(),
            };
            let (mut pos, mut ref_pos) = (0, 0);
            loop {
                let ours = tk.next_token(&line, &mut pos);
                let theirs = next_token_reference(&line, &mut ref_pos, d.max_token_bytes);
                let ctx = String::from_utf8_lossy(&line);
                assert_eq!(pos, ref_pos, "{profile:?} {ctx:?}");
                match (ours, theirs) {
                    (Ok(None), Ok(None)) => break,
                    (Ok(Some(t)), Ok(Some((text, initial_quote, comma)))) => {
                        assert_eq!(tk.token, text, "{profile:?} {ctx:?}");
                        assert_eq!(t.initial_quote, initial_quote, "{profile:?} {ctx:?}");
                        assert_eq!(t.terminating_comma, comma, "{profile:?} {ctx:?}");
                    }
                    (Err(()), Err(prefix)) => {
                        let expected = HbaError::TokenTooLong(lossy(&prefix));
                        assert_eq!(tk.diags.last().map(|d| &d.error), Some(&expected));
                        break;
                    }
                    (a, b) => panic!(
                        "{profile:?} {ctx:?}: {:?} vs {b:?}",
                        a.map(|t| t.map(|_| ()))
                    ),
                }
                if pos >= line.len() {
                    break;
                }
            }
        }
    }
}

#[test]
fn list_tokens_with_quotes() {
    let opts = ParseOptions::new(Profile::Pg15);
    let (lines, diags) = tokenize_str(
        "local a,b,\"c d\",\"all\" x\"y z\" \"q\"\"q\" # comment\n",
        PATH,
        &opts,
    );
    assert!(diags.is_empty());
    assert_eq!(lines.len(), 1);
    let f = &lines[0].fields;
    let texts: Vec<(&str, bool)> = f[1].iter().map(|t| (t.text.as_str(), t.quoted)).collect();
    assert_eq!(
        texts,
        [("a", false), ("b", false), ("c d", true), ("all", true)]
    );
    assert_eq!((f[2][0].text.as_str(), f[2][0].quoted), ("xy z", false));
    assert_eq!((f[3][0].text.as_str(), f[3][0].quoted), ("q\"q", true));
    assert_eq!(f.len(), 4);
}

#[test]
fn comma_space_continues_list_but_space_comma_does_not() {
    let opts = ParseOptions::new(Profile::Pg18);
    let (lines, _) = tokenize_str("a, b ,c\n", PATH, &opts);
    let f = &lines[0].fields;
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].len(), 2);
    assert_eq!(f[1][0].text, "c");
}

#[test]
fn quoted_all_is_a_user_named_all() {
    let load = hba(Profile::Pg15, "local all \"all\" trust\n");
    assert!(load.is_ok());
    let row = &load.config.rows[0];
    assert!(row.databases[0].is_keyword("all"));
    assert!(!row.users[0].is_keyword("all"));
    assert_eq!(row.users[0].text, "all");
}

#[test]
fn at_file_expands_relative_to_including_file() {
    let r = files(&[
        ("/data/users.txt", "alice, bob\n# c\ncarol\n"),
        ("/data/sub/dbs", "@../more"),
    ]);
    let r2 = files(&[("/data/more", "db1 db2")]);
    let opts = ParseOptions::new(Profile::Pg15).with_resolver(&r);
    let load = parse_hba_str(
        "local all @users.txt,dave trust\nlocal \"@users.txt\" all trust\n",
        PATH,
        &opts,
    );
    assert!(load.is_ok(), "{}", load.render_log());
    let users: Vec<&str> = load.config.rows[0]
        .users
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(users, ["alice", "bob", "carol", "dave"]);
    assert_eq!(load.config.rows[1].databases[0].text, "@users.txt");
    // nested @file in a sub directory
    let _ = r2;
    let r3 = files(&[("/data/sub/dbs", "@../more"), ("/data/more", "db1 db2")]);
    let opts = ParseOptions::new(Profile::Pg18).with_resolver(&r3);
    let load = parse_hba_str("local @sub/dbs all trust\n", PATH, &opts);
    let dbs: Vec<&str> = load.config.rows[0]
        .databases
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(dbs, ["db1", "db2"]);
}

#[test]
fn at_file_open_errors_per_profile() {
    assert_eq!(
        err(Profile::Pg15, "local all @nobody trust\n"),
        "could not open secondary authentication file \"@nobody\" as \"/data/nobody\": No such file or directory"
    );
    assert_eq!(
        err(Profile::Pg18, "local all @nobody trust\n"),
        "could not open file \"/data/nobody\": No such file or directory"
    );
    let r = files(&[("/data/loop", "@loop")]);
    let opts = ParseOptions::new(Profile::Pg18).with_resolver(&r);
    let load = parse_hba_str("local all @loop trust\n", PATH, &opts);
    assert_eq!(
        load.errors()
            .next()
            .map(Diagnostic::message)
            .unwrap_or_default(),
        "could not open file \"/data/loop\": maximum nesting depth exceeded"
    );
}

#[test]
fn line_continuation_is_15_plus() {
    let text = "host all all \\\n  127.0.0.1/32 trust\nlocal all all trust\n";
    for p in [Profile::Pg15, Profile::Pg18] {
        let load = hba(p, text);
        assert!(load.is_ok(), "{}", load.render_log());
        assert_eq!(load.config.rows[0].line, 1);
        assert_eq!(load.config.rows[1].line, 3);
    }
    // 8.4: the backslash is an ordinary token.
    let load = hba(Profile::Seed, text);
    assert_eq!(
        load.errors()
            .next()
            .map(Diagnostic::message)
            .unwrap_or_default(),
        "invalid IP address \"\\\": Name or service not known"
    );
}

#[test]
fn include_directives_only_in_18() {
    let r = files(&[("/data/extra.conf", "host all all 10.0.0.0/8 reject\n")]);
    let text = "include extra.conf\ninclude_if_exists missing.conf\nlocal all all trust\n";
    let opts = ParseOptions::new(Profile::Pg18).with_resolver(&r);
    let load = parse_hba_str(text, PATH, &opts);
    assert!(load.is_ok(), "{}", load.render_log());
    assert_eq!(load.config.rows.len(), 2);
    assert_eq!(load.config.rows[0].location(), "/data/extra.conf:1");
    assert_eq!(load.config.rows[1].location(), "/data/pg_hba.conf:3");
    assert_eq!(
        load.render_log(),
        "LOG:  skipping missing authentication file \"/data/missing.conf\"\nCONTEXT:  line 2 of configuration file \"/data/pg_hba.conf\"\n"
    );
    let load = parse_hba_str("include nothere.conf\nlocal all all trust\n", PATH, &opts);
    assert_eq!(
        load.errors()
            .next()
            .map(Diagnostic::render)
            .unwrap_or_default(),
        "LOG:  could not open file \"/data/nothere.conf\": No such file or directory\nCONTEXT:  line 1 of configuration file \"/data/pg_hba.conf\""
    );
    for p in [Profile::Seed, Profile::Pg15] {
        let opts = ParseOptions::new(p).with_resolver(&r);
        let load = parse_hba_str("include extra.conf\n", PATH, &opts);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::message)
                .unwrap_or_default(),
            "invalid connection type \"include\""
        );
    }
}

#[test]
fn include_dir_sorted_and_filtered() {
    let opts = ParseOptions::new(Profile::Pg18).with_resolver(&DirResolver);
    let load = parse_hba_str("include_dir conf.d\n", PATH, &opts);
    assert!(load.is_ok(), "{}", load.render_log());
    let users: Vec<&str> = load
        .config
        .rows
        .iter()
        .map(|r| r.users[0].text.as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"]);
    assert_eq!(
        err(Profile::Pg18, "include_dir \" \"\n"),
        "empty configuration directory name: \" \""
    );
    let load = parse_hba_str("include_dir nodir\n", PATH, &opts);
    assert_eq!(
        load.errors()
            .next()
            .map(Diagnostic::message)
            .unwrap_or_default(),
        "could not open configuration directory \"/data/nodir\": No such file or directory"
    );
}

#[test]
fn token_too_long_in_15_not_18() {
    let long = "x".repeat(10240);
    let text = format!("local {long} all trust\n");
    let load = hba(Profile::Pg15, &text);
    let d = load
        .errors()
        .next()
        .map(Diagnostic::render)
        .unwrap_or_default();
    assert!(
        d.starts_with("LOG:  authentication file token too long, skipping: \"xxx"),
        "{d}"
    );
    assert!(hba(Profile::Pg18, &text).is_ok());
    assert!(
        hba(
            Profile::Pg15,
            &format!("local {} all trust\n", "x".repeat(10239))
        )
        .is_ok()
    );
}

#[test]
fn include_locations_of_a_relative_file() {
    use super::include_location;
    assert_eq!(include_location("x", "data/pg_hba.conf"), "data/x");
    assert_eq!(include_location("../x", "data/pg_hba.conf"), "x");
    assert_eq!(include_location("..", "data/pg_hba.conf"), "");
    assert_eq!(include_location("/etc/x", "data/pg_hba.conf"), "/etc/x");
}
