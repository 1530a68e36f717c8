//! The whole catalogue against each target, snapshotted per target with insta (suffix = target
//! label), and the differential check: the reference server under profile N must produce the
//! same observations as real PostgreSQL N, except for the reviewed accepted differences.
//!
//! Real PostgreSQL comes from `PGSSL_PG<major>_BINDIR` / `PGSSL_PG15_DEBIAN_BINDIR` or the
//! locations `scripts/install-deps` uses. A missing PostgreSQL fails its test with the
//! install hint, unless `PGSSL_ALLOW_MISSING=1` (then it is skipped, loudly).
//!
//! Third-party products (PgBouncer in front of Debian's 15) run the same catalogue: their
//! traces are snapshotted, and every case must run or say why it cannot; their failures
//! are the divergences `pgssl-conform report` classifies, not test failures.
//!
//! Each target may leave at most as many cases not applicable as the catalogue has cases
//! whose `versions` exclude its version, and the test prints which; a harness failure is an
//! error, never "not applicable", so a case cannot silently stop running.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::reference;
use pgssl_conformance::case::{Case, Version};
use pgssl_conformance::divergence::{self, TargetReport};
use pgssl_conformance::run::{CaseResult, Status, run_target};
use pgssl_conformance::target::Target;
use pgssl_conformance::target::pg_gateway::PgGateway;
use pgssl_conformance::target::pgbouncer::Pgbouncer;
use pgssl_conformance::target::pgpool::Pgpool;
use pgssl_conformance::target::pgwire::Pgwire;
use pgssl_conformance::target::postgres::Postgres;
use pgssl_conformance::{catalogue, differences, unstable};

fn cases() -> Vec<Case> {
    catalogue::load().expect("catalogue loads")
}

/// The most cases a target of `version` may leave not applicable: those whose `versions`
/// leave it out.
fn not_applicable_bound(cases: &[Case], version: Version) -> usize {
    cases.iter().filter(|c| !c.applies_to(version)).count()
}

fn run(target: &dyn Target, cases: &[Case]) -> Vec<CaseResult> {
    let refs: Vec<&Case> = cases.iter().collect();
    run_target(target, &refs, 2, &|_| {})
}

/// [`run`], but with `PGSSL_FAIL_FAST` set (as `scripts/mutants` sets it) the first failing
/// case ends the whole test binary, with that case's diff and trace printed: a mutant that
/// stops the server answering is then caught in seconds instead of timing out while every
/// other case waits out its read timeout. The process exits 101, as a failed test does.
fn run_failing_fast(target: &dyn Target, cases: &[Case]) -> Vec<CaseResult> {
    if std::env::var_os("PGSSL_FAIL_FAST").is_none() {
        return run(target, cases);
    }
    let refs: Vec<&Case> = cases.iter().collect();
    run_target(target, &refs, 2, &|r| {
        if matches!(r.status, Status::Fail | Status::Error) {
            eprintln!(
                "PGSSL_FAIL_FAST: {} {:?} on {}\n{}\n{}",
                r.id,
                r.status,
                r.target,
                r.diff.as_deref().or(r.note.as_deref()).unwrap_or(""),
                r.trace.join("\n")
            );
            // Stops the spawned servers and removes the temporary directories first.
            pgssl_conformance::cleanup::run();
            std::process::exit(101);
        }
    })
}

/// Snapshots every trace, unless `PGSSL_NO_SNAPSHOTS` is set: `scripts/mutants` sets it so
/// that only the expectations decide (as `pgssl-conform run` does), since cargo-mutants forces
/// insta's snapshot comparison on.
fn snapshot_all(results: &[CaseResult], label: &str) {
    if std::env::var_os("PGSSL_NO_SNAPSHOTS").is_some() {
        return;
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_suffix(label);
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for r in results.iter().filter(|r| r.status != Status::NotApplicable) {
            let name = r.id.replace('/', "__");
            insta::assert_snapshot!(name, r.trace.join("\n"));
        }
    });
}

/// Every case not accepted as different passes; a harness error fails whatever is accepted.
fn assert_all_pass(results: &[CaseResult], accepted: &[&str]) {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| {
            r.status == Status::Error
                || (r.status == Status::Fail && !accepted.contains(&r.id.as_str()))
        })
        .map(|r| {
            format!(
                "{} on {} ({:?}):\n{}{}",
                r.id,
                r.target,
                r.status,
                r.diff.clone().unwrap_or_default(),
                r.note.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} failures:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// At most `bound` cases were not applicable on the target; prints which were.
fn assert_not_applicable_at_most(results: &[CaseResult], bound: usize) {
    let na: Vec<String> = results
        .iter()
        .filter(|r| r.status == Status::NotApplicable)
        .map(|r| format!("{} ({})", r.id, r.note.clone().unwrap_or_default()))
        .collect();
    let target = results.first().map_or("?", |r| r.target.as_str());
    eprintln!(
        "{target}: {} cases not applicable:\n  {}",
        na.len(),
        na.join("\n  ")
    );
    assert!(
        na.len() <= bound,
        "{target}: {} cases not applicable, at most {bound} allowed:\n  {}",
        na.len(),
        na.join("\n  ")
    );
}

#[test]
fn reference_server_meets_every_expectation() {
    let cases = cases();
    let mut all = Vec::new();
    for version in Version::ALL {
        let bound = not_applicable_bound(&cases, version);
        let target = reference(version);
        let results = run_failing_fast(&target, &cases);
        // Snapshots first, every profile's: a failing case's trace is what to review.
        snapshot_all(&results, &target.label());
        assert_not_applicable_at_most(&results, bound);
        all.extend(results);
    }
    assert_all_pass(&all, &[]);
}

fn differential(bindir: PathBuf, version: Version) {
    let cases = cases();
    let not_applicable = not_applicable_bound(&cases, version);
    let postgres = Postgres::new(bindir).expect("postgres target");
    assert_eq!(postgres.version(), version, "{}", postgres.full_version());
    let real = run(&postgres, &cases);
    let label = postgres.label();
    let accepted: Vec<differences::Difference> = differences::load()
        .expect("accepted differences load")
        .into_iter()
        .filter(|d| d.target == label)
        .collect();
    let accepted_ids: Vec<&str> = accepted.iter().map(|d| d.case.as_str()).collect();
    snapshot_all(&real, &label);
    assert_all_pass(&real, &accepted_ids);
    assert_not_applicable_at_most(&real, not_applicable);

    // Reference under the same profile: observations must be identical.
    let reference = run(&reference(version), &cases);
    // Its expectations are the reference test's to judge; here only harness errors stop.
    let errors: Vec<&str> = reference
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        errors.is_empty(),
        "harness errors on the reference: {errors:?}"
    );
    let observations = |r: &CaseResult| -> Vec<String> {
        r.trace
            .iter()
            .filter(|l| l.starts_with("< ") || l.starts_with("start:") || l.starts_with("log"))
            .cloned()
            .collect()
    };
    let by_id: BTreeMap<&str, &CaseResult> = reference.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for r in real.iter().filter(|r| r.status != Status::NotApplicable) {
        let ours = by_id[r.id.as_str()];
        let differs = observations(r) != observations(ours);
        let is_accepted = accepted_ids.contains(&r.id.as_str());
        if differs && !is_accepted {
            unexpected.push(format!(
                "{}:\n  {label}: {:?}\n  {}: {:?}",
                r.id,
                observations(r),
                ours.target,
                observations(ours)
            ));
        }
        if !differs && is_accepted {
            stale.push(r.id.clone());
        }
    }
    assert!(
        unexpected.is_empty(),
        "unaccepted differences:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "accepted differences that no longer differ: {stale:?}"
    );
}

/// One differential test per real build: the six npm builds and Debian's 15.
macro_rules! differential_tests {
    ($($name:ident: $bindir:expr, $version:expr;)*) => {
        $(
            #[test]
            fn $name() {
                if let Some(dir) = $bindir {
                    differential(dir, $version);
                }
            }
        )*
    };
}

differential_tests! {
    postgres_13_matches_reference_13: common::npm(Version::Pg13), Version::Pg13;
    postgres_14_matches_reference_14: common::npm(Version::Pg14), Version::Pg14;
    postgres_15_matches_reference_15: common::npm(Version::Pg15), Version::Pg15;
    postgres_15_debian_matches_reference_15: common::debian15(), Version::Pg15;
    postgres_16_matches_reference_16: common::npm(Version::Pg16), Version::Pg16;
    postgres_17_matches_reference_17: common::npm(Version::Pg17), Version::Pg17;
    postgres_18_matches_reference_18: common::npm(Version::Pg18), Version::Pg18;
}

/// The fewest cases a third-party target must run (issue 17): the rest must each say why the
/// product cannot be given their set-up.
const THIRD_PARTY_APPLICABLE: usize = 120;

/// A third-party target: no harness error, at least [`THIRD_PARTY_APPLICABLE`] cases run,
/// every case not run with its reason, every trace snapshotted, and its divergence report
/// the one committed as `conformance/examples/<label>.md` (`PGSSL_UPDATE_EXAMPLES=1` writes
/// it instead, as `pgssl-conform report --target … --out conformance/examples` does).
fn third_party(target: &dyn Target, cases: &[Case]) {
    let results = run(target, cases);
    let label = target.label();
    // A case declared unstable here must show one of the outcomes seen; it is not
    // snapshotted, since its trace changes from run to run.
    let unstable: Vec<unstable::Unstable> = unstable::load()
        .expect("unstable.toml loads")
        .into_iter()
        .filter(|u| u.target == label)
        .collect();
    for u in &unstable {
        let r = results
            .iter()
            .find(|r| r.id == u.case)
            .expect("an unstable case exists");
        let observed = pgssl_conformance::trace::observations(&r.trace);
        assert!(
            u.admits(&observed),
            "{} on {label}: {observed:?} was never seen: {:?}",
            u.case,
            u.seen
        );
    }
    let stable: Vec<CaseResult> = results
        .iter()
        .filter(|r| !unstable.iter().any(|u| u.case == r.id))
        .cloned()
        .collect();
    snapshot_all(&stable, &label);
    let refs: Vec<&Case> = cases.iter().collect();
    let report = TargetReport::new(
        label.clone(),
        target.describe(),
        target.version(),
        &refs,
        &results,
        &unstable,
    );
    let markdown = divergence::render::markdown(std::slice::from_ref(&report));
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{label}.md"));
    if std::env::var_os("PGSSL_UPDATE_EXAMPLES").is_some_and(|v| v == "1") {
        std::fs::write(&example, &markdown).expect("writing the example report");
    } else if std::env::var_os("PGSSL_NO_SNAPSHOTS").is_none() {
        let committed = std::fs::read_to_string(&example).unwrap_or_default();
        assert!(
            committed == markdown,
            "{} differs from this run's report; review and regenerate it with PGSSL_UPDATE_EXAMPLES=1:\n{}",
            example.display(),
            markdown
        );
    }
    let errors: Vec<String> = results
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| format!("{}: {}", r.id, r.note.clone().unwrap_or_default()))
        .collect();
    assert!(
        errors.is_empty(),
        "{label}: harness errors:\n{}",
        errors.join("\n")
    );
    let unexplained: Vec<&str> = results
        .iter()
        .filter(|r| {
            r.status == Status::NotApplicable && r.note.as_deref().is_none_or(str::is_empty)
        })
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        unexplained.is_empty(),
        "{label}: not applicable without a reason: {unexplained:?}"
    );
    let applicable = results
        .iter()
        .filter(|r| r.status != Status::NotApplicable)
        .count();
    assert_not_applicable_at_most(&results, results.len() - THIRD_PARTY_APPLICABLE);
    eprintln!("{label}: {applicable} of {} cases ran", results.len());
}

#[test]
fn pgbouncer_in_front_of_debian_15() {
    let (Some(_), Some(bindir)) = (common::pgbouncer(), common::debian15()) else {
        return;
    };
    let target = Pgbouncer::parse(&format!(":{}", bindir.display())).expect("pgbouncer target");
    assert_eq!(target.version(), Version::Pg15);
    third_party(&target, &cases());
}

#[test]
fn pgpool_in_front_of_debian_15() {
    let (Some(_), Some(bindir)) = (common::pgpool(), common::debian15()) else {
        return;
    };
    let target = Pgpool::parse(&format!(":{}", bindir.display())).expect("pgpool target");
    assert_eq!(target.version(), Version::Pg15);
    third_party(&target, &cases());
}

/// Our server on the crates.io pgwire crate (products/pgwire-server), found as the target
/// finds it; no backend, so judged as 15.
#[test]
fn pgwire_server() {
    if common::pgwire_server().is_none() {
        return;
    }
    let target = Pgwire::parse("").expect("pgwire target");
    assert_eq!(target.version(), Version::Pg15);
    third_party(&target, &cases());
}

#[test]
fn pg_gateway_server() {
    if common::pg_gateway().is_none() {
        return;
    }
    let target = PgGateway::parse("").expect("pg-gateway target");
    // No backend: judged by 15's expectations unless `@VERSION` says otherwise.
    assert_eq!(target.version(), Version::Pg15);
    third_party(&target, &cases());
}
