//! Generated scenarios against the reference server (every profile) and real PostgreSQL 15
//! and 18, judged by the rules model's oracle (`pgssl_conformance::explore`).
//!
//! Case counts are fixed per target (`PGSSL_EXPLORE_CASES` scales them: a number of scenarios
//! per target); each run draws a seed, prints it, and takes `PGSSL_EXPLORE_SEED` to replay it.
//! A failure is shrunk to a minimal scenario, printed as a catalogue case, and its proptest
//! seed recorded under `proptest-regressions/`, where later runs replay it first.

mod common;

use std::path::PathBuf;

use pgssl_conformance::case::Version;
use pgssl_conformance::explore::{self, Options};
use pgssl_conformance::target::Target;
use pgssl_conformance::target::postgres::Postgres;
use pgssl_conformance::target::reference::Reference;

/// Scenarios per reference profile: they run in-process where they can.
const REFERENCE_CASES: u32 = 200;
/// Scenarios per real PostgreSQL: every one starts a server.
const POSTGRES_CASES: u32 = 64;
/// Scenarios run at once per target (most of a scenario's time is waiting on sockets).
const JOBS: u32 = 4;

fn cases(default: u32) -> u32 {
    std::env::var("PGSSL_EXPLORE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn explore_target(target: &dyn Target, default_cases: u32) {
    let label = target.label();
    let mut options = Options::from_env(cases(default_cases)).expect("PGSSL_EXPLORE_SEED");
    options.jobs = JOBS;
    options.regressions = Some(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("proptest-regressions")
            .join(format!("explore-{label}.txt")),
    );
    eprintln!(
        "explore {label}: seed {} (replay with {}={})",
        options.seed,
        explore::SEED_VAR,
        options.seed
    );
    let started = std::time::Instant::now();
    let outcome = explore::explore(target, &options, &|_, _, _| {});
    let rules: Vec<String> = outcome
        .rules
        .iter()
        .map(|(r, n)| format!("{r}:{n}"))
        .collect();
    eprintln!(
        "explore {label}: {} scenarios in {:.1?}, {} agreed, {} not applicable; rules {}",
        outcome.scenarios,
        started.elapsed(),
        outcome.agreed,
        outcome.not_applicable,
        rules.join(" ")
    );
    if let Some(d) = &outcome.disagreement {
        panic!(
            "{label} disagrees with the oracle (seed {}; replay with {}={}):\n\
             minimal scenario: {}\nexpected (-) vs observed (+):\n{}\nobserved:\n  {}\n\
             as a case:\n{}",
            outcome.seed,
            explore::SEED_VAR,
            outcome.seed,
            d.scenario,
            d.diff,
            d.observed.join("\n  "),
            d.case_toml
        );
    }
    // Persisted regressions are replayed on top of the drawn scenarios.
    assert!(
        outcome.scenarios >= options.cases,
        "only {} of {} scenarios ran",
        outcome.scenarios,
        options.cases
    );
    assert!(
        outcome.not_applicable * 4 < outcome.scenarios,
        "{label}: {} of {} scenarios could not be set up",
        outcome.not_applicable,
        outcome.scenarios
    );
}

/// The reference server, in-process unless a scenario needs a process of its own.
fn reference(version: Version) -> Reference {
    common::reference(version).embedded_where_possible()
}

#[test]
fn reference_seed_agrees_with_the_oracle() {
    explore_target(&reference(Version::Seed), REFERENCE_CASES);
}

#[test]
fn reference_15_agrees_with_the_oracle() {
    explore_target(&reference(Version::Pg15), REFERENCE_CASES);
}

#[test]
fn reference_18_agrees_with_the_oracle() {
    explore_target(&reference(Version::Pg18), REFERENCE_CASES);
}

#[test]
fn reference_13_14_16_17_agree_with_the_oracle() {
    for version in [Version::Pg13, Version::Pg14, Version::Pg16, Version::Pg17] {
        explore_target(&reference(version), REFERENCE_CASES);
    }
}

/// Real PostgreSQL from `dir`, when installed, must be `version` and agree with the oracle.
fn postgres_agrees(dir: Option<std::path::PathBuf>, version: Version) {
    if let Some(dir) = dir {
        let target = Postgres::new(dir).expect("postgres target");
        assert_eq!(target.version(), version);
        explore_target(&target, POSTGRES_CASES);
    }
}

// CI runs two real builds (the oldest npm build and the newest); the ignored test below runs
// the other five, as the longer run in conformance/cases/README.md does.
#[test]
fn postgres_13_agrees_with_the_oracle() {
    postgres_agrees(common::npm(Version::Pg13), Version::Pg13);
}

#[test]
fn postgres_18_agrees_with_the_oracle() {
    postgres_agrees(common::npm(Version::Pg18), Version::Pg18);
}

#[test]
#[ignore = "the longer run: cargo test -p pgssl-conformance --test explore -- --ignored"]
fn every_other_build_agrees_with_the_oracle() {
    for version in [Version::Pg14, Version::Pg15, Version::Pg16, Version::Pg17] {
        postgres_agrees(common::npm(version), version);
    }
    postgres_agrees(common::debian15(), Version::Pg15);
}

/// Certificate identities through clientname and a pg_ident map, built by hand so each path
/// runs at least once: the oracle's prediction must be what the rule says, and the reference
/// server must agree with it.
#[test]
fn mapped_certificate_identities() {
    use pgssl_conformance::explore::scenario::{
        ClientCert, ClientName, ClientSide, Connect, Encryption, FileState, HbaRow, IdentLine,
        Method, RowKind, ServerSide, WriteMode,
    };
    use pgssl_conformance::explore::{Scenario, check, oracle};
    use pgssl_conformance::run::Status;

    let row = |clientname, map| HbaRow {
        kind: RowKind::HostSsl,
        method: Method::Cert,
        clientname,
        map,
        ..HbaRow::trust_all()
    };
    let scenario = |row: HbaRow, ident: Vec<IdentLine>, user: &'static str| Scenario {
        version: Version::Pg15,
        server: ServerSide {
            ca: Some(FileState::Valid),
            hba: vec![row],
            ident,
            ..ServerSide::default()
        },
        client: ClientSide {
            user,
            tls: pgssl_conformance::explore::scenario::ClientTls {
                cert: Some(ClientCert::Good),
                ..Default::default()
            },
            ..ClientSide::new(Connect::Raw(Encryption::SslRequest, WriteMode::Whole))
        },
    };
    let to_another = IdentLine {
        system: "ssltestuser",
        user: "anotheruser",
    };
    let dn_regex = IdentLine {
        system: "/^CN=.*user$",
        user: "postgres",
    };
    let cases = [
        // The CN maps to anotheruser.
        (
            scenario(row(None, true), vec![to_another], "anotheruser"),
            true,
        ),
        // A map without a line for the user.
        (
            scenario(row(None, true), vec![to_another], "postgres"),
            false,
        ),
        // clientname=DN: "CN=ssltestuser" is not the user name...
        (
            scenario(row(Some(ClientName::Dn), false), vec![], "ssltestuser"),
            false,
        ),
        // ...but a regular expression over the DN can map it.
        (
            scenario(row(Some(ClientName::Dn), true), vec![dn_regex], "postgres"),
            true,
        ),
        // clientname=CN is the default.
        (
            scenario(row(Some(ClientName::Cn), false), vec![], "ssltestuser"),
            true,
        ),
    ];
    let target = reference(Version::Pg15);
    for (scenario, logs_in) in cases {
        let predicted = oracle::predict(&scenario).expectation.trace;
        assert_eq!(
            predicted.last().map(String::as_str) == Some("ReadyForQuery"),
            logs_in,
            "{scenario}: {predicted:?}"
        );
        let checked = check(&target, &scenario);
        assert_eq!(
            checked.status,
            Status::Pass,
            "{scenario}:\n{}",
            checked.diff.unwrap_or_default()
        );
    }
}
