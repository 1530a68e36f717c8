//! `hba`: arbitrary text as pg_hba.conf and as pg_ident.conf, with includes disabled, for
//! one profile (8.4 seed, 15 or 18: the input length modulo 3 chooses).
//!
//! Parsing reports errors as diagnostics, never panics, and every diagnostic renders. The
//! rows that parsed, printed back (`Display`), parse again without errors (unless there
//! are none: an empty pg_hba.conf is an error in 15) to the same
//! rules (`same_rule`), and printing is a fixpoint. Matching agrees across the round trip:
//! for a fixed set of connections the first matching row of the original and of the
//! re-parsed file are the same rule, and identity mapping gives the same answer. The four
//! parses of a run share one `RegexCache`, so each `/regex` pattern is compiled once.
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pgssl_server::hba::{
    ConnFacts, ConnKind, HbaRow, IdentRow, ParseOptions, RegexCache, find_row, map_identity,
    parse_hba_str, parse_ident_str,
};
use pgssl_server::profile::Profile;

const HBA: &str = "/data/pg_hba.conf";
const IDENT: &str = "/data/pg_ident.conf";

/// The fixed connections, built once per process.
fn connections() -> &'static [ConnFacts] {
    static CONNECTIONS: OnceLock<Vec<ConnFacts>> = OnceLock::new();
    CONNECTIONS.get_or_init(build_connections)
}

fn build_connections() -> Vec<ConnFacts> {
    let conn = |kind, ssl, addr: Option<&str>, user: &str, database: &str| ConnFacts {
        kind,
        ssl,
        gss: false,
        addr: addr.map(|a| a.parse::<IpAddr>().expect("address")),
        user: user.into(),
        database: database.into(),
        user_groups: vec!["admins".into()],
        ..ConnFacts::default()
    };
    vec![
        conn(ConnKind::Local, false, None, "postgres", "postgres"),
        conn(ConnKind::Host, true, Some("127.0.0.1"), "alice", "app"),
        conn(ConnKind::Host, false, Some("::1"), "bob", "replication"),
        conn(ConnKind::Host, true, Some("10.1.2.3"), "admin", "db1"),
        conn(ConnKind::Host, false, Some("::ffff:192.168.0.7"), "x", "x"),
    ]
}

fn check_hba(opts: &ParseOptions<'_>, text: &str) {
    let profile = opts.profile;
    let first = parse_hba_str(text, HBA, opts);
    let _ = first.render_log();
    let printed = first.config.to_string();
    let second = parse_hba_str(&printed, HBA, opts);
    // (An empty file is itself an error in 15: "contains no entries".)
    assert!(
        second.is_ok() || first.config.rows.is_empty(),
        "printed rows do not parse ({profile:?}):\n{printed}\n{}",
        second.render_log()
    );
    assert_eq!(
        first.config.rows.len(),
        second.config.rows.len(),
        "{printed}"
    );
    for (a, b) in first.config.rows.iter().zip(&second.config.rows) {
        assert!(a.same_rule(b), "{a:?}\n!=\n{b:?}\nprinted:\n{printed}");
    }
    assert_eq!(
        printed,
        second.config.to_string(),
        "printing is not a fixpoint"
    );
    for facts in connections() {
        let a = find_row(&first.config, facts);
        let b = find_row(&second.config, facts);
        match (a, b) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!(HbaRow::same_rule(a, b)),
            (a, b) => panic!("matching changed after round trip: {a:?} vs {b:?}"),
        }
    }
}

fn check_ident(opts: &ParseOptions<'_>, text: &str) {
    let profile = opts.profile;
    let first = parse_ident_str(text, IDENT, opts);
    let _ = first.render_log();
    let printed = first.config.to_string();
    let second = parse_ident_str(&printed, IDENT, opts);
    assert!(
        second.is_ok(),
        "printed rows do not parse ({profile:?}):\n{printed}\n{}",
        second.render_log()
    );
    assert_eq!(
        first.config.rows.len(),
        second.config.rows.len(),
        "{printed}"
    );
    for (a, b) in first.config.rows.iter().zip(&second.config.rows) {
        assert!(
            IdentRow::same_rule(a, b),
            "{a:?}\n!=\n{b:?}\nprinted:\n{printed}"
        );
    }
    assert_eq!(
        printed,
        second.config.to_string(),
        "printing is not a fixpoint"
    );
    // Mapping: the first maps, a few system names.
    for row in first.config.rows.iter().take(2) {
        for system in ["alice@EXAMPLE.COM", &row.system_user.text] {
            let a = map_identity(&first.config, &row.map, system, "alice", false);
            let b = map_identity(&second.config, &row.map, system, "alice", false);
            assert_eq!(a.is_ok(), b.is_ok());
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!(a, b, "mapping changed after round trip");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The input's length picks the profile, so seeds stay plain configuration files and the
    // fuzzer still reaches all three (one profile per run keeps the target fast).
    let profile = Profile::ALL[data.len() % Profile::ALL.len()];
    let text = String::from_utf8_lossy(data);
    // All four parses compile each `/regex` pattern once (freed with the run, so that
    // libFuzzer's leak check sees every allocation of a run freed by its end).
    let regexes = RegexCache::new();
    let opts = ParseOptions::new(profile).with_regex_cache(&regexes);
    check_hba(&opts, &text);
    check_ident(&opts, &text);
});
