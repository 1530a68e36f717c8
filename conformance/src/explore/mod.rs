//! Exploring: scenarios drawn at random (server files and settings, pg_hba.conf, client
//! options), run against a target as ordinary cases, and judged against the rules model's
//! oracle. The catalogue checks the cases we thought of; this finds the ones we did not.
//!
//! - [`scenario`]: what a scenario is, and its translation into a case;
//! - [`strategy`]: proptest strategies per version, shrinking towards the defaults;
//! - [`oracle`]: the expected trace, from `crate::model`.
//!
//! A run draws a seed (or takes one), prints it, and on the first disagreement shrinks the
//! scenario to a minimal one and returns it as a case ready to paste into the catalogue.

pub mod oracle;
pub mod scenario;
pub mod strategy;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError,
    TestRng, TestRunner,
};
use serde::Serialize;

use crate::case::Case;
use crate::error::Error;
use crate::run::{Status, run_target};
use crate::target::Target;

pub use scenario::Scenario;

/// The environment variable that fixes the seed.
pub const SEED_VAR: &str = "PGSSL_EXPLORE_SEED";

/// How an exploration runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Scenarios to draw (shrinking runs come on top).
    pub cases: u32,
    /// The seed.
    pub seed: u64,
    /// Upper bound on shrinking steps.
    pub max_shrink_iters: u32,
    /// A proptest regression file: failures are recorded there and replayed first.
    pub regressions: Option<std::path::PathBuf>,
    /// Scenarios run at once: job 0 uses the seed itself, job `i` a seed derived from it, so
    /// the same seed and job count replay the same scenarios.
    pub jobs: u32,
}

impl Options {
    /// `cases` scenarios with the seed from `PGSSL_EXPLORE_SEED`, else a random one.
    pub fn from_env(cases: u32) -> Result<Self, Error> {
        Ok(Self {
            cases,
            seed: seed_from_env()?,
            max_shrink_iters: 64,
            regressions: None,
            jobs: 1,
        })
    }
}

/// The seed from `PGSSL_EXPLORE_SEED` (decimal or 0x-hex), else a fresh random one.
pub fn seed_from_env() -> Result<u64, Error> {
    choose_seed(std::env::var(SEED_VAR).ok().as_deref())
}

/// `given` (decimal or 0x-hex, e.g. a `--seed` argument) if any, else the environment's
/// seed, else a fresh random one.
pub fn seed_or_env(given: Option<&str>) -> Result<u64, Error> {
    match given {
        Some(text) => choose_seed(Some(text)),
        None => seed_from_env(),
    }
}

fn choose_seed(text: Option<&str>) -> Result<u64, Error> {
    let Some(text) = text else {
        return Ok(random_seed());
    };
    let t = text.trim();
    let parsed = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| Error::BadSeed(text.to_owned()))
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return now ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(bytes)
}

/// A disagreement between a target and the oracle, shrunk.
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    /// The minimal scenario, in words.
    pub scenario: String,
    /// As a catalogue case (TOML), expecting what the oracle predicts.
    pub case_toml: String,
    /// What the target showed.
    pub observed: Vec<String>,
    /// Expected vs observed.
    pub diff: String,
}

/// What an exploration found.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The target's label.
    pub target: String,
    /// The seed used.
    pub seed: u64,
    /// Scenarios run before any disagreement: persisted regressions replayed first, then the
    /// drawn ones (shrinking not counted).
    pub scenarios: u32,
    /// How many of them agreed with the oracle.
    pub agreed: u32,
    /// How many the target could not run (set-ups it cannot build).
    pub not_applicable: u32,
    /// Runs made while shrinking.
    pub shrink_runs: u32,
    /// Rule ids the drawn scenarios exercised, with how many scenarios used each.
    pub rules: BTreeMap<String, u32>,
    /// The disagreement, if one was found.
    pub disagreement: Option<Disagreement>,
}

/// One scenario run on a target.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The scenario's case, expecting the oracle's trace.
    pub case: Case,
    /// The rule ids the oracle used.
    pub rules: BTreeSet<&'static str>,
    /// The verdict.
    pub status: Status,
    /// The observed trace.
    pub trace: Vec<String>,
    /// Expected vs observed, on failure.
    pub diff: Option<String>,
}

/// Runs one scenario on `target`: its case, with the oracle's expectation.
pub fn check(target: &dyn Target, scenario: &Scenario) -> Checked {
    let prediction = oracle::predict(scenario);
    let rules: Vec<String> = prediction.rules.iter().map(|r| (*r).to_owned()).collect();
    let case = scenario.to_case(prediction.expectation, rules);
    let result = run_target(target, &[&case], 1, &|_| {}).into_iter().next();
    let (status, trace, diff) = match result {
        Some(r) => (r.status, r.trace, r.diff),
        None => (Status::NotApplicable, Vec::new(), None),
    };
    Checked {
        case,
        rules: prediction.rules,
        status,
        trace,
        diff,
    }
}

/// Draws `options.cases` scenarios for the target's version and runs them, `options.jobs`
/// at a time; on the first disagreement (per job), shrinks it. Progress gets the running
/// count of scenarios.
pub fn explore(
    target: &dyn Target,
    options: &Options,
    progress: &(dyn Fn(u32, &Scenario, &Checked) + Sync),
) -> Outcome {
    let jobs = options.jobs.clamp(1, options.cases.max(1));
    let count = AtomicU32::new(0);
    if jobs == 1 {
        return explore_job(
            target,
            options,
            options.seed,
            options.cases,
            &count,
            progress,
        );
    }
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|i| {
                let cases = options.cases / jobs + u32::from(i < options.cases % jobs);
                let seed = job_seed(options.seed, i);
                // Only job 0 replays and records regressions: one writer per file.
                let mut job_options = options.clone();
                if i > 0 {
                    job_options.regressions = None;
                }
                let count = &count;
                scope.spawn(move || explore_job(target, &job_options, seed, cases, count, progress))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut merged = Outcome {
        target: target.label(),
        seed: options.seed,
        scenarios: 0,
        agreed: 0,
        not_applicable: 0,
        shrink_runs: 0,
        rules: BTreeMap::new(),
        disagreement: None,
    };
    for o in outcomes {
        merged.scenarios += o.scenarios;
        merged.agreed += o.agreed;
        merged.not_applicable += o.not_applicable;
        merged.shrink_runs += o.shrink_runs;
        for (rule, n) in o.rules {
            *merged.rules.entry(rule).or_default() += n;
        }
        if merged.disagreement.is_none() {
            merged.disagreement = o.disagreement;
        }
    }
    merged
}

/// Job `i`'s seed: the seed itself for job 0.
fn job_seed(seed: u64, i: u32) -> u64 {
    seed.wrapping_add(u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn explore_job(
    target: &dyn Target,
    options: &Options,
    seed: u64,
    cases: u32,
    count: &AtomicU32,
    progress: &(dyn Fn(u32, &Scenario, &Checked) + Sync),
) -> Outcome {
    let mut config = Config {
        cases,
        max_shrink_iters: options.max_shrink_iters,
        failure_persistence: None,
        ..Config::default()
    };
    if let Some(path) = &options.regressions {
        let leaked: &'static str = Box::leak(path.display().to_string().into_boxed_str());
        config.failure_persistence =
            Some(Box::new(FileFailurePersistence::Direct(leaked)) as Box<dyn FailurePersistence>);
    }
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);

    let shrinking = AtomicBool::new(false);
    let scenarios = AtomicU32::new(0);
    let agreed = AtomicU32::new(0);
    let not_applicable = AtomicU32::new(0);
    let shrink_runs = AtomicU32::new(0);
    let rules: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());
    let failures: Mutex<BTreeMap<String, Checked>> = Mutex::new(BTreeMap::new());

    let strategy = strategy::scenario(target.version());
    let result = runner.run(&strategy, |scenario| {
        let checked = check(target, &scenario);
        let status = checked.status;
        let counting = !shrinking.load(Ordering::Relaxed);
        if counting {
            scenarios.fetch_add(1, Ordering::Relaxed);
            let n = count.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n, &scenario, &checked);
            let mut r = rules.lock().unwrap_or_else(|p| p.into_inner());
            for id in &checked.rules {
                *r.entry((*id).to_owned()).or_default() += 1;
            }
        } else {
            shrink_runs.fetch_add(1, Ordering::Relaxed);
        }
        match status {
            Status::Pass => {
                if counting {
                    agreed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Status::NotApplicable => {
                if counting {
                    not_applicable.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            // A harness failure is no agreement: it stops the run like a disagreement, with
            // the harness's error as its diff.
            Status::Fail | Status::Error => {
                shrinking.store(true, Ordering::Relaxed);
                let d = match status {
                    Status::Error => format!("harness error: {}", checked.trace.join("\n")),
                    _ => checked.diff.clone().unwrap_or_default(),
                };
                failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(scenario.slug(), checked);
                Err(TestCaseError::fail(d))
            }
        }
    });
    let disagreement = match result {
        Ok(()) => None,
        Err(TestError::Abort(why)) => Some(Disagreement {
            scenario: "exploration aborted".into(),
            case_toml: String::new(),
            observed: Vec::new(),
            diff: why.to_string(),
        }),
        Err(TestError::Fail(why, minimal)) => {
            let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
            let judged = failures.get(&minimal.slug());
            Some(match judged {
                Some(j) => Disagreement {
                    scenario: minimal.to_string(),
                    case_toml: case_toml(&j.case),
                    observed: j.trace.clone(),
                    diff: j.diff.clone().unwrap_or_else(|| why.to_string()),
                },
                None => Disagreement {
                    scenario: minimal.to_string(),
                    case_toml: String::new(),
                    observed: Vec::new(),
                    diff: why.to_string(),
                },
            })
        }
    };
    Outcome {
        target: target.label(),
        seed,
        scenarios: scenarios.into_inner(),
        agreed: agreed.into_inner(),
        not_applicable: not_applicable.into_inner(),
        shrink_runs: shrink_runs.into_inner(),
        rules: rules.into_inner().unwrap_or_else(|p| p.into_inner()),
        disagreement,
    }
}

/// A case as a `[[case]]` table for a catalogue file.
pub fn case_toml(case: &Case) -> String {
    #[derive(Serialize)]
    struct One<'a> {
        case: [&'a Case; 1],
    }
    toml::to_string(&One { case: [case] }).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
}

/// How often each rule id decides the oracle's prediction over `cases` scenarios drawn for
/// `version` (no server involved): the oracle's coverage of the spec's rules.
pub fn oracle_coverage(
    version: crate::case::Version,
    cases: u32,
    seed: u64,
) -> BTreeMap<&'static str, u32> {
    use proptest::strategy::{Strategy, ValueTree};
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = strategy::scenario(version);
    let mut counts = BTreeMap::new();
    for _ in 0..cases {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        for rule in oracle::predict(&tree.current()).rules {
            *counts.entry(rule).or_default() += 1;
        }
    }
    counts
}
