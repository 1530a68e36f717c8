//! Tests of reading configuration files: lines, quoting, syntax errors, includes.

use super::*;
use std::fs;
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
