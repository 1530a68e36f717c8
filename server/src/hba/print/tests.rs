//! Tests of printing rules back: round trips, quoting, the token limit.

use crate::hba::test_support::*;
use crate::hba::*;
use crate::profile::Profile;

const ROUND_TRIP_15: &str = r#"
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                peer
local   "all",sameuser  "+admins",+ops,"a b"                    trust
host    all             all             127.0.0.1/32            scram-sha-256
host    db1,"db 2"      "with""quote"   10.0.0.0  255.0.255.0   md5
host    all             all             ::1/128                 trust
host    replication     all             samenet                 md5
hostssl all             all             0.0.0.0/0               cert map=certmap clientname=DN
hostssl all             all             all                     password "clientcert=verify-ca"
hostnossl all           all             .example.com            reject
host    all             all             "samehost"              reject
hostgssenc all          all             samehost                gss include_realm=0 "krb_realm=EXAMPLE.COM"
hostnogssenc all        all             all                     ldap ldapserver=h "ldapbasedn=dc=example, dc=com"
host    all             all             all                     radius "radiusservers=a,b" radiussecrets=s "radiusports=1812"
host    all             all             all                     pam pamservice=x\
                                                            map=x
"#;

fn assert_round_trip(profile: Profile, text: &str) {
    let first = hba(profile, text);
    assert!(
        first.is_ok() || profile == Profile::Pg15,
        "{}",
        first.render_log()
    );
    let printed = first.config.to_string();
    let second = hba(profile, &printed);
    assert_eq!(
        first.config.rows.len(),
        second.config.rows.len(),
        "{printed}"
    );
    for (a, b) in first.config.rows.iter().zip(&second.config.rows) {
        assert!(a.same_rule(b), "{a:?}\n!=\n{b:?}\nprinted:\n{printed}");
    }
    assert_eq!(printed, second.config.to_string());
}

#[test]
fn round_trip_15() {
    let load = hba(Profile::Pg15, ROUND_TRIP_15);
    // pam map= is not valid for pam: the last row fails, the rest round-trip.
    assert_eq!(
        load.errors().map(Diagnostic::message).collect::<Vec<_>>(),
        [
            "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert"
        ]
    );
    assert_eq!(load.config.rows.len(), 13);
    assert_round_trip(Profile::Pg15, ROUND_TRIP_15);
    let printed = load.config.to_string();
    assert!(printed.contains("\"with\"\"quote\""), "{printed}");
    assert!(printed.contains("10.0.0.0\t255.0.255.0"), "{printed}");
    assert!(
        printed.contains("l\"dapbasedn=dc=example, dc=com\""),
        "{printed}"
    );
}

#[test]
fn round_trip_18_and_seed() {
    let t18 = "local \"/^db\\d+$\",x /^app_,\"+g\" trust\nhost all all all oauth scope=s issuer=i\nhostssl all all all cert clientcert=verify-full \"map=a\\\"\n";
    assert_round_trip(Profile::Pg18, t18);
    let seed = "local all all ident map=m\nhost all \"all\" 192.168.0.0 255.255.0.0 md5\nhostssl all all 0.0.0.0/0 md5 clientcert=1\nhost all all 127.0.0.1/32 krb5 krb_server_hostname=h\n";
    assert_round_trip(Profile::Seed, seed);
}

#[test]
fn display_escapes_awkward_tokens() {
    let row = HbaRow {
        file: PATH.into(),
        line: 1,
        raw_line: String::new(),
        conn_type: ConnType::Local,
        databases: vec![
            AuthToken::new("", true),
            AuthToken::new("a,b#c", false),
            AuthToken::new("x\\", false),
        ],
        users: vec![AuthToken::new("\\", false), AuthToken::new("@f", true)],
        address: None,
        method: AuthMethod::Trust,
        options: Vec::new(),
        clientcert: ClientCertMode::Off,
        clientname: ClientCertName::Cn,
        map: None,
    };
    let text = format!("{row}\n");
    let load = hba(Profile::Pg18, &text);
    assert!(load.is_ok(), "{text}: {}", load.render_log());
    assert!(row.same_rule(&load.config.rows[0]), "{text}");
}

#[test]
fn ident_round_trip() {
    let text = "certmap /^(.*)@example\\.com$ \\1\ncertmap \"CN=a b\" \"all\"\nm2 bob +admins\n";
    for p in all_profiles() {
        let o = ParseOptions::new(p);
        let a = parse_ident_str(text, "/d/pg_ident.conf", &o);
        assert!(a.is_ok(), "{}", a.render_log());
        let printed = a.config.to_string();
        let b = parse_ident_str(&printed, "/d/pg_ident.conf", &o);
        assert_eq!(a.config.rows.len(), b.config.rows.len());
        for (x, y) in a.config.rows.iter().zip(&b.config.rows) {
            assert!(x.same_rule(y), "{printed}");
        }
    }
}

fn assert_ident_round_trip(profile: Profile, text: &str) {
    let o = ParseOptions::new(profile);
    let a = parse_ident_str(text, "/d/pg_ident.conf", &o);
    assert!(a.is_ok(), "{}", a.render_log());
    let printed = a.config.to_string();
    let b = parse_ident_str(&printed, "/d/pg_ident.conf", &o);
    assert!(b.is_ok(), "{printed:?}: {}", b.render_log());
    assert_eq!(a.config.rows.len(), b.config.rows.len(), "{printed:?}");
    for (x, y) in a.config.rows.iter().zip(&b.config.rows) {
        assert!(x.same_rule(y), "{printed:?}");
    }
}

/// Found by the `hba` fuzz target: a bare token of exactly 8.4's 254-byte limit with
/// backslashes in it was printed quoted, and the closing quote went over the limit.
#[test]
fn long_tokens_print_within_the_token_limit() {
    let regex = format!("/{}b", "\\".repeat(252));
    assert_eq!(regex.len(), 254);
    assert_ident_round_trip(Profile::Seed, &format!("m {regex} ann\n"));
    // A short quoted run early in a long token: only the run is quoted.
    let token = format!("a\" \"{}", "x".repeat(252));
    let text = format!("local all {token} trust\n");
    let first = hba(Profile::Seed, &text);
    assert!(first.is_ok(), "{}", first.render_log());
    assert_eq!(first.config.rows[0].users[0].text.len(), 254);
    assert_round_trip(Profile::Seed, &text);
    assert!(
        first
            .config
            .to_string()
            .contains(&format!("a\" \"{}", "x".repeat(252)))
    );
}

/// Found by the `hba_literal` fuzz target: a quote left open to the end of the line
/// reads a last token of 8.4's full 254 bytes, ending in a blank; printed with its
/// closing quote, that quote went over the limit ("token too long, skipping"). The last
/// token of a row is now printed with its quote open when that is the only way it fits,
/// in pg_ident.conf (the PostgreSQL user) and pg_hba.conf (the last option).
#[test]
fn last_token_at_the_limit_keeps_its_quote_open() {
    let user = format!("{} ", "u".repeat(253));
    let text = format!("m sys \"{user}\n");
    let first = parse_ident_str(&text, "/d/pg_ident.conf", &ParseOptions::new(Profile::Seed));
    assert_eq!(first.config.rows[0].pg_user.text, user);
    for p in all_profiles() {
        assert_ident_round_trip(p, &text);
    }
    let option = format!("ldapprefix= {}", "p".repeat(242));
    let text =
        format!("host all all 127.0.0.1/32 ldap ldapserver=h \"{option}\nlocal all all trust\n");
    let first = hba(Profile::Seed, &text);
    assert!(first.is_ok(), "{}", first.render_log());
    assert_eq!(
        first.config.rows[0].options[1].1.len() + "ldapprefix=".len(),
        254
    );
    assert_round_trip(Profile::Seed, &text);
    // 8.4 has no line continuation: a trailing backslash stays in the open quote.
    let user = format!("{}\\", "u".repeat(253));
    assert_ident_round_trip(Profile::Seed, &format!("m sys \"{user}\n"));
    // Found next: under 15's longer limit, a long token whose quote closes after a
    // carriage return keeps its closing quote (left open, the line's end would drop it).
    let text = format!("m sys \"{} \r\"", "u".repeat(300));
    assert_ident_round_trip(Profile::Pg15, &text);
    // A shorter last token, or one that is not last, keeps its closing quote.
    assert_ident_round_trip(Profile::Seed, "m \"a b\" \"c d\"\n");
    assert!(
        parse_ident_str(
            "m \"a b\" \"c d\n",
            "/d/pg_ident.conf",
            &ParseOptions::new(Profile::Seed)
        )
        .config
        .to_string()
        .ends_with("\"c d\"\n")
    );
}

#[test]
fn trailing_backslash_does_not_continue_the_printed_line() {
    for p in all_profiles() {
        assert_ident_round_trip(p, "m sys user\\ \nm2 a b\n");
        assert_ident_round_trip(p, "m sys\\ user\n");
    }
    let text = "host all all all ldap ldapprefix=x\\ \nlocal all all trust\n";
    assert_round_trip(Profile::Pg15, text);
    assert!(
        hba(Profile::Pg15, text)
            .config
            .to_string()
            .contains("x\\\t\n")
    );
}

/// Deterministic pseudo-random lines: parsing never panics, and whatever
/// parses prints back to text that parses to the same rules.
#[test]
fn random_lines_round_trip() {
    const PIECES: &[&str] = &[
        "local",
        "host",
        "hostssl",
        "hostnossl",
        "hostgssenc",
        "all",
        "\"all\"",
        "sameuser",
        "+g",
        "\"+g\"",
        "replication",
        "a,b",
        "\"x y\"",
        "\"q\"\"q\"",
        "127.0.0.1/32",
        "::1/128",
        "10.0.0.0",
        "255.0.0.0",
        "samenet",
        ".example.com",
        "trust",
        "reject",
        "password",
        "cert",
        "md5",
        "ident",
        "peer",
        "clientcert=verify-ca",
        "clientcert=1",
        "map=m",
        "\"map=a b\"",
        "#c",
        ",",
        "\\",
        "\"",
        "/^r",
        "@f",
        "include",
        "x\"y\"",
        " ",
        "\t",
        "\n",
        "\\\n",
        "m\"ap=z\"",
        "clientname=DN",
    ];
    let resolver = FnResolver(|p: &str| (p == "/data/f").then(|| "u1 \"u 2\"\n".to_string()));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut parsed_rows = 0;
    const CT: &[&str] = &[
        "local",
        "host",
        "hostssl",
        "hostnossl",
        "hostgssenc",
        "\"host\"",
    ];
    const NAMES: &[&str] = &[
        "all",
        "\"all\"",
        "sameuser",
        "+g",
        "\"+g\"",
        "a,b",
        "\"x y\"",
        "x\"y, z\"",
        "/^r",
        "@f",
        "\"q\"\"q\"",
        "\"\"",
    ];
    const ADDR: &[&str] = &[
        "127.0.0.1/32",
        "::1/128",
        "10.0.0.0 255.0.0.0",
        "samenet",
        ".example.com",
        "all",
        "\"samehost\"",
        "1.2.3.4 255.0.255.0",
    ];
    const METH: &[&str] = &[
        "trust", "reject", "password", "cert", "md5", "ident", "peer", "gss",
    ];
    const OPTS: &[&str] = &[
        "clientcert=verify-ca",
        "clientcert=1",
        "map=m",
        "\"map=a b\"",
        "m\"ap=z#\"",
        "clientname=DN",
        "map=x\\",
    ];
    for _ in 0..3000 {
        let mut pick = |set: &[&'static str]| -> &'static str {
            if next() % 12 == 0 {
                PIECES[(next() % PIECES.len() as u64) as usize]
            } else {
                set[(next() % set.len() as u64) as usize]
            }
        };
        let ct = pick(CT);
        let mut fields = vec![ct, pick(NAMES), pick(NAMES)];
        if ct != "local" {
            fields.push(pick(ADDR));
        }
        fields.push(pick(METH));
        for _ in 0..(pick(&["", "x", "xx"]).len() % 3) {
            fields.push(pick(OPTS));
        }
        let sep = if pick(&["a", "b"]) == "a" {
            " "
        } else {
            "\t \\\n"
        };
        let mut text = fields.join(sep);
        text.push('\n');
        for p in all_profiles() {
            let opts = ParseOptions::new(p).with_resolver(&resolver);
            let first = parse_hba_str(&text, PATH, &opts);
            let _ = parse_ident_str(&text, PATH, &opts);
            let printed = first.config.to_string();
            let second = parse_hba_str(&printed, PATH, &opts);
            assert_eq!(
                first.config.rows.len(),
                second.config.rows.len(),
                "{text:?} -> {printed:?}"
            );
            for (a, b) in first.config.rows.iter().zip(&second.config.rows) {
                assert!(a.same_rule(b), "{text:?} -> {printed:?}");
            }
            parsed_rows += first.config.rows.len();
        }
    }
    assert!(parsed_rows > 1000, "generator too weak: {parsed_rows}");
}

#[test]
fn nul_and_crlf_are_harmless() {
    let load = hba(
        Profile::Pg15,
        "local all all trust\r\nlocal all\0 junk\nlocal x y reject\n",
    );
    assert!(load.errors().next().is_some());
    assert_eq!(load.config.rows.len(), 2);
}
