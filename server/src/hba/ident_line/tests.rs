//! Tests of pg_ident.conf rows.

use crate::hba::*;
use crate::profile::Profile;

#[test]
fn ident_parse_messages() {
    let ipath = "/data/pg_ident.conf";
    for p in [Profile::Pg15, Profile::Pg18] {
        let o = ParseOptions::new(p);
        let load = parse_ident_str("m1 alice\n", ipath, &o);
        assert_eq!(
            load.render_log(),
            "LOG:  missing entry at end of line\nCONTEXT:  line 1 of configuration file \"/data/pg_ident.conf\"\n"
        );
        assert_eq!(
            parse_ident_str("m1\n", ipath, &o).diagnostics[0].message(),
            "missing entry at end of line"
        );
        assert_eq!(
            parse_ident_str("m1,m2 a b\n", ipath, &o).diagnostics[0].message(),
            "multiple values in ident field"
        );
        assert_eq!(
            parse_ident_str("m1 a b,c\n", ipath, &o).diagnostics[0].message(),
            "multiple values in ident field"
        );
        assert_eq!(
            parse_ident_str("m1 /(a b\n", ipath, &o).diagnostics[0].message(),
            "invalid regular expression \"(a\": parentheses () not balanced"
        );
    }
    let o = ParseOptions::new(Profile::Seed);
    assert_eq!(
        parse_ident_str("\nm1 alice\n", ipath, &o).render_log(),
        "LOG:  missing entry in file \"/data/pg_ident.conf\" at end of line 2\n"
    );
    // pg user regex only compiled in 16+
    assert!(parse_ident_str("m /^(.*)$ /(\n", ipath, &ParseOptions::new(Profile::Pg15)).is_ok());
    assert!(!parse_ident_str("m /^(.*)$ /(\n", ipath, &ParseOptions::new(Profile::Pg18)).is_ok());
}
