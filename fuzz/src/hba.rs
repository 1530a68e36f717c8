//! Round-trip and matching checks for pg_hba.conf and pg_ident.conf text, shared by the
//! `hba` target (every input, regular expressions included) and the `hba_literal` target
//! (inputs without `/regex` tokens).
//!
//! For each file: parsing reports errors as diagnostics and never panics, and every
//! diagnostic renders; the rows that parsed, printed back (`Display`), parse again without
//! errors (unless there are none: an empty pg_hba.conf is an error in 15) to the same rules
//! (`same_rule`), and printing is a fixpoint. Matching agrees across the round trip: for a
//! fixed set of connections the first matching row of the original and of the re-parsed
//! file are the same rule, and identity mapping gives the same answer.

use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::OnceLock;

use pgssl_server::hba::{
    CompiledPattern, ConnFacts, ConnKind, HbaRow, IdentRow, ParseOptions, PatternCompiler,
    find_row, map_identity, parse_hba_str, parse_ident_str,
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

/// The round trip holds: the rows read back from `printed` are as many, and each the same
/// rule, as the originals, and printing them again (`reprinted`) gives `printed` back.
fn assert_round_trip<R: Debug>(
    first: &[R],
    second: &[R],
    same: fn(&R, &R) -> bool,
    printed: &str,
    reprinted: &str,
) {
    assert_eq!(first.len(), second.len(), "{printed}");
    for (a, b) in first.iter().zip(second) {
        assert!(same(a, b), "{a:?}\n!=\n{b:?}\nprinted:\n{printed}");
    }
    assert_eq!(printed, reprinted, "printing is not a fixpoint");
}

pub fn check_hba(opts: &ParseOptions<'_>, text: &str) {
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
    assert_round_trip(
        &first.config.rows,
        &second.config.rows,
        HbaRow::same_rule,
        &printed,
        &second.config.to_string(),
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

pub fn check_ident(opts: &ParseOptions<'_>, text: &str) {
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
    assert_round_trip(
        &first.config.rows,
        &second.config.rows,
        IdentRow::same_rule,
        &printed,
        &second.config.to_string(),
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

/// The configuration file an input is read as.
#[derive(Clone, Copy, Debug)]
pub enum File {
    Hba,
    Ident,
}

/// Picks the profile (8.4 seed, 15 or 18) and the file from the input's length, so seeds
/// stay plain configuration files while the fuzzer still reaches all six combinations, and
/// each run parses one file for one profile (which keeps the targets fast).
pub fn pick(len: usize) -> (Profile, File) {
    let profile = Profile::ALL[len % Profile::ALL.len()];
    let file = if (len / Profile::ALL.len()).is_multiple_of(2) {
        File::Hba
    } else {
        File::Ident
    };
    (profile, file)
}

/// Parses `text` as `file` for `profile`, `/regex` tokens compiled by `patterns`, and
/// checks it.
pub fn check_file(profile: Profile, file: File, text: &str, patterns: &dyn PatternCompiler) {
    let opts = ParseOptions::with_patterns(profile, patterns);
    match file {
        File::Hba => check_hba(&opts, text),
        File::Ident => check_ident(&opts, text),
    }
}

/// The pattern compiler of `hba_literal`, whose inputs hold no `/regex` token: being
/// called means [`may_hold_regex`] let one through. (Passing it rather than the regex
/// crate's keeps the regex engine, about six times the rest of the target's code, out of
/// the binary, and with it the cost libFuzzer pays per run for every coverage counter.)
pub struct NoPatterns;

impl PatternCompiler for NoPatterns {
    fn compile(&self, pattern: &str) -> CompiledPattern {
        panic!("may_hold_regex let the /regex token /{pattern} through")
    }
}

/// Whether `data` may hold a regular-expression token: a `/` at the start of the text or
/// after a blank, a comma or a double quote, where a user, database or system-user token
/// starts (before 16, pg_ident.conf takes a quoted `"/..."` system user as a regex too).
/// Conservative: it also catches a blank before an address's `/mask`, which is rejected too.
pub fn may_hold_regex(data: &[u8]) -> bool {
    // (`contains` runs the standard library's uninstrumented memchr: most inputs stop here.)
    if !data.contains(&b'/') {
        return false;
    }
    data.iter().enumerate().any(|(i, &b)| {
        b == b'/'
            && (i == 0
                || matches!(
                    data[i - 1],
                    b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c' | b',' | b'"'
                ))
    })
}
